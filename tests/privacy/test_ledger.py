"""The budget ledger: sums every run of a registered data set, refuses before overspending epsilon or delta,
never lets a later run raise a registered total, sees the same rows booked under another name, and lets
exactly one of several racing runs take the last of a budget (threads and processes, own connections)."""
from __future__ import annotations

import math
import multiprocessing
import threading
from pathlib import Path

import pytest

from privsynth.errors import BudgetExceeded
from privsynth.privacy.ledger import BudgetLedger

def _reserve(path: Path, epsilon: float, total: float | None = 1.0, release: str = "run", dataset: str = "adult",
             delta: float = 1e-9, total_delta: float | None = None, rows: str | None = None) -> int:
    return BudgetLedger(path).reserve(dataset, release, "dp-tvae", epsilon, delta, total_epsilon=total,
                                      total_delta=total_delta, rows_fingerprint=rows)


def test_spends_add_up_and_an_over_budget_run_is_refused_with_what_remains(tmp_path):
    ledger = BudgetLedger(tmp_path / "ledger.sqlite")
    first = _reserve(ledger.path, 0.6, release="r1")
    ledger.settle(first, 0.58, 1e-9, "dp-tvae")
    with pytest.raises(BudgetExceeded, match=r"remaining 0\.42 of its total epsilon 1"):
        _reserve(ledger.path, 0.5, release="r2")
    second = _reserve(ledger.path, 0.42, release="r3")  # exactly the rest fits
    (budget,) = ledger.budgets()
    assert budget.epsilon_spent == pytest.approx(1.0) and budget.remaining_epsilon == pytest.approx(0.0)
    assert [s.status for s in ledger.spends()] == ["spent", "reserved"]  # r2 left no trace
    ledger.settle(second, 0.0, 1e-9, "dp-tvae")  # a fit that spent nothing frees its reservation
    assert ledger.budgets()[0].epsilon_spent == pytest.approx(0.58)
    assert [s.release_id for s in ledger.spends("adult")] == ["r1"] and ledger.spends("other") == []


def test_a_later_run_cannot_raise_the_registered_total(tmp_path):
    ledger = BudgetLedger(tmp_path / "ledger.sqlite")
    ledger.settle(_reserve(ledger.path, 1.0, total=1.0, release="r1"), 1.0, 1e-9, "mst")
    with pytest.raises(BudgetExceeded, match="registered as 1; a run cannot raise it to 8"):
        _reserve(ledger.path, 1.0, total=8.0, release="r2")
    with pytest.raises(BudgetExceeded, match="remaining 0 of its total epsilon 1"):
        _reserve(ledger.path, 1.0, total=None, release="r3")  # no declaration: the registered total binds
    with pytest.raises(BudgetExceeded, match="cannot raise"):
        ledger.register("adult", 7.0, None)
    assert ledger.register("adult", 0.5, None).total_epsilon == 0.5  # lowering is allowed
    assert [s.release_id for s in ledger.spends()] == ["r1"]


def test_delta_is_capped_like_epsilon(tmp_path):
    ledger = BudgetLedger(tmp_path / "ledger.sqlite")
    _reserve(ledger.path, 0.1, total=None, delta=1e-9, total_delta=2.5e-9, release="r1")
    _reserve(ledger.path, 0.1, total=None, delta=1e-9, release="r2")
    with pytest.raises(BudgetExceeded, match="delta 1e-09 exceeds the remaining 5e-10 of its total delta 2.5e-09"):
        _reserve(ledger.path, 0.1, total=None, delta=1e-9, release="r3")


def test_the_same_rows_under_another_data_set_name_are_refused(tmp_path):
    ledger = BudgetLedger(tmp_path / "ledger.sqlite")
    _reserve(ledger.path, 0.5, dataset="census-2020", rows="f" * 64)
    with pytest.raises(BudgetExceeded, match="already booked under dataset 'census-2020'"):
        _reserve(ledger.path, 0.5, dataset="census-copy", rows="f" * 64)
    _reserve(ledger.path, 0.5, dataset="census-2020", rows="f" * 64, release="again")  # same name: its budget


def test_settling_never_records_more_than_was_reserved(tmp_path):
    ledger = BudgetLedger(tmp_path / "ledger.sqlite")
    entry = _reserve(ledger.path, 0.5)
    ledger.settle(entry, 0.9, 1e-9, "dp-tvae")
    assert ledger.spends()[0].epsilon == 0.5


def test_non_dp_runs_are_unbounded_and_refused_on_a_capped_dataset(tmp_path):
    ledger = BudgetLedger(tmp_path / "ledger.sqlite")
    with pytest.raises(BudgetExceeded, match="non-DP run"):
        _reserve(ledger.path, math.inf)
    _reserve(ledger.path, math.inf, total=None)
    assert math.isinf(ledger.budgets()[0].epsilon_spent)


def test_racing_threads_share_the_last_budget_exactly(tmp_path):
    path = tmp_path / "ledger.sqlite"
    _reserve(path, 0.7)
    barrier, wins, losses = threading.Barrier(8), [], []

    def race(i: int) -> None:
        barrier.wait()
        try:
            wins.append(_reserve(path, 0.1, release=f"t{i}"))
        except BudgetExceeded:
            losses.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 3 and len(losses) == 5
    assert BudgetLedger(path).budgets()[0].epsilon_spent == pytest.approx(1.0)


def _racer(path: str, barrier, results) -> None:
    barrier.wait()
    try:
        _reserve(Path(path), 0.5)
        results.put("won")
    except BudgetExceeded:
        results.put("refused")


def test_two_racing_processes_for_the_last_budget_exactly_one_wins(tmp_path):
    context = multiprocessing.get_context("fork")
    for round_ in range(3):
        path = tmp_path / f"ledger{round_}.sqlite"
        _reserve(path, 0.5)
        barrier, results = context.Barrier(2), context.Queue()
        racers = [context.Process(target=_racer, args=(str(path), barrier, results)) for _ in range(2)]
        for p in racers:
            p.start()
        for p in racers:
            p.join(60)
        assert sorted(results.get(timeout=5) for _ in racers) == ["refused", "won"]
        assert BudgetLedger(path).budgets()[0].epsilon_spent == pytest.approx(1.0)
