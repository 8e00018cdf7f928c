"""report.html: the compliance reviewer's report, one self-contained file (inline CSS, PNGs as data URIs, no
script, no network), rendered with jinja2 from report.json's data and the manifest only.

It reads top to bottom as a reviewer decides: the decision and the failed gates, the threat model in plain
words, the DP guarantee and the budget left, every attack against its threshold, membership inference (ROC
curves, shadow targets by row number, distance to closest record), utility, and provenance with the command
that reproduces the run. Everything in it is an aggregate; see evaluation/comparison.py for the small-cell
rule of the marginal plots.
"""
from __future__ import annotations

import base64
import shlex
from typing import Any, Mapping

import jinja2

from privsynth._version import __version__
from privsynth.checks import check_of
from privsynth.evaluation.comparison import MIN_CELL
from privsynth.report import plots

HTML_REPORT_NAME = "report.html"

def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "∞" if value == float("inf") else f"{value:.3f}"
    return str(value)


def _verdict(passed: bool | None) -> str:
    return "info" if passed is None else "pass" if passed else "FAIL"


def _verdict_class(passed: bool | None) -> str:
    return "info" if passed is None else "pass" if passed else "fail"


def _explain(name: str) -> str:
    try:
        return check_of(name).meaning
    except KeyError:
        return ""


def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def reproduce_command(record: Mapping[str, Any]) -> str:
    """The command line that reproduces a run from its private record: the threat model, its overrides, and
    ``--replay`` of the record (whose nonce, with the steward's key, regenerates the noise)."""
    parts = ["privsynth", "run", f"threat_models/{record['threat_model']['file']}"]
    for override in record["threat_model"].get("overrides", []):
        parts += ["--set", override]
    parts += ["--replay", f"{record['run']}/review/private_record.json"]
    return " ".join(shlex.quote(p) for p in parts)


def _sure_text(report: Mapping[str, Any]) -> str:
    attacks = report["attacks"]
    blind = [a["name"] for a in attacks if a.get("passed") is False and "positive control" in (a.get("reason") or "")]
    measured = [a for a in attacks if a["ci"][0] is not None and a["ci"][1] is not None]
    widest = max(measured, key=lambda a: a["ci"][1] - a["ci"][0]) if measured else None
    text = (f"{len(attacks)} attacks, each with a 95% interval; the gate judges the upper end of the interval, so "
            "a small sample cannot pass by luck.")
    if widest is not None:
        text += (f" The widest interval is {widest['name']}'s [{_fmt(widest['ci'][0])}, {_fmt(widest['ci'][1])}].")
    if blind:
        text += f" Attacks that missed their positive control (blind, so not evidence): {', '.join(blind)}."
    return text


def _ledger_text(ledger: Mapping[str, Any] | None) -> str:
    if not ledger:
        return ""
    total = ledger.get("total_epsilon")
    spent = f"{ledger['epsilon_spent']:.3f}" if ledger["epsilon_spent"] != float("inf") else "∞ (a non-DP run)"
    if total is None:
        return f"{spent} spent over {ledger['runs']} run(s); no total budget declared (privacy.total_epsilon)"
    remaining = ledger.get("remaining")
    return (f"{spent} spent of a total of {total:g} over {ledger['runs']} run(s); "
            f"{_fmt(remaining)} left")


def render_html(report: Mapping[str, Any], record: Mapping[str, Any], manifest: Mapping[str, Any] | None) -> str:
    """The report as one HTML string: ``report`` is report.json's content, ``record`` private_record.json's,
    ``manifest`` the public manifest's (None for a blocked run, which has no release)."""
    attacks = report["attacks"]
    images: dict[str, str] = {"attacks": _b64(plots.attack_chart(attacks))}
    curves = {a["name"]: {**a["roc"], "auc": a["estimate"]} for a in attacks if a.get("roc")}
    if curves:
        images["roc"] = _b64(plots.roc_chart(curves))
    dcr = next((a["histogram"] for a in attacks if a.get("histogram")), None)
    if dcr:
        images["dcr"] = _b64(plots.dcr_chart(dcr))
    comparison = report.get("comparison") or {}
    if comparison.get("marginals"):
        images["marginals"] = _b64(plots.marginals_chart(comparison["marginals"]))
    if comparison.get("associations"):
        images["associations"] = _b64(plots.association_chart(comparison["associations"]))
    shadow = next((a.get("shadow") for a in attacks if a["name"] == "shadow_auc"), None)
    persons = next((a["details"].get("by_source_rows_per_person") for a in attacks
                    if a["name"] == "membership_person_auc"), None)
    guarantee_details = [(k, v) for k, v in (report["privacy"].get("details") or {}).items()
                         if isinstance(v, (int, float, str, bool))]
    template = _templates().get_template("report.html.j2")
    ledger = report["privacy"].get("ledger")
    return template.render(
        r=report, m=manifest, rec=record, p=report["privacy"], tm=record["threat_model"]["document"], img=images,
        shadow=shadow, persons=persons, ledger=ledger, ledger_text=_ledger_text(ledger), guarantee_details=guarantee_details,
        sure_text=_sure_text(report), command=reproduce_command(record), min_cell=MIN_CELL, version=__version__,
        table_files=[name for name in (manifest or {}).get("files", {}) if name.startswith("synthetic")],
        fmt=_fmt, verdict=_verdict, verdict_class=_verdict_class, explain=_explain)


def render_sweep_html(document: Mapping[str, Any], png: bytes) -> str:
    """A sweep's page: the curve ``png`` and one column per epsilon. ``document`` is sweep.json's content."""
    points = document["points"]

    def find(point: Mapping[str, Any], attack: str) -> Mapping[str, Any]:
        return next(a for a in point["attacks"] if a["name"] == attack)

    return _templates().get_template("sweep.html.j2").render(
        d=document, png=_b64(png), utility_names=list(points[0]["utility"]),
        attack_names=[a["name"] for a in points[0]["attacks"]], find=find, fmt=_fmt,
        total=lambda p: sum(p["timings"].values()))


def _templates() -> jinja2.Environment:
    """The package's templates, HTML-escaped, and an undefined name is an error rather than an empty cell."""
    return jinja2.Environment(loader=jinja2.PackageLoader("privsynth.report", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined)
