"""The privacy odometer: an append-only list of charges that refuses to overspend.

Every privatised query is charged BEFORE its answer is computed, so a refused query never ran.

Two ways to keep the budget, chosen by the generator (``accountant``):

* ``zcdp`` (marginal mechanisms): the budget is a rho, and sequential composition is exact addition.
* ``rdp`` or ``prv`` (DP-SGD generators): the budget is the target (epsilon, delta) itself, and each charge
  appends a ``HistoryEntry`` that Opacus's accountant composes. A Gaussian charge of rho is the entry
  (sqrt(1/(2 rho)), sample rate 1, 1 step), the same mechanism written the accountant's way; a DP-SGD phase
  is (noise multiplier, sample rate, steps). A charge is refused when the accountant's epsilon of the
  history with it would exceed the target, so the reported epsilon is Opacus's and never above the target.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from privsynth.errors import BudgetExceeded, PrivsynthError
from privsynth.privacy.accounting import HistoryEntry, gaussian_entry, zcdp_epsilon, zcdp_rho
from privsynth.privacy.dpsgd import ACCOUNTANTS, epsilon_for

_TOLERANCE = 1e-9  # relative slack for floating-point sums of exactly split budgets


@dataclass(frozen=True)
class Charge:
    label: str
    mechanism: str
    rho: float | None  # zCDP cost; None for a subsampled-Gaussian (DP-SGD) phase
    params: Mapping[str, Any] = field(default_factory=dict)
    entry: HistoryEntry | None = None  # what an RDP/PRV accountant composes (rdp/prv odometers only)


class Odometer:
    """Budget of one fit for a declared delta: in zCDP (rho), or as a target epsilon for an accountant."""

    def __init__(self, total_rho: float, delta: float, accountant: str = "zcdp",
                 epsilon_budget: float | None = None) -> None:
        if total_rho <= 0:
            raise ValueError("the total budget must be positive")
        if accountant != "zcdp" and (accountant not in ACCOUNTANTS or epsilon_budget is None):
            raise ValueError(f"accountant {accountant!r} needs an epsilon budget and one of zcdp, {ACCOUNTANTS}")
        self.total_rho = float(total_rho)
        self.delta = float(delta)
        self.accountant = accountant
        self.epsilon_budget: float | None = None if epsilon_budget is None else float(epsilon_budget)
        self._charges: list[Charge] = []

    @classmethod
    def for_epsilon(cls, epsilon: float, delta: float, accountant: str = "zcdp") -> "Odometer":
        return cls(zcdp_rho(epsilon, delta), delta, accountant=accountant, epsilon_budget=epsilon)

    @property
    def history(self) -> list[HistoryEntry]:
        """Every charge as an accountant entry (rdp/prv odometers)."""
        return [c.entry for c in self._charges if c.entry is not None]

    @property
    def epsilon_spent(self) -> float:
        """The (epsilon, delta)-DP guarantee of everything charged so far, at this odometer's delta.

        zCDP: converting rho back to epsilon by bisection can land a hair above the budget (1e-15) even when
        rho is within it; the budget itself is a valid guarantee then, so the report never exceeds it.
        rdp/prv: Opacus's accountant over the history, unchanged."""
        if self.accountant != "zcdp":
            return epsilon_for(self.history, self.delta, self.accountant)  # type: ignore[arg-type]
        epsilon = zcdp_epsilon(self.spent_rho, self.delta)
        if self.epsilon_budget is not None and self.spent_rho <= self.total_rho * (1 + _TOLERANCE):
            epsilon = min(epsilon, self.epsilon_budget)
        return epsilon

    @property
    def charges(self) -> tuple[Charge, ...]:
        return tuple(self._charges)

    @property
    def spent_rho(self) -> float:
        return float(sum(c.rho for c in self._charges if c.rho is not None))

    @property
    def remaining_rho(self) -> float:
        if self.accountant != "zcdp":
            raise PrivsynthError(f"this fit accounts with {self.accountant!r}, not zCDP: a generator reading "
                                 "remaining_rho needs generator.params.accountant: zcdp")
        return max(0.0, self.total_rho - self.spent_rho)

    def charge(self, label: str, mechanism: str, rho: float, **params: Any) -> Charge:
        if not rho > 0:
            raise ValueError(f"a charge must be positive (got {rho} for {label})")
        if self.accountant != "zcdp":
            if mechanism != "gaussian" and self.accountant == "prv":
                raise PrivsynthError(f"{label}: the PRV accountant composes Gaussian mechanisms only, not "
                                     f"{mechanism!r}; use generator.params.accountant: rdp")
            return self._charge_entry(Charge(label, mechanism, float(rho), dict(params), gaussian_entry(rho)))
        if self.spent_rho + rho > self.total_rho * (1 + _TOLERANCE):
            raise BudgetExceeded(
                f"{label}: charging rho={rho:.6g} would exceed the budget (spent {self.spent_rho:.6g} of "
                f"{self.total_rho:.6g}); lower the generator's budget use or raise privacy.epsilon"
            )
        event = Charge(label, mechanism, float(rho), dict(params))
        self._charges.append(event)
        return event

    def charge_dpsgd(self, label: str, entry: HistoryEntry, **params: Any) -> Charge:
        """Charge a whole DP-SGD phase (every step it may take) before the first step runs."""
        if self.accountant == "zcdp":
            raise PrivsynthError(f"{label}: DP-SGD is accounted with rdp or prv, not zCDP "
                                 "(set generator.params.accountant: rdp or prv)")
        return self._charge_entry(Charge(label, "subsampled-gaussian", None, dict(params), entry))

    def _charge_entry(self, event: Charge) -> Charge:
        assert self.epsilon_budget is not None and event.entry is not None
        after = epsilon_for([*self.history, event.entry], self.delta, self.accountant)  # type: ignore[arg-type]
        if after > self.epsilon_budget:
            raise BudgetExceeded(
                f"{event.label}: this charge would bring the {self.accountant} epsilon to {after:.6g}, over the "
                f"budget {self.epsilon_budget:g} (spent {self.epsilon_spent:.6g}); lower the generator's "
                "budget use or raise privacy.epsilon"
            )
        self._charges.append(event)
        return event
