"""Every file of a run folder, computed as values before anything is written.

The public release (released runs only): the synthetic table, labelled synthetic, the public manifest and its
signature by the steward's key.
The internal review package: README.txt, report.json, private_record.json and report.html, the page rendered
from those files' content and the final public manifest, so it can be re-rendered byte for byte. The bundle
(release/bundle.py) then writes them in one atomic step.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, Sequence

import pandas as pd

from privsynth.data.inputs import Inputs
from privsynth.privacy.odometer import Odometer
from privsynth.release.bundle import RELEASE_DIR, REVIEW_DIR
from privsynth.release.manifest import MANIFEST_NAME, PublicManifest, build_manifest
from privsynth.release.signing import SIGNATURE_NAME, sign
from privsynth.release.table import CSV_NAME, TABLE_NAME, csv_bytes, parquet_bytes
from privsynth.report.json_report import build_report
from privsynth.report.review import private_record, review_files
from privsynth.results import AttackResult, Decision, Guarantee, UtilityResult
from privsynth.threat_model import LoadedThreatModel


class Evaluated(Protocol):
    """What one pass of the loop produced (pipeline.Evaluation)."""

    loaded: LoadedThreatModel
    name: str
    inputs: Inputs
    guarantee: Guarantee
    odometer: Odometer
    candidate: pd.DataFrame
    n_rows: int
    attacks: Sequence[AttackResult]
    utility: Sequence[UtilityResult]
    decision: Decision
    comparison: dict[str, Any]
    ledger: dict[str, Any] | None
    ledger_entry: int
    timings: dict[str, float]
    review: dict[str, Any]
    attack_sizes: dict[str, Any]


@dataclass(frozen=True)
class RunDocuments:
    manifest: PublicManifest | None
    report: dict[str, Any]
    record: dict[str, Any]
    #: relative path ("release/manifest.json", "review/report.html", ...) -> bytes
    files: dict[str, bytes]


def run_documents(ev: Evaluated, started: datetime, nonce: bytes, key: bytes, fingerprint: str,
                  command: str | None, signing_key: bytes) -> RunDocuments:
    """``signing_key`` is the steward's Ed25519 seed: it signs the public manifest's exact bytes
    (release/signature.json), so a release cannot be edited or forged without the steward's key."""
    model = ev.loaded.model
    started_utc = started.isoformat(timespec="seconds")
    files: dict[str, bytes] = {}
    manifest = None
    if ev.decision.released:
        tables = {TABLE_NAME: parquet_bytes(ev.candidate, ev.name, model.dataset, model.generator.kind)}
        if "csv" in model.output.formats:
            tables[CSV_NAME] = csv_bytes(ev.candidate)
        manifest = build_manifest(run=ev.name, started_utc=started_utc, dataset=model.dataset, threat_model=model,
                                  guarantee=ev.guarantee, charges=ev.odometer.charges, rows=ev.n_rows, files=tables)
        files.update({f"{RELEASE_DIR}/{n}": b for n, b in tables.items()})
        manifest_bytes = manifest.to_json().encode()
        files[f"{RELEASE_DIR}/{MANIFEST_NAME}"] = manifest_bytes
        files[f"{RELEASE_DIR}/{SIGNATURE_NAME}"] = sign(manifest_bytes, signing_key)
    charges = [{"label": c.label, "mechanism": c.mechanism, "rho": c.rho} for c in ev.odometer.charges]
    report = build_report(
        run_name=ev.name, decision=ev.decision, guarantee=ev.guarantee, attacks=list(ev.attacks),
        utility=list(ev.utility), timings=ev.timings, threat_model_name=model.name,
        generator_kind=model.generator.kind, overrides=ev.loaded.overrides, epsilon_budget=model.privacy.epsilon,
        ledger=ev.ledger, comparison=ev.comparison, charges=charges, rows=ev.n_rows,
        domain_report=ev.inputs.domain_report, rule_violations=ev.review, attack_sizes=ev.attack_sizes,
        unit=model.privacy_unit, max_rows_per_person=model.rows_per_person if model.privacy_unit == "person" else None)
    record = private_record(
        run=ev.name, started_utc=started_utc, dataset=model.dataset, nonce=nonce, key=key, loaded=ev.loaded,
        source=ev.inputs.source_name, source_sha256=ev.inputs.source_sha256,
        holdout_sha256=ev.inputs.holdout_sha256, rows_fingerprint=fingerprint, command=command, ledger=ev.ledger,
        ledger_entry=ev.ledger_entry, manifest=manifest)
    files.update({f"{REVIEW_DIR}/{n}": b for n, b in review_files(report, record, manifest).items()})
    return RunDocuments(manifest, report, record, files)
