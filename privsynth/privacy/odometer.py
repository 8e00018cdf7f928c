"""The privacy odometer: an append-only list of charges that refuses to overspend.

Every privatised query is charged BEFORE its answer is computed, so a refused query never ran. The budget
is kept in zCDP (rho), where sequential composition is exact addition.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from privsynth.errors import BudgetExceeded
from privsynth.privacy.accounting import zcdp_epsilon, zcdp_rho

_TOLERANCE = 1e-9  # relative slack for floating-point sums of exactly split budgets


@dataclass(frozen=True)
class Charge:
    label: str
    mechanism: str
    rho: float
    params: Mapping[str, Any] = field(default_factory=dict)


class Odometer:
    """Budget of one fit, in zCDP, for a declared delta (used only to convert back to epsilon)."""

    def __init__(self, total_rho: float, delta: float) -> None:
        if total_rho <= 0:
            raise ValueError("the total budget must be positive")
        self.total_rho = float(total_rho)
        self.delta = float(delta)
        self.epsilon_budget: float | None = None
        self._charges: list[Charge] = []

    @classmethod
    def for_epsilon(cls, epsilon: float, delta: float) -> "Odometer":
        odometer = cls(zcdp_rho(epsilon, delta), delta)
        odometer.epsilon_budget = float(epsilon)
        return odometer

    @property
    def epsilon_spent(self) -> float:
        """The (epsilon, delta)-DP guarantee of everything charged so far, at this odometer's delta.

        Converting rho back to epsilon by bisection can land a hair above the budget (1e-15) even when rho
        is within it; the budget itself is a valid guarantee then, so the report never exceeds it."""
        epsilon = zcdp_epsilon(self.spent_rho, self.delta)
        if self.epsilon_budget is not None and self.spent_rho <= self.total_rho * (1 + _TOLERANCE):
            epsilon = min(epsilon, self.epsilon_budget)
        return epsilon

    @property
    def charges(self) -> tuple[Charge, ...]:
        return tuple(self._charges)

    @property
    def spent_rho(self) -> float:
        return float(sum(c.rho for c in self._charges))

    @property
    def remaining_rho(self) -> float:
        return max(0.0, self.total_rho - self.spent_rho)

    def charge(self, label: str, mechanism: str, rho: float, **params: Any) -> Charge:
        if not rho > 0:
            raise ValueError(f"a charge must be positive (got {rho} for {label})")
        if self.spent_rho + rho > self.total_rho * (1 + _TOLERANCE):
            raise BudgetExceeded(
                f"{label}: charging rho={rho:.6g} would exceed the budget (spent {self.spent_rho:.6g} of "
                f"{self.total_rho:.6g}); lower the generator's budget use or raise privacy.epsilon"
            )
        event = Charge(label, mechanism, float(rho), dict(params))
        self._charges.append(event)
        return event
