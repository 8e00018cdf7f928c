"""inference.py's mirror descent on a small junction tree, in a few numpy calls per tree level.

Why a second path: a 1,000-row shadow fit on Adult runs about 4,400 mirror-descent iterations on trees of 30-220
cells over 9-15 cliques (domain compression leaves few codes per column). inference.py's clique-by-clique
belief propagation, loss and gradient make several hundred numpy calls per iteration on tables of a few cells,
so an iteration costs about 1 ms of call overhead, three quarters of the fit. Here every tree clique's table
lives in one flat vector, and every sum to a separator or to a measurement is one ``np.bincount`` over index
arrays worked out once per model. The cliques at one height of the tree (upward pass) or one depth (downward
pass) are handled together, so the number of calls follows the tree's depth, not its number of cliques.

The maths is inference.mirror_descent's: the same model (a log-potential per tree clique is the sum of the
model cliques homed there), the same Hugin passes with messages rescaled to a maximum of 1, the same Armijo
line search. Only float rounding differs, and tests/generators/test_inference.py compares the two paths. On
large trees a gather and a ``bincount`` cost more per cell than inference.py's contiguous sums, so
``_mbi.estimate_model`` takes this path only for trees of at most FLAT_MAX_CELLS cells (measured: bench/README).

Everything here is post-processing: its inputs are noisy measurements and public sizes only.
"""
from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np

from privsynth.generators.marginal.inference import (Clique, JunctionTree, MarginalLoss, _broadcast_shape,
                                                     _log_beliefs)

#: trees of at most this many cells take this path (bench/README: "Inference on small trees")
FLAT_MAX_CELLS = 20_000

_TINY = np.finfo(float).tiny


@dataclass(frozen=True)
class _Step:
    """One batched product or sum: ``cells`` index the flat tables, ``slots`` the flat messages."""

    cells: np.ndarray
    slots: np.ndarray


@dataclass(frozen=True)
class _Messages:
    """The separators of one group of cliques: their positions in the message vector and their segments."""

    positions: np.ndarray   # global message slots, in the group's local order
    starts: np.ndarray      # start of each separator in local order (for per-separator maxima)
    separator: np.ndarray   # each local slot's separator (0, 1, ... in local order)


def _cell_coords(shape: tuple[int, ...]) -> np.ndarray:
    return np.indices(shape).reshape(len(shape), -1)


def _sub_index(clique: Clique, shape: tuple[int, ...], sub: Clique, sizes: dict[str, int]) -> np.ndarray:
    """For every cell of ``clique`` (C order), the flat index of its projection onto ``sub`` (model order)."""
    coords = _cell_coords(shape)
    if not sub:
        return np.zeros(coords.shape[1], dtype=np.int64)
    rows = [coords[clique.index(c)] for c in sub]
    return np.ravel_multi_index(rows, tuple(sizes[c] for c in sub)).astype(np.int64)


class FlatTree:
    """Index arrays for belief propagation and the loss on one small junction tree (built once per model)."""

    def __init__(self, tree: JunctionTree, loss: MarginalLoss) -> None:
        sizes = dict(tree.sizes)
        shapes = [tree.shape(i) for i in range(len(tree.cliques))]
        lengths = np.array([int(np.prod(s, dtype=np.int64)) for s in shapes], dtype=np.int64)
        self.shapes = shapes
        self.offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.lengths = lengths
        self.cells = int(self.offsets[-1])
        cells_of = [np.arange(self.offsets[i], self.offsets[i + 1]) for i in range(len(shapes))]

        separator: dict[int, Clique] = {}
        for i, parent in enumerate(tree.parents):
            if parent >= 0:
                separator[i] = tuple(c for c in tree.cliques[i] if c in tree.cliques[parent])
        sep_length = {i: int(np.prod([sizes[c] for c in s], dtype=np.int64)) for i, s in separator.items()}
        sep_start, start = {}, 0
        for i in sorted(separator):
            sep_start[i], start = start, start + sep_length[i]
        self.message_slots = start
        child_side = {i: _sub_index(tree.cliques[i], shapes[i], s, sizes) for i, s in separator.items()}
        parent_side = {i: _sub_index(tree.cliques[tree.parents[i]], shapes[tree.parents[i]], s, sizes)
                       for i, s in separator.items()}

        depth = [0] * len(shapes)
        for i, parent in enumerate(tree.parents):  # preorder: a parent comes before its children
            depth[i] = depth[parent] + 1 if parent >= 0 else 0
        height = [0] * len(shapes)
        for i in reversed(range(len(shapes))):
            if tree.parents[i] >= 0:
                height[tree.parents[i]] = max(height[tree.parents[i]], height[i] + 1)

        def messages(group: list[int]) -> _Messages:
            lengths_ = np.array([sep_length[c] for c in group], dtype=np.int64)
            return _Messages(np.concatenate([sep_start[c] + np.arange(sep_length[c]) for c in group]),
                             np.concatenate([[0], np.cumsum(lengths_)[:-1]]),
                             np.repeat(np.arange(len(group)), lengths_))

        def local(group: list[int]) -> dict[int, int]:
            out, at = {}, 0
            for c in group:
                out[c], at = at, at + sep_length[c]
            return out

        # upward, by height: multiply each clique's children's messages in (one product per child slot, so a
        # cell never appears twice in one product), then sum the non-roots to their separators
        self.upward: list[tuple[list[_Step], _Step | None, _Messages | None]] = []
        for h in range(max(height) + 1):
            level = [i for i in range(len(shapes)) if height[i] == h]
            products = []
            for k in range(max((len(tree.children[i]) for i in level), default=0)):
                pairs = [(i, tree.children[i][k]) for i in level if len(tree.children[i]) > k]
                products.append(_Step(np.concatenate([cells_of[i] for i, _ in pairs]),
                                      np.concatenate([sep_start[c] + parent_side[c] for _, c in pairs])))
            senders = [i for i in level if i in separator]
            if senders:
                at = local(senders)
                sums = _Step(np.concatenate([cells_of[i] for i in senders]),
                             np.concatenate([at[i] + child_side[i] for i in senders]))
                self.upward.append((products, sums, messages(senders)))
            else:
                self.upward.append((products, None, None))
        # downward, by depth: each child's parent (calibrated one level earlier) summed to the separator,
        # divided by the upward message, rescaled, and multiplied into the child
        self.downward: list[tuple[_Step, _Step, _Messages]] = []
        for d in range(1, max(depth) + 1):
            group = [i for i in range(len(shapes)) if depth[i] == d]
            at = local(group)
            below = _Step(np.concatenate([cells_of[tree.parents[i]] for i in group]),
                          np.concatenate([at[i] + parent_side[i] for i in group]))
            into = _Step(np.concatenate([cells_of[i] for i in group]),
                         np.concatenate([at[i] + child_side[i] for i in group]))
            self.downward.append((below, into, messages(group)))

        # the loss: every measurement summed out of the tree clique that holds its home potential
        counts, weights, cells, slots, start = [], [], [], [], 0
        self.measurement_slices = []
        for m in loss.measurements:
            home = tree.potential_plans[m.home][0]
            cells.append(cells_of[home])
            slots.append(start + _sub_index(tree.cliques[home], shapes[home], m.clique, sizes))
            counts.append(np.asarray(m.counts, dtype=float).ravel())
            weights.append(np.full(counts[-1].size, 1.0 / m.sigma ** 2))
            self.measurement_slices.append(slice(start, start + counts[-1].size))
            start += counts[-1].size
        self.measured = _Step(np.concatenate(cells), np.concatenate(slots))
        self.counts = np.concatenate(counts)
        self.inverse_variance = np.concatenate(weights)

    # ------------------------------------------------------------------------------------------ the passes
    @staticmethod
    def _rescale(values: np.ndarray, messages: _Messages) -> np.ndarray:
        """Each separator's message divided by its maximum (an all-zero message stays zero)."""
        return values / np.fmax(np.maximum.reduceat(values, messages.starts), _TINY)[messages.separator]

    def marginals(self, log_potential: np.ndarray, total: float) -> np.ndarray:
        """Every tree clique's marginal (flat, each clique summing to ``total``): inference.clique_marginals."""
        starts = self.offsets[:-1]
        x = np.exp(log_potential - np.repeat(np.maximum.reduceat(log_potential, starts), self.lengths))
        sent = np.zeros(self.message_slots)
        for products, sums, messages in self.upward:
            for step in products:
                x[step.cells] *= sent[step.slots]
            if sums is not None:
                out = np.bincount(sums.slots, weights=x[sums.cells], minlength=len(messages.positions))
                sent[messages.positions] = self._rescale(out, messages)
        for below, into, messages in self.downward:
            summed = np.bincount(below.slots, weights=x[below.cells], minlength=len(messages.positions))
            up = sent[messages.positions]
            quotient = np.divide(summed, up, out=np.zeros_like(summed), where=up > 0)
            x[into.cells] *= self._rescale(quotient, messages)[into.slots]
        return x * np.repeat(total / np.add.reduceat(x, starts), self.lengths)

    def residuals(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """The loss, every measurement's marginal and its gradient weight (P_k mu - y_k) / sigma_k^2 (flat)."""
        answers = np.bincount(self.measured.slots, weights=x[self.measured.cells], minlength=len(self.counts))
        weighted = (answers - self.counts) * self.inverse_variance
        return 0.5 * float(np.vdot(answers - self.counts, weighted)), answers, weighted

    def gradient(self, weighted: np.ndarray) -> np.ndarray:
        """dL/dtheta per tree cell: each measurement's weighted residual broadcast over its tree clique."""
        return np.bincount(self.measured.cells, weights=weighted[self.measured.slots], minlength=self.cells)

    def tables(self, x: np.ndarray) -> list[np.ndarray]:
        return [x[self.offsets[i]:self.offsets[i + 1]].reshape(shape) for i, shape in enumerate(self.shapes)]


def mirror_descent(tree: JunctionTree, loss: MarginalLoss, potentials: dict[Clique, np.ndarray], total: float,
                   iters: int) -> tuple[dict[Clique, np.ndarray], list[np.ndarray]]:
    """inference.mirror_descent on the flat tables: the same steps, line search and return values.

    The step is taken on each tree clique's log-potential; the model cliques' potentials are rebuilt at the
    end from each measurement's accumulated step (a model clique's gradient is its measurements' weighted
    residuals, broadcast), so a warm start of the next round sees the same potentials."""
    flat = FlatTree(tree, loss)
    theta = np.concatenate([b.ravel() for b in _log_beliefs(tree, potentials)])
    alpha = 2.0 / (loss.lipschitz() * total)
    stepped = np.zeros_like(flat.counts)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        x = flat.marginals(theta, total)
        value, answers, weighted = flat.residuals(x)
        gradient = flat.gradient(weighted)
        for _ in range(iters):
            trial_theta = theta - alpha * gradient
            trial_x = flat.marginals(trial_theta, total)
            trial_value, trial_answers, trial_weighted = flat.residuals(trial_x)
            decrease = float(np.vdot(weighted, answers - trial_answers))
            if math.isfinite(trial_value) and value - trial_value >= 0.5 * alpha * decrease:
                stepped += alpha * weighted
                theta, x, value, answers, weighted = trial_theta, trial_x, trial_value, trial_answers, trial_weighted
                gradient = flat.gradient(weighted)
                alpha *= 1.01
            else:
                alpha *= 0.5
    out = {c: np.array(t, dtype=float) for c, t in potentials.items()}
    for m, part in zip(loss.measurements, flat.measurement_slices):
        out[m.home] -= stepped[part].reshape(_broadcast_shape(m.clique, m.home, tree.sizes))
    return out, flat.tables(x)
