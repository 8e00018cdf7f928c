"""Where a fit's DP noise comes from: the steward's secret key and a fresh nonce per run, never the public seed.

A release says how it was made (generator, parameters, the public ``generator.seed``), so nothing it publishes
may fix the noise. If the seed did, anyone could regenerate the noise and subtract it. If one key did (as it
once did here), two releases of one table would share their noise: their difference cancels it, and a run on
D and one on D plus a row would differ by exactly that row. So every run draws 32 bytes from the operating
system (``secrets``), mixes them with the steward's key, and seeds ALL of its secret randomness from the pair:
every Gaussian measurement, exponential-mechanism choice, DP-SGD noise and batch, and the train/holdout split.
No two runs share noise, whatever their seeds.

The key (32 random bytes, mode 0600) lives in the steward's state folder (privacy/home.py), never in a release
or an output folder. The nonce is kept only in the steward's private records (the ledger and the review
package's private record); with key and nonce a run reproduces bit for bit (``privsynth run --replay``),
without them nobody can. The public manifest carries neither (nor a hash of the key: a commitment to a
secret is not needed by anyone who cannot see the secret, and it is kept in the review package instead).

Shadow-model and canary fits simulate an attacker on the holdout population; their outputs go to the internal
review only, so they may draw from a public, seeded ``NoiseSource.simulation`` (reproducible attacks).
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from privsynth.errors import PrivsynthError

KEY_BYTES = NONCE_BYTES = 32
NOISE_KEY_NAME = "noise-key"
#: a key file kept elsewhere (a vault mount, or the tests' fixed key) replaces the one in the steward's home
NOISE_KEY_ENV = "PRIVSYNTH_NOISE_KEY_FILE"

#: the streams one run draws, kept apart so that adding a use of one never shifts another
_PURPOSES = {"fit": 0xF17, "split": 0x5B1}
#: the keyed per-label draws (``NoiseSource.keyed_uniform``): person-level split and contribution bound
_KEYED_PURPOSES = {"person-split": 0x9E5, "bound": 0xB0D}


def load_or_create_noise_key(path: str | Path) -> bytes:
    """Read the noise key at ``path``, or create it (see ``load_or_create_secret``)."""
    return load_or_create_secret(path, "noise key")


def load_or_create_secret(path: str | Path, what: str) -> bytes:
    """Read the 32-byte secret at ``path``, or create it atomically with mode 0600 (O_EXCL, so two first runs
    agree on one secret). The steward's noise key and signing key (release/signing.py) are both such files."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(KEY_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
        key = path.read_bytes()
    except OSError as exc:
        raise PrivsynthError(f"{what} {path}: cannot read or create it ({exc.strerror}); check the permissions "
                             "of the steward's state folder (PRIVSYNTH_HOME)") from None
    if len(key) != KEY_BYTES:
        raise PrivsynthError(f"{what} {path}: {len(key)} bytes, expected {KEY_BYTES}; restore it from your "
                             "backup (or delete it to start a new key: earlier runs then no longer reproduce or "
                             "verify)")
    return key


def key_commitment(key: bytes) -> str:
    """SHA-256 of the key, for the internal review: shows which key a run used without revealing it."""
    return hashlib.sha256(key).hexdigest()


def fresh_nonce() -> bytes:
    """32 bytes from the operating system's CSPRNG: a run's own share of secret randomness."""
    return secrets.token_bytes(NONCE_BYTES)


def parse_nonce(text: str) -> bytes:
    """A nonce from its hex form in a private record (``--replay``)."""
    try:
        nonce = bytes.fromhex(text)
    except (TypeError, ValueError):
        nonce = b""
    if len(nonce) != NONCE_BYTES:
        raise PrivsynthError(f"nonce {str(text)[:20]!r}: expected {2 * NONCE_BYTES} hex digits (from a review "
                             "package's private_record.json)")
    return nonce


@dataclass(frozen=True)
class NoiseSource:
    """The secret randomness of one run: ``generator(purpose)`` gives an independent stream per purpose.

    ``simulated`` sources (attack simulations) are seeded from a public number and must never drive a fit whose
    output is released; the pipeline builds release fits only from ``secret``."""

    entropy: tuple[int, ...]
    simulated: bool = False

    @classmethod
    def secret(cls, key: bytes, nonce: bytes) -> "NoiseSource":
        if len(key) != KEY_BYTES or len(nonce) != NONCE_BYTES:
            raise PrivsynthError(f"noise: need a {KEY_BYTES}-byte key and a {NONCE_BYTES}-byte nonce")
        return cls((int.from_bytes(key, "big"), int.from_bytes(nonce, "big")))

    @classmethod
    def simulation(cls, seed: int) -> "NoiseSource":
        """Public, seeded randomness for an attacker's simulated fits (shadow models, canaries)."""
        return cls((int(seed), 0x51A), simulated=True)

    def keyed_uniform(self, purpose: str, labels: Sequence[str]) -> np.ndarray:
        """One uniform draw in [0, 1) per label: a keyed hash (BLAKE2b keyed by this source's secret entropy and
        ``purpose``) of the label, not a position in a stream.

        Why: a sequential stream gives row i the i-th draw, so the draws of everyone after a removed person
        would shift. Here a person's draw depends only on their own label (their id, or their id and the
        number of their row), so removing one person moves no other person's draw: the neighbouring runs of
        the person-level guarantee agree everywhere but on that person, draw for draw. Without the secret
        key and nonce the draws are unpredictable, like every other draw of this source."""
        if purpose not in _KEYED_PURPOSES:
            raise ValueError(f"unknown keyed purpose {purpose!r} (one of {sorted(_KEYED_PURPOSES)})")
        secret = b"".join(int(e).to_bytes(64, "big") for e in (*self.entropy, _KEYED_PURPOSES[purpose]))
        key = hashlib.blake2b(secret, digest_size=64).digest()
        draws = np.fromiter((int.from_bytes(hashlib.blake2b(str(label).encode(), key=key, digest_size=8).digest(),
                                            "big") for label in labels), dtype=np.uint64, count=len(labels))
        return (draws >> np.uint64(11)).astype(np.float64) / float(1 << 53)

    def generator(self, purpose: str) -> np.random.Generator:
        if purpose not in _PURPOSES:
            raise ValueError(f"unknown noise purpose {purpose!r} (one of {sorted(_PURPOSES)})")
        return np.random.default_rng(np.random.SeedSequence([*self.entropy, _PURPOSES[purpose]]))
