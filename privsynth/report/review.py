"""The internal review package (``OUT/<run>/review/``): what the steward and the compliance reviewer read.

It holds every attack, control, utility figure, plot and timing (report.json, report.html) and the run's
private record (private_record.json): the source's fingerprints, the full threat model with its paths, the
command, the ledger entry, and the secret nonce that, with the steward's key, reproduces the run's noise. All
of it describes private data or could help undo the noise, so the package never travels with the release:
every file says so on its first line, and ``README.txt`` explains the two folders.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Mapping

import numpy as np

from privsynth.privacy.noise import key_commitment
from privsynth.release.manifest import PublicManifest
from privsynth.report.html import HTML_REPORT_NAME, render_html
from privsynth.report.json_report import INTERNAL_NOTICE, REPORT_NAME
from privsynth.threat_model import LoadedThreatModel

RECORD_NAME = "private_record.json"
README_NAME = "README.txt"


def private_record(*, run: str, started_utc: str, dataset: str, nonce: bytes, key: bytes,
                   loaded: LoadedThreatModel, source: str, source_sha256: str, holdout_sha256: str | None,
                   rows_fingerprint: str, command: str | None, ledger: Mapping[str, Any] | None,
                   ledger_entry: int, manifest: PublicManifest | None) -> dict[str, Any]:
    """What only the steward may know about how the run was made, and what reproduces it."""
    model = loaded.model
    return {
        "notice": INTERNAL_NOTICE,
        "run": run,
        "started_utc": started_utc,
        "dataset": dataset,
        "nonce": nonce.hex(),
        "noise_key_sha256": key_commitment(key),
        "source": {"file": source, "sha256": source_sha256, "rows_fingerprint": rows_fingerprint,
                   "holdout_sha256": holdout_sha256,
                   "split": "separate holdout file" if model.data.holdout else
                   f"each row to the holdout with probability {model.data.holdout_fraction:g}, by the run's secret "
                   "generator"},
        "threat_model": {"file": loaded.path.name, "path": str(loaded.path), "sha256": model.sha256(),
                         "overrides": list(loaded.overrides), "document": model.model_dump(mode="json")},
        "generator": {"kind": model.generator.kind, "params": dict(model.generator.params),
                      "seed": model.generator.seed},
        "command": command,
        "ledger": {**(ledger or {}), "entry": ledger_entry},
        "public_manifest_sha256": None if manifest is None else
        hashlib.sha256(manifest.to_json().encode()).hexdigest(),
        "reproduce": f"privsynth run {loaded.path.name} --replay review/{RECORD_NAME} (needs the same noise key, "
                     f"sha256 {key_commitment(key)[:16]}…, and the same data); no one without both can redo the noise",
    }


def review_files(report: Mapping[str, Any], record: Mapping[str, Any],
                 manifest: PublicManifest | None) -> dict[str, bytes]:
    """The review package's files as bytes: README.txt, report.json, private_record.json, report.html."""
    readme = (f"{INTERNAL_NOTICE}\n\n"
              "This folder is the internal review package of one privsynth run. Its figures (attack risks, controls,\n"
              "utility, plots, timings) were computed from the private training and holdout rows without noise, and\n"
              f"{RECORD_NAME} holds the run's secret nonce and the source's fingerprints.\n\n"
              "The public release, if the gate released the run, is the sibling folder ../release: the synthetic\n"
              "table and its public manifest. Hand out that folder only.\n")
    return {
        README_NAME: readme.encode(),
        REPORT_NAME: _json(report),
        RECORD_NAME: _json(record),
        HTML_REPORT_NAME: render_html(report, record, None if manifest is None else manifest.model_dump(mode="json"))
        .encode("utf-8"),
    }


def _json(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, default=_json_default) + "\n").encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.ndarray, tuple, set)):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
