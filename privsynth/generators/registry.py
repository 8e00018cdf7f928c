"""Generator kinds by name. Extend by adding a class and one line here."""
from __future__ import annotations

from typing import Any

from privsynth.errors import PrivsynthError
from privsynth.generators._sdv_baseline import CTGANBaseline, GaussianCopulaBaseline, TVAEBaseline
from privsynth.generators.base import Generator
from privsynth.generators.dpsgd._torch import resolve_device
from privsynth.generators.dpsgd.ctgan import DPCTGAN
from privsynth.generators.dpsgd.tvae import DPTVAE
from privsynth.generators.marginal.aim import AIM
from privsynth.generators.marginal.mst import MST

GENERATORS: dict[str, type[Generator]] = {
    AIM.kind: AIM,
    MST.kind: MST,
    GaussianCopulaBaseline.kind: GaussianCopulaBaseline,
    DPTVAE.kind: DPTVAE,
    DPCTGAN.kind: DPCTGAN,
    CTGANBaseline.kind: CTGANBaseline,
    TVAEBaseline.kind: TVAEBaseline,
}


def make_generator(kind: str, params: dict[str, Any]) -> Generator:
    if kind not in GENERATORS:
        raise PrivsynthError(f"generator.kind: unknown generator {kind!r} (choose one of {sorted(GENERATORS)})")
    try:
        return GENERATORS[kind](**params)
    except TypeError as exc:
        raise PrivsynthError(f"generator.params for {kind!r}: {exc}") from None


def is_dp(kind: str) -> bool:
    if kind not in GENERATORS:
        raise PrivsynthError(f"generator.kind: unknown generator {kind!r} (choose one of {sorted(GENERATORS)})")
    return GENERATORS[kind].is_dp


def enforces_structure(kind: str) -> bool:
    """Whether the kind buys quantile cut points, measures hierarchies and enforces rules."""
    if kind not in GENERATORS:
        raise PrivsynthError(f"generator.kind: unknown generator {kind!r} (choose one of {sorted(GENERATORS)})")
    return GENERATORS[kind].enforces_structure


def check_device(device: str) -> str:
    """``compute.device`` checked before any data is read: cuda without a visible GPU is an error."""
    return str(resolve_device(device))
