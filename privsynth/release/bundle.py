"""Writing a run folder atomically, never over an existing one.

Files are written into a hidden temporary folder next to the destination, flushed to disk, and the folder
is renamed into place in one step: a crash leaves either no run folder or a complete one (plus, at worst, a
hidden ``.tmp-*`` folder). rename(2) refuses a non-empty destination, so an existing release is never
overwritten; a name already taken gets a numeric suffix instead.
"""
from __future__ import annotations

import errno
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, Mapping

from privsynth.errors import ReleaseError

FileWriter = Callable[[Path], None]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_run_folder(out_dir: Path, name: str, writers: Mapping[str, FileWriter],
                     after_files: Callable[[Path], Mapping[str, FileWriter]] | None = None) -> Path:
    """Write ``writers`` (file name -> function writing that file) into ``out_dir/name`` atomically.

    ``after_files`` is called with the temporary folder once the first files exist (to hash them into a
    manifest) and returns more writers.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReleaseError(f"{out_dir}: cannot create the output folder ({exc.strerror}); choose another with --out")
    tmp = out_dir / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for file_name, write in writers.items():
            write(tmp / file_name)
        if after_files is not None:
            for file_name, write in after_files(tmp).items():
                write(tmp / file_name)
        for child in tmp.iterdir():
            with open(child, "rb") as handle:
                os.fsync(handle.fileno())
        return _publish(tmp, out_dir, name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _publish(tmp: Path, out_dir: Path, name: str) -> Path:
    for attempt in range(1000):
        final = out_dir / (name if attempt == 0 else f"{name}-{attempt}")
        try:
            if final.exists():
                continue
            os.rename(tmp, final)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                continue
            raise ReleaseError(f"{final}: cannot publish the run folder ({exc.strerror})") from None
        _fsync_dir(out_dir)
        return final
    raise ReleaseError(f"{out_dir}: too many runs named {name!r}; clean up or choose another --out")
