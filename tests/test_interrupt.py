"""SIGTERM and SIGINT during a run: one line saying what was left on disk and in the ledger, exit 128 + signal,
no half-written run folder, the ledger entry recorded as failed."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from privsynth.privacy.ledger import BudgetLedger
from tests.conftest import ROOT, small_threat_model_doc


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_the_fit_stops_the_run_and_says_what_is_left(tmp_path, small_adult_csv, sig, code):
    doc = small_threat_model_doc(small_adult_csv, name="interrupted")
    doc["generator"]["params"] = {"iters": 100_000}  # a fit that would take minutes: the signal lands inside it
    path = tmp_path / "tm.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    home, out = tmp_path / "home", tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "privsynth.cli", "run", str(path), "--out", str(out),
                                "--home", str(home)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, cwd=tmp_path)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    seen = []
    deadline = time.monotonic() + 120
    while not any("fitting Private-PGM" in line for line in seen):
        line = lines.get(timeout=max(1.0, deadline - time.monotonic()))
        assert line is not None, "".join(seen)
        seen.append(line)
    time.sleep(0.5)
    sent = time.monotonic()
    process.send_signal(sig)
    assert process.wait(timeout=60) == code, "".join(seen)
    print(f"{sig.name}: exited {time.monotonic() - sent:.1f} s after the signal")
    while (line := lines.get(timeout=10)) is not None:
        seen.append(line)
    output = "".join(seen)
    assert "Traceback" not in output, output
    (message,) = [line for line in seen if line.startswith("interrupted")]
    assert f"({sig.name})" in message and "was removed" in message and "recorded as failed" in message, message
    assert out.is_dir() and not list(out.iterdir())  # the reserved run folder is gone, nothing half-written
    (entry,) = BudgetLedger(home / "ledger.sqlite").spends("interrupted")
    assert entry.outcome == "failed" and entry.status == "spent" and entry.epsilon > 0
