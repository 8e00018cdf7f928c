"""The sole orchestrator: threat model -> data -> fit -> attacks + utility -> gate -> run folder.

Layers never call each other sideways; this module calls them in order, times each step, and is the only
place that holds both the private tables and the candidate. The candidate lives in memory until the gate
releases it. A released run writes two products: the public release (table and public manifest, only public
or DP facts) and the internal review package (every attack and utility figure, the private record); a blocked
run writes its review package and no synthetic table.
"""
from __future__ import annotations

import contextlib
import functools
import math
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ContextManager, Iterator, Protocol

import numpy as np
import pandas as pd

from privsynth.attacks.base import PERSON_KEY, AttackData, AuditedFit, AuditSetup, TaskMapper, attack_tables
from privsynth.attacks.membership.person_distance import person_sample
from privsynth.attacks.membership.targets import plan_shadow_attack
from privsynth.attacks.registry import run_checks, run_on
from privsynth.checks import CATALOGUE
from privsynth.data.domain import PublicDomain
from privsynth.data.fingerprint import rows_fingerprint
from privsynth.data.inputs import Inputs, Persons, read_inputs
from privsynth.data.validate import row_problems
from privsynth.errors import DataError, PrivsynthError, RunInterrupted, ThreatModelError
from privsynth.evaluation.comparison import association_matrices, marginal_shares
from privsynth.evaluation.registry import UtilityData, run_metrics
from privsynth.generators.base import Generator
from privsynth.generators.registry import check_device, is_dp, make_generator, structure_problems
from privsynth.parallel import check_scheduler, compute_client, machine_workers, task_mapper
from privsynth.privacy.home import StewardHome
from privsynth.privacy.ledger import BudgetLedger, Outcome
from privsynth.privacy.noise import NoiseSource, fresh_nonce
from privsynth.privacy.noise_audit import NoiseTap, implied_epsilon, implied_method
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import PrivateData
from privsynth.release.bundle import (RELEASE_DIR, REVIEW_DIR, check_output_folder, release_reservation,
                                     reserve_run_folder, write_run_folder)
from privsynth.release.gate import (ShadowSizing, blind_gates, decide, declared_checks, null_feasibility,
                                    shadow_sizing)
from privsynth.release.manifest import PublicManifest
from privsynth.report.documents import run_documents
from privsynth.results import AttackResult, Decision, Guarantee, UtilityResult
from privsynth.threat_model import LoadedThreatModel, ShadowSpec, ThreatModel, load_threat_model


class StepReporter(Protocol):
    """How the pipeline tells a front end (the CLI's progress display) which step is running."""

    def step(self, name: str) -> ContextManager[None]: ...

    def progress(self, message: str) -> None:
        """A one-line update from inside a long step (AIM's rounds, DP-SGD's epochs)."""

    def tasks(self, done: int, total: int, label: str) -> None:
        """``done`` of ``total`` independent tasks (shadow fits) finished, in any order."""


class _Silent:
    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        yield

    def progress(self, message: str) -> None:
        pass

    def tasks(self, done: int, total: int, label: str) -> None:
        pass


@dataclass(frozen=True)
class RunResult:
    """A finished run: where its folder is, the decision, and the documents written (as values)."""

    decision: Decision
    run_dir: Path
    release_dir: Path | None
    review_dir: Path
    report: dict[str, Any]
    manifest: PublicManifest | None
    record: dict[str, Any]
    attacks: list[AttackResult]
    utility: list[UtilityResult]
    guarantee: Guarantee
    #: what the domain check changed: describes private data, so it is shown to the steward, never released
    internal: dict[str, Any] = field(default_factory=dict)


def preflight(model: ThreatModel) -> Generator:
    """Refusals that need no data (unconfirmed bounds, a non-DP generator without consent, bad generator
    parameters), before the private table is read. Returns the unfitted generator."""
    problems = model.draft_problems()
    if not is_dp(model.generator.kind) and not model.privacy.allow_non_dp:
        problems.append(f"generator.kind {model.generator.kind!r} has no differential-privacy guarantee; set "
                        "privacy.allow_non_dp: true to run it as a labelled non-DP baseline")
    structure = PublicDomain.from_spec(model.data)
    problems += structure_problems(model.generator.kind, bool(structure.rules), bool(structure.parents),
                                   bool(structure.quantile_columns))
    if problems:
        raise ThreatModelError("threat model", problems)
    check_device(model.compute.device)
    generator = make_generator(model.generator.kind, model.generator.params)
    generator.device = model.compute.device
    return generator


@dataclass(frozen=True)
class ShadowGenerator:
    """The shadow attack's and the canary audit's ``fit_and_sample``: a fresh generator of the release's kind,
    parameters and budget, fitted on one shadow (or audit) training set through its own PrivateData and
    odometer (so a DP generator is attacked exactly as it runs), then sampled. Plain data at module level, so
    dask can pickle it to its workers; attacks/ receives it as a callable and never imports generators/ or
    privacy/."""

    kind: str
    params: Any
    epsilon: float
    delta: float
    allow_non_dp: bool
    domain: PublicDomain
    n_rows: int

    device: str = "auto"
    #: the release's contribution bound: a shadow fit charges and adds noise exactly as the release fit does
    rows_per_person: int = 1

    def __call__(self, train: pd.DataFrame, seed: int) -> pd.DataFrame:
        return self._fit(train, seed, None)[0]

    def audit(self, train: pd.DataFrame, seed: int) -> AuditedFit:
        """The canary audit's fit: the table, and the noise audit of the fit (privacy/noise_audit.py): every
        Gaussian answer and DP-SGD step measured against the noise charged, and the fit's charges as a
        function of the measured noise ratio (``implied_epsilon``), which the audit evaluates after pooling."""
        tap = NoiseTap()
        synthetic, odometer = self._fit(train, seed, tap)
        squares, values = tap.totals()
        return AuditedFit(synthetic, squares, values,
                          functools.partial(implied_epsilon, odometer.charges, odometer.delta, odometer.accountant,
                                            rows_per_person=self.rows_per_person),
                          implied_method(odometer.accountant))

    def _fit(self, train: pd.DataFrame, seed: int, tap: NoiseTap | None) -> tuple[pd.DataFrame, Odometer]:
        """At person level the training set's ``PERSON_KEY`` column (when the attack draws whole persons) says
        whose each row is; without it every row counts as its own person, the way a person-level mechanism
        treats a table of one-row persons."""
        persons = None
        if PERSON_KEY in train.columns:
            persons, train = train[PERSON_KEY].to_numpy(), train.drop(columns=[PERSON_KEY])
        if self.rows_per_person > 1 and persons is None:
            persons = np.arange(len(train))
        generator = make_generator(self.kind, self.params)
        generator.device = self.device
        odometer = odometer_for(generator, self.epsilon, self.delta)
        private = PrivateData(train, self.domain, odometer, NoiseSource.simulation(seed),
                              allow_non_dp=self.allow_non_dp, rows_per_person=self.rows_per_person, noise_tap=tap,
                              persons=persons if self.rows_per_person > 1 else None)
        generator.fit(private)
        return self.domain.cast(generator.sample(self.n_rows, seed=seed)), odometer


def odometer_for(generator: Generator, epsilon: float, delta: float) -> Odometer:
    """The fit's odometer, keeping the books the way the generator composes: zCDP or an Opacus accountant."""
    return Odometer.for_epsilon(epsilon, delta, accountant=generator.accountant)


@contextlib.contextmanager
def _task_mapper(model: ThreatModel) -> Iterator[TaskMapper]:
    """Where the shadow attack's and the canary audit's fits run: the threat model's dask cluster (started only
    when one of them is on)."""
    spec = model.attacks
    fits = max(spec.shadow.shadow_runs if spec.shadow.enabled else 0, spec.audit.runs if spec.audit.enabled else 0)
    if not fits:
        yield task_mapper(None)
        return
    workers = model.compute.workers or min(machine_workers(), fits)
    with compute_client(model.compute.scheduler, workers) as client:
        yield _naming_step(task_mapper(client), "attacks step, shadow-model attack or canary audit")


def _naming_step(mapper: TaskMapper, step: str) -> TaskMapper:
    """The mapper, with its errors (tasks that failed every attempt, a cluster left without workers) saying
    which step of the run they ended."""

    def named(fn: Any, args: Any, progress: Any = None, label: str = "task") -> Any:
        try:
            return mapper(fn, args, progress, label)
        except PrivsynthError as exc:
            raise PrivsynthError(f"{step}: {exc}") from exc

    return named


@dataclass(frozen=True)
class AttackPlan:
    """The attack tables and the null controls, measured before any budget is booked: what unseen real rows
    score decides whether the declared gates could pass at all (release/gate.py ``null_feasibility``), and
    how many anonymeter attacks the relative gates need. Internal: never released."""

    data: AttackData
    null_table: pd.DataFrame
    nulls: dict[str, AttackResult]
    #: the threat model's attacks.n_attacks when the plan raised it (None: kept)
    declared_attacks: int | None = None
    #: the shadow attack's settings, with as many targets as its gate's interval needs (release/gate.py
    #: ``shadow_sizing``); None when the attack is off
    shadow: ShadowSpec | None = None
    shadow_sizing: ShadowSizing | None = None
    #: the positive controls (training rows posing as the synthetic table), measured with the nulls: a gate
    #: they cannot clear is blind on this table (release/gate.py ``blind_gates``)
    positives: dict[str, AttackResult] = field(default_factory=dict)


def plan_attacks(loaded: LoadedThreatModel, inputs: Inputs, reporter: StepReporter | None = None) -> AttackPlan:
    """Attack tables and controls; raises ThreatModelError (before the fit, no budget spent) when unseen real
    rows already fail a gate, when the training rows themselves cannot (the attack is blind on this table), or
    when the shadow gate's interval cannot fit under its threshold. When the relative gates' intervals are too
    wide for the declared ``attacks.n_attacks`` and the attack tables hold enough rows, the count is raised
    (and the review says so)."""
    model = loaded.model
    spec = model.attacks
    sizing = shadow_sizing(model)
    if sizing is not None and sizing.problem:
        raise ThreatModelError(str(loaded.path), [sizing.problem])
    shadow = spec.shadow
    if sizing is not None and sizing.raised:
        shadow = spec.shadow.model_copy(update={"targets": sizing.targets})
    data, null_table = attack_tables(inputs.train, inputs.holdout, inputs.domain, spec.sample_size,
                                     model.attacker.known_columns, model.attacker.secret_columns, spec.n_attacks,
                                     spec.seed, *((inputs.persons.train, inputs.persons.holdout)
                                                  if inputs.persons is not None else ()))
    if inputs.persons is not None:
        people = inputs.persons
        data = replace(data, persons=person_sample(inputs.train, people.train, inputs.holdout, people.holdout,
                                                   people.source_rows, spec.sample_size, spec.seed))
    declared = declared_checks(model)
    names = [n for n in dict.fromkeys(d.check.name for d in declared) if "null" in CATALOGUE[n].controls]
    with (reporter or _Silent()).step("null"):
        nulls = run_on(data, null_table, names)
        available = min(len(data.members), len(data.control))
        feasible = null_feasibility(declared, nulls, data.n_attacks, spec.sample_size)
        declared_attacks = None
        if feasible.attacks_needed and feasible.attacks_needed > data.n_attacks and available > data.n_attacks:
            declared_attacks, data = data.n_attacks, replace(data, n_attacks=min(feasible.attacks_needed, available))
            relative = [n for n in names if CATALOGUE[n].relative]
            nulls.update(run_on(data, null_table, relative))
            feasible = null_feasibility(declared, nulls, data.n_attacks, spec.sample_size)
        seeing = [n for n in dict.fromkeys(d.check.name for d in declared) if "positive" in CATALOGUE[n].controls]
        positives = run_on(data, data.members, seeing)
    problems = [*feasible.problems, *blind_gates(declared, nulls, positives)]
    if problems:
        raise ThreatModelError(str(loaded.path), problems)
    return AttackPlan(data, null_table, nulls, declared_attacks, shadow if spec.shadow.enabled else None, sizing,
                      positives)


def run_attacks(plan: AttackPlan, inputs: Inputs, model: ThreatModel, candidate: pd.DataFrame, names: list[str],
                reporter: StepReporter) -> list[AttackResult]:
    """Every declared attack on the candidate and its controls (the null controls measured by the plan); the
    shadow attack gets its generator factory (the release's kind, parameters and budget) and the cluster's
    task mapper injected here."""
    spec = model.attacks
    data, null_table = plan.data, plan.null_table
    with _task_mapper(model) as mapper:
        if plan.shadow is not None:
            factory = ShadowGenerator(model.generator.kind, model.generator.params, model.privacy.epsilon,
                                      model.privacy.delta, model.privacy.allow_non_dp, inputs.domain,
                                      plan.shadow.synthetic_rows or 5 * plan.shadow.train_size, model.compute.device,
                                      model.rows_per_person)
            shadow = plan_shadow_attack(inputs.train, inputs.holdout, inputs.train_rows, inputs.holdout_rows,
                                        plan.shadow, inputs.domain, spec.seed, factory, mapper, model.privacy.delta,
                                        lambda done, total: reporter.tasks(done, total, f"{factory.kind} shadow fits"),
                                        persons=inputs.persons if model.privacy_unit == "person" else None)
            data = replace(data, shadow=shadow)
        if spec.audit.enabled:
            data = replace(data, audit=plan_audit(model, inputs, mapper, reporter))
        return run_checks(data, candidate, names, {"null": null_table, "positive": data.members},
                          lambda done, total: reporter.tasks(done, total, "attacks on candidate and controls"),
                          measured_controls={"null": plan.nulls, "positive": plan.positives})


def plan_audit(model: ThreatModel, inputs: Inputs, mapper: TaskMapper, reporter: StepReporter) -> AuditSetup:
    """The canary audit's inputs: the holdout as the population, a factory of the release's kind, parameters
    and budget sampling ``synthetic_rows`` rows, and the claim (None for a non-DP baseline)."""
    audit = model.attacks.audit
    copies = model.rows_per_person  # 1 at row level; at person level a canary is a person of k rows
    rows = audit.synthetic_rows or int(40 * (audit.base_rows + audit.canaries * copies / 2))
    factory = ShadowGenerator(model.generator.kind, model.generator.params, model.privacy.epsilon, model.privacy.delta,
                              model.privacy.allow_non_dp, inputs.domain, rows, model.compute.device,
                              model.rows_per_person)
    claim = model.privacy.epsilon if is_dp(model.generator.kind) else None
    return AuditSetup(inputs.holdout, factory.audit, mapper, audit.canaries, audit.runs, audit.base_rows,
                      model.privacy.delta, claim,
                      progress=lambda done, total: reporter.tasks(done, total, f"{factory.kind} canary-audit fits"),
                      rows_per_canary=copies)


@dataclass(frozen=True)
class Booking:
    """Where a pass of the loop books its budget: the steward's ledger, and the private facts the entry keeps
    (the rows' keyed fingerprint, so the same rows cannot be booked under two data set names, and the nonce)."""

    ledger: BudgetLedger
    rows_fingerprint: str | None
    nonce_hex: str
    outcome_on_success: Outcome | None = None


def _booked(model: ThreatModel) -> tuple[float, float]:
    """What a run books: its budget, or everything for a non-DP baseline (it has no guarantee)."""
    return (model.privacy.epsilon, model.privacy.delta) if is_dp(model.generator.kind) else (math.inf, 1.0)


@contextlib.contextmanager
def _ledger_entry(booking: Booking, model: ThreatModel, release_id: str, private: PrivateData) -> Iterator[int]:
    """Reserve the run's epsilon and delta before the fit and settle them with what the fit spent, even when
    the fit fails (its charges were made before their queries ran, so they count). A blocked run still spent
    its budget: the model was trained on the private rows whether or not its table is released."""
    dp = is_dp(model.generator.kind)
    epsilon, delta = _booked(model)
    entry = booking.ledger.reserve(model.dataset, release_id, model.generator.kind, epsilon, delta,
                                   total_epsilon=model.privacy.total_epsilon, total_delta=model.privacy.total_delta,
                                   rows_fingerprint=booking.rows_fingerprint, nonce=booking.nonce_hex)

    def spent() -> tuple[float, float]:
        if not dp:
            return (math.inf, 1.0) if private.non_dp_access else (0.0, 0.0)
        return (private.odometer.epsilon_spent, delta) if private.odometer.charges else (0.0, 0.0)

    try:
        yield entry
    except BaseException:
        booking.ledger.settle(entry, *spent(), model.generator.kind, outcome="failed")
        raise
    booking.ledger.settle(entry, *spent(), model.generator.kind, outcome=booking.outcome_on_success)


def _run_name(model: ThreatModel, started: datetime) -> str:
    return f"{model.name}-{started.strftime('%Y%m%dT%H%M%SZ')}"


@dataclass(frozen=True)
class Evaluation:
    """Everything one pass of the loop produced before anything is written: the fitted generator's guarantee,
    the candidate table (in memory only), every judged result and the gate's decision."""

    loaded: LoadedThreatModel
    name: str
    inputs: Inputs
    guarantee: Guarantee
    odometer: Odometer
    candidate: pd.DataFrame
    n_rows: int
    attacks: list[AttackResult]
    utility: list[UtilityResult]
    decision: Decision
    comparison: dict[str, Any]
    ledger: dict[str, Any] | None
    ledger_entry: int
    timings: dict[str, float]
    #: rule violations in the source and in the generator's raw output: for the internal review, never released
    review: dict[str, Any] = field(default_factory=dict)
    #: anonymeter attacks per evaluator, and the declared count when the plan raised it (review only)
    attack_sizes: dict[str, Any] = field(default_factory=dict)


def report_columns(model: ThreatModel, limit: int = 8) -> list[str]:
    """The columns the report plots: what the threat model says matters (target, secrets, quasi-identifiers)."""
    named = [model.data.target, *model.attacker.secret_columns, *model.attacker.known_columns]
    kept = model.kept_columns
    return list(dict.fromkeys(c for c in named if c and c in kept))[:limit] or list(kept)[:limit]


def evaluate(
    loaded: LoadedThreatModel,
    name: str,
    booking: Booking,
    noise: NoiseSource,
    inputs: Inputs,
    plan: AttackPlan,
    reporter: StepReporter | None = None,
) -> Evaluation:
    """One pass of the loop without writing anything: fit (booked under ``name``), sample, attack, measure,
    judge. Every DP noise draw of the fit comes from ``noise`` (the steward's key and the run's nonce).
    ``run`` writes its outcome; ``privsynth sweep`` compares several."""
    model = loaded.model
    reporter = reporter or _Silent()
    timings: dict[str, float] = {}

    @contextlib.contextmanager
    def step(label: str) -> Iterator[None]:
        start = time.perf_counter()
        with reporter.step(label):
            yield
        timings[label] = time.perf_counter() - start

    generator = preflight(model)
    if noise.simulated:
        raise PrivsynthError("a fit whose output may be released must draw its noise from a secret source")
    odometer = odometer_for(generator, model.privacy.epsilon, model.privacy.delta)
    person_level = model.rows_per_person > 1 and inputs.persons is not None
    private = PrivateData(inputs.train, inputs.domain, odometer, noise, allow_non_dp=model.privacy.allow_non_dp,
                          rows_per_person=model.rows_per_person,
                          persons=inputs.persons.train if person_level else None)
    with step("fit"), _ledger_entry(booking, model, name, private) as entry:
        generator.fit(private, progress=reporter.progress)
    guarantee = generator.guarantee_
    if guarantee.dp and private.non_dp_access:
        raise PrivsynthError(f"generator {model.generator.kind!r} read raw rows but claims DP: refusing")
    with step("sample"):
        n_rows = model.generator.n_rows or generator.default_rows_
        candidate = inputs.domain.cast(generator.sample(n_rows, seed=model.generator.seed))
    declared = declared_checks(model)
    names = list(dict.fromkeys(d.check.name for d in declared))
    with step("attacks"):
        attacks = run_attacks(plan, inputs, model, candidate, names, reporter)
        # the checks that ran, from their results: a step message must not name an attack that was switched off
        reporter.progress("ran " + ", ".join(dict.fromkeys(a.name.split(":")[0] for a in attacks)))
    with step("utility"):
        utility = run_metrics(UtilityData(inputs.train, inputs.holdout, inputs.domain, model.data.target,
                                          model.attacks.seed), candidate, names)
        comparison = {"marginals": marginal_shares(inputs.holdout, candidate, inputs.domain, report_columns(model)),
                      "associations": association_matrices(inputs.holdout, candidate, inputs.domain)}
    attacks, utility, decision = decide(declared, attacks, utility, guarantee.epsilon if guarantee.dp else None)
    raw_rules = getattr(generator, "last_rules_", None)
    review = {"rule_violations_source": inputs.domain.rule_violations(inputs.train),
              "rule_violations_raw_output": dict(raw_rules.broken) if raw_rules is not None else {}}
    if inputs.persons is not None:
        review["persons"] = person_review(inputs.persons)
    return Evaluation(loaded, name, inputs, guarantee, odometer, candidate, n_rows, attacks, utility, decision,
                      comparison, _ledger_standing(booking.ledger, model.dataset), entry, timings, review,
                      {"n_attacks": plan.data.n_attacks, "n_attacks_declared": model.attacks.n_attacks,
                       "raised_for_the_gates": plan.declared_attacks is not None,
                       "rows_per_side": min(len(plan.data.members), len(plan.data.control)),
                       **_shadow_sizes(plan.shadow_sizing)})


def _shadow_sizes(sizing: ShadowSizing | None) -> dict[str, Any]:
    """The shadow attack's size for the review: targets (declared, used) and a blind attack's half-width."""
    if sizing is None:
        return {}
    return {"shadow_targets": sizing.targets, "shadow_targets_declared": sizing.targets_declared,
            "shadow_held_out_runs": sizing.held_out_runs,
            "shadow_blind_half_width": round(sizing.blind_half_width, 4)}


def person_review(persons: Persons) -> dict[str, Any]:
    """What the contribution bound did, for the internal review only: these counts describe the private table
    and are never released (the public manifest states only the declared bound)."""
    return {"max_rows_per_person": persons.max_rows_per_person, "rows_dropped_by_bound": persons.rows_dropped,
            "persons_over_bound": persons.persons_over_bound, "train_persons": int(len(set(persons.train))),
            "holdout_persons": int(len(set(persons.holdout)))}


def _ledger_standing(ledger: BudgetLedger, dataset: str) -> dict[str, Any] | None:
    """The data set's budget after this run, for the review: spent, registered totals, remaining, runs."""
    standing = ledger.budgets(dataset)
    if not standing:
        return None
    b = standing[0]
    return {"ledger": str(ledger.path), "dataset": dataset, "runs": b.runs, "epsilon_spent": b.epsilon_spent,
            "delta_spent": b.delta_spent, "total_epsilon": b.dataset.total_epsilon,
            "total_delta": b.dataset.total_delta, "remaining": b.remaining_epsilon}


def abandon_run(ledger: BudgetLedger, dataset: str, run_dir: Path) -> str:
    """Clean up after a run that did not finish (an error, SIGTERM, Ctrl-C) and say what is left.

    The reserved run folder is removed when empty (a half-written one never exists: the folder is filled by
    one rename). The run's ledger entry, when its fit had started, was settled with what the fit spent; it is
    marked failed here, whichever step failed, so `budget show` tells a spend without a decision."""
    release_reservation(run_dir)
    disk = f"the run folder {run_dir} is complete" if run_dir.exists() else \
        f"nothing written (the reserved run folder {run_dir} was removed)"
    entries = [e for e in ledger.spends(dataset) if e.release_id == run_dir.name]
    if not entries:
        return f"{disk}; ledger {ledger.path}: nothing booked (no budget was spent)"
    entry = entries[-1]
    if entry.outcome is None and entry.status == "spent":
        ledger.record_outcome(entry.id, "failed")
    spent = "reserved, not settled" if entry.status == "reserved" else f"epsilon {entry.epsilon:.4g} spent"
    return f"{disk}; ledger {ledger.path}: entry {entry.id} of data set {dataset!r} recorded as failed ({spent})"


def prepare(loaded: LoadedThreatModel, home: StewardHome, noise: NoiseSource,
            reporter: StepReporter | None = None) -> tuple[Inputs, str]:
    """Preflight, read and split the data, check its sizes, and fingerprint its rows under the steward's key.
    Everything here comes before the ledger reservation: a refusal costs no budget."""
    model = loaded.model
    preflight(model)
    if model.attacks.shadow.enabled or model.attacks.audit.enabled:
        check_scheduler(model.compute.scheduler)
    with (reporter or _Silent()).step("read"):
        inputs = read_inputs(loaded, noise.generator("split"), noise.keyed_uniform)
        too_few = row_problems(loaded.model, len(inputs.train), len(inputs.holdout),
                               f"{len(inputs.holdout)} holdout rows")  # before the fit: refused, nothing spent
        if too_few:
            raise DataError("; ".join(too_few))
    return inputs, rows_fingerprint(inputs.rows, home.noise_key())


def run(
    threat_model: LoadedThreatModel | str | Path,
    out: str | Path | None = None,
    overrides: tuple[str, ...] = (),
    reporter: StepReporter | None = None,
    command: str | None = None,
    home: str | Path | None = None,
    nonce: bytes | None = None,
    replay_rows: str | None = None,
    started: datetime | None = None,
) -> RunResult:
    """Run the whole loop once. Raises PrivsynthError on bad input; a blocked run is a normal return.

    The fit is booked in the steward's ledger (``home``, default ``$PRIVSYNTH_HOME`` or ``~/.privsynth``)
    before it starts, and refused there when the data set's registered totals would be exceeded. Every run
    draws a fresh secret ``nonce`` from the operating system; passing one (``--replay`` of a private record)
    reproduces that run's noise exactly, given the same key. Never pass the nonce of one run to a run on other
    rows or other settings whose output is released: the two outputs would share their noise. The CLI's
    ``--replay`` passes ``replay_rows`` (the earlier run's rows fingerprint), and other rows are refused.
    ``started`` (default: now) names the run and is its public start time."""
    loaded = threat_model if isinstance(threat_model, LoadedThreatModel) else load_threat_model(threat_model, overrides)
    model = loaded.model
    if replay_rows is not None and getattr(model.generator.params, "max_seconds", None) is not None:
        raise PrivsynthError("--replay: generator.params.max_seconds stops the fit by the clock, so a replay could "
                             "stop at another round and give a second table from the same noise; it is refused "
                             "(run again without --replay for a fresh run)")
    steward = StewardHome.locate(home)
    out_dir = Path(out) if out is not None else Path(model.output.directory)
    steward.check_outside(out_dir)
    for name in check_output_folder(out_dir):
        (reporter or _Silent()).progress(f"removed {out_dir / name}: the temporary folder of a run killed while writing")
    key, signing_key = steward.noise_key(), steward.signing_key()
    nonce = fresh_nonce() if nonce is None else nonce
    noise = NoiseSource.secret(key, nonce)
    started = (started or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    inputs, fingerprint = prepare(loaded, steward, noise, reporter)
    if replay_rows is not None and replay_rows != fingerprint:
        raise PrivsynthError("--replay: these are not the rows of the run being replayed (their keyed fingerprint "
                             "differs); replaying its noise on other rows would undo the guarantee, so it is refused")
    steward.ledger().check_room(model.dataset, *_booked(model), total_epsilon=model.privacy.total_epsilon,
                                total_delta=model.privacy.total_delta, rows_fingerprint=fingerprint)
    plan = plan_attacks(loaded, inputs, reporter)
    run_dir = reserve_run_folder(out_dir, _run_name(model, started))
    try:
        ev = evaluate(loaded, run_dir.name, Booking(steward.ledger(), fingerprint, nonce.hex()), noise, inputs,
                      plan, reporter)
        start = time.perf_counter()
        with (reporter or _Silent()).step("write"):
            documents = run_documents(ev, started, nonce, key, fingerprint, command, signing_key)
            write_run_folder(run_dir, documents.files)
    except BaseException as exc:
        aftermath = abandon_run(steward.ledger(), model.dataset, run_dir)
        if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, RunInterrupted):
            raise RunInterrupted(aftermath) from exc
        raise
    steward.ledger().record_outcome(ev.ledger_entry, ev.decision.label)
    documents.report["timings"]["write"] = round(time.perf_counter() - start, 3)
    internal = {"clipped": dict(ev.inputs.domain_report.clipped),
                "mapped_to_fallback": dict(ev.inputs.domain_report.mapped_to_fallback), **ev.review}
    return RunResult(ev.decision, run_dir, run_dir / RELEASE_DIR if ev.decision.released else None,
                     run_dir / REVIEW_DIR, documents.report, documents.manifest, documents.record, ev.attacks,
                     ev.utility, ev.guarantee, internal)
