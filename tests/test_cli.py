"""The CLI as a steward uses it: run (released / blocked / non-DP baseline), init, inspect, schema."""
from __future__ import annotations

import json

import pandas as pd
import yaml
from typer.testing import CliRunner

import privsynth
from privsynth.cli import app

from tests.conftest import LOOSE_GATES

runner = CliRunner()


def test_run_releases_and_load_verifies(tmp_path, write_threat_model):
    path = write_threat_model(**LOOSE_GATES)  # a mechanics test: the gate's arithmetic is tested elsewhere
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "RELEASED" in result.output and "membership_distance_auc" in result.output
    (run_dir,) = list((tmp_path / "out").iterdir())  # the ledger and key live in the steward's home, not here
    assert "RELEASED" in result.output and str(run_dir / "release") in "".join(result.output.split())
    frame = privsynth.load(run_dir / "release")
    assert len(frame) > 1000 and frame.attrs["privsynth"]["generator"]["kind"] == "mst"
    inspected = runner.invoke(app, ["inspect", str(run_dir / "release")])
    assert inspected.exit_code == 0 and "every file hash verified" in inspected.output


def test_aim_run_shows_each_round_and_records_its_guarantee(tmp_path, write_threat_model):
    result = runner.invoke(app, ["run", str(write_threat_model()), "--out", str(tmp_path / "out"),
                                 "--set", "generator.kind=aim", "--set", "gates.tvd_2way=0.001",
                                 "--set", "generator.params={max_rounds: 4, round_iters: 20, final_iters: 50}"])
    assert result.exit_code == 3, result.output  # blocked on purpose: the test is about the fit, not the gate
    assert "round 1: measured" in result.output and "rho left" in result.output
    (run_dir,) = list((tmp_path / "out").iterdir())
    report = json.loads((run_dir / "review" / "report.json").read_text())
    assert report["generator"] == "aim" and report["privacy"]["mechanism"].startswith("AIM")
    assert 1 <= report["privacy"]["details"]["rounds"] <= 4
    assert sum(c["rho"] for c in report["privacy"]["charges"]) <= report["privacy"]["details"]["rho"] * (1 + 1e-9)


def test_blocked_run_exits_3_and_leaves_no_table(tmp_path, write_threat_model):
    result = runner.invoke(app, ["run", str(write_threat_model()), "--out", str(tmp_path / "out"),
                                 "--set", "gates.tvd_2way=0.001"])
    assert result.exit_code == 3, result.output
    assert "BLOCKED" in result.output and "tvd_2way" in result.output
    (run_dir,) = list((tmp_path / "out").iterdir())
    assert sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")) == \
        ["review", "review/README.txt", "review/private_record.json", "review/report.html", "review/report.json"]
    report = json.loads((run_dir / "review" / "report.json").read_text())
    assert report["decision"] == "blocked" and report["release_dir"] is None
    assert any(f["check"] == "tvd_2way" for f in report["failed_checks"])
    assert report["overrides"] == ["gates.tvd_2way=0.001"]


def test_non_dp_baseline_runs_with_consent_and_says_so(tmp_path, write_threat_model):
    result = runner.invoke(app, ["run", str(write_threat_model()), "--out", str(tmp_path / "out"),
                                 "--set", "generator.kind=gaussian-copula", "--set", "privacy.allow_non_dp=true",
                                 "--set", "generator.params={}"])
    assert result.exit_code in (0, 3), result.output
    assert "NONE (non-DP baseline)" in result.output
    (run_dir,) = list((tmp_path / "out").iterdir())
    report = json.loads((run_dir / "review" / "report.json").read_text())
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
    path = write_threat_model(**LOOSE_GATES)
    assert runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")]).exit_code == 0
    (run_dir,) = list((tmp_path / "out").iterdir())
    assert len(pd.read_parquet(run_dir / "release" / "synthetic.parquet")) > 1000
    source_rows = set(pd.read_csv(small_adult_csv, dtype=str, keep_default_na=False)
                      .astype(str).agg(",".join, axis=1))
    for file in (tmp_path / "out").rglob("*"):
        if file.suffix in (".json", ".csv", ".html", ".txt"):
            text = file.read_text()
            assert not any(row in text for row in list(source_rows)[:3000]), file
    # and the released table itself holds no source row (fnlwgt alone makes a chance match very unlikely)
    synthetic = pd.read_parquet(run_dir / "release" / "synthetic.parquet").astype(object)
    as_text = synthetic.where(synthetic.notna(), "").astype(str).agg(",".join, axis=1)
    assert len(set(as_text) & source_rows) <= 1


def _commands(group, prefix=()):
    import typer.main

    click_group = typer.main.get_command(group) if not hasattr(group, "commands") else group
    for name, command in click_group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_command_has_help_with_an_example():
    commands = list(_commands(app))
    assert {("run",), ("validate",), ("dataset", "register"), ("budget", "show"), ("sweep",)} <= set(commands)
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Example: privsynth " + " ".join(command) in " ".join(result.output.split()), command


def test_init_proposes_log_scale_from_the_bounds_alone(tmp_path, small_adult_csv):
    target = tmp_path / "draft.yaml"
    assert runner.invoke(app, ["init", str(small_adult_csv), "-o", str(target)]).exit_code == 0
    columns = yaml.safe_load(target.read_text())["data"]["columns"]
    assert columns["capital_gain"]["scale"] == "log" and "scale" not in columns["age"]
    assert "scale: log proposed" in target.read_text()


def test_replay_of_a_time_budgeted_aim_fit_is_refused_before_anything_runs(tmp_path, write_threat_model):
    """An AIM fit stopped by max_seconds depends on the clock: a replay could stop at another round and
    publish a second table from the same noise, so --replay refuses it before reading any row."""
    path = write_threat_model(generator__kind="aim", generator__params={"max_seconds": 60})
    loaded = privsynth.threat_model.load_threat_model(path)
    record = tmp_path / "private_record.json"
    record.write_text(json.dumps({"nonce": "00" * 32, "threat_model": {"sha256": loaded.model.sha256()},
                                  "source": {"rows_fingerprint": "f" * 64}}))
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--home", str(tmp_path / "home"),
                                 "--replay", str(record)])
    assert result.exit_code != 0 and "max_seconds" in result.output and "refused" in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "home").exists()
