"""Data shipped inside the package (the Adult demo), addressed as ``bundled:NAME`` in a threat model."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from privsynth.errors import DataError

BUNDLED = {"adult": ("adult.csv.gz", "adult_domain.json")}


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
