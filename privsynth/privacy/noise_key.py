"""The steward's secret noise key: why a published seed does not give away the DP noise.

Every noise draw of a fit (Gaussian measurements, exponential-mechanism choices, DP-SGD's noise and batch
sampling) comes from one generator seeded with the threat model's seed AND this key. The seed is printed in
the manifest so a release says how it was made; if it alone fixed the noise, anyone holding a release could
regenerate the noise and subtract it, and the guarantee would be gone. The key is 32 random bytes from the
operating system, created once beside the budget ledger (mode 0600, never inside a release folder); with it
the steward reproduces a run bit for bit, and the manifest carries only its SHA-256 as a commitment, so a
reviewer can check that a reproduction used the same key without learning it.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from privsynth.errors import PrivsynthError

NOISE_KEY_NAME = ".privsynth-noise-key"
KEY_BYTES = 32
#: a key file kept elsewhere (a vault mount, or the tests' fixed key) replaces the one beside the ledger
NOISE_KEY_ENV = "PRIVSYNTH_NOISE_KEY_FILE"


def noise_key_path(ledger_folder: str | Path) -> Path:
    """``$PRIVSYNTH_NOISE_KEY_FILE`` when set, else ``<ledger folder>/.privsynth-noise-key``."""
    override = os.environ.get(NOISE_KEY_ENV)
    return Path(override) if override else Path(ledger_folder) / NOISE_KEY_NAME


def load_or_create_noise_key(path: str | Path) -> bytes:
    """Read the key at ``path``, or create it atomically (O_EXCL, so two first runs agree on one key)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(os.urandom(KEY_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
        key = path.read_bytes()
    except OSError as exc:
        raise PrivsynthError(f"noise key {path}: cannot read or create it ({exc.strerror}); check the output "
                             "folder's permissions") from None
    if len(key) != KEY_BYTES:
        raise PrivsynthError(f"noise key {path}: {len(key)} bytes, expected {KEY_BYTES}; restore it from your "
                             "backup (or delete it to start a new key: earlier runs then no longer reproduce)")
    return key


def key_commitment(key: bytes) -> str:
    """The SHA-256 of the key: published in the manifest, reveals nothing of the noise."""
    return hashlib.sha256(key).hexdigest()


def key_entropy(key: bytes) -> int:
    """The key as one integer, to mix into a numpy SeedSequence."""
    return int.from_bytes(key, "big")
