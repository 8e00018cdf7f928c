"""The CLI as a steward uses it: run (released / blocked / non-DP baseline), init, inspect, schema."""
from __future__ import annotations

import json

import pandas as pd
import yaml
from typer.testing import CliRunner

import privsynth
from privsynth.cli import app

runner = CliRunner()


def test_run_releases_and_load_verifies(tmp_path, write_threat_model):
    # 100 singling-out attacks give an interval about 0.12 wide: that gate is loosened too (a mechanics test)
    path = write_threat_model(gates__attribute_inference=0.6, gates__tvd_2way=0.4, gates__tvd_1way=0.2,
                              gates__tstr_auc_gap=0.35, gates__singling_out_multivariate=0.3)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "RELEASED" in result.output and "membership_distance_auc" in result.output
    (release,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]  # the budget ledger sits beside the runs
    frame = privsynth.load(release)
    assert len(frame) > 1000 and frame.attrs["privsynth"]["generator"]["kind"] == "mst"
    inspected = runner.invoke(app, ["inspect", str(release)])
    assert inspected.exit_code == 0 and "every file hash verified" in inspected.output


def test_aim_run_shows_each_round_and_records_its_guarantee(tmp_path, write_threat_model):
    result = runner.invoke(app, ["run", str(write_threat_model()), "--out", str(tmp_path / "out"),
                                 "--set", "generator.kind=aim", "--set", "gates.tvd_2way=0.001",
                                 "--set", "generator.params={max_rounds: 4, round_iters: 20, final_iters: 50}"])
    assert result.exit_code == 3, result.output  # blocked on purpose: the test is about the fit, not the gate
    assert "round 1: measured" in result.output and "rho left" in result.output
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]  # the budget ledger sits beside the runs
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["generator"]["kind"] == "aim" and manifest["privacy"]["mechanism"].startswith("AIM")
    assert 1 <= manifest["privacy"]["details"]["rounds"] <= 4
    assert sum(c["rho"] for c in manifest["privacy"]["charges"]) <= manifest["privacy"]["details"]["rho"] * (1 + 1e-9)


def test_blocked_run_exits_3_and_leaves_no_table(tmp_path, write_threat_model):
    result = runner.invoke(app, ["run", str(write_threat_model()), "--out", str(tmp_path / "out"),
                                 "--set", "gates.tvd_2way=0.001"])
    assert result.exit_code == 3, result.output
    assert "BLOCKED" in result.output and "tvd_2way" in result.output
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]  # the budget ledger sits beside the runs
    assert sorted(p.name for p in run_dir.iterdir()) == ["manifest.json", "report.html", "report.json"]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["decision"] == "blocked" and report["release_dir"] is None
    assert any(f["check"] == "tvd_2way" for f in report["failed_checks"])
    assert report["overrides"] == ["gates.tvd_2way=0.001"]


def test_non_dp_baseline_runs_with_consent_and_says_so(tmp_path, write_threat_model):
    result = runner.invoke(app, ["run", str(write_threat_model()), "--out", str(tmp_path / "out"),
                                 "--set", "generator.kind=gaussian-copula", "--set", "privacy.allow_non_dp=true",
                                 "--set", "generator.params={}"])
    assert result.exit_code in (0, 3), result.output
    assert "NONE (non-DP baseline)" in result.output
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]  # the budget ledger sits beside the runs
    report = json.loads((run_dir / "report.json").read_text())
    assert report["privacy"]["dp"] is False and report["privacy"]["epsilon"] is None


def test_init_scaffolds_and_run_refuses_until_confirmed(tmp_path, small_adult_csv):
    target = tmp_path / "tm" / "adult_draft.yaml"
    result = runner.invoke(app, ["init", str(small_adult_csv), "-o", str(target)])
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(target.read_text())
    assert all(c["confirmed"] is False for c in document["data"]["columns"].values())
    assert document["data"]["columns"]["age"]["type"] == "integer"
    assert runner.invoke(app, ["validate", str(target)]).exit_code == 0
    refused = runner.invoke(app, ["run", str(target), "--out", str(tmp_path / "out")])
    assert refused.exit_code == 2 and "confirmed" in refused.output
    again = runner.invoke(app, ["init", str(small_adult_csv), "-o", str(target)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_schema_is_json():
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert "attacker" in json.loads(result.output)["properties"]


def test_release_contains_no_source_record(tmp_path, write_threat_model, small_adult_csv):
    """DP_PITFALLS: no run folder keeps raw training rows. No line of the source CSV appears in any file."""
    path = write_threat_model(gates__attribute_inference=0.6, gates__tvd_2way=0.4, gates__tvd_1way=0.2,
                              gates__tstr_auc_gap=0.35, gates__singling_out_multivariate=0.3)
    runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    source_rows = set(pd.read_csv(small_adult_csv, dtype=str, keep_default_na=False)
                      .astype(str).agg(",".join, axis=1))
    for file in (tmp_path / "out").rglob("*"):
        if file.suffix in (".json", ".csv"):
            text = file.read_text()
            assert not any(row in text for row in list(source_rows)[:3000]), file


def test_init_proposes_log_scale_from_the_bounds_alone(tmp_path, small_adult_csv):
    target = tmp_path / "draft.yaml"
    assert runner.invoke(app, ["init", str(small_adult_csv), "-o", str(target)]).exit_code == 0
    columns = yaml.safe_load(target.read_text())["data"]["columns"]
    assert columns["capital_gain"]["scale"] == "log" and "scale" not in columns["age"]
    assert "scale: log proposed" in target.read_text()
