"""Result types every layer shares. The gate, the manifest and the report only read these.

All are frozen: a result, once measured, is a receipt and must not change on its way to the report.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Mapping


@dataclass(frozen=True)
class AttackResult:
    """One privacy attack's outcome.

    ``estimate`` is a risk on a scale where higher means more leakage (anonymeter risk, membership AUC,
    excess copy rate, ...); ``ci`` is its 95% confidence interval. ``baseline`` is what a blind attacker
    scores on the same scale (for example 0.5 for an AUC). ``threshold`` and ``passed`` are filled by the
    release gate, never by the attack: attacks measure, the gate judges.
    """

    name: str
    estimate: float
    ci: tuple[float, float]
    n: int
    baseline: float | None = None
    threshold: float | None = None
    passed: bool | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci"] = [float(self.ci[0]), float(self.ci[1])]
        out["details"] = dict(self.details)
        return out


@dataclass(frozen=True)
class UtilityResult:
    """One utility metric. ``direction`` says which way is better; the gate reads ``ci`` when present."""

    name: str
    value: float | None
    direction: Literal["lower_is_better", "higher_is_better"]
    ci: tuple[float, float] | None = None
    threshold: float | None = None
    passed: bool | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci"] = None if self.ci is None else [float(self.ci[0]), float(self.ci[1])]
        out["details"] = dict(self.details)
        return out


@dataclass(frozen=True)
class Guarantee:
    """What formal privacy guarantee a fitted generator gives (``dp=False`` means none)."""

    dp: bool
    mechanism: str
    epsilon: float | None
    delta: float | None
    accounting: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["details"] = dict(self.details)
        return out


@dataclass(frozen=True)
class GateFailure:
    """Why one check stopped a release."""

    check: str
    reason: str


@dataclass(frozen=True)
class Decision:
    released: bool
    failures: tuple[GateFailure, ...] = ()

    @property
    def label(self) -> Literal["released", "blocked"]:
        return "released" if self.released else "blocked"
