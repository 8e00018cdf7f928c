"""Planted faults in copies of the real generators, for the canary audit's tests and bench/audit.py.

Each subclass charges the odometer exactly like the real generator (its guarantee claims the budget) and
breaks the mechanism behind the door, the way shipped DP synthesizers broke (shared/DP_PITFALLS.md):

* ``NoiseScaledMST``: Gaussian noise at ``noise_factor`` times the sigma it charged (0: noise off; 1/3: an
  actual epsilon about three times the claim at a claimed epsilon 1);
* ``NoiseThirdTVAE``: dp-tvae whose DP-SGD runs at a third of the noise multiplier the accountant charged;
* ``DataDomainMST``: MST whose output domain is read from the training rows (a value no training row holds
  is never sampled; SmartNoise categories, synthcity's ``nunique``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from privsynth.generators.base import Progress, silent
from privsynth.generators.dpsgd.tvae import DPTVAE
from privsynth.generators.marginal.mst import MST
from privsynth.privacy import private_data as door
from privsynth.privacy.accounting import HistoryEntry
from privsynth.privacy.dpsgd import DPSGDSession, calibrate_noise, steps_per_epoch


class _ScaledNoise(door.PrivateData):
    """Charges for sigma, adds ``noise_factor`` * sigma (the DataSynthesizer #34 family of faults)."""

    noise_factor = 1.0

    def measure_marginal(self, columns, sigma, label="marginal"):  # type: ignore[no-untyped-def]
        measured = super().measure_marginal(columns, sigma, label)
        exact = self._true_counts(tuple(columns))
        return door.NoisyMarginal(measured.columns, exact + self.noise_factor * (measured.counts - exact),
                                  measured.sigma)


class NoiseScaledMST(MST):
    kind = "mst-noise-scaled"
    noise_factor = 0.0

    def fit(self, private: door.PrivateData, progress: Progress = silent) -> "NoiseScaledMST":
        private.__class__ = type("Faulty", (_ScaledNoise,), {"noise_factor": self.noise_factor})
        return super().fit(private, progress)


class NoiseOffMST(NoiseScaledMST):
    kind = "mst-noise-off"
    noise_factor = 0.0


class NoiseThirdMST(NoiseScaledMST):
    kind = "mst-noise-third"
    noise_factor = 1.0 / 3.0


class _ThirdMultiplier(door.PrivateData):
    """DP-SGD that charges the calibrated noise multiplier and trains with a third of it."""

    def dpsgd_training(self, module, optimizer, *, sample_rate, epochs, max_grad_norm,  # type: ignore[no-untyped-def]
                       expected_batch_size, numeric_bins=None, label="dpsgd") -> DPSGDSession:
        steps = epochs * steps_per_epoch(sample_rate)
        prior = self.odometer.history
        sigma = calibrate_noise(prior, sample_rate, steps, self.odometer.epsilon_budget, self.odometer.delta,
                                self.odometer.accountant)
        self.odometer.charge_dpsgd(label, HistoryEntry(sigma, sample_rate, steps), noise_multiplier=sigma,
                                   sample_rate=sample_rate, steps=steps, max_grad_norm=max_grad_norm)
        layout, coders = self.one_hot_layout(numeric_bins)
        codes = self._codes if numeric_bins is None else \
            np.stack([coders[n].encode(self._train[n]) for n in self.domain.names], axis=1)
        import torch
        return door.attach_dpsgd(module, optimizer, torch.from_numpy(layout.one_hot(codes)),
                                 noise_multiplier=sigma / 3.0, max_grad_norm=max_grad_norm, sample_rate=sample_rate,
                                 epochs=epochs, expected_batch_size=expected_batch_size,
                                 seed=int(self._rng.integers(2**62)), prior=prior, delta=self.odometer.delta,
                                 accountant=self.odometer.accountant)


class NoiseThirdTVAE(DPTVAE):
    kind = "tvae-noise-third"

    def fit(self, private: door.PrivateData, progress: Progress = silent) -> "NoiseThirdTVAE":
        private.__class__ = _ThirdMultiplier
        return super().fit(private, progress)


class DataDomainMST(MST):
    """Reads each column's values from the training rows (the planted bug) and never samples any other."""

    kind = "mst-data-domain"

    def fit(self, private: door.PrivateData, progress: Progress = silent) -> "DataDomainMST":
        self.seen_ = {name: np.unique(private._codes[:, j]) for j, name in enumerate(private.domain.names)}
        return super().fit(private, progress)

    def _draw(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        kept: list[pd.DataFrame] = []
        have = 0
        while have < n:
            rows = super()._draw(n, rng)
            ok = np.ones(len(rows), dtype=bool)
            for name, seen in self.seen_.items():
                ok &= np.isin(self.coders_[name].encode(rows[name]), seen)
            kept.append(rows[ok])
            have += int(ok.sum())
        return pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True)


FAULTS = {cls.kind: cls for cls in (NoiseOffMST, NoiseThirdMST, NoiseThirdTVAE, DataDomainMST)}


class WithFaults:
    """A generator factory that registers the planted faults first: dask workers are fresh processes, and
    their registry only knows the real kinds (bench/audit.py runs the faults on a local cluster)."""

    def __init__(self, factory):  # type: ignore[no-untyped-def]
        self.factory = factory

    def __call__(self, train: pd.DataFrame, seed: int) -> pd.DataFrame:
        from privsynth.generators import registry
        registry.GENERATORS.update(FAULTS)
        return self.factory(train, seed)
