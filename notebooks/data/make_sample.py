"""Draw the notebooks' bank marketing sample: 3,000 rows of bank-full.csv, seeded, in source order.

Usage: python notebooks/data/make_sample.py PATH/TO/bank_marketing.csv
Writes bank_marketing_sample.csv next to this script and prints its sha256 (recorded in README.md).
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROWS, SEED = 3000, 20240601


def main(source: str) -> None:
    full = pd.read_csv(source)
    rows = np.sort(np.random.default_rng(SEED).choice(len(full), ROWS, replace=False))
    out = Path(__file__).with_name("bank_marketing_sample.csv")
    full.iloc[rows].to_csv(out, index=False, lineterminator="\n")
    print(hashlib.sha256(out.read_bytes()).hexdigest(), out.name)


if __name__ == "__main__":
    main(sys.argv[1])
