"""Generator kinds by name. Extend by adding a class and one line here."""
from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel

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


def make_generator(kind: str, params: BaseModel | Mapping[str, Any] | None = None) -> Generator:
    """An unfitted generator of ``kind`` holding its validated parameters: the threat model's parameter model
    (``generator.params``), or a mapping checked against it (an unknown or ill-typed one is a PrivsynthError)."""
    if kind not in GENERATORS:
        raise PrivsynthError(f"generator.kind: unknown generator {kind!r} (choose one of {sorted(GENERATORS)})")
    if params is None or isinstance(params, BaseModel):
        return GENERATORS[kind](params)
    return GENERATORS[kind](**dict(params))


def is_dp(kind: str) -> bool:
    if kind not in GENERATORS:
        raise PrivsynthError(f"generator.kind: unknown generator {kind!r} (choose one of {sorted(GENERATORS)})")
    return GENERATORS[kind].is_dp


def structure_problems(kind: str, rules: bool, hierarchies: bool, quantile_bins: bool) -> list[str]:
    """What a threat model asks that the generator kind does not do (rules, hierarchies, quantile cut points;
    a non-DP baseline reads raw rows and has no use for bins)."""
    if kind not in GENERATORS:
        raise PrivsynthError(f"generator.kind: unknown generator {kind!r} (choose one of {sorted(GENERATORS)})")
    cls = GENERATORS[kind]
    problems = []
    if (rules or hierarchies) and not cls.enforces_structure:
        problems.append(f"generator.kind {kind!r} does not enforce data.rules or measure parent: hierarchies; use "
                        "aim or mst, or remove them")
    if quantile_bins and cls.is_dp and not cls.buys_quantile_bins:
        problems.append(f"generator.kind {kind!r} does not buy bins: quantile cut points; declare bins: N, edges "
                        "or scale: log")
    return problems


def check_device(device: str) -> str:
    """``compute.device`` checked before any data is read: cuda without a visible GPU is an error."""
    return str(resolve_device(device))
