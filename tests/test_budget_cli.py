"""The ledger as a steward meets it: a DP-SGD run booked with its guarantee in the public manifest, runs over
the data set's total refused before any training (a re-exported file included), `privsynth dataset register`
and `privsynth budget show`, and the ledger and key kept out of every output folder."""
from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from privsynth.cli import app
from privsynth.data.fingerprint import rows_fingerprint
from privsynth.data.io import check_table, read_raw
from privsynth.generators.marginal.mst import MST
from privsynth.privacy.ledger import BudgetLedger
from privsynth.threat_model import load_threat_model
from tests.conftest import TEST_NOISE_KEY

runner = CliRunner()


def _one_line(output: str) -> str:
    return " ".join(output.split())


def test_dp_tvae_run_is_booked_and_its_manifest_records_the_dpsgd_guarantee(tmp_path, write_threat_model):
    path = write_threat_model(generator__kind="dp-tvae", generator__params={"epochs": 2, "accountant": "prv"},
                              privacy__epsilon=4.0, privacy__total_epsilon=6.0, data__dataset="adult-small")
    home = tmp_path / "home"
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--home", str(home),
                                 "--device", "cpu"])
    assert result.exit_code in (0, 3), result.output
    assert "epoch 2/2: loss" in result.output and "epsilon spent" in result.output
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    report = json.loads((run_dir / "review" / "report.json").read_text())
    details = report["privacy"]["details"]
    assert details["accountant"] == "prv" and details["steps_run"] == details["steps"]
    assert {"noise_multiplier", "max_grad_norm", "sample_rate", "epsilon_spent"} <= set(details)
    spent = report["privacy"]["epsilon"]
    assert spent <= 4.0
    if result.exit_code == 0:
        manifest = json.loads((run_dir / "release" / "manifest.json").read_text())
        assert manifest["dp_outputs"]["details"]["noise_multiplier"] == details["noise_multiplier"]
        assert manifest["dp_outputs"]["epsilon_spent"] == spent and manifest["privacy"]["epsilon"] == 4.0
    (spend,) = BudgetLedger(home / "ledger.sqlite").spends()
    assert spend.status == "spent" and spend.release_id == run_dir.name and spend.dataset == "adult-small"
    assert spend.epsilon == spent and spend.mechanism == "dp-tvae" and spend.outcome == report["decision"]

    shown = runner.invoke(app, ["budget", "show", "--home", str(home)])
    assert shown.exit_code == 0, shown.output
    assert "adult-small" in shown.output and run_dir.name in shown.output
    assert f"{6.0 - spent:.4f}" in shown.output  # remaining of the registered total
    assert "no data set registered" in runner.invoke(app, ["budget", "show", "other", "--home", str(home)]).output


def _spend_earlier(home, dataset: str, epsilon: float, total: float, rows: str | None = None) -> BudgetLedger:
    ledger = BudgetLedger(home / "ledger.sqlite")
    entry = ledger.reserve(dataset, "earlier", "mst", epsilon, 1e-9, total_epsilon=total, rows_fingerprint=rows)
    ledger.settle(entry, epsilon, 1e-9, "mst")
    return ledger


def _refuse_fit(monkeypatch) -> None:
    def must_not_train(*args, **kwargs):
        raise AssertionError("fit ran although the budget was exhausted")

    monkeypatch.setattr(MST, "fit", must_not_train)


def test_a_run_over_the_total_is_refused_before_training(tmp_path, write_threat_model, monkeypatch):
    home = tmp_path / "home"
    ledger = _spend_earlier(home, "adult", 2.5, 3.0)
    _refuse_fit(monkeypatch)
    path = write_threat_model(privacy__epsilon=1.0, privacy__total_epsilon=3.0)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--home", str(home)])
    assert result.exit_code == 2, result.output
    assert "exceeds the remaining 0.5 of its total epsilon 3" in _one_line(result.output)
    assert len(result.output.strip().splitlines()) <= 3  # one-line error (wrapped by the terminal at most)
    assert [s.release_id for s in ledger.spends()] == ["earlier"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_re_exported_file_draws_on_the_same_budget(tmp_path, write_threat_model, small_adult_csv, monkeypatch):
    """Reordered rows, another file format: the same rows, so the same budget, under any threat model name."""
    home = tmp_path / "home"
    model = load_threat_model(write_threat_model()).model
    original, _ = check_table(read_raw(small_adult_csv), model.data, "original")
    copy = read_raw(small_adult_csv).sample(frac=1.0, random_state=np.random.RandomState(3))
    exported = tmp_path / "exported.parquet"
    copy.reset_index(drop=True).to_parquet(exported, index=False)
    again, _ = check_table(read_raw(exported), model.data, "exported")
    assert rows_fingerprint(original, TEST_NOISE_KEY) == rows_fingerprint(again, TEST_NOISE_KEY)
    ledger = _spend_earlier(home, "adult", 2.5, 3.0, rows=rows_fingerprint(original, TEST_NOISE_KEY))
    _refuse_fit(monkeypatch)
    same_name = write_threat_model("same.yaml", data__source=str(exported))
    result = runner.invoke(app, ["run", str(same_name), "--out", str(tmp_path / "out"), "--home", str(home)])
    assert result.exit_code == 2 and "exceeds the remaining 0.5 of its total epsilon 3" in _one_line(result.output)
    other_name = write_threat_model("other.yaml", data__source=str(exported), data__dataset="adult-copy")
    result = runner.invoke(app, ["run", str(other_name), "--out", str(tmp_path / "out"), "--home", str(home)])
    assert result.exit_code == 2, result.output
    assert "already booked under dataset 'adult'" in _one_line(result.output)
    assert [s.release_id for s in ledger.spends()] == ["earlier"]


def test_dataset_register_fixes_the_totals(tmp_path, write_threat_model, monkeypatch):
    home = tmp_path / "home"
    registered = runner.invoke(app, ["dataset", "register", "adult", "--total-epsilon", "2", "--total-delta", "1e-8",
                                     "--home", str(home)])
    assert registered.exit_code == 0 and "total epsilon 2, total delta 1e-08" in registered.output
    raised = runner.invoke(app, ["dataset", "register", "adult", "--total-epsilon", "5", "--home", str(home)])
    assert raised.exit_code == 2 and "cannot raise it to 5" in _one_line(raised.output)
    _refuse_fit(monkeypatch)
    greedy = write_threat_model(privacy__epsilon=1.0, privacy__total_epsilon=10.0)
    result = runner.invoke(app, ["run", str(greedy), "--out", str(tmp_path / "out"), "--home", str(home)])
    assert result.exit_code == 2 and "registered as 2; a run cannot raise it to 10" in _one_line(result.output)


def test_the_ledger_and_key_stay_out_of_the_output_folder(tmp_path, write_threat_model, monkeypatch, pipeline_runs):
    released, _ = pipeline_runs
    out = released.run_dir.parent
    assert not [p for p in out.rglob("*") if p.suffix == ".sqlite" or "key" in p.name]
    monkeypatch.delenv("PRIVSYNTH_NOISE_KEY_FILE")
    result = runner.invoke(app, ["run", str(write_threat_model()), "--out", str(tmp_path / "out"),
                                 "--home", str(tmp_path / "out" / "state")])
    assert result.exit_code == 2 and "lies inside the output folder" in _one_line(result.output)


def test_device_cuda_without_a_gpu_is_a_clear_error(tmp_path, write_threat_model, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = runner.invoke(app, ["run", str(write_threat_model()), "--out", str(tmp_path / "out"),
                                 "--device", "cuda"])
    assert result.exit_code == 2 and "no CUDA GPU" in result.output
