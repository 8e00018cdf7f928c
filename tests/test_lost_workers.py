"""No silent hang: a dask worker that dies mid-task fails that attempt at once, the attempt is retried on a fresh
worker a bounded number of times, and a step that cannot finish ends the run with an error naming it."""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml

from privsynth.errors import PrivsynthError
from privsynth.parallel import compute_client, map_tasks
from tests.conftest import small_threat_model_doc


def _die_on(marker: Path, value: int) -> int:
    """Kills its own worker process (as the out-of-memory killer would) while ``marker`` exists; the marker is
    removed by the first death when it holds 'once'."""
    if value == 1 and marker.exists():
        if marker.read_text() == "once":
            marker.unlink()
        os.kill(os.getpid(), signal.SIGKILL)
    return value * 10


def test_a_worker_that_dies_is_retried_on_a_fresh_one_then_the_map_fails_clearly(tmp_path):
    marker = tmp_path / "die"
    with compute_client(None, workers=2) as client:
        marker.write_text("once")
        outcome = map_tasks(_die, [(marker, v) for v in range(3)], client, label="fit")
        assert outcome.results == [0, 10, 20]
        assert [(f.task, f.attempt) for f in outcome.failed_attempts] == [(1, 0)]
        assert "worker process died" in outcome.failed_attempts[0].error
        marker.write_text("always")
        start = time.perf_counter()
        with pytest.raises(PrivsynthError, match=r"1 of 3 fits failed after 3 attempts each \(fit 1: RuntimeError: "
                                                 r"its worker process died"):
            map_tasks(_die, [(marker, v) for v in range(3)], client, label="fit")
        assert time.perf_counter() - start < 60


def _die(args: tuple[Path, int]) -> int:
    return _die_on(*args)


def _kill_workers(stop: threading.Event, started: threading.Event) -> None:
    """SIGKILL every dask worker process this test process spawned, again and again, once ``started`` is set
    (the cluster is up and the shadow fits are being submitted)."""
    started.wait()
    while not stop.is_set():
        for child in psutil.Process().children(recursive=True):
            try:
                if any("spawn_main" in part for part in child.cmdline()):
                    child.kill()
            except psutil.Error:
                pass
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_workers_killed_mid_shadow_attack_end_the_run_with_a_clear_error(tmp_path, small_adult_csv, monkeypatch):
    """Workers killed as fast as their nannies restart them (the hang of issue 22: no worker left, the run
    waiting): the run ends with an error naming the step, within the no-worker grace (shortened here)."""
    from privsynth.pipeline import run
    from privsynth.privacy.home import StewardHome

    doc = small_threat_model_doc(small_adult_csv, name="killed")
    doc["attacks"]["shadow"] = {"enabled": True, "shadow_runs": 8, "train_size": 200, "targets": 4}
    doc["gates"]["shadow_auc"] = "report"  # 8 runs cannot judge the 0.65 gate; the lost workers are the test
    doc["compute"] = {"scheduler": None, "workers": 2}
    path = tmp_path / "tm.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.setattr("privsynth.parallel.NO_WORKER_GRACE_S", 15.0)
    stop, started = threading.Event(), threading.Event()
    kill_began: list[float] = []

    @contextlib.contextmanager
    def cluster_then_kill(scheduler, workers):
        with compute_client(scheduler, workers) as client:
            kill_began.append(time.perf_counter())
            started.set()
            try:
                yield client
            finally:  # stop killing before the cluster closes: its shutdown is not what is tested
                stop.set()
                killer.join()

    monkeypatch.setattr("privsynth.pipeline.compute_client", cluster_then_kill)
    killer = threading.Thread(target=_kill_workers, args=(stop, started), daemon=True)
    killer.start()
    begin = time.perf_counter()
    try:
        with pytest.raises(PrivsynthError, match=r"attacks step, shadow-model attack: .*shadow-runs? failed after 3 "
                                                 r"attempts each .*worker process died|has had no worker for") as caught:
            run(path, out=tmp_path / "out", home=tmp_path / "home")  # its own ledger: these rows are booked
    finally:
        stop.set()
        started.set()  # a run that ended before its cluster started: let the killer see stop and end
        killer.join()
    elapsed, after_kill = time.perf_counter() - begin, time.perf_counter() - kill_began[0]
    print(f"killed workers: the run ended {after_kill:.1f} s after the first kill ({elapsed:.1f} s in all) with: "
          f"{caught.value}")
    assert after_kill < 60
    assert not list((tmp_path / "out").glob("*"))  # nothing half-written
    (entry,) = StewardHome.locate(tmp_path / "home").ledger().spends("killed")
    assert entry.epsilon > 0 and entry.outcome == "failed"  # the fit spent its budget; the run failed after it


def test_a_long_step_prints_a_heartbeat(monkeypatch):
    """The CLI's step display prints 'still ...' when a step has been silent for HEARTBEAT_S (30 s in use)."""
    import io

    from rich.console import Console

    from privsynth import cli

    buffer = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=buffer, width=200))
    steps = cli._RichSteps()
    steps.HEARTBEAT_S = 0.2
    with steps.step("attacks"):
        time.sleep(0.75)
    lines = buffer.getvalue().splitlines()
    beats = [line for line in lines if "still attacking the candidate" in line]
    assert 2 <= len(beats) <= 4, lines
    assert "done attacking the candidate" in lines[-1]
