"""For analysts: load a released table, verified, with its provenance attached.

``load`` refuses a blocked run, a missing file, a file whose sha256 differs from the manifest, and a file
the manifest does not list. The returned DataFrame has the dtypes of the PUBLIC domain recorded in the
manifest's threat model, and the whole manifest in ``df.attrs["privsynth"]``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from privsynth.data.domain import PublicDomain
from privsynth.errors import IntegrityError
from privsynth.release.manifest import MANIFEST_NAME, sha256_of
from privsynth.threat_model import ThreatModel

TABLE_NAME = "synthetic.parquet"


def read_manifest(path: str | Path) -> tuple[Path, dict[str, Any]]:
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        raise IntegrityError(f"{folder}: no {MANIFEST_NAME} here (give the folder of a privsynth run)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"{manifest_path}: not valid JSON ({exc}); the release is damaged") from None
    if not isinstance(manifest, dict) or "files" not in manifest or "decision" not in manifest:
        raise IntegrityError(f"{manifest_path}: not a privsynth manifest (no 'files' or 'decision')")
    return folder, manifest


def verify(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """Check the decision and every file hash; return the folder and the manifest."""
    folder, manifest = read_manifest(path)
    if manifest["decision"] != "released":
        raise IntegrityError(f"{folder}: this run was blocked by the release gate; there is no table to load "
                             "(read its report.json for the reasons)")
    listed = manifest["files"]
    for name, entry in listed.items():
        file_path = folder / name
        if not file_path.is_file():
            raise IntegrityError(f"{file_path}: listed in the manifest but missing; the release is incomplete")
        if sha256_of(file_path) != entry["sha256"]:
            raise IntegrityError(f"{file_path}: sha256 does not match the manifest; the file was altered "
                                 "after release, do not use it")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in listed and p.name != MANIFEST_NAME)
    if extra:
        raise IntegrityError(f"{folder}: file(s) {extra} are not part of the release manifest; remove them or "
                             "get an untouched copy of the release")
    if TABLE_NAME not in listed:
        raise IntegrityError(f"{folder}: the manifest lists no {TABLE_NAME}")
    return folder, manifest


def load(path: str | Path) -> pd.DataFrame:
    """Load a verified release as a DataFrame with public-domain dtypes and provenance in ``attrs``."""
    folder, manifest = verify(path)
    model = ThreatModel.model_validate(manifest["threat_model"]["document"])
    domain = PublicDomain(model.kept_columns, target=model.data.target)
    frame = pd.read_parquet(folder / TABLE_NAME)
    if list(frame.columns) != domain.names:
        raise IntegrityError(f"{folder / TABLE_NAME}: columns {list(frame.columns)} differ from the released "
                             f"domain {domain.names}")
    frame = domain.cast(frame)
    frame.attrs["privsynth"] = manifest
    return frame
