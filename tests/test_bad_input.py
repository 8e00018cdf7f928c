"""Bad input: each case gets exit code 2 and ONE line naming what is wrong and where (no traceback)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from privsynth.cli import app

from .conftest import small_threat_model_doc

runner = CliRunner()


def _doc_case(**changes):
    def make(tmp: Path, csv: Path) -> Path:
        path = tmp / "tm.yaml"
        path.write_text(yaml.safe_dump(small_threat_model_doc(csv, **changes), sort_keys=False))
        return path

    return make


def _data_case(edit):
    """A threat model whose source is the small CSV after ``edit(frame) -> frame``."""

    def make(tmp: Path, csv: Path) -> Path:
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        data = tmp / "data.csv"
        edited = edit(frame)
        if isinstance(edited, str):
            data.write_text(edited)
        else:
            edited.to_csv(data, index=False)
        path = tmp / "tm.yaml"
        path.write_text(yaml.safe_dump(small_threat_model_doc(data), sort_keys=False))
        return path

    return make


def _text_case(text: str):
    def make(tmp: Path, csv: Path) -> Path:
        path = tmp / "tm.yaml"
        path.write_text(text)
        return path

    return make


def _set(frame, column, row, value):
    frame.loc[row, column] = value
    return frame


def _unconfirmed(tmp: Path, csv: Path) -> Path:
    doc = small_threat_model_doc(csv)
    doc["data"]["columns"]["fnlwgt"]["confirmed"] = False
    path = tmp / "tm.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


CASES = {
    "malformed yaml": (_text_case("name: x\n  data: [unclosed\n"), ["malformed YAML", "line"]),
    "yaml is not a mapping": (_text_case("- just\n- a list\n"), ["YAML mapping"]),
    "threat model file missing": (lambda tmp, csv: tmp / "nope.yaml", ["nope.yaml", "not found"]),
    "unknown key": (_doc_case(privacy__epsilom=1), ["privacy.epsilom", "spelling"]),
    "wrong type": (_doc_case(privacy__epsilon="lots"), ["privacy.epsilon", "number"]),
    "epsilon not positive": (_doc_case(privacy__epsilon=0), ["privacy.epsilon", "greater than 0"]),
    "holdout fraction out of range": (_doc_case(data__holdout_fraction=1.5), ["data.holdout_fraction"]),
    "undeclared known column": (_doc_case(attacker__known_columns=["zipcode"]), ["attacker.known_columns", "zipcode"]),
    "unknown generator": (_doc_case(generator__kind="magic"), ["generator.kind", "magic"]),
    "unknown generator parameter": (_doc_case(generator__params={"iterz": 3}), ["generator.params", "iterz"]),
    "non-DP generator without consent": (_doc_case(generator__kind="gaussian-copula", generator__params={}), ["allow_non_dp"]),
    "unconfirmed bounds from init": (_unconfirmed, ["fnlwgt", "confirmed"]),
    "data file missing": (_doc_case(data__source="missing.csv"), ["missing.csv", "not found"]),
    "unsupported file type": (_doc_case(data__source="table.xlsx"), ["table.xlsx"]),
    "empty file": (_data_case(lambda f: ""), ["empty"]),
    "header only": (_data_case(lambda f: f.iloc[:0]), ["no rows"]),
    "missing column": (_data_case(lambda f: f.drop(columns=["race"])), ["'race'", "missing"]),
    "undeclared column": (_data_case(lambda f: f.assign(ssn="x")), ["ssn", "not declared"]),
    "duplicate column names": (_data_case(lambda f: ",".join([*f.columns, "age"]) + "\n"
                                          + "\n".join(",".join([*r, r[0]]) for r in f.values[:5].tolist())),
                               ["duplicate", "age"]),
    "number outside bounds": (_data_case(lambda f: _set(f, "age", 3, "130")), ["'age'", "bounds", "[17, 90]"]),
    "category outside list": (_data_case(lambda f: _set(f, "race", 3, "Martian")), ["'race'", "Martian"]),
    "non-numeric in integer column": (_data_case(lambda f: _set(f, "hours_per_week", 2, "forty")),
                                      ["'hours_per_week'", "non-numeric"]),
    "fraction in integer column": (_data_case(lambda f: _set(f, "age", 2, "33.5")), ["'age'", "non-integer"]),
    "missing where not allowed": (_data_case(lambda f: _set(f, "sex", 4, "")), ["'sex'", "missing"]),
    "all-missing column": (_data_case(lambda f: f.assign(workclass="")), ["'workclass'", "entirely missing"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line_and_exit_2(case, tmp_path, small_adult_csv):
    make, expected = CASES[case]
    path = make(tmp_path, small_adult_csv)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    text = result.output.strip()
    assert result.exit_code == 2, text
    assert len(text.splitlines()) == 1, text
    assert text.startswith("error:")
    for fragment in expected:
        assert fragment in text, (fragment, text)
    assert "Traceback" not in text
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("synthetic*"))


def test_validate_lists_each_problem_on_its_own_line(tmp_path, small_adult_csv):
    path = _doc_case(privacy__epsilon=-2, attacks__n_attacks=1)(tmp_path, small_adult_csv)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert any("privacy.epsilon" in line for line in lines) and any("attacks.n_attacks" in line for line in lines)
