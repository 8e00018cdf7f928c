"""The ledger as a steward meets it: a DP-SGD run booked with its guarantee in the manifest, a run over the
source's total refused before any training, and `privsynth budget show`."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from privsynth.cli import app
from privsynth.data.fingerprint import sha256_file
from privsynth.generators.marginal.mst import MST
from privsynth.privacy.ledger import BudgetLedger

runner = CliRunner()


def test_dp_tvae_run_is_booked_and_its_manifest_records_the_dpsgd_guarantee(tmp_path, write_threat_model):
    path = write_threat_model(generator__kind="dp-tvae", generator__params={"epochs": 2, "accountant": "prv"},
                              privacy__epsilon=4.0, privacy__total_epsilon=6.0)
    ledger = tmp_path / "ledger.sqlite"
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--ledger", str(ledger),
                                 "--device", "cpu"])
    assert result.exit_code in (0, 3), result.output
    assert "epoch 2/2: loss" in result.output and "epsilon spent" in result.output
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    privacy = json.loads((run_dir / "manifest.json").read_text())["privacy"]
    details = privacy["details"]
    assert details["accountant"] == "prv" and details["steps_run"] == details["steps"]
    assert {"noise_multiplier", "max_grad_norm", "sample_rate", "epsilon_spent"} <= set(details)
    assert privacy["epsilon"] <= 4.0
    (spend,) = BudgetLedger(ledger).spends()
    assert spend.status == "spent" and spend.release_id == run_dir.name
    assert spend.epsilon == privacy["epsilon"] and spend.mechanism == "dp-tvae"

    shown = runner.invoke(app, ["budget", "show", "--ledger", str(ledger)])
    assert shown.exit_code == 0, shown.output
    assert "adult_small.csv" in shown.output and run_dir.name in shown.output
    assert f"{6.0 - privacy['epsilon']:.4f}" in shown.output  # remaining of the declared total
    assert "no runs recorded" in runner.invoke(app, ["budget", "show", "other.csv", "--ledger", str(ledger)]).output


def test_a_run_over_the_total_is_refused_before_training(tmp_path, write_threat_model, small_adult_csv,
                                                          monkeypatch):
    ledger = BudgetLedger(tmp_path / "ledger.sqlite")
    entry = ledger.reserve(sha256_file(small_adult_csv), small_adult_csv.name, "earlier", "mst", 2.5, 1e-9, 3.0)
    ledger.settle(entry, 2.5, 1e-9, "mst")

    def must_not_train(*args, **kwargs):
        raise AssertionError("fit ran although the budget was exhausted")

    monkeypatch.setattr(MST, "fit", must_not_train)
    path = write_threat_model(privacy__epsilon=1.0, privacy__total_epsilon=3.0)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--ledger", str(ledger.path)])
    assert result.exit_code == 2, result.output
    assert "remaining budget 0.5 of privacy.total_epsilon 3" in " ".join(result.output.split())
    assert len(result.output.strip().splitlines()) <= 3  # one-line error (wrapped by the terminal at most)
    assert [s.release_id for s in ledger.spends()] == ["earlier"]
    assert not (tmp_path / "out").exists() or not any(p.is_dir() for p in (tmp_path / "out").iterdir())


def test_device_cuda_without_a_gpu_is_a_clear_error(tmp_path, write_threat_model, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = runner.invoke(app, ["run", str(write_threat_model()), "--out", str(tmp_path / "out"),
                                 "--device", "cuda"])
    assert result.exit_code == 2 and "no CUDA GPU" in result.output
