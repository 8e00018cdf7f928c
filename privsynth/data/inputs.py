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
from privsynth.data.persons import KeyedDraws, assign_holdout_by_person, bound_contributions, person_ids
from privsynth.data.split import assign_holdout
from privsynth.errors import PrivsynthError
from privsynth.threat_model import BUNDLED_PREFIX, LoadedThreatModel


@dataclass(frozen=True)
class Persons:
    """Who each kept row belongs to, when the threat model names a person column (internal, never released):
    the person-level attacks group rows by it. ``source_rows`` counts each person's rows BEFORE the
    contribution bound; ``rows_dropped`` is what the bound removed (review package only)."""

    train: np.ndarray
    holdout: np.ndarray
    source_rows: pd.Series
    max_rows_per_person: int | None
    rows_dropped: int
    persons_over_bound: int


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
    persons: Persons | None = None
    #: every checked source row when the contribution bound dropped some (the fingerprint must not depend on
    #: which rows the run's secret draws kept)
    source: pd.DataFrame | None = None

    @property
    def rows(self) -> pd.DataFrame:
        """Every checked row of the source (train and, when split from it, holdout): the ledger's fingerprint."""
        if self.source is not None:
            return self.source
        if self.holdout_rows is None:
            return self.train
        return pd.concat([self.train, self.holdout], ignore_index=True)


def read_inputs(loaded: LoadedThreatModel, split: np.random.Generator, keyed: KeyedDraws | None = None) -> Inputs:
    """Read and check the source (and holdout) against the public domain. Without a holdout file, every row
    goes to the holdout by its own draw from ``split``, the run's secret generator (data/split.py). With a
    person column, ``keyed`` (the run's secret keyed draws) bounds each person's rows and splits by person
    (data/persons.py) instead."""
    spec = loaded.model.data
    source = bundled_table(spec.source[len(BUNDLED_PREFIX):]) if spec.source.startswith(BUNDLED_PREFIX) \
        else loaded.resolve(spec.source)
    if spec.person_column is not None:
        if keyed is None:
            raise PrivsynthError("data.person_column is set: reading the table needs the run's keyed secret draws")
        return _read_by_person(loaded, source, keyed)
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


def _read_by_person(loaded: LoadedThreatModel, source, keyed: KeyedDraws) -> Inputs:
    """Bound each person's rows (person-level unit), then split by person; both by the run's keyed secret
    draws, so that removing one person changes no other person's rows or side (data/persons.py)."""
    model = loaded.model
    spec = model.data
    k = model.rows_per_person if model.privacy_unit == "person" else None

    def checked(path) -> tuple[pd.DataFrame, np.ndarray, DomainReport]:
        raw = read_raw(path)
        ids = person_ids(raw, spec.person_column, str(path))  # type: ignore[arg-type]
        frame, report = check_table(raw, spec, str(path))
        return frame, ids, report

    frame, ids, report = checked(source)
    domain = PublicDomain.from_spec(spec)
    holdout_file = None
    if spec.holdout:
        holdout_path = loaded.resolve(spec.holdout)
        holdout_frame, holdout_ids, _ = checked(holdout_path)
        holdout_file = holdout_path
    counts = pd.Series(ids).value_counts()
    bounded = bound_contributions(ids, k, keyed) if k is not None else None
    kept = bounded.kept if bounded is not None else np.arange(len(frame))
    if holdout_file is None:
        train_pos, holdout_pos = assign_holdout_by_person(ids[kept], spec.holdout_fraction, keyed)
        train_rows, holdout_rows = kept[train_pos], kept[holdout_pos]
        holdout, holdout_persons, holdout_sha = frame.iloc[holdout_rows].reset_index(drop=True), \
            ids[holdout_rows], None
    else:
        train_rows, holdout_rows = kept, None
        counts = pd.Series(np.concatenate([ids, holdout_ids])).value_counts()  # source rows, before the bound
        held = bound_contributions(holdout_ids, k, keyed).kept if k is not None else np.arange(len(holdout_ids))
        holdout, holdout_persons = holdout_frame.iloc[held].reset_index(drop=True), holdout_ids[held]
        holdout_sha = sha256_file(holdout_file)
    persons = Persons(ids[train_rows], holdout_persons, counts, k,
                      bounded.rows_dropped if bounded else 0, bounded.persons_over_bound if bounded else 0)
    return Inputs(frame.iloc[train_rows].reset_index(drop=True), holdout, domain, source.name, sha256_file(source),
                  holdout_sha, report, train_rows, holdout_rows, persons, frame)
