"""The budget ledger: what every run has spent from one source, across releases.

A budget spent on one release is spent for good. The ledger is a SQLite file (stdlib ``sqlite3``) with one
row per run, keyed by the source file's SHA-256, so renaming or moving the file changes nothing. Runs compose
sequentially: the ledger's spend is the SUM of the epsilons (and of the deltas) of every run from the source,
the basic composition theorem, valid whatever mechanism each run used.

A run reserves its whole epsilon BEFORE it touches the private rows: inside one ``BEGIN IMMEDIATE``
transaction (which takes SQLite's write lock, so two processes serialise here) it sums what is spent or
reserved and refuses when its epsilon would bring that above the threat model's ``privacy.total_epsilon``.
Two runs racing for the last of a budget cannot both pass: the second one's sum includes the first one's
reservation. After the fit the reservation is settled with the epsilon the fit actually spent (never more
than reserved); it is released only when the fit spent nothing (it failed before its first charge). A run
killed mid-fit leaves its reservation standing: counted as spent, shown as "reserved" by ``budget show``.

Non-DP baselines have no finite epsilon; they are recorded with epsilon = infinity, so a capped source
refuses them (reading raw rows would void any total).
"""
from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from privsynth.errors import BudgetExceeded, PrivsynthError

#: the ledger's default file name, inside the output folder (``output.directory`` or ``--out``)
LEDGER_NAME = "budget_ledger.sqlite"
_TOLERANCE = 1e-9  # relative slack so an exactly split total is not refused by floating-point rounding

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spends (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_sha256 TEXT NOT NULL,
    source_name TEXT NOT NULL,
    release_id TEXT NOT NULL,
    mechanism TEXT NOT NULL,
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    total_epsilon REAL,
    status TEXT NOT NULL CHECK (status IN ('reserved', 'spent')),
    created_utc TEXT NOT NULL,
    settled_utc TEXT
);
CREATE INDEX IF NOT EXISTS spends_by_source ON spends (source_sha256);
"""


@dataclass(frozen=True)
class Spend:
    """One run's entry. ``epsilon`` is what it reserved until settled, then what it spent."""

    id: int
    source_sha256: str
    source_name: str
    release_id: str
    mechanism: str
    epsilon: float
    delta: float
    total_epsilon: float | None
    status: str
    created_utc: str


@dataclass(frozen=True)
class SourceBudget:
    """A source's standing: spent (including open reservations), and the total its latest run declared."""

    source_sha256: str
    source_name: str
    runs: int
    epsilon_spent: float
    delta_spent: float
    total_epsilon: float | None

    @property
    def remaining(self) -> float | None:
        return None if self.total_epsilon is None else max(0.0, self.total_epsilon - self.epsilon_spent)


class BudgetLedger:
    """The ledger file at ``path`` (created on first use). Each method opens its own connection, so one
    object may be shared by threads and many processes may use the same file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            connection.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise PrivsynthError(f"budget ledger {self.path}: cannot open it ({exc}); choose another with "
                                 "--ledger") from None
        connection.row_factory = sqlite3.Row
        return connection

    def reserve(self, source_sha256: str, source_name: str, release_id: str, mechanism: str, epsilon: float,
                delta: float, total_epsilon: float | None) -> int:
        """Reserve ``epsilon`` for one run, or raise BudgetExceeded (nothing written). Returns the entry id."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            spent = connection.execute("SELECT COALESCE(SUM(epsilon), 0) FROM spends WHERE source_sha256 = ?",
                                       (source_sha256,)).fetchone()[0]
            if total_epsilon is not None and spent + epsilon > total_epsilon * (1 + _TOLERANCE):
                connection.execute("ROLLBACK")
                remaining = max(0.0, total_epsilon - spent)
                wanted = "a non-DP run (unbounded epsilon)" if math.isinf(epsilon) else f"epsilon {epsilon:g}"
                raise BudgetExceeded(f"source {source_name} (sha256 {source_sha256[:12]}…): {wanted} exceeds the "
                                     f"remaining budget {remaining:.4g} of privacy.total_epsilon {total_epsilon:g} "
                                     f"(ledger {self.path}); lower privacy.epsilon or use new data")
            cursor = connection.execute(
                "INSERT INTO spends (source_sha256, source_name, release_id, mechanism, epsilon, delta, "
                "total_epsilon, status, created_utc) VALUES (?, ?, ?, ?, ?, ?, ?, 'reserved', ?)",
                (source_sha256, source_name, release_id, mechanism, float(epsilon), float(delta), total_epsilon,
                 _now()))
            connection.execute("COMMIT")
            return int(cursor.lastrowid)
        finally:
            connection.close()

    def settle(self, entry_id: int, epsilon_spent: float, delta: float, mechanism: str) -> None:
        """Record what the run actually spent (at most its reservation); a run that spent nothing is removed."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            row = connection.execute("SELECT epsilon FROM spends WHERE id = ? AND status = 'reserved'",
                                     (entry_id,)).fetchone()
            if row is None:
                connection.execute("ROLLBACK")
                raise PrivsynthError(f"budget ledger {self.path}: no open reservation {entry_id} to settle")
            if epsilon_spent <= 0:
                connection.execute("DELETE FROM spends WHERE id = ?", (entry_id,))
            else:
                connection.execute("UPDATE spends SET epsilon = ?, delta = ?, mechanism = ?, status = 'spent', "
                                   "settled_utc = ? WHERE id = ?",
                                   (min(float(epsilon_spent), row["epsilon"]), float(delta), mechanism, _now(),
                                    entry_id))
            connection.execute("COMMIT")
        finally:
            connection.close()

    def spends(self, source: str | None = None) -> list[Spend]:
        """Every entry, oldest first; ``source`` filters by SHA-256 prefix or by file name."""
        if not self.path.exists():
            return []
        connection = self._connect()
        try:
            rows = connection.execute("SELECT * FROM spends ORDER BY id").fetchall()
        finally:
            connection.close()
        entries = [Spend(r["id"], r["source_sha256"], r["source_name"], r["release_id"], r["mechanism"],
                         r["epsilon"], r["delta"], r["total_epsilon"], r["status"], r["created_utc"]) for r in rows]
        if source is None:
            return entries
        return [e for e in entries if e.source_name == source or e.source_sha256.startswith(source.lower())]

    def budgets(self, source: str | None = None) -> list[SourceBudget]:
        """Per source: what is spent and the total declared by its latest run."""
        by_source: dict[str, list[Spend]] = {}
        for entry in self.spends(source):
            by_source.setdefault(entry.source_sha256, []).append(entry)
        return [SourceBudget(sha, entries[-1].source_name, len(entries), sum(e.epsilon for e in entries),
                             sum(e.delta for e in entries), entries[-1].total_epsilon)
                for sha, entries in by_source.items()]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
