"""The release gate: a pure function from the declared checks and the measured results to a decision.

It fails closed. It loops over the checks the threat model declares (``declared_checks``: every check of the
catalogue that applies, with the threat model's thresholds), never over whatever results happen to arrive:
a declared check with no result, with no trials behind it (``n = 0``) or with a non-finite figure is "not
measured" and blocks. A result the catalogue does not know is an error, never a silent pass.

Rules (privsynth/checks.py): ``upper_ci_at_most`` passes when the upper end of its 95% interval is within
the threshold, so an uncertain result cannot pass on a lucky point estimate, and, for an attack with a
positive control, when that control fired above the threshold (a blind attack proves nothing);
``excess_over_null_at_most`` does the same on the risk above the null control, whose interval widens the
excess's (the two half-widths add in quadrature: independent attacks on independent rows);
``lower_bound_at_most_claim`` (the epsilon audit) passes when the lower bound stays at or below the claimed
epsilon; ``report_only`` and thresholds the threat model sets to 'report' are shown, never gated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence, TypeVar

from privsynth.attacks.stats import blind_mean_auc_half_width
from privsynth.checks import CATALOGUE, RANGE_OF_INTEREST, Check, check_of
from privsynth.errors import PrivsynthError
from privsynth.results import AttackResult, Control, Decision, GateFailure, UtilityResult
from privsynth.threat_model import CategoricalColumn, ThreatModel

R = TypeVar("R", AttackResult, UtilityResult)


@dataclass(frozen=True)
class Declared:
    """One check a release is judged on: its result name, catalogue entry and bound (None: report only)."""

    name: str
    check: Check
    threshold: float | None


def declared_checks(model: ThreatModel) -> list[Declared]:
    """Every check of the catalogue that applies to this threat model, with its threshold."""
    kept = model.kept_columns
    target = model.data.target
    out: list[Declared] = []
    for check in CATALOGUE.values():
        if check.scope == "shadow" and not model.attacks.shadow.enabled:
            continue
        if check.scope == "audit" and not model.attacks.audit.enabled:
            continue
        if check.scope == "person" and model.data.person_column is None:
            continue
        if check.scope == "target" and not (target in kept and isinstance(kept[target], CategoricalColumn)):
            continue
        threshold = model.gates.threshold(check.name) if check.gated else None
        names = [f"{check.name}:{s}" for s in model.attacker.secret_columns if s in kept] if check.per_secret \
            else [check.name]
        out += [Declared(name, check, threshold) for name in names]
    return out


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def _not_measured(result: AttackResult | UtilityResult | None) -> str | None:
    """Why a result cannot be judged, or None when it can."""
    if result is None:
        return "not measured: the check did not run (no result)"
    if isinstance(result, AttackResult):
        if result.n <= 0:
            return f"not measured: no trials behind it (n = 0){_note(result)}"
        if not _finite(result.estimate, *result.ci):
            return "not measured: its estimate or interval is not a finite number"
        return None
    if result.value is None or not _finite(result.value, *(result.ci or ())):
        return f"not measured: no value{_note(result)}"
    return None


def _note(result: AttackResult | UtilityResult) -> str:
    why = result.details.get("note") or result.details.get("skipped")
    return f" ({why})" if why else ""


@dataclass(frozen=True)
class Excess:
    """A risk above its null control: the point difference and the upper end of its 95% interval."""

    null: float
    point: float
    upper: float

    @classmethod
    def of(cls, result: AttackResult, null: Control) -> "Excess":
        half = math.hypot(result.ci[1] - result.estimate, null.ci[1] - null.estimate)
        return cls(null.estimate, result.estimate - null.estimate, result.estimate - null.estimate + half)


def _judge(result: R, declared: Declared, claimed_epsilon: float | None) -> list[str]:
    """The reasons ``result`` fails ``declared`` (empty: it passes)."""
    upper = result.ci[1] if result.ci is not None else (result.estimate if isinstance(result, AttackResult)
                                                        else result.value)
    point = result.estimate if isinstance(result, AttackResult) else result.value
    if declared.check.relative and isinstance(result, AttackResult):
        return _judge_excess(result, declared.threshold)  # type: ignore[arg-type]
    if declared.check.rule == "lower_bound_at_most_claim":
        if point > claimed_epsilon:  # type: ignore[operator]
            return [f"the audited privacy loss is at least {point:.2f} (95% lower bound) but the generator claims "
                    f"epsilon {claimed_epsilon:g}: this points to an implementation fault in the DP mechanism "
                    "(noise off or too small, wrong sensitivity or accounting); do not release, report it as a bug"]
        return []
    threshold = declared.threshold
    reasons = []
    if upper > threshold:  # type: ignore[operator]
        reasons.append(f"{point:.3f} (95% CI up to {upper:.3f}) exceeds the threshold {threshold:g}")
    if isinstance(result, AttackResult) and ("positive" in declared.check.controls or declared.check.scope == "shadow"):
        positive = result.positive_control
        if positive is None or not _finite(positive.estimate):
            reasons.append("not measured: its positive control did not run, so the attack may be blind")
        elif not positive.estimate > threshold:  # type: ignore[operator]
            reasons.append(f"the attack is blind here: its positive control (the training rows themselves) scored "
                           f"{positive.estimate:.3f}, not above {threshold:g}")
    null = result.null_control if isinstance(result, AttackResult) else None
    if reasons and null is not None and null.ci[1] > threshold:  # type: ignore[operator]
        reasons.append(f"note: even the null control (unseen real rows) reaches {null.ci[1]:.3f}, so the threshold "
                       "is below this attack's noise floor; raise it or increase attacks.n_attacks")
    return reasons


def _judge_excess(result: AttackResult, threshold: float) -> list[str]:
    null = result.null_control
    if null is None or not _finite(null.estimate, *null.ci):
        return ["not measured: its null control did not run, and the threshold bounds the risk above it"]
    excess = Excess.of(result, null)
    reasons = []
    if excess.upper > threshold:
        reasons.append(f"{result.estimate:.3f} against the null control's {null.estimate:.3f}: {excess.point:+.3f} "
                       f"above it (95% CI up to {excess.upper:+.3f}) exceeds the threshold {threshold:g} above the null")
    positive = result.positive_control
    if positive is None or not _finite(positive.estimate):
        reasons.append("not measured: its positive control did not run, so the attack may be blind")
    elif not positive.estimate - null.estimate > threshold:
        reasons.append(f"the attack is blind here: its positive control (the training rows themselves) scored "
                       f"{positive.estimate:.3f}, only {positive.estimate - null.estimate:+.3f} above the null "
                       f"control, not more than {threshold:g}")
    return reasons


@dataclass(frozen=True)
class Feasibility:
    """Whether the declared gates could pass for an ideal synthetic table, judged on the null control (unseen
    real rows posing as the synthetic table: a table drawn from the population, no training row in it)."""

    problems: tuple[str, ...]
    #: anonymeter attacks per evaluator that would narrow the relative gates' intervals enough (None: enough)
    attacks_needed: int | None


def null_feasibility(declared: Sequence[Declared], nulls: Mapping[str, AttackResult], n_attacks: int,
                     sample_size: int) -> Feasibility:
    """Gates that unseen real rows already fail are threat-model errors, not blocks. An absolute gate fails
    when the null's upper 95% end is above its threshold. A relative gate (risk above the null) of an ideal
    table would have an excess of zero with about sqrt(2) times the null's half-width, so it fails when that
    is above the threshold; more attacks narrow it (the half-width shrinks as 1/sqrt(n)): ``attacks_needed``
    is the count that brings it to half the threshold, so an ideal table passes with about 97.5%."""
    problems: list[str] = []
    needed: int | None = None
    for d in declared:
        null = nulls.get(d.name)
        if d.threshold is None or "null" not in d.check.controls or null is None or not _finite(null.estimate, *null.ci):
            continue
        if d.check.relative:
            ideal = math.sqrt(2) * (null.ci[1] - null.estimate)
            if ideal > d.threshold / 2 and d.threshold > 0:  # at a threshold of 0 no number of attacks is enough
                needed = max(needed or 0, math.ceil(n_attacks * (ideal / (d.threshold / 2)) ** 2))
            if ideal > d.threshold:
                problems.append(f"gates.{d.check.name} = {d.threshold:g} above the null control: with {n_attacks} "
                                f"attacks even an ideal table's interval reaches {ideal:+.3f} (the null control, "
                                f"unseen real rows, scored {null.estimate:.3f} +- {null.ci[1] - null.estimate:.3f}); "
                                f"raise the threshold to at least {2 * ideal:.2f}, or give more rows (attacks need "
                                f"{needed or 'more'} per side, attacks.sample_size is {sample_size})")
        elif null.ci[1] > d.threshold:
            problems.append(f"gates.{d.name} = {d.threshold:g}: unseen real rows (the null control) already reach "
                            f"{null.estimate:.3f} (95% CI up to {null.ci[1]:.3f}), so no synthetic table could pass; "
                            f"raise the threshold above {null.ci[1]:.3f} or attacks.sample_size (now {sample_size})")
    return Feasibility(tuple(problems), needed)


def blind_gates(declared: Sequence[Declared], nulls: Mapping[str, AttackResult],
                positives: Mapping[str, AttackResult]) -> list[str]:
    """Gates whose attack is blind on this table, found before the fit: the positive control (the training
    rows themselves posing as the synthetic table, the most any table could leak) does not clear the
    threshold (above the null, for a relative gate). Such a gate blocks every table, however private, since
    "the attack is blind here" fails it; it says nothing about the synthetic table, so it is a threat-model
    error: report the check instead, or give the attacker what would let it see (known columns, attacks)."""
    problems = []
    for d in declared:
        positive = positives.get(d.name)
        if d.threshold is None or "positive" not in d.check.controls or positive is None \
                or not _finite(positive.estimate):
            continue
        null = nulls.get(d.name)
        if d.check.relative:
            if null is None or not _finite(null.estimate):
                continue
            seen = positive.estimate - null.estimate
            what = f"only {seen:+.3f} above the null control's {null.estimate:.3f}"
        else:
            seen, what = positive.estimate, f"{positive.estimate:.3f}"
        if not seen > d.threshold:
            problems.append(f"gates.{d.check.name} = {d.threshold:g}: the attack is blind on this table: even the "
                            f"training rows themselves (its positive control) score {what}, so no table could "
                            f"pass; set gates.{d.check.name}: report, or change attacker.known_columns")
    return problems


@dataclass(frozen=True)
class ShadowSizing:
    """How many targets the shadow attack needs for its gate, and whether any count the threat model allows is
    enough. The gate passes when the interval's upper end is within the threshold, so a blind attack's
    half-width must fit under the margin above 0.5: sized to half the margin, a generator that leaks nothing
    passes with about 97.5%. Targets are what the sizing raises: they cost no generator fit (every shadow run
    labels every target at once), runs do."""

    targets_declared: int
    targets: int
    held_out_runs: int
    blind_half_width: float
    problem: str | None = None

    @property
    def raised(self) -> bool:
        return self.targets > self.targets_declared


#: the most targets the sizing may choose: the threat model's own limit, and a fifth of a shadow training set
#: (about half the targets join each run, so they stay a tenth of it at most; the rest is the population)
MAX_TARGETS = 500


def shadow_sizing(model: ThreatModel) -> ShadowSizing | None:
    """The shadow gate's sizing (None when the attack is off or reported only). Independent of the table: the
    blind half-width depends only on the counts of runs and targets (``blind_mean_auc_half_width``)."""
    spec = model.attacks.shadow
    threshold = model.gates.threshold("shadow_auc")
    if not spec.enabled or threshold is None:
        return None
    held_out = spec.shadow_runs - spec.shadow_runs // 2
    declared = len(spec.target_rows) or spec.targets
    margin = (threshold - 0.5) / 2
    needed = declared
    while blind_mean_auc_half_width(held_out, needed) > margin and needed < MAX_TARGETS:
        needed += 1
    cap = declared if spec.target_rows else max(declared, min(MAX_TARGETS, spec.train_size // 5))
    targets = min(needed, cap)
    width = blind_mean_auc_half_width(held_out, targets)
    problem = None
    if width > margin:
        runs = spec.shadow_runs
        while blind_mean_auc_half_width(runs - runs // 2, targets) > margin and runs < 10_000:
            runs += 2
        what = "attacks.shadow.target_rows names" if spec.target_rows else "at most"
        problem = (f"gates.shadow_auc = {threshold:g}: with {spec.shadow_runs} shadow runs and {what} {targets} "
                   f"targets even a blind attack's interval reaches {0.5 + width:.3f} (half-width {width:.3f} "
                   f"against a margin of {threshold - 0.5:.3f} above 0.5); raise attacks.shadow.shadow_runs to "
                   f"{runs}, or the threshold to at least {0.5 + 2 * width:.2f}")
    return ShadowSizing(declared, targets, held_out, width, problem)


def _index(results: Iterable[R]) -> dict[str, R]:
    by_name: dict[str, R] = {}
    for result in results:
        try:
            check_of(result.name)
        except KeyError as exc:
            raise PrivsynthError(f"release gate: result {result.name!r} is not a check of the catalogue "
                                 f"(privsynth/checks.py); refusing to judge what it does not know ({exc})") from None
        if result.name in by_name:
            raise PrivsynthError(f"release gate: two results named {result.name!r}")
        by_name[result.name] = result
    return by_name


def decide(declared: Sequence[Declared], attacks: Sequence[AttackResult], utility: Sequence[UtilityResult],
           claimed_epsilon: float | None) -> tuple[list[AttackResult], list[UtilityResult], Decision]:
    """Judge every declared check. ``claimed_epsilon``: the fitted generator's DP claim (None for a non-DP
    baseline, whose epsilon audit is then reported, not judged). Results of undeclared checks are kept as
    information. Returns the judged results (declared ones that never ran are added, marked not measured)."""
    found = {**_index(attacks), **_index(utility)}
    judged: dict[str, AttackResult | UtilityResult] = dict(found)
    failures: list[GateFailure] = []
    for d in declared:
        result = found.get(d.name)
        audited = d.check.rule == "lower_bound_at_most_claim" and claimed_epsilon is not None
        if d.threshold is None and not audited:
            continue  # report only: shown, never gated
        missing = _not_measured(result)
        if missing is not None:
            failures.append(GateFailure(d.name, missing))
            judged[d.name] = _placeholder(d, missing) if result is None else replace(result, passed=False,
                                                                                     reason=missing)
            continue
        bound = claimed_epsilon if d.check.rule == "lower_bound_at_most_claim" else d.threshold
        reasons = _judge(result, d, claimed_epsilon)
        judged[d.name] = replace(result, threshold=bound, passed=not reasons, reason="; ".join(reasons) or None,
                                 details=_with_floor(_with_excess(result, d), d, claimed_epsilon))
        if reasons:
            failures.append(GateFailure(d.name, "; ".join(reasons)))
    ordered = [judged[d.name] for d in declared] + [r for n, r in judged.items()
                                                     if n not in {d.name for d in declared}]
    return ([r for r in ordered if isinstance(r, AttackResult)], [r for r in ordered if isinstance(r, UtilityResult)],
            Decision(released=not failures, failures=tuple(failures)))


def _with_excess(result: AttackResult | UtilityResult, declared: Declared) -> dict[str, object]:
    """A relative check's details say "null, candidate, threshold" in figures: the review shows all three."""
    details = dict(result.details)
    if declared.check.relative and isinstance(result, AttackResult) and result.null_control is not None:
        excess = Excess.of(result, result.null_control)
        details["threshold_is"] = "risk above the null control"
        details["excess_over_null"] = {"null": excess.null, "candidate": result.estimate, "excess": excess.point,
                                       "excess_ci_upper": excess.upper, "threshold": declared.threshold}
    return details


def _with_floor(details: dict[str, object], declared: Declared, claimed_epsilon: float | None) -> dict[str, object]:
    """An epsilon audit's details say what it could see against this claim: the accuracy an exactly-claimed
    mechanism permits, and "smoke test" when even a perfect attack could not certify RANGE_OF_INTEREST times
    the claim (its ``max_certifiable``, measured by the audit)."""
    ceiling = details.get("max_certifiable")
    if declared.check.rule != "lower_bound_at_most_claim" or claimed_epsilon is None or ceiling is None:
        return details
    return {**details, "claimed_epsilon": claimed_epsilon,
            "claim_accuracy": 1.0 / (1.0 + math.exp(-claimed_epsilon)),
            "smoke_test": float(ceiling) < RANGE_OF_INTEREST * claimed_epsilon}  # type: ignore[arg-type]


def _placeholder(declared: Declared, reason: str) -> AttackResult | UtilityResult:
    """A declared check that produced no result at all, shown as such in the review."""
    if declared.check.kind == "attack":
        return AttackResult(declared.name, math.nan, (math.nan, math.nan), 0, threshold=declared.threshold,
                            passed=False, reason=reason)
    return UtilityResult(declared.name, None, "lower_is_better", threshold=declared.threshold, passed=False,
                         reason=reason)
