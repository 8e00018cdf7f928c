"""`privsynth init` drafts that a person can finish, and `validate --data` that checks a draft against its table."""
from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner

from privsynth.cli import app
from privsynth.data.bundled import bundled_table

runner = CliRunner()


def _init(data: Path, target: Path) -> tuple[str, dict]:
    result = runner.invoke(app, ["init", str(data), "-o", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    return text, yaml.safe_load(text)


def _confirm(path: Path, text: str) -> None:
    """What the person does after reviewing the flagged domains (the test trusts the draft's values)."""
    path.write_text(text.replace("confirmed: false", "confirmed: true"))


def test_init_on_bank_marketing_drafts_what_validate_data_accepts(tmp_path):
    data = tmp_path / "in" / "bank.csv.gz"
    data.parent.mkdir()
    data.write_bytes(bundled_table("bank_marketing").read_bytes())
    target = tmp_path / "tm" / "bank.yaml"
    start = time.perf_counter()
    text, doc = _init(data, target)
    assert time.perf_counter() - start < 20
    assert doc["data"]["source"] == os.path.join("..", "in", "bank.csv.gz")  # relative to the YAML
    assert doc["data"]["target"] == "y" and "# TODO review" in text.split("target: y", 1)[1].splitlines()[0]
    assert doc["attacker"]["known_columns"] == [] and "known_columns: []  # TODO" in text
    # category order as first seen in the table, not alphabetical
    with gzip.open(data, "rt") as handle:
        first_jobs = list(dict.fromkeys(pd.read_csv(handle, usecols=["job"], nrows=2000)["job"]))
    assert doc["data"]["columns"]["job"]["values"][:len(first_jobs)] == first_jobs
    assert doc["data"]["columns"]["month"]["values"][0] == "may"
    for section in ("privacy", "generator", "attacks", "gates", "output", "compute"):
        assert doc[section], section
    assert doc["attacks"]["shadow"]["enabled"] is True and doc["gates"]["linkability"] == 0.1
    assert all(c["confirmed"] is False for c in doc["data"]["columns"].values())
    refused = runner.invoke(app, ["validate", str(target), "--data"])
    assert refused.exit_code == 0 and "not confirmed" in refused.output  # valid draft, run would refuse
    _confirm(target, text)
    result = runner.invoke(app, ["validate", str(target), "--data"])
    assert result.exit_code == 0, result.output
    assert "known_columns is empty" in result.output


def test_init_drafts_codes_as_categories_and_no_weight_as_target(tmp_path, wide_code_csv):
    coded = pd.read_csv(wide_code_csv, dtype=str, keep_default_na=False)
    coded["sex"] = coded["sex"].map({"Male": "1", "Female": "2"})
    coded["id"] = range(1, len(coded) + 1)
    data = tmp_path / "coded.csv"
    coded.to_csv(data, index=False)
    target = tmp_path / "coded.yaml"
    text, doc = _init(data, target)
    columns = doc["data"]["columns"]
    assert columns["sex"] == {"type": "categorical", "values": ["1", "2"], "missing": False, "confirmed": False}
    assert columns["indp"]["type"] == "categorical" and len(columns["indp"]["values"]) == 300
    assert columns["wt"]["type"] == "float" and columns["id"]["type"] == "integer"
    assert columns["education_num"]["type"] == "integer"  # 16 values: a quantity, not a code
    assert doc["data"]["target"] == "income"  # the last two-valued column: not the weight, not the id
    _confirm(target, text)
    result = runner.invoke(app, ["validate", str(target), "--data"])
    assert result.exit_code == 0, result.output


def test_init_without_a_binary_column_proposes_no_target(tmp_path):
    data = tmp_path / "t.csv"
    pd.DataFrame({"code": ["a", "b", "c"] * 20, "weight": [1.5, 2.5, 3.25] * 20}).to_csv(data, index=False)
    _, doc = _init(data, tmp_path / "t.yaml")
    assert doc["data"]["target"] is None and doc["attacker"]["secret_columns"] == []


def test_validate_data_lists_every_problem_on_a_line(tmp_path, small_adult_csv):
    text, _ = _init(small_adult_csv, tmp_path / "adult.yaml")
    doc = yaml.safe_load(text.replace("confirmed: false", "confirmed: true"))
    columns = doc["data"]["columns"]
    columns["age"]["max"] = 30                        # values above the declared bound
    columns["sex"]["values"] = ["Male"]               # a category left out
    columns["ghost"] = {"type": "integer", "min": 0, "max": 1}  # declared, not in the table
    del columns["race"]                               # in the table, not declared
    columns["workclass"] = {"type": "integer", "min": 0, "max": 9, "missing": True}  # text declared a number
    doc["attacks"]["shadow"]["train_size"] = 5000     # more than the holdout
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = runner.invoke(app, ["validate", str(path), "--data"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("✗")]
    joined = " ".join(result.output.split())
    assert len(lines) == 6, result.output
    assert "['ghost']" in joined and "['race']" in joined
    assert "'age' has" in joined and "outside its bounds [17, 30]" in joined
    assert "'sex' has" in joined and "outside its 1 declared categories (1 distinct)" in joined
    assert "'workclass' is declared integer but has" in joined
    assert "train_size 5000 exceeds the holdout" in joined
    # nothing was fitted or booked: no output folder appeared
    assert not (tmp_path / "reports").exists()


def test_run_refuses_a_table_too_small_for_the_attacks_before_booking(tmp_path, write_threat_model):
    """What the attacks cannot handle is refused before the fit: nothing booked, nothing written."""
    from privsynth.privacy.ledger import BudgetLedger

    path = write_threat_model(name="toosmall", attacks__shadow={"enabled": True, "train_size": 5000})
    home = tmp_path / "home"
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--home", str(home)])
    assert result.exit_code == 2, result.output
    assert "train_size 5000 exceeds the" in " ".join(result.output.split())
    assert BudgetLedger(home / "ledger.sqlite").spends("toosmall") == []
