"""The published seed alone must not reproduce the DP noise: a secret key beside the ledger is mixed in."""
from __future__ import annotations

import hashlib
import json
import stat

import numpy as np
import pytest

from privsynth.errors import PrivsynthError
from privsynth.privacy.noise_key import NOISE_KEY_NAME, load_or_create_noise_key, noise_key_path
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import PrivateData


def test_key_is_created_once_private_and_reused(tmp_path):
    path = tmp_path / "out" / NOISE_KEY_NAME
    key = load_or_create_noise_key(path)
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_noise_key(path) == key
    path.write_bytes(b"short")
    with pytest.raises(PrivsynthError, match="expected 32"):
        load_or_create_noise_key(path)


def _noisy_counts(adult, adult_domain, key):
    private = PrivateData(adult.iloc[:500], adult_domain, Odometer.for_epsilon(1.0, 1e-9), seed=0, noise_key=key)
    return private.measure_marginal(("sex", "race"), sigma=50.0).counts


def test_same_seed_other_key_gives_other_noise(adult, adult_domain):
    key_a, key_b = b"a" * 32, b"b" * 32
    assert np.array_equal(_noisy_counts(adult, adult_domain, key_a), _noisy_counts(adult, adult_domain, key_a))
    assert not np.allclose(_noisy_counts(adult, adult_domain, key_a), _noisy_counts(adult, adult_domain, key_b))


def test_manifest_commits_to_the_key_and_the_release_does_not_hold_it(pipeline_runs):
    released, blocked = pipeline_runs
    key_path = noise_key_path(released.run_dir.parent)
    commitment = hashlib.sha256(key_path.read_bytes()).hexdigest()
    manifest = json.loads((released.run_dir / "manifest.json").read_text())
    assert manifest["privacy"]["noise_key_sha256"] == commitment
    assert not any(p.name in (NOISE_KEY_NAME, key_path.name) for p in released.run_dir.rglob("*"))
    # same seed and same key (one output folder): the two runs fitted the same model and sampled the same table
    assert released.report["utility"]["tvd_2way"]["value"] == blocked.report["utility"]["tvd_2way"]["value"]
