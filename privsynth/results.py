"""Result types every layer shares. The gate, the manifest and the report only read these.

All are frozen: a result, once measured, is a receipt and must not change on its way to the report.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Mapping


@dataclass(frozen=True)
class Curve:
    """An ROC curve, thinned for a plot: rates only, never a score of a single record."""

    fpr: tuple[float, ...]
    tpr: tuple[float, ...]


@dataclass(frozen=True)
class Histogram:
    """Counts of synthetic rows by distance to their closest training and closest holdout row, on shared bins."""

    edges: tuple[float, ...]
    train: tuple[float, ...]
    holdout: tuple[float, ...]


@dataclass(frozen=True)
class Control:
    """The same check measured on a control: unseen real rows (null) or training rows (positive) posing as the
    synthetic table, or, for the shadow attack, a generator that publishes its training rows."""

    estimate: float
    ci: tuple[float, float]


def _plain(value: Any) -> Any:
    """JSON-ready: tuples as lists, and a NaN (a check that was not measured) as null."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass(frozen=True)
class AttackResult:
    """One privacy attack's outcome on one check of the catalogue (privsynth/checks.py).

    ``estimate`` is a risk on a scale where higher means more leakage (anonymeter risk, membership AUC,
    excess copy rate, ...); ``ci`` is its 95% confidence interval; ``n`` how many attacks or records it rests
    on (0: not measured). ``baseline`` is what a blind attacker scores on the same scale (0.5 for an AUC).
    ``threshold``, ``passed`` and ``reason`` are filled by the release gate, never by the attack: attacks
    measure, the gate judges. ``roc`` and ``histogram`` are what the report draws; ``details`` the rest of the
    attack's own receipt (numbers and labels only, never a record).
    """

    name: str
    estimate: float
    ci: tuple[float, float]
    n: int
    baseline: float | None = None
    threshold: float | None = None
    passed: bool | None = None
    reason: str | None = None
    roc: Curve | None = None
    histogram: Histogram | None = None
    null_control: Control | None = None
    positive_control: Control | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The one serialisation of a result (report.json, the sweep, the CLI)."""
        return _plain(asdict(self))


@dataclass(frozen=True)
class UtilityResult:
    """One utility metric. ``direction`` says which way is better; the gate reads ``ci`` when present."""

    name: str
    value: float | None
    direction: Literal["lower_is_better", "higher_is_better"]
    ci: tuple[float, float] | None = None
    threshold: float | None = None
    passed: bool | None = None
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))


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
