"""The shadow attack on a real dask cluster started the way a steward would start one on other machines:
a `dask scheduler` process and a `dask worker` process with two worker processes, reached by address
(compute.scheduler). Same results as in this process: every shadow run carries its own seed."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from privsynth.attacks.membership.shadow import run_shadow_models
from privsynth.data.domain import PublicDomain
from privsynth.parallel import compute_client, task_mapper
from privsynth.pipeline import ShadowGenerator

COLUMNS = ["age", "education", "sex", "hours_per_week", "income"]


def _dask(*args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(Path(sys.executable).with_name("dask")), *args], stdout=log.open("w"),
                            stderr=subprocess.STDOUT)


def _scheduler_address(path: Path, process: subprocess.Popen, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return json.loads(path.read_text())["address"]
        if process.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with {process.returncode}")
        time.sleep(0.2)
    raise TimeoutError("dask scheduler wrote no scheduler file")


@pytest.fixture()
def cluster(tmp_path):
    """`dask scheduler` + `dask worker --nworkers 2`, each a process of its own; stopped after the test."""
    info = tmp_path / "scheduler.json"
    scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                      str(info), log=tmp_path / "scheduler.log")
    processes = [scheduler]
    try:
        address = _scheduler_address(info, scheduler)
        processes.append(_dask("worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
                               "--memory-limit", "2GB", log=tmp_path / "worker.log"))
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.mark.slow
def test_shadow_attack_runs_on_a_separate_scheduler_and_workers(cluster, adult, adult_model):
    domain = PublicDomain({c: adult_model.kept_columns[c] for c in COLUMNS}, target="income")
    rows = adult[COLUMNS]
    targets, reference = rows.iloc[:3].reset_index(drop=True), rows.iloc[100:1100].reset_index(drop=True)
    factory = ShadowGenerator("aim", {"round_iters": 20, "final_iters": 50, "max_rounds": 4}, 1.0, 1e-9, False,
                              domain, 400)

    def shadow(client):
        return run_shadow_models(targets, reference, domain, factory, 300, 6, seed=3, map_tasks=task_mapper(client))

    with compute_client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        remote = shadow(client)
    assert remote.where == cluster and remote.workers == 2 and not remote.failed_attempts
    local = shadow(None)
    np.testing.assert_array_equal(remote.membership, local.membership)
    np.testing.assert_allclose(remote.features, local.features)
