"""Public cut points of numeric columns, and where a decoded number lands inside its bin.

Every function here reads a column's PUBLIC spec (bounds, declared bins, edges, scale), or cut points that were
already bought through the privacy layer; none reads a table. Scales:

* ``linear``: equal-width bins over [min, max] (the default, 32 bins).
* ``log``: equal-width bins in ``t = sign(x) * log(1 + |x|)``, a signed log that is defined across zero, so an
  income range of -20k..4.2M gets fine bins where people are and coarse ones in the tail.

Decoding inside a bin (post-processing of the synthetic codes, no budget): ``uniform`` draws uniformly on the
column's scale; ``interpolated`` (default) draws from a linear density on the scale whose ends are the average
of the neighbouring bins' densities, estimated from the synthetic codes being decoded. Each bin keeps exactly
its mass (a decoded number re-encodes to its code), and inside wide bins the values lean towards the denser
neighbour, as a frequency polygon does (Scott 1985), instead of spreading flat across the bin.
"""
from __future__ import annotations

import numpy as np

#: candidate cut points a DP quantile may choose among, at most (a public grid on the column's scale)
QUANTILE_GRID = 4096


def heavy_tailed_range(lo: float, hi: float) -> bool:
    """Whether a public range calls for ``scale: log``: it reaches 1,000 in magnitude and spans three orders of
    magnitude above its lower end (or above 1 when it starts at or below zero). A function of the bounds alone,
    so proposing it reads nothing from a table (``privsynth init``)."""
    magnitude = max(abs(lo), abs(hi))
    return magnitude >= 1000 and magnitude / max(lo, 1.0) >= 1000


def to_scale(x: np.ndarray, scale: str) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.log1p(np.abs(x)) if scale == "log" else x


def from_scale(t: np.ndarray, scale: str) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    return np.sign(t) * np.expm1(np.abs(t)) if scale == "log" else t


def inner_edges(lo: float, hi: float, n_bins: int, scale: str) -> np.ndarray:
    """``n_bins - 1`` cut points, equal-width on ``scale`` between the public bounds."""
    grid = np.linspace(to_scale(lo, scale), to_scale(hi, scale), n_bins + 1)[1:-1]
    return from_scale(grid, scale)


def full_edges(lo: float, hi: float, inner: np.ndarray, integer: bool) -> tuple[float, ...]:
    """Bounds plus cut points, sorted and de-duplicated. For integers the cut points are rounded up, which
    moves no integer to another bin (x >= e exactly when x >= ceil(e)) and drops bins with no integer."""
    inner = np.asarray(inner, dtype=float)
    if integer:
        inner = np.ceil(inner - 1e-9)
    inner = np.unique(inner[(inner > lo) & (inner <= hi if integer else inner < hi)])
    return (float(lo), *inner.tolist(), float(hi))


def quantile_candidates(lo: float, hi: float, scale: str, integer: bool) -> np.ndarray:
    """The public grid a DP quantile chooses its cut points from: every integer inside the bounds when there
    are at most QUANTILE_GRID of them, else QUANTILE_GRID points equal-width on the column's scale."""
    if integer and hi - lo < QUANTILE_GRID:
        return np.arange(lo + 1, hi + 1, dtype=float)
    grid = from_scale(np.linspace(to_scale(lo, scale), to_scale(hi, scale), QUANTILE_GRID + 1)[1:], scale)
    grid = np.clip(np.ceil(grid - 1e-9) if integer else grid, lo, hi)  # float round trips can overshoot
    return np.unique(grid)


def bin_ranges(edges: np.ndarray, integer: bool, skip_zero: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bin, the continuous range [left, right) a value is drawn from, and whether the bin spans zero while
    zero has a code of its own. Integers: [first, last + 1), floored after drawing; a zero-spanning bin's range
    is one unit shorter and values from zero upwards shift up by one, so zero is never drawn."""
    left, right = edges[:-1].astype(float), edges[1:].astype(float)
    if not integer:
        return left, right, np.zeros(len(left), dtype=bool)
    first = np.ceil(left)
    last = np.concatenate([np.ceil(right[:-1]) - 1, np.floor(right[-1:])])
    last = np.maximum(last, first)
    spans_zero = skip_zero & (first <= 0) & (last >= 0) & (last > first)
    return first, last + 1 - spans_zero, spans_zero


def place(bins: np.ndarray, left: np.ndarray, right: np.ndarray, scale: str, within: str,
          rng: np.random.Generator) -> np.ndarray:
    """A value for each row inside its bin ``bins[i]`` (range ``left[b]..right[b]``), see the module doc."""
    t_left, t_right = to_scale(left, scale), to_scale(right, scale)
    u = rng.random(len(bins))
    if within == "interpolated" and len(left) > 1 and len(bins):
        fraction = _linear_density_draw(bins, t_right - t_left, u)
    else:
        fraction = u
    t = t_left[bins] + fraction * (t_right[bins] - t_left[bins])
    return from_scale(t, scale)


def _linear_density_draw(bins: np.ndarray, widths: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws on [0, 1) from a linear density whose ends are proportional to the densities at the
    bin's edges (the mean of the two adjacent bins' densities; a bin's own at the outer edges). The density
    a + (b - a) s with a + b = 2 integrates to one, so the bin's mass is unchanged."""
    counts = np.bincount(bins, minlength=len(widths)).astype(float)
    density = np.divide(counts, widths, out=np.zeros_like(counts), where=widths > 0)
    at_edges = np.concatenate([density[:1], (density[:-1] + density[1:]) / 2, density[-1:]])
    a, b = at_edges[:-1], at_edges[1:]
    total = a + b
    a = np.divide(2 * a, total, out=np.ones_like(a), where=total > 0)[bins]
    b = np.divide(2 * b, total, out=np.ones_like(b), where=total > 0)[bins]
    # s solves a s + (b - a) s^2 / 2 = u; this form is stable for b == a and for a == 0
    root = np.sqrt(np.maximum(a * a + 2 * (b - a) * u, 0.0))
    denominator = a + root
    s = np.divide(2 * u, denominator, out=np.zeros_like(u), where=denominator > 0)
    for outer, inner, mirrored in ((len(widths) - 1, len(widths) - 2, False), (0, 1, True)):
        rows = bins == outer
        if density[outer] > 0 and density[inner] > density[outer] and rows.any():
            s[rows] = _tail_draw(u[rows], density[inner] / density[outer], mirrored)
    return np.clip(s, 0.0, np.nextafter(1.0, 0.0))


def _tail_draw(u: np.ndarray, ratio: float, mirrored: bool) -> np.ndarray:
    """An outer bin (the open end of the range: e.g. the last quantile bin of a weight, up to a generous public
    bound) sparser than its neighbour: an exponential density on [0, 1) that starts at the neighbour's density
    and keeps the bin's mass, rate L solving L / (1 - exp(-L)) = ratio; a linear density would instead spread
    the tail's rows across the whole width, far beyond where they are. ``mirrored`` for the first bin."""
    lo, hi = 1e-9, ratio + 1.0  # L / (1 - exp(-L)) rises from 1 (L -> 0) and exceeds L
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mid / -np.expm1(-mid) < ratio else (lo, mid)
    rate = (lo + hi) / 2
    s = -np.log1p(u * np.expm1(-rate)) / rate
    return 1.0 - s if mirrored else s
