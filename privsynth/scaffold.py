"""``privsynth init``: draft a threat model from a table, for a person to review.

Bounds and category lists read from the data are NOT public knowledge: publishing them leaks (the max of a
salary column is one person's salary). The draft marks every such column ``confirmed: false``, and ``run``
refuses it until a person has replaced them with public values (or confirmed they are public).

What the draft guesses, and why it guesses little: integer columns with a dozen small values are codes (sex
1/2, yes/no flags), so they are drafted as categories; a target is proposed only when a column is two-valued,
and marked for review; the attacker's known columns are left empty (only a person knows what an attacker
holds). Every section is written out with its defaults so nothing applies unseen.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import TypeAdapter

from privsynth import safe_yaml
from privsynth.data.binning import heavy_tailed_range
from privsynth.data.io import MISSING_MARKERS, read_raw
from privsynth.errors import DataError
from privsynth.generator_config import GeneratorSpec
from privsynth.threat_model import AttackSpec, ComputeSpec, GateSpec, OutputSpec, PrivacySpec

#: above this many distinct values a text column is an identifier or free text, not a category
MAX_CATEGORIES = 1000
#: integer columns with at most this many distinct values, all small, are drafted as categorical codes
MAX_CODES = 12
SMALL_CODE = 100
#: the contribution bound the draft suggests for a table with several rows per person. Suggested WITHOUT reading
#: the rows (how many rows each person has is private): every mechanism's noise grows linearly in k, and a small
#: k drops the rows of frequent persons (often the ones the analysis is about: readmissions, repeat claims); 3
#: keeps most rows of most persons in visit- or claim-like tables at three times the noise
SUGGESTED_ROWS_PER_PERSON = 3
PERSON_NOTE = ("# TODO if one person can have several rows, name the column holding their id (and add it to "
               "drop_columns): the guarantee then protects persons, not rows")
BOUND_NOTE = (f"# TODO with a person column: the most rows one person may contribute, chosen from public "
              f"knowledge, never from the rows; {SUGGESTED_ROWS_PER_PERSON} is a start (noise grows with it, rows "
              "beyond it are left out)")


def _distinct(series: pd.Series) -> tuple[list[str], bool]:
    """The column's distinct values as stripped text in the order first seen, and whether any is missing.
    Works on distinct values only (pd.factorize keeps first-seen order), not on every cell."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    float_dtype = series.dtype.kind == "f"
    texts = []
    for value in uniques:
        text = str(value).strip()
        if float_dtype and text.endswith(".0"):  # Parquet floats 1.0 for code "1", as io.check_table reads them
            text = text[:-2]
        texts.append(text)
    missing = bool((codes < 0).any()) or any(t in MISSING_MARKERS for t in texts)
    return list(dict.fromkeys(t for t in texts if t not in MISSING_MARKERS)), missing


def _column_entry(name: str, series: pd.Series) -> tuple[dict[str, Any], str]:
    values, missing = _distinct(series)
    if not values:
        raise DataError(f"column {name!r} is entirely missing; drop it from the table before running init")
    numbers = pd.to_numeric(pd.Series(values), errors="coerce")
    if numbers.notna().all():
        integral = bool((numbers == numbers.round()).all())
        if integral and len(values) <= MAX_CODES and float(numbers.abs().max()) < SMALL_CODE:
            ordered = [values[i] for i in np.argsort(numbers.to_numpy(), kind="stable")]
            return ({"type": "categorical", "values": ordered, "missing": missing, "confirmed": False},
                    f"{len(values)} small integer codes, drafted as categories (in numeric order); if the numbers "
                    "are quantities, declare type: integer with public bounds; then set confirmed: true")
        return _numeric_entry(numbers, integral, missing)
    if len(values) > MAX_CATEGORIES:
        raise DataError(f"column {name!r} has {len(values)} distinct values (an identifier or free text?); drop "
                        "it, or bin it, before running init")
    return ({"type": "categorical", "values": values, "missing": missing, "confirmed": False},
            "categories read from the data, in the order first seen: keep only the publicly known list (in a "
            "meaningful order), then set confirmed: true")


def _numeric_entry(numbers: pd.Series, integral: bool, missing: bool) -> tuple[dict[str, Any], str]:
    lo, hi = float(numbers.min()), float(numbers.max())
    if lo == hi:
        hi = lo + 1
    entry: dict[str, Any] = {"type": "integer" if integral else "float",
                             "min": int(np.floor(lo)) if integral else lo, "max": int(np.ceil(hi)) if integral else hi,
                             "missing": missing, "confirmed": False}
    note = "bounds read from the data: replace with public bounds, then set confirmed: true"
    if heavy_tailed_range(entry["min"], entry["max"]):
        # decided from the bounds alone: re-check it once the public bounds replace these
        entry["scale"] = "log"
        note += "; scale: log proposed because the range spans three orders of magnitude"
    return entry, note


def _binary_target(columns: dict[str, dict[str, Any]]) -> str | None:
    """The last two-valued categorical column (tables tend to end with their label), or None: a guessed
    target that is a survey weight or an identifier makes the utility check meaningless."""
    binary = [n for n, c in columns.items() if c["type"] == "categorical" and len(c["values"]) == 2]
    return binary[-1] if binary else None


def _defaults(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _attack_defaults(rows: int, holdout_fraction: float) -> dict[str, Any]:
    """The attack suite's defaults, with the shadow attack's training sets and the audit's tables sized to what
    the holdout holds (half of its expected rows, at most the default): a draft that `validate --data` refuses for the defaults helps
    no one. The sizes are public settings and the row count stays in the steward's file."""
    attacks = _defaults(AttackSpec())
    shadow = attacks["shadow"]
    fits = int(rows * holdout_fraction) // 2
    if fits < shadow["train_size"]:
        shadow["train_size"] = fits
        shadow["enabled"] = fits > shadow["targets"]
    audit = attacks["audit"]
    if fits < audit["base_rows"]:  # the audit tables, too, hold at most half the expected holdout
        audit["base_rows"] = max(fits, 20)
        audit["enabled"] = fits >= 20
    return attacks


def scaffold_threat_model(data: Path, output: Path, name: str | None = None) -> str:
    raw = read_raw(data)
    if len(raw) == 0:
        raise DataError(f"{data}: the table has no rows")
    model_name = name or re.sub(r"[^A-Za-z0-9_.-]", "_", data.name.split(".")[0])[:64] or "table"
    columns, notes = {}, {}
    for column in raw.columns:
        columns[str(column)], notes[str(column)] = _column_entry(str(column), raw[column])
    target = _binary_target(columns)
    source = os.path.relpath(data.resolve(), output.resolve().parent)  # the loader resolves it against the YAML
    generator = TypeAdapter(GeneratorSpec).validate_python({"kind": "aim"})  # the schema's and README's default
    document = {
        "name": model_name,
        "description": f"Draft made by `privsynth init` from {data.name}. Review every TODO.",
        "data": {"source": source, "holdout_fraction": 0.2, "drop_columns": [], "out_of_domain": "error",
                 "target": target, "person_column": None, "columns": columns},
        "attacker": {"known_columns": [], "secret_columns": [target] if target else []},
        "privacy": _defaults(PrivacySpec(epsilon=1.0)),
        "generator": _defaults(generator),
        "attacks": _attack_defaults(len(raw), 0.2),
        "gates": _defaults(GateSpec()),
        "output": _defaults(OutputSpec()),
        "compute": _defaults(ComputeSpec()),
    }
    text = safe_yaml.dump(document, sort_keys=False, allow_unicode=True, width=110)
    for column, note in notes.items():
        text = text.replace(f"\n    {column}:\n", f"\n    {column}:  # TODO {note}\n", 1)
    if target is not None:
        text = text.replace(f"\n  target: {target}\n", f"\n  target: {target}  # TODO review: proposed because it "
                            "is two-valued; the column the train-on-synthetic check predicts (or null)\n", 1)
    text = text.replace("\n  known_columns: []\n", "\n  known_columns: []  # TODO the quasi-identifiers an attacker "
                        "already knows about a person (age, sex, zip code, ...); `run` needs at least one\n", 1)
    secret_note = "  # TODO the attributes that must not be inferable (a diagnosis, an income); `run` needs one"
    text = text.replace("\n  secret_columns: []\n", f"\n  secret_columns: []{secret_note}\n", 1)
    text = text.replace("\n  secret_columns:\n", f"\n  secret_columns:{secret_note}\n", 1)
    text = text.replace("\n  person_column: null\n", f"\n  person_column: null  {PERSON_NOTE}\n", 1)
    text = text.replace("\n  max_rows_per_person: null\n", f"\n  max_rows_per_person: null  {BOUND_NOTE}\n", 1)
    header = ("# Threat model drafted by `privsynth init`. Nothing here is public until a person says so.\n"
              "# Every section is written out with its defaults; `privsynth schema` documents each field.\n"
              "# Check it against the table with `privsynth validate THIS.yaml --data`.\n")
    return header + text
