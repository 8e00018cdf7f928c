"""A run's folder: reserved under its final name when the run starts, filled atomically when it ends.

Layout of ``OUT/<run>/``:

* ``release/`` (released runs only): the public release, the one folder a steward hands to anyone: the
  synthetic table and its public manifest (release/manifest.py).
* ``review/``: the internal review package for the steward and the compliance reviewer (report/review.py).
  It describes private data and never travels with the release.

The bundle is the only authority on the run's name: ``reserve_run_folder`` creates ``OUT/<name>`` (or
``<name>-1``, ... when taken) as an empty folder with one ``mkdir``, which no other run can also win, before
the ledger or any document records the name. At the end every file is written into a hidden temporary
folder beside it, flushed to disk, and the temporary folder is renamed onto the reserved, still empty one in
one step (rename(2) replaces an empty directory atomically): a crash leaves the empty reservation, never a half
run; an existing run is never overwritten, since rename refuses a folder that is not empty.
"""
from __future__ import annotations

import errno
import os
import shutil
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Mapping

from privsynth.errors import ReleaseError

RELEASE_DIR = "release"
REVIEW_DIR = "review"
TMP_PREFIX = ".tmp-"
#: a temporary folder this old was left by a killed run (a write takes seconds): the next run removes it
STALE_SECONDS = 3600


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_output_folder(out_dir: Path) -> list[str]:
    """Refuse an output folder that cannot take a run folder, before the run reads data or books budget: create
    it if needed, then create and remove a probe folder in it (permission bits alone say nothing to root or on
    a read-only mount). Returns the names of stale temporary folders it removed (``remove_stale_temporaries``)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ReleaseError(f"{out_dir}: is a file, not a folder; choose an output folder with --out")
    probe = out_dir / f"{TMP_PREFIX}probe-{uuid.uuid4().hex[:8]}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise ReleaseError(f"{out_dir}: the output folder is not writable ({exc.strerror}); fix its permissions or "
                           "choose another with --out") from None
    return remove_stale_temporaries(out_dir)


def remove_stale_temporaries(out_dir: Path, older_than: float = STALE_SECONDS) -> list[str]:
    """Remove ``.tmp-*`` folders a killed run left in ``out_dir`` (they may hold a review package, which
    describes private data, hidden where nobody looks). Only folders untouched for ``older_than`` seconds go:
    a run writing right now is never disturbed."""
    removed = []
    now = time.time()
    for path in sorted(out_dir.glob(f"{TMP_PREFIX}*")):
        try:
            if path.is_dir() and not path.is_symlink() and now - path.stat().st_mtime > older_than:
                shutil.rmtree(path)
                removed.append(path.name)
        except OSError:
            continue
    return removed


def reserve_run_folder(out_dir: Path, name: str) -> Path:
    """Create ``out_dir/name`` (or the first free ``name-N``) empty, and return it: the run's final folder."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReleaseError(f"{out_dir}: cannot create the output folder ({exc.strerror}); choose another with --out")
    for attempt in range(1000):
        folder = out_dir / (name if attempt == 0 else f"{name}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise ReleaseError(f"{out_dir}: cannot create a run folder there ({exc.strerror}); check its permissions "
                               "or choose another with --out") from None
        return folder
    raise ReleaseError(f"{out_dir}: too many runs named {name!r}; clean up or choose another --out")


def release_reservation(folder: Path) -> None:
    """Give back a reserved folder that was never filled (the run failed before writing)."""
    try:
        folder.rmdir()
    except OSError:
        pass


def write_run_folder(folder: Path, files: Mapping[str, bytes]) -> Path:
    """Fill the reserved, empty ``folder`` with ``files`` (relative POSIX path -> bytes) in one atomic step."""
    for relative in files:
        parts = PurePosixPath(relative).parts
        if PurePosixPath(relative).is_absolute() or ".." in parts or len(parts) != 2:
            raise ValueError(f"run folder files are <release|review>/<name>, got {relative!r}")
    tmp = folder.parent / f"{TMP_PREFIX}{folder.name}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        for relative, content in files.items():
            path = tmp / relative
            path.parent.mkdir(exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        for sub in tmp.iterdir():
            _fsync_dir(sub)
        try:
            os.rename(tmp, folder)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise ReleaseError(f"{folder}: the run's reserved folder is no longer empty; something else wrote "
                                   "into it, so nothing was overwritten (the results were not saved)") from None
            raise ReleaseError(f"{folder}: cannot publish the run folder ({exc.strerror})") from None
        _fsync_dir(folder.parent)
        return folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
