"""One-run canary audit of the generator as it runs (Steinke, Nasr & Jagielski, NeurIPS 2023), black box.

The auditor builds an audit table: ``base_rows`` rows of the attacker's population (the holdout, never a row
the release was trained on) plus m canaries, each added independently with probability 1/2. The pipeline's
factory fits the release's generator kind, parameters and budget on it (once, or ``runs`` times with fresh
coins) and samples a large synthetic table; from that table alone each canary gets a score, the extremes
are guessed "in" and "out", the middle is left alone, and the right guesses become an epsilon lower bound
(attacks/one_run.py). A correct DP mechanism cannot push that bound above its claim except with probability
5%, so a larger bound is an implementation fault.

Canaries come from the PUBLIC domain only: every column's codes spread evenly over the public coders' codes
in random order, decoded (rows that break a public rule are redrawn). Nothing of the population is read to
design them. Spreading the codes evenly puts most canaries in pairs of values where the population has
little or no mass, and gives most of a canary's rare values to it alone, which is where one row can show.

Two guessers score each canary from the synthetic table (``canary_scores``): the synthetic mass in its 2-way
cells against what the auditor knows is there without it (the marginal mechanisms' own view of a row, and a
density of the synthetic sample at the canary for any generator), and whether its values that no base row
holds appear at all (an output domain read from the data). Their guess plans are tried together under one
Bonferroni correction. The audits of several runs are pooled: each canary of each run is a fair coin that
only that run sees, so the bound holds for the whole set of fits.

At person level (``AuditSetup.rows_per_canary`` = k, the contribution bound) a canary is a PERSON: one
designed row repeated k times, and its coin adds or removes all k rows together, since the person is the unit
the epsilon is claimed for. k identical rows are the person who moves their own cells the most (k rows in each,
where k different rows would move k cells by one each), so a mechanism that charged for one row instead of k
shows most plainly. The coin is still ONE add/remove step of the claim's neighbouring (one person of at most k
rows), so the bound keeps group 1 (one_run.py ``group`` counts person steps, not rows); the expected counts the
``cells`` scorer compares with count k rows for every other canary of a cell, half of them in.

What it cannot see (bench/README.md): a correct noise scale is the point of DP, so a mechanism whose noise is
a third of its charge at a claimed epsilon 1 still moves one canary's cells by a fraction of that noise; at
delta 1e-9 no black-box audit of this size tells it from a correct one. So the same fits also carry a white-box
noise audit (privacy/noise_audit.py, check ``noise_epsilon``): the noise actually added to every answer, read
at the door against the noise charged, pooled over the runs here (``noise_audit``).
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2

from privsynth.attacks.base import AttackData, AuditedFit, AuditSetup, FitAndAudit, synthetic_only, with_person_key
from privsynth.attacks.one_run import detection_floor, epsilon_lower_bound
from privsynth.data.domain import PublicDomain
from privsynth.errors import DataError
from privsynth.results import AttackResult
from privsynth.rules import violations

#: guess plans tried on every audit (share of the canaries guessed, and whether the bottom is guessed "out"
#: too); the bound is Bonferroni-corrected over all of them, so trying them is paid for, not a free look
GUESS_SHARES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
SCORERS = ("cells", "unseen values")
PLANS = tuple(itertools.product(range(len(SCORERS)), GUESS_SHARES, (False, True)))
#: a canary draw that keeps breaking the public rules gives up after this many rounds
DRAW_ROUNDS = 50


def design_canaries(domain: PublicDomain, count: int, seed: int) -> pd.DataFrame:
    """``count`` rows drawn from the public domain alone: every column's codes spread evenly over its public
    codes in random order (``_balanced``), decoded, and redrawn when a row breaks a public rule. No population
    row is read or copied."""
    coders = domain.coders()
    rng = np.random.default_rng([seed, 0xCA7])
    kept: list[pd.DataFrame] = []
    have = 0
    for _ in range(DRAW_ROUNDS):
        codes = np.stack([_balanced(coders[n].size, count, rng) for n in domain.names], axis=1)
        rows = domain.decode(codes, coders, rng)
        if domain.rules:
            facts = domain.rule_facts()
            broken = np.zeros(len(rows), dtype=bool)
            for rule in domain.rules:
                broken |= np.asarray(violations(rule, rows, facts), dtype=bool)
            rows = rows[~broken]
        kept.append(rows)
        have += len(rows)
        if have >= count:
            return pd.concat(kept, ignore_index=True).iloc[:count].reset_index(drop=True)
    raise DataError(f"attacks.audit: could not draw {count} canaries that obey data.rules from the public domain "
                    f"(got {have}); lower attacks.audit.canaries or check the rules")


def _balanced(size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` codes of ``size``, each used as evenly as possible, in random order: canaries share a value
    only when there are more canaries than values, so a value shows one canary, not several."""
    cycles = -(-count // size)
    return np.concatenate([rng.permutation(size) for _ in range(cycles)])[:count][rng.permutation(count)]


@dataclass(frozen=True)
class CanaryTask:
    """One audit fit: its training table (base rows plus the included canaries) and what scoring needs."""

    run: int
    train: pd.DataFrame
    seed: int
    fit_and_audit: FitAndAudit
    domain: PublicDomain
    base: pd.DataFrame
    canaries: pd.DataFrame
    expected_rows: float
    rows_per_canary: int = 1


def run_canary_task(task: CanaryTask) -> tuple[np.ndarray, AuditedFit]:
    """Fit, sample, and score every canary of the run (on the worker: 2 x m scores and the noise audit travel
    back, the synthetic table does not)."""
    fit = task.fit_and_audit(task.train, task.seed)
    fit = dataclasses.replace(fit, synthetic=synthetic_only(fit.synthetic))
    scores = canary_scores(fit.synthetic, task.base, task.canaries, task.domain, task.expected_rows,
                           task.rows_per_canary)
    return scores, dataclasses.replace(fit, synthetic=fit.synthetic.iloc[:0])


def _pair_keys(codes: np.ndarray, j: int, k: int, size_k: int) -> np.ndarray:
    return codes[:, j].astype(np.int64) * size_k + codes[:, k]


def _count_of(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_keys, queries, side="right") - np.searchsorted(sorted_keys, queries, side="left")


def canary_scores(synthetic: pd.DataFrame, base: pd.DataFrame, canaries: pd.DataFrame, domain: PublicDomain,
                  expected_rows: float, rows_per_canary: int = 1) -> np.ndarray:
    """Two scores per canary (2 x canaries), one per guesser (``SCORERS``); ``canaries`` holds one row per
    canary, each of which is ``rows_per_canary`` identical rows when it is in (a canary person).

    ``cells``: summed over every pair of columns, the log ratio of the synthetic count of the canary's 2-way
    cell to what the auditor knows is there without it (its base rows and half of the other canaries' rows in
    the cell, scaled to the synthetic table's size), both plus one. A pair the mechanism measured shows an
    included canary; the others add noise (which pairs were measured is the mechanism's secret: black box).
    ``unseen values``: how many of the canary's values that no base row and no other canary holds appear in
    the synthetic table. A correct mechanism shows such a value from its noise whether or not the canary was
    in; one whose output domain was read from the data can show it only if the canary was in."""
    coders = domain.coders()
    encoded = {name: np.stack([coders[n].encode(frame[n]) for n in domain.names], axis=1)
               for name, frame in (("synthetic", synthetic), ("base", base), ("canaries", canaries))}
    scale = len(synthetic) / expected_rows
    scores, unseen = np.zeros(len(canaries)), np.zeros(len(canaries))
    for j in range(len(domain.names)):
        keys = {name: np.sort(codes[:, j]) for name, codes in encoded.items()}
        query = encoded["canaries"][:, j]
        alone = (_count_of(keys["base"], query) == 0) & (_count_of(keys["canaries"], query) == 1)
        unseen += alone & (_count_of(keys["synthetic"], query) > 0)
    for j, k in itertools.combinations(range(len(domain.names)), 2):
        size_k = coders[domain.names[k]].size
        keys = {name: np.sort(_pair_keys(codes, j, k, size_k)) for name, codes in encoded.items()}
        scores += _log_ratio(keys, _pair_keys(encoded["canaries"], j, k, size_k), scale, rows_per_canary)
    return np.stack([scores, unseen])


def _log_ratio(keys: dict[str, np.ndarray], query: np.ndarray, scale: float, rows_per_canary: int = 1
               ) -> np.ndarray:
    """log((synthetic count + 1) / (expected count without the canary + 1)) of each canary's cell."""
    others = 0.5 * rows_per_canary * (_count_of(keys["canaries"], query) - 1)
    expected = (_count_of(keys["base"], query) + others) * scale
    return np.log((_count_of(keys["synthetic"], query) + 1.0) / (expected + 1.0))


def draw_audit_tables(population: pd.DataFrame, canaries: pd.DataFrame, base_rows: int, runs: int,
                      seed: int, rows_per_canary: int = 1) -> tuple[np.ndarray, list[pd.DataFrame], list[pd.DataFrame]]:
    """Membership (runs x canaries, fair coins), each run's base rows and its training table (shuffled). An
    included canary brings ``rows_per_canary`` identical rows (a canary person: all or none of them)."""
    if base_rows > len(population):
        raise DataError(f"attacks.audit.base_rows {base_rows} exceeds the {len(population)} holdout rows the audit "
                        "draws from; lower it or raise data.holdout_fraction")
    membership = np.zeros((runs, len(canaries)), dtype=bool)
    bases, tables = [], []
    for run in range(runs):
        rng = np.random.default_rng([seed, 0xA0D17, run])
        membership[run] = rng.random(len(canaries)) < 0.5
        base = population.iloc[np.sort(rng.choice(len(population), base_rows, replace=False))]
        included = canaries[membership[run]]
        frame = pd.concat([base, *[included] * rows_per_canary], ignore_index=True)
        if rows_per_canary > 1:  # a canary person's k rows share a label; each base row is its own person
            frame = with_person_key(frame, [f"b{i}" for i in range(len(base))] +
                                    [f"c{j}" for j in np.flatnonzero(membership[run])] * rows_per_canary)
        bases.append(base.reset_index(drop=True))
        tables.append(frame.iloc[rng.permutation(len(frame))].reset_index(drop=True))
    return membership, bases, tables


@dataclass(frozen=True)
class Guesses:
    """The best guess plan's outcome and its bound (Bonferroni-corrected over ``PLANS``)."""

    epsilon: float
    guesses: int
    correct: int
    scorer: str
    share: float
    both_ends: bool


def guess_and_bound(scores: np.ndarray, membership: np.ndarray, delta: float, alpha: float,
                    seed: int) -> Guesses:
    """Try every plan of ``PLANS`` (a scorer, a share of canaries guessed, the top "in" alone or also the
    bottom "out"; ties broken by a seeded shuffle) and keep the best bound. Each plan is judged at level
    alpha / len(PLANS), so the kept bound still holds at 1 - alpha."""
    m = scores.shape[1]
    order = np.random.default_rng([seed, 0x6E55]).permutation(m)
    ranked = [order[np.argsort(-row[order], kind="stable")] for row in scores]  # highest score first
    best = Guesses(0.0, 0, 0, SCORERS[0], 0.0, False)
    for scorer, share, both_ends in PLANS:
        k = max(1, int(round(share * m)))
        top, bottom = ranked[scorer][:k], ranked[scorer][:0]
        if both_ends:
            top, bottom = ranked[scorer][:max(1, k // 2)], ranked[scorer][m - max(1, k // 2):]
        correct = int(membership[top].sum() + (~membership[bottom]).sum())
        r = len(top) + len(bottom)
        bound = epsilon_lower_bound(m, r, correct, delta, alpha / len(PLANS))
        if bound > best.epsilon or best.guesses == 0:
            best = Guesses(bound, r, correct, SCORERS[scorer], share, both_ends)
    return best


def run_canary_audit(setup: AuditSetup, domain: PublicDomain, seed: int) -> dict[str, object]:
    """Design the canaries, fit the generator ``setup.runs`` times on the cluster, score and bound."""
    start = time.perf_counter()
    canaries = domain.cast(design_canaries(domain, setup.canaries, seed))
    copies = setup.rows_per_canary
    membership, bases, tables = draw_audit_tables(setup.population, canaries, setup.base_rows, setup.runs, seed,
                                                  copies)
    expected = setup.base_rows + setup.canaries * copies / 2
    tasks = [CanaryTask(run, table, int(np.random.SeedSequence([seed, 0xCA4, run]).generate_state(1)[0]),
                        setup.fit_and_audit, domain, base, canaries, expected, copies)
             for run, (base, table) in enumerate(zip(bases, tables))]
    outcome = setup.map_tasks(run_canary_task, tasks, setup.progress, "audit-run")
    scores = np.concatenate([run_scores for run_scores, _ in outcome.results], axis=1)
    labels = membership.reshape(-1)
    best = guess_and_bound(scores, labels, setup.delta, setup.alpha, seed)
    floor = detection_floor(len(labels), len(labels) // 2, setup.claimed_epsilon, setup.delta,
                            setup.alpha / len(PLANS))
    return {"epsilon": best.epsilon, "canaries": setup.canaries, "runs": setup.runs, "m": int(len(labels)),
            "guesses": best.guesses, "correct": best.correct,
            "accuracy": best.correct / best.guesses if best.guesses else math.nan,
            "scorer": best.scorer, "guess_share": best.share, "guessed_both_ends": best.both_ends,
            "plans_tried": len(PLANS),
            "included": int(labels.sum()), "base_rows": setup.base_rows, "delta": setup.delta,
            "confidence": 1 - setup.alpha, "claimed_epsilon": setup.claimed_epsilon, **floor.as_details(),
            "retried_tasks": [vars(f) for f in outcome.failed_attempts], "workers": outcome.workers,
            "cluster": outcome.where, "wall_seconds": round(time.perf_counter() - start, 2),
            **({} if copies == 1 else {"unit": "person", "rows_per_canary": copies, "group": 1,
                                       "canaries_are": f"persons of {copies} identical designed rows, added or "
                                                       "removed together (one person step each)"}),
            "noise": noise_audit([fit for _, fit in outcome.results], setup.claimed_epsilon)}


#: one-sided confidence of the noise ratio's upper bound: a correct implementation is called faulty at most
#: this rarely per audit (re-running a DP-SGD accountant sits exactly at the claim when the ratio is 1)
NOISE_CONFIDENCE = 0.999


def noise_audit(fits: list[AuditedFit], claimed_epsilon: float | None) -> dict[str, object]:
    """Pool the runs' noise audits: the ratio noise added / noise charged with its interval (chi-square with
    one degree of freedom per value), and the smallest epsilon any run implies at the ratio's upper bound
    (privacy/noise_audit.py says what that epsilon means per accounting)."""
    squares = float(sum(f.noise_squares for f in fits))
    values = int(sum(f.noise_values for f in fits))
    if not values or any(f.implied_epsilon is None for f in fits):
        return {"values": values, "epsilon": math.nan, "note": "no Gaussian noise was measured in the audit fits"}
    low = math.sqrt(squares / chi2.ppf(NOISE_CONFIDENCE, values))
    high = math.sqrt(squares / chi2.ppf(1 - NOISE_CONFIDENCE, values))
    at_high = [f.implied_epsilon(high) for f in fits]  # type: ignore[misc]
    at_low = [f.implied_epsilon(low) for f in fits]  # type: ignore[misc]
    return {"values": values, "ratio": math.sqrt(squares / values), "ratio_interval": [low, high],
            "confidence": NOISE_CONFIDENCE, "epsilon": min(at_high), "epsilon_at_ratio_low": min(at_low),
            "per_run": at_high, "method": fits[0].implied_method, "claimed_epsilon": claimed_epsilon}


CANARY_EPSILON = "canary_epsilon"
NOISE_EPSILON = "noise_epsilon"


def canary_audit(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    """``canary_epsilon``: the one-run audit's 95% lower bound (estimate and interval alike: it has no upper
    end); ``noise_epsilon``: the epsilon the noise measured in the same fits implies at the ratio's upper bound
    (likewise one-sided; the details hold the ratio's interval and the epsilon at its lower end). Like the shadow attack it ignores the candidate table and fits
    the generator itself; nothing when the threat model turned the audit off (no ``data.audit``)."""
    if data.audit is None:
        return []
    return audit_results(run_canary_audit(data.audit, data.domain, data.seed))


def audit_results(details: dict[str, object]) -> list[AttackResult]:
    """``run_canary_audit``'s details as the two checks' results."""
    details = dict(details)
    noise = details.pop("noise")
    bound, trials = float(details["epsilon"]), int(details["m"])  # type: ignore[arg-type, call-overload]
    implied = float(noise["epsilon"])  # type: ignore[index, arg-type]
    return [AttackResult(name=CANARY_EPSILON, estimate=bound, ci=(bound, bound), n=trials, details=details),
            AttackResult(name=NOISE_EPSILON, estimate=implied, ci=(implied, implied),
                         n=int(noise["values"]), details=noise)]  # type: ignore[index, call-overload]
