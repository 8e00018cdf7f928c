"""report.json: the machine-readable summary a reviewer's tools read (decision first, then the evidence).

Part of the INTERNAL review package: its figures are computed from the private training and holdout rows
without noise (attack risks, utility, the domain check's counts, timings), so it never goes into a release.
It holds aggregates only, never a record of the source.
"""
from __future__ import annotations

from typing import Any

from privsynth.checks import check_of
from privsynth.data.io import DomainReport
from privsynth.release.manifest import unit_statement
from privsynth.results import AttackResult, Decision, Guarantee, UtilityResult

REPORT_NAME = "report.json"
INTERNAL_NOTICE = ("INTERNAL REVIEW PACKAGE: describes private data (figures computed from the source rows without "
                   "noise); do not share outside the organisation; the public release is the separate release/ folder")


def build_report(
    *,
    run_name: str,
    decision: Decision,
    guarantee: Guarantee,
    attacks: list[AttackResult],
    utility: list[UtilityResult],
    timings: dict[str, float],
    threat_model_name: str,
    generator_kind: str,
    overrides: tuple[str, ...],
    epsilon_budget: float | None = None,
    ledger: dict[str, Any] | None = None,
    rule_violations: dict[str, Any] | None = None,
    attack_sizes: dict[str, Any] | None = None,
    unit: str = "row",
    max_rows_per_person: int | None = None,
    comparison: dict[str, Any] | None = None,
    charges: list[dict[str, Any]] | None = None,
    rows: int | None = None,
    domain_report: DomainReport | None = None,
) -> dict[str, Any]:
    """``ledger`` is the data set's budget standing after this run; ``comparison`` the aggregate marginals and
    associations of evaluation/comparison.py (small cells suppressed) that report.html plots; ``charges``
    every odometer charge; ``domain_report`` what the domain check clipped or mapped (counts)."""
    return {
        "notice": INTERNAL_NOTICE,
        "run": run_name,
        "threat_model": threat_model_name,
        "decision": decision.label,
        "release_dir": "../release" if decision.released else None,
        "failed_checks": [{"check": f.check, "reason": f.reason} for f in decision.failures],
        "generator": generator_kind,
        "privacy": {
            "dp": guarantee.dp,
            "epsilon": guarantee.epsilon,
            "delta": guarantee.delta,
            "mechanism": guarantee.mechanism,
            "accounting": guarantee.accounting,
            "guarantee": (unit_statement(unit, max_rows_per_person) if guarantee.dp
                          else "NONE: non-DP baseline, no formal privacy guarantee"),
            "unit": unit,
            "max_rows_per_person": max_rows_per_person,
            "epsilon_budget": epsilon_budget,
            "ledger": ledger,
            "details": dict(guarantee.details),
            "charges": charges or [],
        },
        "rows": rows,
        "domain_check": None if domain_report is None else {
            "clipped": dict(domain_report.clipped), "mapped_to_fallback": dict(domain_report.mapped_to_fallback)},
        "rule_violations": dict(rule_violations or {}),
        "attack_sizes": dict(attack_sizes or {}),
        "attacks": [_attack(a) for a in attacks],
        "utility": {u.name: {**u.to_dict(), "meaning": _meaning(u.name)} for u in utility},
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "overrides": list(overrides),
        "comparison": comparison or {},
    }


def _meaning(name: str) -> str:
    try:
        return check_of(name).meaning
    except KeyError:
        return ""


def _attack(attack: AttackResult) -> dict[str, Any]:
    """One attack as report.json holds it: its serialisation, its meaning from the catalogue, and for the shadow
    attack the summary the report prints (targets by source row number and rates, never values)."""
    out = {**attack.to_dict(), "meaning": _meaning(attack.name)}
    if attack.name == "shadow_auc":
        keys = ("runs", "held_out_runs", "train_size", "selection", "targets", "tpr_at_fpr_0.1", "tpr_at_fpr_0.01",
                "unit", "max_rows_per_person")  # the last two at person level only
        out["shadow"] = {k: attack.details[k] for k in keys if k in attack.details}
    return out
