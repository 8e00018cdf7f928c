"""The private tables of one run, read and checked against the public domain, and split.

What this module returns never leaves the steward's machine: the tables feed the generator (through
PrivateData), the attacks and the utility checks; the file fingerprints and the domain check's counts go to the
internal review package only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from privsynth.data.bundled import bundled_table
from privsynth.data.domain import PublicDomain
from privsynth.data.fingerprint import sha256_file
from privsynth.data.io import DomainReport, check_table, read_raw
from privsynth.data.split import assign_holdout
from privsynth.threat_model import BUNDLED_PREFIX, LoadedThreatModel


@dataclass(frozen=True)
class Inputs:
    """The checked private tables and what the steward's private records say about them (never released)."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    domain: PublicDomain
    source_name: str
    source_sha256: str
    holdout_sha256: str | None
    domain_report: DomainReport
    #: source-table row number of each train / holdout row (None: the holdout came from its own file)
    train_rows: np.ndarray | None = None
    holdout_rows: np.ndarray | None = None

    @property
    def rows(self) -> pd.DataFrame:
        """Every checked row of the source (train and, when split from it, holdout): the ledger's fingerprint."""
        if self.holdout_rows is None:
            return self.train
        return pd.concat([self.train, self.holdout], ignore_index=True)


def read_inputs(loaded: LoadedThreatModel, split: np.random.Generator) -> Inputs:
    """Read and check the source (and holdout) against the public domain. Without a holdout file, every row
    goes to the holdout by its own draw from ``split``, the run's secret generator (data/split.py)."""
    spec = loaded.model.data
    source = bundled_table(spec.source[len(BUNDLED_PREFIX):]) if spec.source.startswith(BUNDLED_PREFIX) \
        else loaded.resolve(spec.source)
    frame, report = check_table(read_raw(source), spec, str(source))
    domain = PublicDomain.from_spec(spec)
    if spec.holdout:
        holdout_path = loaded.resolve(spec.holdout)
        holdout, _ = check_table(read_raw(holdout_path), spec, str(holdout_path))
        return Inputs(frame, holdout, domain, source.name, sha256_file(source), sha256_file(holdout_path), report,
                      np.arange(len(frame)), None)
    train_rows, holdout_rows = assign_holdout(len(frame), spec.holdout_fraction, split)
    train = frame.iloc[train_rows].reset_index(drop=True)
    holdout = frame.iloc[holdout_rows].reset_index(drop=True)
    return Inputs(train, holdout, domain, source.name, sha256_file(source), None, report, train_rows, holdout_rows)
