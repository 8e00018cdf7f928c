"""For analysts: load a public release, verified, with its provenance attached.

``load`` accepts a release folder (``OUT/<run>/release``), the run folder above it, or the manifest file. It
verifies exactly the release's own files and nothing else (the internal review package may be absent). First
the steward's Ed25519 signature over the manifest's exact bytes (release/signing.py), before any field is
read: the manifest is what says which files and hashes make the release, so an unsigned check of it proves
nothing (an edited epsilon, a flipped decision or a recomputed hash would pass). Then the manifest must
validate field by field (every problem an IntegrityError naming the field), list only plain file names, and
every listed file must be a regular file (not a link) whose SHA-256 matches; no unlisted file may sit beside
them. The DataFrame comes back with
the dtypes of the public domain recorded in the manifest, and the manifest in ``df.attrs["privsynth"]``.

Run folders written before the public/internal split (manifest version 1) still load, read-only, with a
``LegacyReleaseWarning``: their manifests published a source hash and their noise was shared across runs.
They were never signed, so a pinned ``trusted_key`` refuses them, and so does a ``signature.json`` beside a
version-1 manifest (a signed release rewritten as an old one to escape the check).
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa
from pydantic import ValidationError

from privsynth.data.domain import PublicDomain
from privsynth.errors import IntegrityError
from privsynth.release.bundle import RELEASE_DIR
from privsynth.release.manifest import MANIFEST_NAME, PublicManifest, parse_manifest, sha256_of
from privsynth.release.signing import SIGNATURE_NAME, Signer
from privsynth.release.signing import verify as verify_signature
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


#: a public manifest is tens of kB; a file far larger is not one, and is not read into memory
MAX_MANIFEST_BYTES = 16_000_000


@dataclass(frozen=True)
class VerifiedRelease:
    """A release whose signature, manifest and files all checked out."""

    folder: Path
    manifest: PublicManifest
    signer: Signer


def _manifest_bytes(folder: Path) -> bytes:
    """The manifest's exact bytes (what the signature covers); a link or an oversized file is refused."""
    manifest_path = folder / MANIFEST_NAME
    if manifest_path.is_symlink():
        raise IntegrityError(f"{manifest_path}: is a symbolic link; a release holds plain files only")
    try:
        if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
            raise IntegrityError(f"{manifest_path}: larger than {MAX_MANIFEST_BYTES // 1_000_000} MB, not a manifest")
        return manifest_path.read_bytes()
    except OSError as exc:
        raise IntegrityError(f"{manifest_path}: cannot be read ({exc.strerror})") from None


def _manifest_version(content: bytes) -> Any:
    try:
        raw = json.loads(content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return raw.get("privsynth_manifest") if isinstance(raw, dict) else None


def _check_file_list(folder: Path, manifest: PublicManifest) -> None:
    """Every listed file is a plain name of a regular file in the folder with its hash, and nothing else is
    there but the manifest and its signature: no links, no absolute paths, no ``..``."""
    manifest_path = folder / MANIFEST_NAME
    for name, entry in manifest.files.items():
        pure = PurePosixPath(name)
        if (pure.is_absolute() or len(pure.parts) != 1 or name in (".", "..", MANIFEST_NAME, SIGNATURE_NAME)
                or "\\" in name or "\x00" in name):
            raise IntegrityError(f"{manifest_path}: field files: {name[:80]!r} is not a plain file name in the "
                                 "release folder; the manifest is forged")
        file_path = folder / name
        if file_path.is_symlink() or not file_path.is_file():
            raise IntegrityError(f"{file_path}: listed in the manifest but missing or not a regular file; the "
                                 "release is incomplete")
        if sha256_of(file_path) != entry.sha256:
            raise IntegrityError(f"{file_path}: sha256 does not match the manifest; the file was altered after "
                                 "release, do not use it")
    expected = {*manifest.files, MANIFEST_NAME, SIGNATURE_NAME}
    extra = sorted(p.name for p in folder.iterdir() if p.name not in expected)
    if extra:
        raise IntegrityError(f"{folder}: file(s) {extra[:5]} are not part of the release manifest; remove them or get "
                             "an untouched copy of the release")
    if TABLE_NAME not in manifest.files:
        raise IntegrityError(f"{manifest_path}: field files lists no {TABLE_NAME}")


def verify(path: str | Path, trusted_key: str | bytes | None = None) -> VerifiedRelease:
    """Check a (version 2) release: first the signature over the manifest's exact bytes (and, with
    ``trusted_key``, who signed it), then the manifest field by field, then every file and nothing else."""
    folder = release_folder(path)
    content = _manifest_bytes(folder)
    signer = verify_signature(content, folder / SIGNATURE_NAME, trusted_key)
    manifest = parse_manifest(content.decode("utf-8", errors="replace"), str(folder / MANIFEST_NAME))
    if manifest.decision != "released":  # the model allows nothing else; kept as the rule a reader looks for
        raise IntegrityError(f"{folder / MANIFEST_NAME}: field decision is not 'released'; nothing to load")
    _check_file_list(folder, manifest)
    return VerifiedRelease(folder, manifest, signer)


def load(path: str | Path, trusted_key: str | bytes | None = None) -> pd.DataFrame:
    """Load a verified release as a DataFrame with public-domain dtypes and provenance in ``attrs``.

    ``trusted_key`` pins the steward: the hex fingerprint ``privsynth inspect`` prints (or the base64 public
    key); without it any intact signature is accepted, which proves the folder is unaltered since signing but
    not who signed it. A signed release whose signature is missing or wrong never loads."""
    folder = release_folder(path)
    if _manifest_version(_manifest_bytes(folder)) == 1:
        return _load_legacy(folder, trusted_key)
    verified = verify(folder, trusted_key)
    try:
        model = ThreatModel.model_validate(verified.manifest.threat_model.document)
    except ValidationError as err:
        raise IntegrityError(f"{folder / MANIFEST_NAME}: field threat_model.document is not a valid threat model "
                             f"({err.error_count()} problem(s))") from None
    frame = _read_table(verified.folder, PublicDomain(model.kept_columns, target=model.data.target))
    frame.attrs["privsynth"] = verified.manifest.model_dump(mode="json")
    frame.attrs["privsynth_signer"] = {"key_fingerprint": verified.signer.fingerprint,
                                       "pinned": verified.signer.pinned}
    return frame


def _read_table(folder: Path, domain: PublicDomain) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(folder / TABLE_NAME)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise IntegrityError(f"{folder / TABLE_NAME}: cannot be read as Parquet ({str(exc)[:200]})") from None
    if list(frame.columns) != domain.names:
        raise IntegrityError(f"{folder / TABLE_NAME}: columns {list(frame.columns)[:20]} differ from the released "
                             f"domain {domain.names}")
    try:
        return domain.cast(frame)
    except (ValueError, TypeError, KeyError) as exc:
        raise IntegrityError(f"{folder / TABLE_NAME}: values do not fit the released domain ({str(exc)[:200]})") \
            from None


def _load_legacy(folder: Path, trusted_key: str | bytes | None) -> pd.DataFrame:
    """Version-1 run folders: hashes checked as they were then; a warning says why not to share them."""
    if trusted_key is not None or (folder / SIGNATURE_NAME).exists():
        raise IntegrityError(f"{folder / MANIFEST_NAME}: field privsynth_manifest is 1, an unsigned legacy run "
                             "folder" + (" beside a signature.json (a signed release rewritten as an old one)"
                                         if (folder / SIGNATURE_NAME).exists() else
                                         ", which cannot match a trusted key") + "; do not trust it")
    warnings.warn(f"{folder}: this run predates privsynth's public/internal split: its manifest publishes a hash of "
                  "the source and figures computed from private rows, and its noise was shared with other runs "
                  "from the same seed; use it internally only and make a new release to share (README, 'Runs made "
                  "before')", LegacyReleaseWarning, stacklevel=3)
    manifest: dict[str, Any] = json.loads(_manifest_bytes(folder).decode("utf-8"))
    if manifest.get("decision") != "released" or not isinstance(manifest.get("files"), dict):
        raise IntegrityError(f"{folder}: this (legacy) run was blocked or its manifest is damaged; no table to load")
    for name, entry in manifest["files"].items():
        pure = PurePosixPath(str(name))
        file_path = folder / pure.name
        if (pure.is_absolute() or len(pure.parts) != 1 or name in (".", "..") or not isinstance(entry, dict)
                or file_path.is_symlink() or not file_path.is_file() or sha256_of(file_path) != entry.get("sha256")):
            raise IntegrityError(f"{folder}: legacy file entry {str(name)[:80]!r} is not a plain file of the folder or "
                                 "was altered since the (legacy) release; do not use it")
    try:
        model = ThreatModel.model_validate(manifest["threat_model"]["document"])
    except (KeyError, TypeError, ValueError):
        raise IntegrityError(f"{folder / MANIFEST_NAME}: field threat_model.document is missing or invalid") from None
    frame = _read_table(folder, PublicDomain(model.kept_columns, target=model.data.target))
    frame.attrs["privsynth"] = manifest
    return frame
