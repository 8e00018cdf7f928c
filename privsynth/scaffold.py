"""``privsynth init``: draft a threat model from a table, for a person to review.

Bounds and category lists read from the data are NOT public knowledge: publishing them leaks (the max of a
salary column is one person's salary). The draft marks every such column ``confirmed: false``, and ``run``
refuses it until a person has replaced them with public values (or confirmed they are public).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from privsynth import safe_yaml
from privsynth.data.binning import heavy_tailed_range
from privsynth.data.io import read_raw
from privsynth.errors import DataError

MAX_CATEGORIES = 200


def _column_entry(name: str, series: pd.Series) -> tuple[dict, str]:
    text = series.astype(object).where(series.notna(), None)
    text = text.map(lambda v: None if v is None or str(v).strip() == "" else str(v).strip())
    present = text.dropna()
    if present.empty:
        raise DataError(f"column {name!r} is entirely missing; drop it from the table before running init")
    numbers = pd.to_numeric(present, errors="coerce")
    missing = bool(text.isna().any())
    if numbers.notna().all():
        integral = bool((numbers == numbers.round()).all())
        lo, hi = float(numbers.min()), float(numbers.max())
        if lo == hi:
            hi = lo + 1
        entry = {"type": "integer" if integral else "float",
                 "min": int(math.floor(lo)) if integral else lo, "max": int(math.ceil(hi)) if integral else hi,
                 "missing": missing, "confirmed": False}
        note = "bounds read from the data: replace with public bounds, then set confirmed: true"
        if heavy_tailed_range(entry["min"], entry["max"]):
            # decided from the bounds alone: re-check it once the public bounds replace these
            entry["scale"] = "log"
            note += "; scale: log proposed because the range spans three orders of magnitude"
        return entry, note
    values = sorted(present.unique().tolist())
    if len(values) > MAX_CATEGORIES:
        raise DataError(f"column {name!r} has {len(values)} distinct values (an identifier or free text?); drop "
                        "it, or bin it, before running init")
    entry = {"type": "categorical", "values": values, "missing": missing, "confirmed": False}
    return entry, "categories read from the data: keep only the publicly known list, then set confirmed: true"


def scaffold_threat_model(data: Path, output: Path, name: str | None = None) -> str:
    raw = read_raw(data)
    if len(raw) == 0:
        raise DataError(f"{data}: the table has no rows")
    model_name = name or re.sub(r"[^A-Za-z0-9_.-]", "_", data.name.split(".")[0])[:64] or "table"
    columns, notes = {}, {}
    for column in raw.columns:
        columns[str(column)], notes[str(column)] = _column_entry(str(column), raw[column])
    names = list(columns)
    try:
        source = str(data.resolve().relative_to(output.resolve().parent))
    except ValueError:
        source = str(data.resolve())
    document = {
        "name": model_name,
        "description": f"Draft made by `privsynth init` from {data.name}. Review every TODO.",
        "data": {"source": source, "holdout_fraction": 0.2, "drop_columns": [], "out_of_domain": "error",
                 "target": names[-1], "columns": columns},
        "attacker": {"known_columns": names[:min(3, len(names) - 1)], "secret_columns": [names[-1]]},
        "privacy": {"epsilon": 1.0, "delta": 1e-9, "allow_non_dp": False},
        "generator": {"kind": "mst", "params": {}, "seed": 0},
        "output": {"directory": "reports", "formats": ["parquet"]},
    }
    text = safe_yaml.dump(document, sort_keys=False, allow_unicode=True, width=110)
    for column, note in notes.items():
        text = text.replace(f"\n    {column}:\n", f"\n    {column}:  # TODO {note}\n", 1)
    header = ("# Threat model drafted by `privsynth init`. Nothing here is public until a person says so.\n"
              "# TODO attacker.known_columns: the quasi-identifiers an attacker already knows (age, zip, ...).\n"
              "# TODO attacker.secret_columns: the attributes that must not be inferable.\n")
    return header + text
