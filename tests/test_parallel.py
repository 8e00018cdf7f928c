"""The task runner: results in task order, failures retried and reported, never dropped; worker count and
retries do not change results."""
from __future__ import annotations

import numpy as np
import pytest

from privsynth.attacks.membership.shadow import copy_training_rows, run_shadow_models
from privsynth.errors import PrivsynthError
from privsynth.parallel import compute_client, map_tasks, task_mapper


class _FailsFirst:
    """Raises on the first call for each argument in ``flaky``, then succeeds (state kept in this process)."""

    def __init__(self, flaky: set[int]) -> None:
        self.flaky, self.seen = flaky, set()

    def __call__(self, x: int) -> int:
        if x in self.flaky and x not in self.seen:
            self.seen.add(x)
            raise RuntimeError(f"transient failure on {x}")
        return x * x


def test_in_process_results_are_in_order_and_retries_are_recorded():
    progress = []
    outcome = map_tasks(_FailsFirst({2, 5}), list(range(7)), progress=lambda done, total: progress.append(done))
    assert outcome.results == [x * x for x in range(7)]
    assert [(f.task, f.attempt) for f in outcome.failed_attempts] == [(2, 0), (5, 0)]
    assert "transient failure on 2" in outcome.failed_attempts[0].error
    assert progress == list(range(1, 8))


def test_a_task_that_keeps_failing_stops_the_map_and_is_named():
    with pytest.raises(PrivsynthError, match=r"1 of 3 tasks failed after 3 attempts each \(task 1: ValueError"):
        map_tasks(int, ["1", "x", "3"])


def test_bad_scheduler_address_is_one_clear_error(monkeypatch):
    monkeypatch.setattr("privsynth.parallel.CONNECT_TIMEOUT", "1s")
    with pytest.raises(PrivsynthError, match="cannot reach the dask scheduler"):
        with compute_client("tcp://127.0.0.1:1"):
            pass


@pytest.mark.slow
def test_one_and_two_workers_give_identical_shadow_runs(adult, adult_domain):
    targets, reference = adult.iloc[:3].reset_index(drop=True), adult.iloc[100:700].reset_index(drop=True)

    def shadow(client):
        return run_shadow_models(targets, reference, adult_domain, copy_training_rows, 200, 6, seed=4,
                                 map_tasks=task_mapper(client))

    in_process = shadow(None)
    with compute_client(None, workers=1) as client:
        one = shadow(client)
        with pytest.raises(PrivsynthError, match=r"task 1: ValueError"):  # failures on a cluster are named too
            map_tasks(int, ["1", "x"], client)
    with compute_client(None, workers=2) as client:
        two = shadow(client)
    assert two.workers == 2 and one.workers == 1
    for other in (one, two):
        assert np.array_equal(other.features, in_process.features)
        assert np.array_equal(other.membership, in_process.membership)
