"""Reading a table and checking it against the declared PUBLIC domain.

Every problem is a one-line DataError naming the file, the column and the fix. Counts of values that were
clipped or mapped to a fallback are kept for the internal report only: they describe the private table and
never go into a release.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from privsynth.data.domain import PublicDomain
from privsynth.errors import DataError
from privsynth.threat_model import CategoricalColumn, DataSpec

MISSING_MARKERS = ("",)


@dataclass(frozen=True)
class DomainReport:
    """What the domain check changed. Internal only (it describes private data)."""

    rows: int
    clipped: Mapping[str, int] = field(default_factory=dict)
    mapped_to_fallback: Mapping[str, int] = field(default_factory=dict)


def read_raw(path: Path) -> pd.DataFrame:
    """Read CSV (optionally gzipped) or Parquet as text/objects; types are checked against the domain later."""
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a table (point data.source / data.holdout at a CSV or Parquet file)")
    if not path.is_file():
        raise DataError(f"{path}: file not found (check data.source / data.holdout in the threat model)")
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if suffixes.endswith(".parquet") or suffixes.endswith(".pq"):
            frame = pd.read_parquet(path)
            frame.columns = [str(c) for c in frame.columns]
        elif suffixes.endswith((".csv", ".csv.gz", ".txt")):
            frame = _read_csv(path)
        else:
            raise DataError(f"{path}: unsupported file type {suffixes or '(none)'} (use .csv, .csv.gz or .parquet)")
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty (it needs a header row and at least one data row)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: cannot be read as a table: {first} (check the delimiter and encoding)") from None
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    # pandas silently renames a duplicate header "x" to "x.1"; read the header row raw to catch it
    header = pd.read_csv(path, nrows=1, header=None, dtype=str, keep_default_na=False).iloc[0].tolist()
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"{path}: duplicate column name(s) {dupes} (rename them so every column is unique)")
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=list(MISSING_MARKERS))


def check_table(raw: pd.DataFrame, spec: DataSpec, source: str) -> tuple[pd.DataFrame, DomainReport]:
    """Validate a raw table against the declared domain and return it with canonical dtypes."""
    if raw.columns.duplicated().any():
        dupes = sorted(set(raw.columns[raw.columns.duplicated()]))
        raise DataError(f"{source}: duplicate column name(s) {dupes} (rename them so every column is unique)")
    declared = list(spec.columns)
    missing = [c for c in declared if c not in raw.columns]
    if missing and len(raw.columns) == 1:
        separator = next((name for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'"))
                          if sep in str(raw.columns[0])), None)
        if separator is not None:
            raise DataError(f"{source}: the whole header reads as one column: the file looks separated by "
                            f"{separator}; save it as a comma-separated CSV")
    if missing:
        raise DataError(f"{source}: column(s) {missing} declared in the threat model are missing from the table "
                        "(add them, or remove them from data.columns)")
    extra = [c for c in raw.columns if c not in spec.columns]
    if extra:
        raise DataError(f"{source}: column(s) {extra} are not declared in data.columns (declare their public "
                        "domain, or list them in data.drop_columns after declaring them)")
    if len(raw) == 0:
        raise DataError(f"{source}: the table has no rows (a synthetic copy needs data to learn from)")
    kept = {n: c for n, c in spec.columns.items() if n not in spec.drop_columns}
    clipped: dict[str, int] = {}
    mapped: dict[str, int] = {}
    columns = {}
    for name, col in kept.items():
        series = raw[name]
        if isinstance(col, CategoricalColumn):
            values, n_mapped = _check_categorical(series, name, col, spec.out_of_domain, source)
            if n_mapped:
                mapped[name] = n_mapped
        else:
            values, n_clipped = _check_numeric(series, name, col, spec.out_of_domain, source)
            if n_clipped:
                clipped[name] = n_clipped
        _check_missing(values, name, col.missing, source)
        columns[name] = values
    frame = PublicDomain(kept).cast(pd.DataFrame(columns, index=raw.index)).reset_index(drop=True)
    return frame, DomainReport(rows=len(frame), clipped=clipped, mapped_to_fallback=mapped)


def _as_text(series: pd.Series) -> pd.Series:
    """Each value as stripped text, missing markers as NaN. Done once per distinct value, not per cell: a
    column has few distinct values and a million-row table has tens of millions of cells."""
    codes, distinct = pd.factorize(series, use_na_sentinel=True)
    cleaned = np.array([str(v).strip() for v in distinct] + [np.nan], dtype=object)
    cleaned[:-1][np.isin(cleaned[:-1], MISSING_MARKERS)] = np.nan
    return pd.Series(cleaned[codes], index=series.index, dtype=object)


def _check_categorical(series: pd.Series, name: str, col: CategoricalColumn, policy: str, source: str):
    text = _as_text(series)
    if series.dtype.kind == "f":  # Parquet floats like 1.0 for category "1"
        text = text.map(lambda v: v[:-2] if isinstance(v, str) and v.endswith(".0") else v)
    unknown = text.notna() & ~text.isin(col.values)
    n_unknown = int(unknown.sum())
    if n_unknown and policy == "error":
        shown = sorted(text[unknown].astype(str).unique().tolist())[:3]
        raise DataError(f"{source}: column {name!r} has {n_unknown} value(s) outside its declared categories, "
                        f"e.g. {shown} (add them to data.columns.{name}.values if they are public, or set "
                        "data.out_of_domain: clip with a fallback)")
    if n_unknown:
        text = text.where(~unknown, col.fallback)
    return text, n_unknown


def _check_numeric(series: pd.Series, name: str, col, policy: str, source: str):
    text = _as_text(series)
    numbers = pd.to_numeric(text, errors="coerce")
    junk = numbers.isna() & text.notna()
    if junk.any():
        example = str(text[junk].iloc[0])[:20]
        raise DataError(f"{source}: column {name!r} is declared {col.type} but has {int(junk.sum())} non-numeric "
                        f"value(s) such as {example!r} (fix the data, or declare the column categorical)")
    if col.type == "integer":
        fractional = numbers.notna() & (numbers != numbers.round())
        if fractional.any():
            raise DataError(f"{source}: column {name!r} is declared integer but has {int(fractional.sum())} "
                            "non-integer value(s) (declare it type: float)")
    outside = numbers.notna() & ((numbers < col.min) | (numbers > col.max))
    n_outside = int(outside.sum())
    if n_outside and policy == "error":
        raise DataError(f"{source}: column {name!r} has {n_outside} value(s) outside its public bounds "
                        f"[{col.min:g}, {col.max:g}] (widen the bounds if the wider range is public, or set "
                        "data.out_of_domain: clip)")
    if n_outside:
        numbers = numbers.clip(col.min, col.max)
    return numbers, n_outside


def _check_missing(values: pd.Series, name: str, allowed: bool, source: str) -> None:
    n_missing = int(values.isna().sum())
    if n_missing == len(values):
        raise DataError(f"{source}: column {name!r} is entirely missing (drop it with data.drop_columns, or fix "
                        "the export)")
    if n_missing and not allowed:
        raise DataError(f"{source}: column {name!r} has {n_missing} missing value(s) but its domain says "
                        f"missing: false (set data.columns.{name}.missing: true, or fill them)")
