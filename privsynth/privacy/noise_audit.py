"""The noise audit: in audit fits, every noisy answer the door gives out is compared with the exact answer, and
the noise actually added is measured against the noise charged for it.

Why a white-box audit beside the black-box canary audit (attacks/canary.py): a black-box audit sees a
mechanism only through its output, so at the deltas privsynth claims (1e-9) it can certify little more than
an epsilon of 1-2 whatever the claim, and it cannot tell a mechanism with a third of its noise from a correct
one (bench/README.md, audit.py). The noise is what makes a DP claim true, and the auditor, who holds the audit
table, can read it directly: each Gaussian answer minus the exact answer, divided by the noise scale the
odometer charged, is N(0, 1) when the implementation is right. Over thousands of cells the measured ratio
(noise added / noise charged) is known to a few percent, so a scale error (noise off, a third of it, a
variance used as a standard deviation) shows at once.

What is measured (``NoiseTap``, attached to a PrivateData in audit fits only):

* a noisy marginal or count: (noisy - exact) / charged noise scale, per cell, at the door's return;
* a DP-SGD phase: after Opacus adds noise and divides by the expected batch size, each parameter's noise is
  ``grad * expected_batch_size - summed clipped gradient``, divided by the charged noise multiplier times the
  clip norm (``DPSGDSession.noise_squares``, read through the optimizer's step hook).

The canary audit (attacks/canary.py) pools the sums of its runs; from the sum of squares S over n values the
ratio's one-sided upper confidence bound is sqrt(S / chi2_alpha(n)), and ``implied_epsilon`` turns it into an
epsilon the claim is held against:

* zCDP (marginal mechanisms): Gaussian answers of sensitivity s_i with noise sigma_i compose to exactly
  mu-Gaussian DP, mu^2 = sum (s_i / sigma_i)^2 (Dong, Roth & Su 2022), and one row moves one cell of every
  marginal by 1, so that mu is attained by a neighbouring pair: the mechanism's (epsilon, delta) curve is at
  least mu-GDP's. With sigma_i replaced by (ratio upper bound) x sigma_i this is a lower bound on the
  mechanism's epsilon at the declared delta, at the stated confidence. Assumptions: the noise is Gaussian as
  charged (only its scale is measured); the selection steps (exponential mechanism) are not counted, so the
  bound understates; for AIM, whose noise schedule adapts to earlier answers, it is the schedule this fit ran.
  At person level (k rows per person) each answer is held to the sensitivity k the THREAT MODEL declares,
  not to the one the door recorded: a door that forgot the factor k would record sensitivity 1 and a noise
  scale k times too small, and its measured ratio would still read 1. (The person count DP-SGD buys has
  sensitivity 1 at any k and is marked so by the door.)
* rdp/prv (DP-SGD): the claim's own accountant re-run with every noise multiplier times the ratio bound. That
  is an upper bound on the epsilon of the run as measured, not a lower bound, so here the audit is a fault
  detector: above the claim means the noise added is less than the noise the claim paid for.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from privsynth.privacy.accounting import HistoryEntry, gaussian_dp_epsilon
from privsynth.privacy.dpsgd import epsilon_for

if TYPE_CHECKING:
    from privsynth.privacy.dpsgd import DPSGDSession
    from privsynth.privacy.odometer import Charge

#: a ratio bound below this is reported as this (noise switched off): keeps the implied epsilon finite
MIN_RATIO = 1e-3


@dataclass
class NoiseTap:
    """Sums of squared standardised noise (noise added over noise charged) of one audit fit."""

    squares: float = 0.0
    values: int = 0
    sessions: list[tuple["DPSGDSession", float]] = field(default_factory=list)

    def record(self, noisy: np.ndarray | float, exact: np.ndarray | float, charged_scale: float) -> None:
        """One Gaussian answer: the door's returned value against the exact one, at the charged noise scale."""
        z = (np.asarray(noisy, dtype=float) - np.asarray(exact, dtype=float)) / charged_scale
        self.squares += float(np.sum(z * z))
        self.values += int(z.size)

    def watch(self, session: "DPSGDSession", charged_multiplier: float) -> None:
        """A DP-SGD phase, charged at ``charged_multiplier``: its step hook measures the noise of every step."""
        session.measure_noise = True
        self.sessions.append((session, charged_multiplier))

    def totals(self) -> tuple[float, int]:
        """(sum of squared standardised noise, number of values) of everything measured so far."""
        squares, values = self.squares, self.values
        for session, charged in self.sessions:
            squares += session.noise_squares / charged**2  # the session's squares are in clip-norm units
            values += session.noise_values
        return squares, values


def implied_method(accountant: str) -> str:
    """How ``implied_epsilon`` computes, in words for the review."""
    if accountant == "zcdp":
        return "Gaussian DP of the measured noise (a lower bound; selection steps not counted)"
    return f"the claim's {accountant} accountant with the measured noise (a fault detector, not a lower bound)"


def implied_epsilon(charges: Sequence["Charge"], delta: float, accountant: str, ratio: float,
                    rows_per_person: int = 1) -> float:
    """The epsilon of the fit whose ``charges`` were made if every noise scale were ``ratio`` times the one
    charged (``implied_method`` says how; module docstring). 0 for a fit without Gaussian noise.
    ``rows_per_person``: the threat model's contribution bound k; a Gaussian answer's sensitivity is taken as
    at least k (except a count of persons, which one person moves by 1)."""
    ratio = max(ratio, MIN_RATIO)
    if accountant == "zcdp":
        gaussian = [c for c in charges if c.mechanism == "gaussian"]

        def sensitivity(charge: "Charge") -> float:
            recorded = float(charge.params["sensitivity"])
            return recorded if charge.params.get("counts") == "persons" else max(recorded, rows_per_person)

        mu = math.sqrt(sum((sensitivity(c) / c.params["sigma"]) ** 2 for c in gaussian)) / ratio
        return gaussian_dp_epsilon(mu, delta) if gaussian else 0.0
    entries = [c.entry for c in charges if c.entry is not None]
    scaled = [HistoryEntry(e.noise_multiplier * ratio, e.sample_rate, e.steps) for e in entries]
    return epsilon_for(scaled, delta, accountant) if scaled else 0.0  # type: ignore[arg-type]
