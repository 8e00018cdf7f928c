"""Atomic run folders that never overwrite, and the analyst's verified load."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from privsynth.errors import IntegrityError, ReleaseError
from privsynth.release.bundle import release_reservation, reserve_run_folder, write_run_folder
from privsynth.release.load import load, verify
from privsynth.release.table import synthetic_label


def test_run_folders_are_reserved_under_their_final_name_and_never_overwritten(tmp_path):
    first = reserve_run_folder(tmp_path, "run")
    second = reserve_run_folder(tmp_path, "run")
    assert (first.name, second.name) == ("run", "run-1")
    write_run_folder(first, {"review/a.txt": b"first"})
    with pytest.raises(ReleaseError, match="no longer empty"):
        write_run_folder(first, {"review/a.txt": b"second"})
    assert (first / "review" / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run-1"]  # no temporary folder left


def test_a_crash_while_writing_leaves_only_the_empty_reservation(tmp_path):
    folder = reserve_run_folder(tmp_path, "run")
    with pytest.raises(ValueError):
        write_run_folder(folder, {"review/a.txt": b"ok", "../escape.txt": b"no"})
    assert list(tmp_path.iterdir()) == [folder] and list(folder.iterdir()) == []
    release_reservation(folder)
    assert list(tmp_path.iterdir()) == []


def test_load_needs_only_the_public_release(released_run):
    shutil.rmtree(released_run / "review")
    frame = load(released_run)
    assert frame.attrs["privsynth"]["decision"] == "released"
    assert load(released_run / "release").equals(frame) and load(released_run / "release" / "manifest.json").equals(frame)


def test_tampered_missing_or_extra_files_make_load_raise(released_run):
    release = released_run / "release"
    table = release / "synthetic.parquet"
    original = table.read_bytes()
    table.write_bytes(original[:-10] + b"0123456789")
    with pytest.raises(IntegrityError, match="sha256 does not match"):
        load(release)
    table.write_bytes(original)
    (release / "notes.txt").write_text("hello")
    with pytest.raises(IntegrityError, match="not part of the release manifest"):
        verify(release)
    os.remove(release / "notes.txt")
    os.remove(table)
    with pytest.raises(IntegrityError, match="missing"):
        load(release)


def test_blocked_run_refuses_to_load(blocked_run):
    assert sorted(p.name for p in blocked_run.iterdir()) == ["review"]
    with pytest.raises(IntegrityError, match="blocked"):
        load(blocked_run)
    report = json.loads((blocked_run / "review" / "report.json").read_text())
    assert report["decision"] == "blocked" and report["release_dir"] is None


def test_load_gives_public_dtypes_and_provenance(released_run, adult_model):
    frame = load(released_run)
    assert list(frame["race"].cat.categories) == adult_model.data.columns["race"].values
    assert frame["age"].dtype == "int64"
    manifest = frame.attrs["privsynth"]
    assert manifest["privacy"]["dp"] is True and manifest["dp_outputs"]["epsilon_spent"] <= manifest["privacy"]["epsilon"]
    assert set(manifest["files"]) == {"synthetic.parquet"}
    label = synthetic_label(str(released_run / "release" / "synthetic.parquet"))
    assert label["synthetic"] is True and label["run"] == manifest["run"] and "SYNTHETIC" in label["notice"]


def test_a_legacy_run_folder_loads_read_only_with_a_warning(released_run, tmp_path):
    """Version-1 folders (manifest beside the table, a source hash inside) still load, and say why not to share."""
    from privsynth.release.load import LegacyReleaseWarning
    from privsynth.release.manifest import sha256_of

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    shutil.copy(released_run / "release" / "synthetic.parquet", legacy)
    current = json.loads((released_run / "release" / "manifest.json").read_text())
    (legacy / "manifest.json").write_text(json.dumps({
        "privsynth_manifest": 1, "run": "old", "decision": "released", "source": {"sha256": "ab" * 32},
        "threat_model": {"document": current["threat_model"]["document"]},
        "files": {"synthetic.parquet": {"sha256": sha256_of(legacy / "synthetic.parquet")}}}))
    with pytest.warns(LegacyReleaseWarning, match="predates privsynth's public/internal split"):
        frame = load(legacy)
    assert len(frame) == current["dp_outputs"]["rows"]


def test_a_killed_runs_temporary_folder_is_removed_by_the_next_check(tmp_path):
    from privsynth.release.bundle import STALE_SECONDS, check_output_folder

    stale, fresh = tmp_path / ".tmp-run-0badc0de", tmp_path / ".tmp-run2-12345678"
    for folder in (stale, fresh):
        (folder / "review").mkdir(parents=True)
        (folder / "review" / "report.json").write_text("{}")
    old = os.stat(stale).st_mtime - STALE_SECONDS - 10
    os.utime(stale, (old, old))
    assert check_output_folder(tmp_path) == [stale.name]
    assert not stale.exists() and fresh.exists()  # a run writing right now is left alone


def test_an_output_folder_that_is_a_file_is_refused(tmp_path):
    from privsynth.release.bundle import check_output_folder

    (tmp_path / "file").write_text("x")
    with pytest.raises(ReleaseError, match="not a folder"):
        check_output_folder(tmp_path / "file")
