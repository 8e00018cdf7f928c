"""SDV models as clearly labelled NON-DP baselines (the only file importing sdv, lazily).

They read the raw training rows through PrivateData's escape hatch, which refuses unless the threat model
sets ``allow_non_dp: true``, and their guarantee says "none". SDV's licence (BUSL-1.1) forbids offering it as
a synthetic-data service: these exist so reports can show what DP buys, not as products. Metadata is built
from the PUBLIC domain (not detected from the data), and nothing is pickled.
"""
from __future__ import annotations

import contextlib
import logging
from abc import abstractmethod
from typing import Iterator

import numpy as np
import pandas as pd
import torch

from privsynth.generator_config import GaussianCopulaParams, SDVNeuralParams
from privsynth.generators.base import Generator, Progress, silent
from privsynth.privacy.private_data import PrivateData
from privsynth.results import Guarantee
from privsynth.seeding import numpy_global_seed
from privsynth.threat_model import CategoricalColumn

_TABLE = "table"


class _SDVBaseline(Generator):
    """What the three SDV baselines share: consent through the escape hatch, public metadata, seeding of the
    global RNGs SDV draws from (numpy, random, torch), output mapped back into the public domain."""

    is_dp = False
    label = "abstract"

    @abstractmethod
    def _synthesizer(self, metadata):  # noqa: ANN001, ANN202 (an SDV object; sdv is imported lazily)
        """The unfitted SDV synthesizer for ``metadata``."""

    def fit(self, private: PrivateData, progress: Progress = silent) -> "_SDVBaseline":
        from sdv.metadata import Metadata

        logging.getLogger("sdv").setLevel(logging.WARNING)
        logging.getLogger("SingleTableSynthesizer").setLevel(logging.WARNING)
        self.domain_ = private.domain
        frame = _to_sdv_frame(private.raw_frame_for_non_dp_baseline(), private.domain)
        self.default_rows_ = len(frame)  # non-DP: the true row count, like everything else it reads
        metadata = Metadata.load_from_dict(_metadata_dict(private.domain), _TABLE)
        progress(f"fitting SDV {self.label} (non-DP baseline) on {len(frame)} raw rows")
        self.model_ = self._synthesizer(metadata)
        with _all_global_seeds(0):
            self.model_.fit({_TABLE: frame})
        return self

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        self._require_fitted("model_")
        with _all_global_seeds(seed):
            self.model_.reset_sampling()
            frame = self.model_.sample(n)[_TABLE]
        return _from_sdv_frame(frame, self.domain_)

    @property
    def guarantee_(self) -> Guarantee:
        return Guarantee(dp=False, mechanism=f"SDV {self.label} (non-DP baseline)", epsilon=None,
                         delta=None, accounting="none: no formal privacy guarantee; it reads raw rows "
                         "(including min/max and category frequencies)")


class GaussianCopulaBaseline(_SDVBaseline):
    kind = "gaussian-copula"
    label = "GaussianCopulaSynthesizer"

    params_model = GaussianCopulaParams

    def _synthesizer(self, metadata):  # noqa: ANN001, ANN202
        from sdv.single_table import GaussianCopulaSynthesizer

        return GaussianCopulaSynthesizer(metadata, default_distribution=self.params.default_distribution)


class CTGANBaseline(_SDVBaseline):
    """SDV's CTGAN as shipped (no DP): mode-specific normalisation and conditional sampling fitted on the raw
    rows. Compare with dp-ctgan to see what DP costs."""

    kind = "ctgan"
    label = "CTGANSynthesizer"

    params_model = SDVNeuralParams

    def _synthesizer(self, metadata):  # noqa: ANN001, ANN202
        from sdv.single_table import CTGANSynthesizer

        return CTGANSynthesizer(metadata, epochs=self.params.epochs, batch_size=self.params.batch_size,
                                enable_gpu=self.device != "cpu")


class TVAEBaseline(_SDVBaseline):
    """SDV's TVAE as shipped (no DP). Compare with dp-tvae."""

    kind = "tvae"
    label = "TVAESynthesizer"

    params_model = SDVNeuralParams

    def _synthesizer(self, metadata):  # noqa: ANN001, ANN202
        from sdv.single_table import TVAESynthesizer

        return TVAESynthesizer(metadata, epochs=self.params.epochs, batch_size=self.params.batch_size,
                               enable_gpu=self.device != "cpu")


@contextlib.contextmanager
def _all_global_seeds(seed: int) -> Iterator[None]:
    """SDV's neural models draw from torch's global RNG too; seed it for the call and restore it after."""
    with numpy_global_seed(seed), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _metadata_dict(domain) -> dict:
    columns = {}
    for name, spec in domain.columns.items():
        if isinstance(spec, CategoricalColumn):
            columns[name] = {"sdtype": "categorical"}
        else:
            columns[name] = {"sdtype": "numerical"}  # SDV 2 infers integer vs float from the column
    return {"tables": {_TABLE: {"columns": columns}}, "METADATA_SPEC_VERSION": "V1"}


def _to_sdv_frame(frame: pd.DataFrame, domain) -> pd.DataFrame:
    out = {}
    for name, spec in domain.columns.items():
        if isinstance(spec, CategoricalColumn):
            out[name] = frame[name].astype(object).where(frame[name].notna(), None)
        else:
            out[name] = frame[name].astype(float)
    return pd.DataFrame(out)


def _from_sdv_frame(frame: pd.DataFrame, domain) -> pd.DataFrame:
    """Back into the public domain: numbers clipped to the public bounds, unknown categories -> missing."""
    out = {}
    for name, spec in domain.columns.items():
        s = frame[name]
        if isinstance(spec, CategoricalColumn):
            s = s.astype(object).where(s.isin(spec.values), np.nan)
        else:
            s = pd.to_numeric(s, errors="coerce").clip(spec.min, spec.max)
            if not spec.missing:
                s = s.fillna((spec.min + spec.max) / 2)
        out[name] = s
    return domain.cast(pd.DataFrame(out))
