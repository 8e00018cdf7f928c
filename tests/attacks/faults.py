"""Planted faults in copies of the real generators, for the canary audit's tests and bench/audit.py.

Each subclass charges the odometer exactly like the real generator (its guarantee claims the budget) and
breaks the mechanism behind the door, the way shipped DP synthesizers broke (shared/DP_PITFALLS.md):

* ``NoiseScaledMST``: the door draws Gaussian noise at ``noise_factor`` times the sigma it charged (0: noise
  off; 1/3: an actual epsilon about three times the claim at a claimed epsilon 1);
* ``NoiseThirdTVAE``: dp-tvae whose DP-SGD runs at a third of the noise multiplier the accountant charged;
* ``RowSensitivityMST``: at person level, a door that forgets the contribution bound: it charges and adds
  noise for one row where a person has k (records sensitivity 1 and noise sigma, not k sigma);
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


class _ScaledNoise(door.PrivateData):
    """Charges for sigma, draws ``noise_factor`` * sigma (the DataSynthesizer #34 family of faults: a scale error
    in the noise sampler itself)."""

    noise_factor = 1.0

    def _gaussian(self, scale, shape=None):  # type: ignore[no-untyped-def]
        return self.noise_factor * super()._gaussian(scale, shape)


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

    def _start_dpsgd(self, module, optimizer, features, **session):  # type: ignore[no-untyped-def]
        session["noise_multiplier"] /= 3.0
        return super()._start_dpsgd(module, optimizer, features, **session)


class RowSensitivityMST(MST):
    kind = "mst-row-sensitivity"

    def fit(self, private: door.PrivateData, progress: Progress = silent) -> "RowSensitivityMST":
        private.rows_per_person = 1  # the door's bug: every answer priced and noised for one row
        return super().fit(private, progress)


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
        self._register()
        return self.factory(train, seed)

    def audit(self, train: pd.DataFrame, seed: int):  # type: ignore[no-untyped-def]
        self._register()
        return self.factory.audit(train, seed)

    @staticmethod
    def _register() -> None:
        from privsynth.generators import registry
        registry.GENERATORS.update(FAULTS)
