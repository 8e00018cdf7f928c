"""The provenance manifest: exactly how a release was made, and the hash of every file in it.

It names the source only by file name and fingerprint: no path from the steward's machine, no row count.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import platform
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
TRACKED_PACKAGES = ("privsynth", "numpy", "pandas", "scipy", "scikit-learn", "mbi", "jax", "anonymeter", "sdv",
                    "opacus", "torch", "pyarrow", "pydantic")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_entries(folder: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    return {n: {"sha256": sha256_of(folder / n), "bytes": (folder / n).stat().st_size} for n in sorted(names)}
