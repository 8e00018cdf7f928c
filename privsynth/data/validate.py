"""``privsynth validate --data``: a threat model checked against its table, without fitting or booking budget.

Why a second checker next to ``io.check_table``: the run refuses at the first problem (it must not go on with a
table it cannot trust), but a steward fixing a draft wants every problem at once. Each problem is one line;
the counts in them (values outside a domain, missing values, rows) describe the private table, so they are
printed to the steward only and never written anywhere.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from privsynth.data.bundled import bundled_table
from privsynth.data.io import _as_text, read_raw
from privsynth.errors import DataError
from privsynth.threat_model import BUNDLED_PREFIX, CategoricalColumn, LoadedThreatModel, NumericColumn, ThreatModel

#: the attacks compare equal-sized samples of members, control and null rows: at least 20 of each
MIN_ATTACK_ROWS = 20


def data_problems(loaded: LoadedThreatModel) -> list[str]:
    """Every mismatch between the threat model and its table(s), one line each; empty when they agree."""
    spec = loaded.model.data
    source = bundled_table(spec.source[len(BUNDLED_PREFIX):]) if spec.source.startswith(BUNDLED_PREFIX) \
        else loaded.resolve(spec.source)
    problems, rows = _file_problems(loaded, source)
    holdout_rows = None
    if spec.holdout:
        holdout_problems, holdout_rows = _file_problems(loaded, loaded.resolve(spec.holdout))
        problems += holdout_problems
    if rows:
        problems += _row_problems(loaded, rows, holdout_rows)
    return problems


def _file_problems(loaded: LoadedThreatModel, path: Path) -> tuple[list[str], int]:
    try:
        raw = read_raw(path)
    except DataError as exc:
        return [str(exc)], 0
    return table_problems(raw, loaded, str(path)), len(raw)


def table_problems(raw: pd.DataFrame, loaded: LoadedThreatModel, source: str) -> list[str]:
    """Columns missing or undeclared, then per kept column: type, values outside the public domain, missing."""
    spec = loaded.model.data
    problems = []
    missing = [c for c in spec.columns if c not in raw.columns]
    if missing:
        problems.append(f"{source}: column(s) {missing} declared in data.columns are missing from the table")
    extra = [c for c in raw.columns if c not in spec.columns]
    if extra:
        problems.append(f"{source}: column(s) {extra} are in the table but not declared in data.columns (declare "
                        "them, and list them in data.drop_columns to leave them out)")
    if len(raw) == 0:
        return problems + [f"{source}: the table has no rows"]
    for name, col in spec.kept_columns.items():
        if name in raw.columns:
            problems += [f"{source}: column {name!r} {p}" for p in column_problems(raw[name], col)]
    return problems


def column_problems(series: pd.Series, col: CategoricalColumn | NumericColumn) -> list[str]:
    """What is wrong with one column's values against its declared public domain (counts, never values of
    numeric columns: an out-of-bounds number may be one person's salary)."""
    text = _as_text(series)
    present = text.notna()
    out = []
    if not present.any():
        return ["is entirely missing (drop it with data.drop_columns)"]
    n_missing = int((~present).sum())
    if n_missing and not col.missing:
        out.append(f"has {n_missing} missing value(s) but missing: false")
    if isinstance(col, CategoricalColumn):
        if series.dtype.kind == "f":
            text = text.map(lambda v: v[:-2] if isinstance(v, str) and v.endswith(".0") else v)
        unknown = present & ~text.isin(col.values)
        if unknown.any():
            out.append(f"has {int(unknown.sum())} value(s) outside its {len(col.values)} declared categories "
                       f"({int(text[unknown].nunique())} distinct)")
        return out
    numbers = pd.to_numeric(text, errors="coerce")
    junk = numbers.isna() & present
    if junk.any():
        out.append(f"is declared {col.type} but has {int(junk.sum())} non-numeric value(s) (declare it categorical?)")
    if col.type == "integer":
        fractional = numbers.notna() & (numbers != numbers.round())
        if fractional.any():
            out.append(f"is declared integer but has {int(fractional.sum())} non-integer value(s) (type: float?)")
    outside = numbers.notna() & ((numbers < col.min) | (numbers > col.max))
    if outside.any():
        out.append(f"has {int(outside.sum())} value(s) outside its bounds [{col.min:g}, {col.max:g}]")
    return out


def _row_problems(loaded: LoadedThreatModel, rows: int, holdout_rows: int | None) -> list[str]:
    """The row checks on the split the threat model implies (expected sizes: the real split is random)."""
    model = loaded.model
    if holdout_rows is None:
        holdout_rows = int(rows * model.data.holdout_fraction)
        how = f"about {holdout_rows} of {rows} rows held out (holdout_fraction {model.data.holdout_fraction:g})"
        return row_problems(model, rows - holdout_rows, holdout_rows, how)
    return row_problems(model, rows, holdout_rows, f"a holdout file of {holdout_rows} rows")


def row_problems(model: ThreatModel, train_rows: int, holdout_rows: int, how: str) -> list[str]:
    """Whether the split leaves the attacks enough rows: members, control and null samples of at least 20 rows
    each, and a population of ``train_size`` rows for the shadow attack's training sets. The pipeline asks
    this before the fit, so a table too small for the attacks is refused before any budget is spent."""
    problems = []
    if train_rows < MIN_ATTACK_ROWS or holdout_rows < 2 * MIN_ATTACK_ROWS:
        problems.append(f"rows: {how} and {train_rows} training rows; the attacks need at least "
                        f"{2 * MIN_ATTACK_ROWS} holdout and {MIN_ATTACK_ROWS} training rows")
    shadow = model.attacks.shadow
    if shadow.enabled and shadow.train_size > holdout_rows - len(shadow.target_rows):
        problems.append(f"rows: attacks.shadow.train_size {shadow.train_size} exceeds the holdout ({how}); lower "
                        "it, raise data.holdout_fraction or set attacks.shadow.enabled: false")
    audit = model.attacks.audit
    if audit.enabled and audit.base_rows > holdout_rows:
        problems.append(f"rows: attacks.audit.base_rows {audit.base_rows} exceeds the holdout ({how}); lower it, "
                        "raise data.holdout_fraction or set attacks.audit.enabled: false")
    return problems
