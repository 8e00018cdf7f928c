"""Where a fit's noise comes from: the steward's key and the run's nonce, never the public seed."""
from __future__ import annotations

import stat

import numpy as np
import pytest

from privsynth.errors import PrivsynthError
from privsynth.privacy.noise import NoiseSource, load_or_create_noise_key, parse_nonce
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import PrivateData


def test_key_is_created_once_private_and_reused(tmp_path):
    path = tmp_path / "home" / "noise-key"
    key = load_or_create_noise_key(path)
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_noise_key(path) == key
    path.write_bytes(b"short")
    with pytest.raises(PrivsynthError, match="expected 32"):
        load_or_create_noise_key(path)


def _noisy_counts(adult, adult_domain, noise: NoiseSource) -> np.ndarray:
    private = PrivateData(adult.iloc[:500], adult_domain, Odometer.for_epsilon(1.0, 1e-9), noise)
    return private.measure_marginal(("sex", "race"), sigma=50.0).counts


def test_noise_depends_on_key_and_nonce_and_nothing_public(adult, adult_domain):
    key_a, key_b, nonce_a, nonce_b = b"a" * 32, b"b" * 32, b"x" * 32, b"y" * 32
    same = _noisy_counts(adult, adult_domain, NoiseSource.secret(key_a, nonce_a))
    assert np.array_equal(same, _noisy_counts(adult, adult_domain, NoiseSource.secret(key_a, nonce_a)))
    assert not np.allclose(same, _noisy_counts(adult, adult_domain, NoiseSource.secret(key_b, nonce_a)))
    assert not np.allclose(same, _noisy_counts(adult, adult_domain, NoiseSource.secret(key_a, nonce_b)))
    # the split and the fit draw from separate streams of the same secret
    source = NoiseSource.secret(key_a, nonce_a)
    assert not np.allclose(source.generator("split").random(5), source.generator("fit").random(5))


def test_simulated_noise_cannot_drive_a_released_fit(tmp_path, write_threat_model, adult):
    from privsynth.pipeline import Booking, evaluate, prepare
    from privsynth.privacy.home import StewardHome
    from privsynth.threat_model import load_threat_model

    loaded = load_threat_model(write_threat_model())
    home = StewardHome.locate(tmp_path / "home")
    inputs, fingerprint = prepare(loaded, home, NoiseSource.secret(b"k" * 32, b"n" * 32))
    with pytest.raises(PrivsynthError, match="secret source"):
        evaluate(loaded, "run", Booking(home.ledger(), fingerprint, "00"), NoiseSource.simulation(0), inputs,
                 plan=None)  # refused before the attacks: no plan needed
    assert home.ledger().spends() == []


def test_a_nonce_is_read_back_only_whole():
    assert parse_nonce("ab" * 32) == bytes([0xAB]) * 32
    for bad in ("ab" * 31, "zz" * 32, None):
        with pytest.raises(PrivsynthError, match="64 hex digits"):
            parse_nonce(bad)  # type: ignore[arg-type]
