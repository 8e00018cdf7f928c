"""For analysts: load a public release, verified, with its provenance attached.

``load`` accepts a release folder (``OUT/<run>/release``), the run folder above it, or the manifest file. It
verifies exactly the release's own files and nothing else (the internal review package may be absent): the
manifest must validate field by field, list only plain file names, and every listed file must be a regular
file (not a link) whose SHA-256 matches; no unlisted file may sit beside them. The DataFrame comes back with
the dtypes of the public domain recorded in the manifest, and the manifest in ``df.attrs["privsynth"]``.

Run folders written before the public/internal split (manifest version 1) still load, read-only, with a
``LegacyReleaseWarning``: their manifests published a source hash and their noise was shared across runs.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from privsynth.data.domain import PublicDomain
from privsynth.errors import IntegrityError
from privsynth.release.bundle import RELEASE_DIR
from privsynth.release.manifest import MANIFEST_NAME, PublicManifest, parse_manifest, sha256_of
from privsynth.release.table import TABLE_NAME
from privsynth.threat_model import ThreatModel


class LegacyReleaseWarning(UserWarning):
    """A run folder from before the public/internal split (README: 'Runs made before')."""


def release_folder(path: str | Path) -> Path:
    """The folder holding the public manifest, from a release folder, its run folder or the manifest itself."""
    folder = Path(path)
    if folder.name == MANIFEST_NAME and not folder.is_dir():
        folder = folder.parent
    if (folder / RELEASE_DIR / MANIFEST_NAME).exists():
        folder = folder / RELEASE_DIR
    if not (folder / MANIFEST_NAME).is_file():
        hint = " (it was blocked: only its review/ folder exists)" if (folder / "review").is_dir() else ""
        raise IntegrityError(f"{folder}: no {MANIFEST_NAME} here{hint}; give the release folder of a released run")
    return folder


def _manifest_version(folder: Path) -> int | None:
    try:
        raw = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return raw.get("privsynth_manifest") if isinstance(raw, dict) else None


def verify(path: str | Path) -> tuple[Path, PublicManifest]:
    """Check the manifest and every file of a (version 2) release; return its folder and manifest."""
    folder = release_folder(path)
    manifest_path = folder / MANIFEST_NAME
    if manifest_path.is_symlink():
        raise IntegrityError(f"{manifest_path}: is a symbolic link; a release holds plain files only")
    manifest = parse_manifest(manifest_path.read_text(encoding="utf-8", errors="replace"), str(manifest_path))
    for name, entry in manifest.files.items():
        pure = PurePosixPath(name)
        if pure.is_absolute() or len(pure.parts) != 1 or name in (".", "..", MANIFEST_NAME):
            raise IntegrityError(f"{manifest_path}: field files: {name!r} is not a plain file name in the release "
                                 "folder; the manifest is forged")
        file_path = folder / name
        if file_path.is_symlink() or not file_path.is_file():
            raise IntegrityError(f"{file_path}: listed in the manifest but missing or not a regular file; the "
                                 "release is incomplete")
        if sha256_of(file_path) != entry.sha256:
            raise IntegrityError(f"{file_path}: sha256 does not match the manifest; the file was altered after "
                                 "release, do not use it")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in manifest.files and p.name != MANIFEST_NAME)
    if extra:
        raise IntegrityError(f"{folder}: file(s) {extra} are not part of the release manifest; remove them or get an "
                             "untouched copy of the release")
    if TABLE_NAME not in manifest.files:
        raise IntegrityError(f"{manifest_path}: field files lists no {TABLE_NAME}")
    return folder, manifest


def load(path: str | Path) -> pd.DataFrame:
    """Load a verified release as a DataFrame with public-domain dtypes and provenance in ``attrs``."""
    folder = release_folder(path)
    if _manifest_version(folder) == 1:
        return _load_legacy(folder)
    folder, manifest = verify(folder)
    model = ThreatModel.model_validate(manifest.threat_model.document)
    frame = _read_table(folder, PublicDomain(model.kept_columns, target=model.data.target))
    frame.attrs["privsynth"] = manifest.model_dump(mode="json")
    return frame


def _read_table(folder: Path, domain: PublicDomain) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(folder / TABLE_NAME)
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"{folder / TABLE_NAME}: cannot be read as Parquet ({exc})") from None
    if list(frame.columns) != domain.names:
        raise IntegrityError(f"{folder / TABLE_NAME}: columns {list(frame.columns)} differ from the released "
                             f"domain {domain.names}")
    return domain.cast(frame)


def _load_legacy(folder: Path) -> pd.DataFrame:
    """Version-1 run folders: hashes checked as they were then; a warning says why not to share them."""
    warnings.warn(f"{folder}: this run predates privsynth's public/internal split: its manifest publishes a hash of "
                  "the source and figures computed from private rows, and its noise was shared with other runs "
                  "from the same seed; use it internally only and make a new release to share (README, 'Runs made "
                  "before')", LegacyReleaseWarning, stacklevel=3)
    manifest: dict[str, Any] = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    if manifest.get("decision") != "released" or not isinstance(manifest.get("files"), dict):
        raise IntegrityError(f"{folder}: this (legacy) run was blocked or its manifest is damaged; no table to load")
    for name, entry in manifest["files"].items():
        file_path = folder / str(name)
        if "/" in str(name) or not file_path.is_file() or sha256_of(file_path) != entry.get("sha256"):
            raise IntegrityError(f"{file_path}: missing or altered since the (legacy) release; do not use it")
    try:
        model = ThreatModel.model_validate(manifest["threat_model"]["document"])
    except (KeyError, TypeError, ValueError):
        raise IntegrityError(f"{folder / MANIFEST_NAME}: field threat_model.document is missing or invalid") from None
    frame = _read_table(folder, PublicDomain(model.kept_columns, target=model.data.target))
    frame.attrs["privsynth"] = manifest
    return frame
