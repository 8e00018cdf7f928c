"""Atomic run folders that never overwrite, and the analyst's verified load."""
from __future__ import annotations

import json
import os

import pytest

from privsynth.errors import IntegrityError
from privsynth.release.bundle import write_run_folder
from privsynth.release.load import load, verify


def _writer(text):
    return lambda path: path.write_text(text)


def test_existing_release_is_never_overwritten(tmp_path):
    first = write_run_folder(tmp_path, "run", {"a.txt": _writer("first")})
    second = write_run_folder(tmp_path, "run", {"a.txt": _writer("second")})
    assert first.name == "run" and second.name == "run-1"
    assert (first / "a.txt").read_text() == "first"


def test_a_crash_while_writing_leaves_nothing(tmp_path):
    def explode(path):
        path.write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_run_folder(tmp_path, "run", {"a.txt": _writer("ok"), "b.txt": explode})
    assert list(tmp_path.iterdir()) == []


def test_tampered_missing_or_extra_files_make_load_raise(released_run):
    frame = load(released_run)
    assert frame.attrs["privsynth"]["decision"] == "released"
    table = released_run / "synthetic.parquet"
    original = table.read_bytes()
    table.write_bytes(original[:-10] + b"0123456789")
    with pytest.raises(IntegrityError, match="sha256 does not match"):
        load(released_run)
    table.write_bytes(original)
    (released_run / "notes.txt").write_text("hello")
    with pytest.raises(IntegrityError, match="not part of the release manifest"):
        verify(released_run)
    os.remove(released_run / "notes.txt")
    os.remove(released_run / "report.json")
    with pytest.raises(IntegrityError, match="missing"):
        load(released_run)


def test_blocked_run_refuses_to_load(blocked_run):
    with pytest.raises(IntegrityError, match="blocked"):
        load(blocked_run)
    report = json.loads((blocked_run / "report.json").read_text())
    assert report["decision"] == "blocked" and report["release_dir"] is None


def test_load_gives_public_dtypes_and_provenance(released_run, adult_model):
    frame = load(released_run)
    assert list(frame["race"].cat.categories) == adult_model.data.columns["race"].values
    assert frame["age"].dtype == "int64"
    manifest = frame.attrs["privsynth"]
    assert manifest["privacy"]["dp"] is True and manifest["privacy"]["epsilon"] <= manifest["privacy"]["epsilon_budget"]
    assert set(manifest["files"]) == {"synthetic.parquet", "report.json", "report.html"}
