"""Pure privacy maths: zero-concentrated DP (zCDP) and its conversion to (epsilon, delta).

Marginal mechanisms compose in zCDP (rho adds up), then the total is converted once to (epsilon, delta) with
the optimal conversion of Canonne, Kamath & Steinke (NeurIPS 2020, Prop. 12 / Cor. 13):

    delta(rho, eps) = min over alpha > 1 of  exp((alpha-1)(alpha*rho - eps)) / (alpha-1) * (1 - 1/alpha)^alpha

Any alpha > 1 gives a valid bound, so a numerical minimiser can only err on the safe side (larger delta).
Neighbouring tables differ by adding or removing one row (the unit of privacy), so a count has sensitivity 1.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from scipy.optimize import minimize_scalar
from scipy.stats import norm


def _log_delta(alpha: float, rho: float, eps: float) -> float:
    return (alpha - 1.0) * (alpha * rho - eps) + alpha * math.log1p(-1.0 / alpha) - math.log(alpha - 1.0)


def zcdp_delta(rho: float, epsilon: float) -> float:
    """The smallest delta such that rho-zCDP implies (epsilon, delta)-DP."""
    if rho < 0 or epsilon < 0:
        raise ValueError("rho and epsilon must be non-negative")
    if rho == 0:
        return 0.0
    upper = max(2.0, (epsilon + 1.0) / (2.0 * rho) + 2.0)  # the optimum lies below this
    best = minimize_scalar(lambda a: _log_delta(a, rho, epsilon), bounds=(1.0 + 1e-9, upper), method="bounded",
                           options={"xatol": 1e-10})
    log_delta = min(best.fun, _log_delta(upper, rho, epsilon))
    return min(1.0, math.exp(log_delta))


def _bisect(predicate, lo: float, hi: float, iters: int = 200) -> float:
    """Largest x in [lo, hi] with predicate(x) true, for a predicate true at lo and monotone. Stops when the
    interval cannot shrink in floating point (about 60 halvings), with the same answer 200 would give."""
    for _ in range(iters):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if predicate(mid):
            lo = mid
        else:
            hi = mid
    return lo


@functools.lru_cache(maxsize=1024)  # every fit's odometer asks again for the same few budgets
def zcdp_rho(epsilon: float, delta: float) -> float:
    """The largest rho whose rho-zCDP guarantee implies (epsilon, delta)-DP: the budget a mechanism may spend."""
    if epsilon <= 0 or not 0 < delta < 1:
        raise ValueError("need epsilon > 0 and 0 < delta < 1")
    return _bisect(lambda rho: zcdp_delta(rho, epsilon) <= delta, 0.0, epsilon + 1.0)


def zcdp_epsilon(rho: float, delta: float) -> float:
    """The smallest epsilon such that rho-zCDP implies (epsilon, delta)-DP (what a release may claim)."""
    if rho < 0 or not 0 < delta < 1:
        raise ValueError("need rho >= 0 and 0 < delta < 1")
    if rho == 0:
        return 0.0
    simple = rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))  # a valid (looser) bound: search below it
    lo, hi = 0.0, simple
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):  # the interval cannot shrink any more in floating point
            break
        if zcdp_delta(rho, mid) <= delta:
            hi = mid
        else:
            lo = mid
    return hi


def gaussian_rho(sigma: float, sensitivity: float = 1.0) -> float:
    """zCDP cost of adding N(0, sigma^2) to a query of L2 sensitivity ``sensitivity`` (Bun & Steinke 2016)."""
    if sigma <= 0:
        raise ValueError("sigma must be positive")
    return sensitivity**2 / (2.0 * sigma**2)


def gaussian_sigma(rho: float, sensitivity: float = 1.0) -> float:
    """The noise scale that spends exactly ``rho``."""
    if rho <= 0:
        raise ValueError("rho must be positive")
    return sensitivity / math.sqrt(2.0 * rho)


def exponential_rho(epsilon: float) -> float:
    """zCDP cost of the exponential mechanism at ``epsilon`` (bounded range: eps^2/8, Cesar & Rogers 2021)."""
    if epsilon <= 0:
        raise ValueError("epsilon must be positive")
    return epsilon**2 / 8.0


def exponential_epsilon(rho: float) -> float:
    """The exponential-mechanism epsilon that spends exactly ``rho``."""
    if rho <= 0:
        raise ValueError("rho must be positive")
    return math.sqrt(8.0 * rho)


@dataclass(frozen=True)
class HistoryEntry:
    """``steps`` compositions of a Poisson-subsampled Gaussian, the unit RDP and PRV accountants compose.

    ``noise_multiplier`` is the noise standard deviation over the L2 sensitivity (the clip norm in DP-SGD);
    a sample rate of 1 is the plain Gaussian mechanism."""

    noise_multiplier: float
    sample_rate: float
    steps: int

    def as_opacus(self) -> tuple[float, float, int]:
        return (float(self.noise_multiplier), float(self.sample_rate), int(self.steps))


def gaussian_entry(rho: float) -> HistoryEntry:
    """The history entry with the same Renyi-DP curve as a rho-zCDP charge: a Gaussian with noise multiplier
    sqrt(1 / (2 rho)) has RDP alpha * rho at every order alpha, which is exactly rho-zCDP. For a Gaussian
    charge this IS the mechanism (valid for any accountant); for an exponential-mechanism charge it is only
    an RDP upper bound, so it may be composed by the RDP accountant but not by PRV."""
    if rho <= 0:
        raise ValueError("rho must be positive")
    return HistoryEntry(math.sqrt(1.0 / (2.0 * rho)), 1.0, 1)


def gaussian_dp_delta(mu: float, epsilon: float) -> float:
    """delta(epsilon) of mu-Gaussian DP (Dong, Roth & Su 2022, Cor. 2.13): the privacy profile of one Gaussian
    mechanism with sensitivity over noise = mu, and of any composition of Gaussians with sum of mu_i^2 = mu^2.

        delta = Phi(-epsilon/mu + mu/2) - e^epsilon Phi(-epsilon/mu - mu/2)

    (the second term in log space, so that a large epsilon does not overflow)."""
    if mu <= 0:
        return 0.0
    first = norm.cdf(-epsilon / mu + mu / 2)
    second = math.exp(epsilon + norm.logcdf(-epsilon / mu - mu / 2))
    return max(0.0, float(first - second))


def gaussian_dp_epsilon(mu: float, delta: float) -> float:
    """The smallest epsilon with mu-Gaussian DP implying (epsilon, delta)-DP (exact, by bisection on the
    decreasing profile ``gaussian_dp_delta``)."""
    if not 0 < delta < 1:
        raise ValueError("need 0 < delta < 1")
    if mu <= 0 or gaussian_dp_delta(mu, 0.0) <= delta:
        return 0.0
    hi = 1.0
    while gaussian_dp_delta(mu, hi) > delta:
        hi *= 2
    # the last epsilon whose delta is still above the target: at most one float below the exact answer, which
    # is the conservative side for the audit's lower bound
    return _bisect(lambda epsilon: gaussian_dp_delta(mu, epsilon) > delta, 0.0, hi)
