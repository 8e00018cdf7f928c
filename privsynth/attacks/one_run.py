"""The epsilon lower bound of auditing with one training run (Steinke, Nasr & Jagielski, NeurIPS 2023).

Setting: m canaries, each included in the mechanism's input independently with probability 1/2. From the
output an auditor guesses "in" or "out" for r of them (abstaining on the rest); v guesses are right. If the
mechanism is (epsilon, delta)-DP in each canary's inclusion, their Theorem 3.1 (with the delta term of its
proof, Appendix D) bounds the chance of v or more right guesses by

    p(epsilon) = P[Binomial(r, q) >= v] + 2 m delta max_{i=1..v} P[v - i <= Binomial(r, q) < v] / i,
    q = e^epsilon / (1 + e^epsilon)  (the accuracy of epsilon-DP randomised response).

It needs no independence between the guesses: canaries that share one fit are exactly the case it was proved
for, which is why it, and not a pooled Clopper-Pearson count, is the valid statistic when targets share a
fit. The largest epsilon with p(epsilon) <= alpha is a one-sided (1 - alpha) lower bound on the epsilon of
the mechanism at that delta. p grows with epsilon, so the bound is found by bisection.

Checked against the paper's closed form at delta = 0: all r guesses right certify q^r = alpha, i.e.
epsilon = logit(alpha^(1/r)): 3.49 for r = 100, 5.81 for r = 1,000 (tests/attacks/test_one_run.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from privsynth.checks import RANGE_OF_INTEREST

#: the bisection's search interval: beyond 40 the bound is meaningless and q rounds to 1 in float64
EPSILON_CEILING = 40.0


def p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """The chance that an (epsilon, delta)-DP mechanism lets an auditor make ``v`` or more right guesses out of
    ``r`` on ``m`` independently included canaries (the paper's Theorem 3.1 with its delta term)."""
    if not 0 <= v <= r <= m:
        raise ValueError(f"need 0 <= v <= r <= m, got v={v}, r={r}, m={m}")
    if v == 0:
        return 1.0
    q = 1.0 / (1.0 + math.exp(-epsilon))
    tail = float(binom.sf(v - 1, r, q))
    if delta <= 0:
        return min(1.0, tail)
    # P[v - i <= Binomial < v] for i = 1..v, then its largest average per extra guess
    below = np.cumsum(binom.pmf(np.arange(v - 1, -1, -1), r, q))
    spread = float(np.max(below / np.arange(1, v + 1)))
    return min(1.0, tail + 2.0 * m * delta * spread)


def epsilon_lower_bound(m: int, r: int, v: int, delta: float, alpha: float = 0.05, group: int = 1) -> float:
    """The largest epsilon whose p-value stays at most ``alpha``: the mechanism is not (epsilon, delta)-DP for
    any smaller epsilon, with confidence 1 - alpha. 0 when the guesses prove nothing.

    ``group``: how many add/remove steps one canary's coin moves the input by. A coin that swaps the canary for
    another row (a training set of fixed size) is 2 steps, and by group privacy an (epsilon, delta)-DP
    mechanism is (2 epsilon, (1 + e^epsilon) delta)-DP in it; the bound is then on the add/remove epsilon."""

    def p_at(epsilon: float) -> float:
        grouped_delta = delta * sum(math.exp(j * epsilon) for j in range(group))
        return p_value(m, r, v, group * epsilon, min(1.0, grouped_delta))

    if r == 0 or p_at(0.0) > alpha:
        return 0.0
    low, high = 0.0, EPSILON_CEILING / group
    if p_at(high) <= alpha:
        return high
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if p_at(middle) <= alpha else (low, middle)
    return low


def claim_accuracy(epsilon: float) -> float:
    """The accuracy of guesses an exactly epsilon-DP mechanism permits (ignoring delta): e^eps / (1 + e^eps)."""
    return 1.0 / (1.0 + math.exp(-epsilon))


@dataclass(frozen=True)
class DetectionFloor:
    """What an audit of this size can see, whatever the mechanism.

    ``max_certifiable``: the bound if every possible guess were right (the largest epsilon it could show);
    ``claim_accuracy``: the accuracy an exactly-claimed mechanism permits; ``accuracy_to_flag``: the share of
    right guesses among ``guesses`` needed before the bound exceeds the claim (None: not even all right);
    ``smoke_test``: the floor is below ``RANGE_OF_INTEREST`` times the claim, so only gross faults can show."""

    max_certifiable: float
    claim_accuracy: float
    accuracy_to_flag: float | None
    guesses: int
    smoke_test: bool

    def as_details(self) -> dict[str, object]:
        return {"max_certifiable": self.max_certifiable, "claim_accuracy": self.claim_accuracy,
                "accuracy_to_flag_claim": self.accuracy_to_flag, "floor_guesses": self.guesses,
                "smoke_test": self.smoke_test}


def detection_floor(m: int, guesses: int, claimed_epsilon: float | None, delta: float,
                    alpha: float = 0.05) -> DetectionFloor:
    """The floor of an audit of ``m`` canaries (or trials) that makes up to ``guesses`` guesses."""
    ceiling = epsilon_lower_bound(m, guesses, guesses, delta, alpha)
    if claimed_epsilon is None:
        return DetectionFloor(ceiling, math.nan, None, guesses, False)
    needed = None
    if guesses and ceiling > claimed_epsilon:
        low, high = guesses // 2, guesses  # the bound grows with right guesses: bisect on their count
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if epsilon_lower_bound(m, guesses, middle, delta, alpha) > claimed_epsilon \
                else (middle, high)
        needed = high / guesses
    return DetectionFloor(ceiling, claim_accuracy(claimed_epsilon), needed, guesses,
                          ceiling < RANGE_OF_INTEREST * claimed_epsilon)
