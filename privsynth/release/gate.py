"""The release gate: a pure function from measured results and declared thresholds to a decision.

A check passes when the upper end of its 95% interval is within its threshold (so an uncertain result
cannot pass on a lucky point estimate). An attack whose positive control did not fire (training rows posing
as the synthetic table scored no higher than the threshold) is blind on this data, and cannot pass.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from privsynth.attacks.audit import EMPIRICAL_EPSILON
from privsynth.results import AttackResult, Decision, GateFailure, UtilityResult
from privsynth.threat_model import GateSpec


def attack_threshold(name: str, gates: GateSpec) -> float | None:
    key = name.split(":", 1)[0]
    return getattr(gates, key, None)


def _upper(ci: tuple[float, float] | None, value: float) -> float:
    return value if ci is None else ci[1]


def judge_attack(result: AttackResult, gates: GateSpec, null: AttackResult | None,
                 positive: AttackResult | None) -> tuple[AttackResult, GateFailure | None]:
    threshold = attack_threshold(result.name, gates)
    if threshold is None:
        return result, None
    upper = _upper(result.ci, result.estimate)
    reasons = []
    if upper > threshold:
        reasons.append(f"risk {result.estimate:.3f} (95% CI up to {upper:.3f}) exceeds the threshold {threshold:g}")
    if positive is not None and not positive.estimate > threshold:
        reasons.append(f"the attack is blind here: its positive control (training rows as the synthetic table) "
                       f"scored {positive.estimate:.3f}, not above {threshold:g}")
    if reasons and null is not None and _upper(null.ci, null.estimate) > threshold:
        reasons.append(f"note: even the null control (unseen real rows) reaches {_upper(null.ci, null.estimate):.3f}, "
                       "so the threshold is below this attack's noise floor; raise it or increase attacks.n_attacks")
    details = dict(result.details)
    if null is not None:
        details["null_control"] = {"estimate": null.estimate, "ci": list(null.ci)}
    if positive is not None:
        details["positive_control"] = {"estimate": positive.estimate, "ci": list(positive.ci)}
    judged = replace(result, threshold=threshold, passed=not reasons, details=details)
    return judged, (GateFailure(result.name, "; ".join(reasons)) if reasons else None)


def judge_audit(result: AttackResult, claimed_epsilon: float | None) -> tuple[AttackResult, GateFailure | None]:
    """The empirical epsilon is a 95% LOWER bound: above the claimed epsilon it means the DP implementation is
    faulty, which no threshold can tune away. Without a claim (non-DP) it is reported, not judged."""
    if claimed_epsilon is None:
        return result, None
    if result.estimate <= claimed_epsilon:
        return replace(result, threshold=claimed_epsilon, passed=True), None
    reason = (f"the audited privacy loss is at least {result.estimate:.2f} (95% lower bound) but the generator "
              f"claims epsilon {claimed_epsilon:g}: this points to an implementation fault in the DP mechanism "
              "(noise off or too small, wrong sensitivity or accounting); do not release, report it as a bug")
    return replace(result, threshold=claimed_epsilon, passed=False), GateFailure(result.name, reason)


def judge_utility(result: UtilityResult, gates: GateSpec) -> tuple[UtilityResult, GateFailure | None]:
    threshold = getattr(gates, result.name, None)
    if threshold is None or result.value is None:
        return result, None
    upper = _upper(result.ci, result.value)
    if upper <= threshold:
        return replace(result, threshold=threshold, passed=True), None
    reason = f"{result.value:.3f} (95% CI up to {upper:.3f}) exceeds the threshold {threshold:g}"
    return replace(result, threshold=threshold, passed=False), GateFailure(result.name, reason)


def decide(
    attacks: list[AttackResult],
    utility: list[UtilityResult],
    gates: GateSpec,
    null_controls: Mapping[str, AttackResult] | None = None,
    positive_controls: Mapping[str, AttackResult] | None = None,
    claimed_epsilon: float | None = None,
) -> tuple[list[AttackResult], list[UtilityResult], Decision]:
    """``claimed_epsilon``: the fitted generator's DP claim (None for a non-DP baseline), for the audit."""
    null_controls = null_controls or {}
    positive_controls = positive_controls or {}
    failures: list[GateFailure] = []
    judged_attacks = []
    for result in attacks:
        if result.name == EMPIRICAL_EPSILON:
            judged, failure = judge_audit(result, claimed_epsilon)
        else:
            judged, failure = judge_attack(result, gates, null_controls.get(result.name),
                                           positive_controls.get(result.name))
        judged_attacks.append(judged)
        if failure:
            failures.append(failure)
    judged_utility = []
    for result in utility:
        judged, failure = judge_utility(result, gates)
        judged_utility.append(judged)
        if failure:
            failures.append(failure)
    return judged_attacks, judged_utility, Decision(released=not failures, failures=tuple(failures))
