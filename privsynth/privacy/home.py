"""The steward's state folder: the budget ledger, the secret noise key and the release signing key, kept apart
from every output.

All three are private (the signing key's public half travels with each release, release/signing.py). The key regenerates every run's noise; the ledger lists every run, its nonce and whether it
was released. Outputs get shared (a whole ``reports/`` folder is easy to publish by mistake), so neither may
live under an output folder: a run refuses to start when the state folder is inside its output folder.

The folder is ``$PRIVSYNTH_HOME`` when set, else ``~/.privsynth``; back it up (losing the ledger forgets what
was spent, losing the key makes earlier runs irreproducible). ``$PRIVSYNTH_NOISE_KEY_FILE`` points at a key
kept elsewhere, such as a vault mount (the tests use it for a fixed key).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from privsynth.errors import PrivsynthError
from privsynth.privacy.ledger import BudgetLedger
from privsynth.privacy.noise import NOISE_KEY_ENV, NOISE_KEY_NAME, load_or_create_noise_key, load_or_create_secret

HOME_ENV = "PRIVSYNTH_HOME"
LEDGER_FILE = "ledger.sqlite"
SIGNING_KEY_NAME = "signing-key"


@dataclass(frozen=True)
class StewardHome:
    root: Path

    @classmethod
    def locate(cls, explicit: str | Path | None = None) -> "StewardHome":
        """``explicit`` (a --home option), else ``$PRIVSYNTH_HOME``, else ``~/.privsynth``."""
        chosen = explicit or os.environ.get(HOME_ENV) or Path.home() / ".privsynth"
        return cls(Path(chosen).expanduser().resolve())

    @property
    def ledger_path(self) -> Path:
        return self.root / LEDGER_FILE

    @property
    def noise_key_path(self) -> Path:
        override = os.environ.get(NOISE_KEY_ENV)
        return Path(override).expanduser().resolve() if override else self.root / NOISE_KEY_NAME

    def ledger(self) -> BudgetLedger:
        self._create()
        return BudgetLedger(self.ledger_path)

    def noise_key(self) -> bytes:
        self._create()
        return load_or_create_noise_key(self.noise_key_path)

    @property
    def signing_key_path(self) -> Path:
        return self.root / SIGNING_KEY_NAME

    def signing_key(self) -> bytes:
        """The 32-byte Ed25519 seed that signs this steward's releases, created (mode 0600) on first use. Whoever
        holds it can sign releases in the steward's name: back it up with the ledger and keep it as secret."""
        self._create()
        return load_or_create_secret(self.signing_key_path, "signing key")

    def check_outside(self, out_dir: str | Path) -> None:
        """Refuse an output folder that holds the state folder or the key (publishing it would publish them)."""
        out = Path(out_dir).expanduser().resolve()
        for what, path in (("state folder", self.root), ("noise key", self.noise_key_path),
                           ("signing key", self.signing_key_path)):
            if path == out or out in path.parents:
                raise PrivsynthError(f"the steward's {what} {path} lies inside the output folder {out}: outputs get "
                                     f"shared, the ledger and key must not; set {HOME_ENV} (or --home) to a folder "
                                     "outside it")

    def _create(self) -> None:
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise PrivsynthError(f"steward state folder {self.root}: cannot create it ({exc.strerror}); set "
                                 f"{HOME_ENV} to a writable folder") from None
