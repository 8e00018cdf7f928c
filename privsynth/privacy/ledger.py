"""The budget ledger: what every run has spent from one registered dataset, across releases.

A budget spent is spent for good. The ledger is a SQLite file (stdlib ``sqlite3``) in the steward's state
folder (privacy/home.py) with one row per dataset and one per run. Runs are booked against the dataset's
registered NAME, not against a file: re-exporting, reordering or renaming the file does not buy a fresh
budget. As a second guard, each run records an order-free keyed fingerprint of its rows
(data/fingerprint.py), and a run whose rows are already booked under another dataset name is refused.

Totals are fixed when a dataset is registered (``privsynth dataset register`` or, at its first run, the threat
model's ``privacy.total_epsilon`` / ``total_delta``; none declared means uncapped). A later run may declare
lower totals, which then bind, but never higher ones. Runs compose sequentially: the dataset's spend is the
SUM of the epsilons and of the deltas of its runs (basic composition, valid whatever mechanism each used), and
both are capped.

A run reserves its whole epsilon and delta BEFORE it touches the private rows, inside one ``BEGIN IMMEDIATE``
transaction (SQLite's write lock, so two processes serialise here): two runs racing for the last of a budget
cannot both pass. After the fit it is settled with what it spent and how it ended (released, blocked, failed,
swept); a run killed mid-fit keeps its reservation (counted as spent, shown as "reserved"). Every attempt is
listed, so the number of tries at a release is on record. Non-DP baselines are booked with epsilon = infinity,
so a capped dataset refuses them.
"""
from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from privsynth.errors import BudgetExceeded, PrivsynthError

_TOLERANCE = 1e-9  # relative slack so an exactly split total is not refused by floating-point rounding
SCHEMA_VERSION = 2
Outcome = Literal["released", "blocked", "failed", "swept"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    name TEXT PRIMARY KEY,
    total_epsilon REAL,
    total_delta REAL,
    created_utc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spends (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL REFERENCES datasets (name),
    release_id TEXT NOT NULL,
    mechanism TEXT NOT NULL,
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('reserved', 'spent')),
    outcome TEXT,
    rows_fingerprint TEXT,
    nonce TEXT,
    created_utc TEXT NOT NULL,
    settled_utc TEXT
);
CREATE INDEX IF NOT EXISTS spends_by_dataset ON spends (dataset);
CREATE INDEX IF NOT EXISTS spends_by_rows ON spends (rows_fingerprint);
"""


@dataclass(frozen=True)
class Dataset:
    name: str
    total_epsilon: float | None
    total_delta: float | None
    created_utc: str


@dataclass(frozen=True)
class Spend:
    """One run's entry. ``epsilon`` is what it reserved until settled, then what it spent."""

    id: int
    dataset: str
    release_id: str
    mechanism: str
    epsilon: float
    delta: float
    status: str
    outcome: str | None
    created_utc: str


@dataclass(frozen=True)
class DatasetBudget:
    """A dataset's standing: spent (including open reservations) against its registered totals."""

    dataset: Dataset
    runs: int
    epsilon_spent: float
    delta_spent: float

    @property
    def remaining_epsilon(self) -> float | None:
        total = self.dataset.total_epsilon
        return None if total is None else max(0.0, total - self.epsilon_spent)

    @property
    def remaining_delta(self) -> float | None:
        total = self.dataset.total_delta
        return None if total is None else max(0.0, total - self.delta_spent)


class BudgetLedger:
    """The ledger file at ``path`` (created on first use). Each method opens its own connection, so one
    object may be shared by threads and many processes may use the same file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            self._check_schema(connection)
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise PrivsynthError(f"budget ledger {self.path}: cannot open it ({exc}); check the steward's state "
                                 "folder (PRIVSYNTH_HOME)") from None
        connection.row_factory = sqlite3.Row
        return connection

    def _check_schema(self, connection: sqlite3.Connection) -> None:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(spends)")}
        if columns and "dataset" not in columns:
            connection.close()
            raise PrivsynthError(f"budget ledger {self.path}: an old ledger keyed by file hash; keep it as a record "
                                 "and start this ledger elsewhere (README, 'Runs made before')")

    # ------------------------------------------------------------------ datasets
    def register(self, name: str, total_epsilon: float | None, total_delta: float | None) -> Dataset:
        """Create the dataset, or lower its totals. Raising a registered total is refused (nothing written)."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            dataset = self._register(connection, name, total_epsilon, total_delta)
            connection.execute("COMMIT")
            return dataset
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    def _register(self, connection: sqlite3.Connection, name: str, total_epsilon: float | None,
                  total_delta: float | None) -> Dataset:
        row = connection.execute("SELECT * FROM datasets WHERE name = ?", (name,)).fetchone()
        if row is None:
            connection.execute("INSERT INTO datasets VALUES (?, ?, ?, ?)", (name, total_epsilon, total_delta, _now()))
            return Dataset(name, total_epsilon, total_delta, _now())
        current = _dataset(row)
        epsilon = _lower(current.total_epsilon, total_epsilon, f"dataset {name!r}: total_epsilon")
        delta = _lower(current.total_delta, total_delta, f"dataset {name!r}: total_delta")
        if (epsilon, delta) != (current.total_epsilon, current.total_delta):
            connection.execute("UPDATE datasets SET total_epsilon = ?, total_delta = ? WHERE name = ?",
                               (epsilon, delta, name))
        return Dataset(name, epsilon, delta, current.created_utc)

    def datasets(self) -> list[Dataset]:
        if not self.path.exists():
            return []
        connection = self._connect()
        try:
            return [_dataset(r) for r in connection.execute("SELECT * FROM datasets ORDER BY name")]
        finally:
            connection.close()

    # ------------------------------------------------------------------ runs
    def reserve(self, dataset: str, release_id: str, mechanism: str, epsilon: float, delta: float, *,
                total_epsilon: float | None = None, total_delta: float | None = None,
                rows_fingerprint: str | None = None, nonce: str | None = None) -> int:
        """Reserve ``epsilon`` and ``delta`` for one run of ``dataset`` (registered on first use with the
        declared totals), or raise BudgetExceeded and write nothing. Returns the entry id."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            self._check_room(connection, dataset, epsilon, delta, total_epsilon, total_delta, rows_fingerprint)
            cursor = connection.execute(
                "INSERT INTO spends (dataset, release_id, mechanism, epsilon, delta, status, rows_fingerprint, nonce, "
                "created_utc) VALUES (?, ?, ?, ?, ?, 'reserved', ?, ?, ?)",
                (dataset, release_id, mechanism, float(epsilon), float(delta), rows_fingerprint, nonce, _now()))
            connection.execute("COMMIT")
            return int(cursor.lastrowid)
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    def check_room(self, dataset: str, epsilon: float, delta: float, *, total_epsilon: float | None = None,
                   total_delta: float | None = None, rows_fingerprint: str | None = None) -> None:
        """Raise BudgetExceeded where ``reserve`` would, and book nothing (the transaction is rolled back): a run
        asks before its first work on the private rows, and ``reserve`` checks again when it books."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            self._check_room(connection, dataset, epsilon, delta, total_epsilon, total_delta, rows_fingerprint)
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            connection.close()

    def _check_room(self, connection: sqlite3.Connection, dataset: str, epsilon: float, delta: float,
                    total_epsilon: float | None, total_delta: float | None, rows_fingerprint: str | None) -> None:
        registered = self._register(connection, dataset, total_epsilon, total_delta)
        if rows_fingerprint is not None:
            self._check_rows(connection, dataset, rows_fingerprint)
        spent_eps, spent_delta = connection.execute(
            "SELECT COALESCE(SUM(epsilon), 0), COALESCE(SUM(delta), 0) FROM spends WHERE dataset = ?",
            (dataset,)).fetchone()
        _check_cap(dataset, "epsilon", spent_eps, epsilon, registered.total_epsilon, self.path)
        _check_cap(dataset, "delta", spent_delta, delta, registered.total_delta, self.path)

    @staticmethod
    def _check_rows(connection: sqlite3.Connection, dataset: str, fingerprint: str) -> None:
        other = connection.execute("SELECT dataset FROM spends WHERE rows_fingerprint = ? AND dataset != ? LIMIT 1",
                                   (fingerprint, dataset)).fetchone()
        if other is not None:
            raise BudgetExceeded(f"data.dataset {dataset!r}: these rows (same rows, in any order) are already booked "
                                 f"under dataset {other[0]!r}; set data.dataset: {other[0]} so they draw on that "
                                 "budget")

    def settle(self, entry_id: int, epsilon_spent: float, delta_spent: float, mechanism: str,
               outcome: Outcome | None = None) -> None:
        """Record what the run spent (at most its reservation) and how it ended; a run that spent nothing and
        did not finish is removed (it never touched the private rows)."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            row = connection.execute("SELECT epsilon, delta FROM spends WHERE id = ? AND status = 'reserved'",
                                     (entry_id,)).fetchone()
            if row is None:
                connection.execute("ROLLBACK")
                raise PrivsynthError(f"budget ledger {self.path}: no open reservation {entry_id} to settle")
            if epsilon_spent <= 0:
                connection.execute("DELETE FROM spends WHERE id = ?", (entry_id,))
            else:
                connection.execute("UPDATE spends SET epsilon = ?, delta = ?, mechanism = ?, status = 'spent', "
                                   "outcome = ?, settled_utc = ? WHERE id = ?",
                                   (min(float(epsilon_spent), row["epsilon"]), min(float(delta_spent), row["delta"]),
                                    mechanism, outcome, _now(), entry_id))
            connection.execute("COMMIT")
        finally:
            connection.close()

    def record_outcome(self, entry_id: int, outcome: Outcome) -> None:
        """How a settled run ended, once the gate has decided (the spend itself does not change)."""
        connection = self._connect()
        try:
            connection.execute("UPDATE spends SET outcome = ? WHERE id = ?", (outcome, entry_id))
        finally:
            connection.close()

    def nonce_of(self, release_id: str) -> str | None:
        """The secret nonce a run drew (private: reproduces its noise with the key)."""
        if not self.path.exists():
            return None
        connection = self._connect()
        try:
            row = connection.execute("SELECT nonce FROM spends WHERE release_id = ?", (release_id,)).fetchone()
        finally:
            connection.close()
        return None if row is None else row["nonce"]

    def spends(self, dataset: str | None = None) -> list[Spend]:
        """Every entry, oldest first; ``dataset`` filters by name."""
        if not self.path.exists():
            return []
        connection = self._connect()
        try:
            rows = connection.execute("SELECT * FROM spends ORDER BY id").fetchall()
        finally:
            connection.close()
        entries = [Spend(r["id"], r["dataset"], r["release_id"], r["mechanism"], r["epsilon"], r["delta"],
                         r["status"], r["outcome"], r["created_utc"]) for r in rows]
        return entries if dataset is None else [e for e in entries if e.dataset == dataset]

    def budgets(self, dataset: str | None = None) -> list[DatasetBudget]:
        """Per registered dataset: its totals and what its runs spent."""
        spends = self.spends()
        return [DatasetBudget(d, sum(1 for e in spends if e.dataset == d.name),
                              sum(e.epsilon for e in spends if e.dataset == d.name),
                              sum(e.delta for e in spends if e.dataset == d.name))
                for d in self.datasets() if dataset is None or d.name == dataset]


def _dataset(row: sqlite3.Row) -> Dataset:
    return Dataset(row["name"], row["total_epsilon"], row["total_delta"], row["created_utc"])


def _lower(current: float | None, declared: float | None, what: str) -> float | None:
    """The binding total after a declaration: the registered one, or a lower declared one. Never higher."""
    if declared is None:
        return current
    if current is not None and declared > current * (1 + _TOLERANCE):
        raise BudgetExceeded(f"{what} is registered as {current:g}; a run cannot raise it to {declared:g} (declare "
                             f"{current:g} or less in the threat model)")
    return declared if current is None or declared < current else current


def _check_cap(dataset: str, what: str, spent: float, wanted: float, total: float | None, ledger: Path) -> None:
    if total is None or spent + wanted <= total * (1 + _TOLERANCE):
        return
    remaining = max(0.0, total - spent)
    asked = "a non-DP run (unbounded epsilon)" if math.isinf(wanted) else f"{what} {wanted:g}"
    raise BudgetExceeded(f"dataset {dataset!r}: {asked} exceeds the remaining {remaining:.4g} of its total {what} "
                         f"{total:g} (ledger {ledger}); lower privacy.{what} or use new data")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
