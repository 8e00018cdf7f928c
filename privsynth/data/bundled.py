"""Data shipped inside the package, addressed as ``bundled:NAME`` in a threat model.

``adult`` is the demo; ``bank_marketing`` (45k x 17) and ``diabetes`` (101k x 50, ICD-9 columns of 700+ codes)
are the wider and larger tables of the speed benchmark (bench/speed.py). Each comes with its public domain file
and its licence (privsynth/demo/README.md)."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from privsynth.errors import DataError

BUNDLED = {
    "adult": ("adult.csv.gz", "adult_domain.json"),
    "bank_marketing": ("bank_marketing.csv.gz", "bank_marketing_domain.json"),
    "diabetes": ("diabetes_130us.csv.gz", "diabetes_130us_domain.json"),
}


def _demo_file(name: str) -> Path:
    return Path(str(resources.files("privsynth.demo").joinpath(name)))


def bundled_table(name: str) -> Path:
    if name not in BUNDLED:
        raise DataError(f"data.source: no bundled table {name!r} (bundled: {sorted(BUNDLED)})")
    return _demo_file(BUNDLED[name][0])


def bundled_domain(name: str) -> dict[str, Any]:
    if name not in BUNDLED:
        raise DataError(f"no bundled table {name!r} (bundled: {sorted(BUNDLED)})")
    return json.loads(_demo_file(BUNDLED[name][1]).read_text(encoding="utf-8"))
