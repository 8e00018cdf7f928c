"""The released table's bytes: Parquet marked as synthetic in its own metadata, and an optional CSV.

The label travels inside the Parquet file (schema metadata key ``privsynth``), so a copy that leaves its
release folder, or is loaded into a data lake beside real tables, still says it is synthetic and where it came
from. The bytes are a function of the table and of public facts only (run name, data set, generator), so
neighbouring tables with the same secret noise give identical bytes wherever the table is identical.
"""
from __future__ import annotations

import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from privsynth.release.manifest import SYNTHETIC_NOTICE

TABLE_NAME = "synthetic.parquet"
CSV_NAME = "synthetic.csv"
METADATA_KEY = b"privsynth"


def parquet_bytes(table: pd.DataFrame, run: str, dataset: str, generator: str) -> bytes:
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    label = {"synthetic": True, "notice": SYNTHETIC_NOTICE, "run": run, "dataset": dataset, "generator": generator}
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}),
                                           METADATA_KEY: json.dumps(label, sort_keys=True).encode()})
    sink = io.BytesIO()
    pq.write_table(arrow, sink)
    return sink.getvalue()


def csv_bytes(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False).encode("utf-8")


def synthetic_label(path: str) -> dict | None:
    """The ``privsynth`` label of a Parquet file, or None when it has none (not a privsynth release)."""
    metadata = pq.read_schema(path).metadata or {}
    raw = metadata.get(METADATA_KEY)
    return None if raw is None else json.loads(raw)
