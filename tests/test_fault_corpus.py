"""The fault corpus of issue 23: each hostile or careless input the fault campaign found mishandled, as the CLI
meets it. Every case exits with its code and ONE line naming the problem, prints no traceback, and (for
`run`) leaves the steward's ledger exactly as it was: nothing known before the fit may cost budget.

Forged releases are refused by `load` and `inspect` in tests/release/test_forgery.py; here they are tried
once more with the steward's key pinned (`inspect --key`)."""
from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from privsynth.cli import app
from privsynth.privacy.home import StewardHome
from privsynth.release.signing import public_fingerprint

from .conftest import ADULT_YAML, small_threat_model_doc
from .release.test_forgery import FORGERIES

runner = CliRunner()

LAUGHS = "".join(f"    {n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
BILLION_LAUGHS_PARAMS = "  params:\n    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + LAUGHS


def _adult_text(old: str, new: str) -> Callable[[Path, Path], Path]:
    """The shipped adult.yaml with one piece of text replaced (what a person editing it would do)."""

    def make(tmp: Path, csv: Path) -> Path:
        text = ADULT_YAML.read_text()
        assert old in text, old
        path = tmp / "tm.yaml"
        path.write_text(text.replace(old, new, 1))
        return path

    return make


def _doc(**changes) -> Callable[[Path, Path], Path]:
    def make(tmp: Path, csv: Path) -> Path:
        path = tmp / "tm.yaml"
        path.write_text(yaml.safe_dump(small_threat_model_doc(csv, **changes), sort_keys=False))
        return path

    return make


def _rows(n: int, **changes) -> Callable[[Path, Path], Path]:
    """A threat model over the first ``n`` rows of the small table."""

    def make(tmp: Path, csv: Path) -> Path:
        data = tmp / "few.csv"
        pd.read_csv(csv, dtype=str, keep_default_na=False).head(n).to_csv(data, index=False)
        path = tmp / "tm.yaml"
        path.write_text(yaml.safe_dump(small_threat_model_doc(data, **changes), sort_keys=False))
        return path

    return make


def _separated(separator: str) -> Callable[[Path, Path], Path]:
    """The small table saved with another separator (a spreadsheet's export in many locales)."""

    def make(tmp: Path, csv: Path) -> Path:
        data = tmp / "semicolons.csv"
        pd.read_csv(csv, dtype=str, keep_default_na=False).to_csv(data, index=False, sep=separator)
        path = tmp / "tm.yaml"
        path.write_text(yaml.safe_dump(small_threat_model_doc(data), sort_keys=False))
        return path

    return make


def _free_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unreachable_scheduler(tmp: Path, csv: Path) -> Path:
    return _doc(compute__scheduler=f"tcp://127.0.0.1:{_free_port()}",
                attacks__shadow={"enabled": True, "shadow_runs": 4, "train_size": 100})(tmp, csv)


#: name -> (threat model maker, extra CLI arguments (with {tmp}), fragments the one line must contain)
CASES: dict[str, tuple[Callable[[Path, Path], Path], list[str], list[str]]] = {
    "billion laughs in generator.params": (_adult_text("  params: {}\n", BILLION_LAUGHS_PARAMS), [],
                                           ["anchors and aliases", "line"]),
    "duplicate key": (_adult_text("  seed: 0\nattacks:", "  seed: 0\n  seed: 3\nattacks:"), [],
                      ["duplicate key 'seed'", "first at line"]),
    "deep nesting": (_adult_text("  params: {}\n", "  params: " + "[" * 5000 + "]" * 5000 + "\n"), [],
                     ["nested more than"]),
    "epsilon: true": (_adult_text("  epsilon: 1.0", "  epsilon: true"), [], ["privacy.epsilon", "boolean"]),
    "epsilon: .nan": (_adult_text("  epsilon: 1.0", "  epsilon: .nan"), [], ["privacy.epsilon", "NaN"]),
    "integer bound beyond int64": (_adult_text("      max: 90\n", "      max: 1e40\n"), [],
                                   ["data.columns.age", "64-bit"]),
    "threat model is a folder": (lambda tmp, csv: tmp, [], ["is a folder"]),
    "known column also dropped": (_doc(data__drop_columns=["age"]), [],
                                  ["attacker.known_columns ['age']", "drop_columns"]),
    "n_rows above the limit": (_doc(generator__n_rows=20_000_000), [], ["generator.n_rows", "10000000"]),
    "output folder is a file": (_doc(), ["--out", "{tmp}/taken.txt"], ["taken.txt", "not a folder"]),
    "60-row table": (_rows(60), [], ["attacks need at least", "holdout"]),
    "shadow train_size larger than the holdout": (
        _doc(attacks__shadow={"enabled": True, "shadow_runs": 4, "train_size": 5000}), [],
        ["attacks.shadow.train_size 5000", "holdout rows"]),
    "unreachable scheduler": (_unreachable_scheduler, [], ["compute.scheduler", "cannot reach"]),
    "semicolon-separated CSV": (_separated(";"), [], ["separated by semicolons"]),
    "data.source is a folder": (_doc(data__source="."), [], ["is a folder"]),
}


def _ledger_state(home: Path) -> str:
    path = StewardHome(home).ledger_path
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


@pytest.mark.parametrize("case", list(CASES))
def test_fault_is_refused_in_one_line_before_any_budget(case, tmp_path, small_adult_csv):
    make, extra, fragments = CASES[case]
    threat_model = make(tmp_path, small_adult_csv)
    (tmp_path / "taken.txt").write_text("a file where the output folder should be")
    home = tmp_path / "home"
    StewardHome(home).ledger().register("adult", 10.0, None)  # a ledger with a booked data set
    before = _ledger_state(home)
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    result = runner.invoke(app, ["run", str(threat_model), *args, "--home", str(home)])
    text = result.output.strip()
    assert result.exit_code == 2, text
    assert len(text.splitlines()) == 1 and text.startswith("error:"), text
    assert "Traceback" not in text and len(text) < 2000
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    assert _ledger_state(home) == before, "a refused run changed the ledger"
    assert not any((tmp_path / "out").rglob("*")) if (tmp_path / "out").exists() else True


VALIDATE_CASES = [c for c in CASES if c in ("billion laughs in generator.params", "duplicate key", "deep nesting",
                                            "epsilon: true", "epsilon: .nan", "integer bound beyond int64",
                                            "known column also dropped", "n_rows above the limit")]


@pytest.mark.parametrize("case", VALIDATE_CASES)
def test_validate_refuses_in_one_line(case, tmp_path, small_adult_csv):
    make, _, fragments = CASES[case]
    path = make(tmp_path, small_adult_csv)
    start = time.perf_counter()
    result = runner.invoke(app, ["validate", str(path)])
    elapsed = time.perf_counter() - start
    text = result.output.strip()
    assert result.exit_code == 2 and len(text.splitlines()) == 1, text
    assert "Traceback" not in text and all(f in text for f in fragments), text
    assert elapsed < 1.0, f"validate took {elapsed:.2f} s"


def test_a_tiny_candidate_blocks_as_not_measured_without_a_traceback(tmp_path, write_threat_model):
    """The fit ran (so its budget is spent), but a 5-row candidate cannot be attacked: blocked, reasons named."""
    path = write_threat_model(generator__n_rows=5)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert "not measured" in result.output and "5 row(s)" in result.output


@pytest.mark.parametrize("case", list(FORGERIES))
def test_forged_release_is_refused_with_the_stewards_key_pinned(case, released_run, blocked_run):
    forge, message = FORGERIES[case]
    target = forge(released_run, blocked_run)
    key = public_fingerprint(StewardHome.locate().signing_key())
    result = runner.invoke(app, ["inspect", str(target), "--key", key])
    text = result.output.strip()
    assert result.exit_code == 2 and len(text.splitlines()) == 1 and text.startswith("error:"), text
    assert "Traceback" not in text
