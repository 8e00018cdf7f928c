"""PrivateData: the only door from a generator to the private training rows.

A generator is handed this object, never the DataFrame. Each method answers one privatised query and charges
the odometer before computing it. Neural generators get the rows only through ``dpsgd_training``: one-hot
features from the public layout, inside an Opacus DP-SGD session whose every step is paid for in advance. A DP reviewer audits this file (and accounting.py, odometer.py) instead of
every generator. The one exception, ``raw_frame_for_non_dp_baseline``, is loudly named, refuses unless the
threat model sets ``allow_non_dp: true``, and marks the run as carrying no formal guarantee.

Neighbouring tables differ by adding or removing one row; a count vector then changes by 1 in one cell
(L2 and L1 sensitivity 1), and the L1 error of any fixed estimate against it changes by at most 1.

Person-level runs (``rows_per_person`` = k > 1): neighbouring tables differ by all rows of one person, at most
k after the contribution bound (data/persons.py). Every query below then has k times the sensitivity, and this
handle scales the noise by k, so each charge keeps the price the generator planned for. Proof, per query:

* a marginal: removing the person's r <= k rows subtracts a vector d of non-negative integers with sum(d) = r,
  so ||d||_2 <= ||d||_1 = r <= k (equality when all k rows fall in one cell: the bound is tight). A Gaussian
  mechanism with L2 sensitivity k and noise k * sigma is exactly a sensitivity-1 mechanism with noise sigma
  applied to counts / k, so it costs 1 / (2 sigma^2) zCDP, what a row-level ``measure_marginal(sigma)`` costs;
* the row count: changes by r <= k; the same argument;
* the exponential mechanism's quality w_i * (||true_i - est_i||_1 - penalty_i): by the triangle inequality the
  L1 error moves by at most ||d||_1 <= k, so the quality moves by at most k * max(w); the Gumbel draw uses that
  sensitivity and costs epsilon^2 / 8 zCDP as before;
* a quantile score |#{x < c} - a n|: each removed row moves it by at most max(a, 1 - a), so k rows by at
  most k * max(a, 1 - a).

* the number of persons (``measure_unit_count``): changes by exactly 1, sensitivity 1 at any k;
* DP-SGD: the loader samples persons and Opacus clips the sum of one person's per-row gradients (privacy/
  dpsgd.py explains how), so one person is one sample of the accounted mechanism: no factor k, and the sample
  rate is a rate over persons (set it from ``measure_unit_count``).

``tests/privacy/test_person_level.py`` checks each of these against the odometer, the spread of the noise, a
fit on D and on D minus one person replayed with the same secret draws, and the per-person clipping inside a
real DP-SGD training loop.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

import torch

from privsynth.data.domain import ColumnCoder, PublicDomain
from privsynth.data.encoding import OneHotLayout
from privsynth.errors import PrivsynthError
from privsynth.data.binning import quantile_candidates
from privsynth.privacy.accounting import HistoryEntry, exponential_epsilon, exponential_rho, gaussian_rho
from privsynth.privacy.dpsgd import DPSGDSession, attach_dpsgd, calibrate_noise, person_slots, steps_per_epoch
from privsynth.privacy.noise_audit import NoiseTap
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.noise import NoiseSource


@dataclass(frozen=True)
class NoisyMarginal:
    """Gaussian-noised counts over ``columns`` (shape = their code sizes), with the noise scale used."""

    columns: tuple[str, ...]
    counts: np.ndarray
    sigma: float


class PrivateData:
    def __init__(
        self,
        train: pd.DataFrame,
        domain: PublicDomain,
        odometer: Odometer,
        noise: NoiseSource,
        allow_non_dp: bool = False,
        rows_per_person: int = 1,
        noise_tap: NoiseTap | None = None,
        persons: np.ndarray | None = None,
    ) -> None:
        """``noise``: the run's secret randomness (privacy/noise.py: the steward's key and a fresh nonce), the
        only source of every noise draw below; shadow fits, which simulate an attacker, pass a simulation.
        ``rows_per_person``: the contribution bound k the rows were cut to (1: row-level); every query's
        sensitivity, and so its noise, is multiplied by it (see the module docstring).
        ``noise_tap``: audit fits only (privacy/noise_audit.py): every Gaussian answer given out and every DP-SGD
        phase started is measured against the noise charged for it.
        ``persons``: at person level, the person id of each training row (after the contribution bound): DP-SGD
        samples and clips persons, and ``measure_unit_count`` counts them. Never handed to a generator."""
        if int(rows_per_person) != rows_per_person or rows_per_person < 1:
            raise ValueError("rows_per_person must be a positive integer")
        if persons is not None and len(persons) != len(train):
            raise ValueError(f"persons holds {len(persons)} ids for {len(train)} training rows")
        self.rows_per_person = int(rows_per_person)
        self._persons = None if persons is None else np.asarray(persons)
        self.noise_tap = noise_tap
        self._train = train
        codes, self._coders = domain.encode(train)
        self._codes = np.asfortranarray(codes)  # column after column: counting reads whole columns
        self.domain = domain
        self.odometer = odometer
        self.noise = noise
        self._rng = noise.generator("fit")
        self._allow_non_dp = allow_non_dp
        self.non_dp_access = False
        self._sizes = {n: c.size for n, c in self._coders.items()}
        self._count_cache: dict[tuple[str, ...], np.ndarray] = {}
        self._prefix: tuple[tuple[str, ...], np.ndarray] | None = None
        #: ``bins: quantile`` columns whose cut points are not bought yet: no query may use them
        self._pending = set(domain.quantile_columns)
        #: cut points bought through ``with_quantile_bins`` (DP outputs: a generator publishes them)
        self.bought_edges: dict[str, tuple[float, ...]] = {}

    # ------------------------------------------------------------------ public facts (no budget needed)
    @property
    def coders(self) -> Mapping[str, ColumnCoder]:
        """Encoders built from the public domain alone."""
        return self._coders

    @property
    def sizes(self) -> dict[str, int]:
        """Number of codes per column (of this view: ``recoded`` views may have merged some)."""
        return dict(self._sizes)

    def recoded(self, code_maps: Mapping[str, np.ndarray]) -> "PrivateData":
        """The same rows in a coarser code space: ``code_maps[column][old_code] = new_code``.

        The maps must be public or derived from answers already paid for (AIM merges the codes whose noisy
        count is small). The view shares this one's odometer, noise source and consent, so every query on it
        is charged to the same budget; it only changes which cells a marginal has.
        """
        view = copy.copy(self)
        view._codes = self._codes.copy(order="F")
        view._sizes = dict(self._sizes)
        view._count_cache, view._prefix = {}, None
        for name, mapping in code_maps.items():
            j = self.domain.names.index(name)
            mapping = np.asarray(mapping, dtype=np.int64)
            if mapping.shape != (self._sizes[name],) or mapping.min() < 0 or \
                    set(np.unique(mapping)) != set(range(int(mapping.max()) + 1)):
                raise ValueError(f"code map for {name!r} must send each of its {self._sizes[name]} codes onto 0..k-1")
            view._codes[:, j] = mapping[self._codes[:, j]]
            view._sizes[name] = int(mapping.max()) + 1
        return view

    def one_hot_layout(self, numeric_bins: int | None = None) -> tuple[OneHotLayout, dict[str, ColumnCoder]]:
        """The feature layout ``dpsgd_training`` uses, and its coders: public, from the domain alone (and cut
        points already bought). ``numeric_bins`` None keeps this view's coders (the threat model's binning)."""
        if numeric_bins is None:
            self._require_bought(self.domain.names, "one_hot_layout")
            return OneHotLayout.from_coders(self._coders), dict(self._coders)
        coders = self.domain.coders(bins=numeric_bins, zero_bin=False)
        return OneHotLayout.from_coders(coders), coders

    def with_quantile_bins(self, label: str = "bins.quantile") -> "PrivateData":
        """A view whose ``bins: quantile`` columns are cut at DP quantiles bought now (none pending: self).

        Each such column spends ``quantile_share`` of the odometer's total rho on ``quantile_bins - 1`` cut
        points (``dp_quantiles``); the view shares this one's odometer and noise source. The cut points are
        DP outputs: they are in ``bought_edges`` and a generator publishes them with its guarantee."""
        if not self._pending:
            return self
        view = copy.copy(self)
        view._codes, view._sizes, view._count_cache = self._codes.copy(), dict(self._sizes), {}
        view.bought_edges = dict(self.bought_edges)
        for name in [n for n in self.domain.names if n in self._pending]:
            spec = self.domain.columns[name]
            levels = np.arange(1, spec.quantile_bins) / spec.quantile_bins
            candidates = quantile_candidates(spec.min, spec.max, spec.scale, spec.type == "integer")
            cuts = self.dp_quantiles(name, levels, candidates, spec.quantile_share * self.odometer.total_rho, label)
            view.bought_edges[name] = tuple(float(c) for c in np.sort(cuts))
        coders = self.domain.coders(bought_edges=view.bought_edges)
        view._coders = {n: coders[n] if n in self._pending else c for n, c in self._coders.items()}
        for name in self._pending:
            view._codes[:, self.domain.names.index(name)] = coders[name].encode(self._train[name])
            view._sizes[name] = coders[name].size
        view._pending = set()
        return view

    # ------------------------------------------------------------------ privatised queries
    def measure_marginal(self, columns: Sequence[str], sigma: float, label: str = "marginal") -> NoisyMarginal:
        """Counts of every cell of the marginal over ``columns`` plus N(0, (k sigma)^2) noise per cell, for
        the price of a sensitivity-1 measurement at ``sigma`` (k = ``rows_per_person``; 1 at row level). The
        result carries the noise scale actually used, k sigma."""
        columns = tuple(columns)
        self._require_bought(columns, label)
        noise_scale = self.rows_per_person * sigma
        self.odometer.charge(f"{label}{list(columns)}", "gaussian", gaussian_rho(sigma), sigma=noise_scale,
                             sensitivity=self.rows_per_person, columns=list(columns))
        counts = self._true_counts(columns)
        noisy = counts + self._gaussian(noise_scale, counts.shape)
        if self.noise_tap is not None:
            self.noise_tap.record(noisy, counts, noise_scale)
        return NoisyMarginal(columns, noisy, float(noise_scale))

    def select_by_error(
        self,
        candidates: Sequence[tuple[str, ...]],
        estimates: Sequence[np.ndarray],
        epsilon: float,
        penalties: Sequence[float] | None = None,
        weights: Sequence[float] | None = None,
        feasible: Callable[[int], bool] | None = None,
        label: str = "select",
    ) -> int:
        """Exponential mechanism: pick the candidate marginal worst explained by its (public) estimate.

        The quality of candidate i is w_i * (||true_i - estimate_i||_1 - penalty_i). Estimates, penalties and
        weights must not depend on the private rows, so one added or removed row moves quality i by at most
        w_i: the sensitivity is max(w) (1 without weights), times k = ``rows_per_person`` for a person's k
        rows. Returns the chosen index.

        ``feasible(i)`` (public: it may look at the candidate and earlier noisy outputs, never at the rows)
        restricts the choice to the candidates it accepts, without evaluating it on all of them: the draw is
        the Gumbel-max form of the exponential mechanism, and the best feasible candidate under the SAME
        Gumbel noise is distributed exactly as the mechanism run on the feasible set alone (Gumbel-max is
        exact on every subset). AIM's model-size check is expensive; this asks it of a handful of candidates.
        """
        if len(candidates) != len(estimates) or not candidates:
            raise ValueError("one estimate per candidate, and at least one candidate")
        w = np.ones(len(candidates)) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (len(candidates),) or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ValueError("weights must be one positive finite number per candidate")
        self._require_bought({c for cand in candidates for c in cand}, label)
        sensitivity = self.rows_per_person * float(w.max())
        self.odometer.charge(label, "exponential", exponential_rho(epsilon), epsilon=epsilon,
                             n_candidates=len(candidates), sensitivity=sensitivity)
        scores = np.array([np.abs(self._true_counts(tuple(c)) - np.asarray(e).reshape(self._shape(c))).sum()
                           for c, e in zip(candidates, estimates)], dtype=float)
        if penalties is not None:
            scores = scores - np.asarray(penalties, dtype=float)
        scores = w * scores
        perturbed = 0.5 * epsilon / sensitivity * scores + self._rng.gumbel(size=len(scores))
        for index in np.argsort(-perturbed, kind="stable"):
            if feasible is None or feasible(int(index)):
                return int(index)
        raise ValueError("no candidate is feasible: feasible() must accept at least one")

    def edges_receipt(self) -> dict[str, dict[str, list[float]]]:
        """``{"dp_bin_edges": {column: cut points}}`` for a guarantee's details (empty when none were bought):
        DP outputs of ``with_quantile_bins``, published with the run."""
        return {"dp_bin_edges": {c: list(e) for c, e in self.bought_edges.items()}} if self.bought_edges else {}

    def dp_quantiles(self, column: str, levels: Sequence[float], candidates: np.ndarray, rho: float,
                     label: str = "quantiles") -> np.ndarray:
        """One cut point per level in ``levels`` (fractions in (0, 1)), each chosen from the PUBLIC grid
        ``candidates`` by the exponential mechanism (Smith 2011; the score of OpenDP's quantile scorer).

        Privacy: a candidate c scores |(1 - a) #{x < c} - a #{x >= c}| = |#{x < c} - a n| (lower is better;
        missing values count nowhere). Adding or removing one row moves one of the two counts by 1, so the
        score moves by at most max(a, 1 - a): that is its sensitivity, and no row count is read. Each level is
        an exponential mechanism at epsilon_i = sqrt(8 rho / k) (bounded range: epsilon_i^2 / 8 zCDP, Cesar &
        Rogers 2021), so the k levels together spend exactly ``rho``, charged as one entry before any row is
        read. Drawn as Gumbel-max with this handle's keyed noise source, so a steward reproduces a run bit for
        bit (OpenDP's samplers draw from the operating system and cannot be seeded, hence hand-written here).
        """
        levels = np.asarray(levels, dtype=float)
        candidates = np.asarray(candidates, dtype=float)
        if not len(levels) or np.any((levels <= 0) | (levels >= 1)) or candidates.ndim != 1 or not len(candidates):
            raise ValueError("levels must lie in (0, 1) and candidates be a non-empty public grid")
        epsilon = exponential_epsilon(rho / len(levels))
        self.odometer.charge(f"{label}[{column}]", "exponential", rho, epsilon=epsilon, n_quantiles=len(levels),
                             n_candidates=len(candidates), columns=[column], rows_per_person=self.rows_per_person)
        x = pd.to_numeric(self._train[column], errors="coerce").to_numpy(dtype=float)
        x = np.sort(x[~np.isnan(x)])
        below = np.searchsorted(x, candidates, side="left").astype(float)
        at_or_above = len(x) - below
        picks = []
        for level in levels:
            score = np.abs((1 - level) * below - level * at_or_above)
            sensitivity = self.rows_per_person * max(level, 1 - level)
            perturbed = -0.5 * epsilon / sensitivity * score + self._rng.gumbel(size=len(candidates))
            picks.append(candidates[int(np.argmax(perturbed))])
        return np.asarray(picks)

    def measure_count(self, sigma: float, label: str = "count") -> float:
        """The number of training rows plus N(0, (k sigma)^2): sensitivity k = ``rows_per_person``, priced
        as a sensitivity-1 count at ``sigma``."""
        noise_scale = self.rows_per_person * sigma
        self.odometer.charge(label, "gaussian", gaussian_rho(sigma), sigma=noise_scale,
                             sensitivity=self.rows_per_person)
        noisy = float(len(self._codes) + self._gaussian(noise_scale))
        if self.noise_tap is not None:
            self.noise_tap.record(noisy, len(self._codes), noise_scale)
        return noisy

    def measure_unit_count(self, sigma: float, label: str = "units") -> float:
        """The number of privacy units plus N(0, sigma^2): persons at person level, rows at row level. Either
        way one unit moves it by exactly 1, so the sensitivity is 1 whatever k is. DP-SGD sets its sample rate
        (a rate over units) from it."""
        if self.rows_per_person == 1:
            units = len(self._codes)
        else:
            units = len(pd.unique(self._require_persons(label)))
        self.odometer.charge(label, "gaussian", gaussian_rho(sigma), sigma=sigma, sensitivity=1,
                             counts="rows" if self.rows_per_person == 1 else "persons")
        noisy = float(units + self._gaussian(sigma))
        if self.noise_tap is not None:
            self.noise_tap.record(noisy, units, sigma)
        return noisy

    def dpsgd_training(
        self,
        module: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        sample_rate: float,
        epochs: int,
        max_grad_norm: float,
        expected_batch_size: int,
        numeric_bins: int | None = None,
        label: str = "dpsgd",
    ) -> DPSGDSession:
        """The training rows, one-hot encoded by ``one_hot_layout(numeric_bins)``, handed out only inside a
        DP-SGD session: a Poisson loader at ``sample_rate`` and Opacus-wrapped module and optimizer.

        The noise multiplier is calibrated so that this phase's ``epochs * int(1 / sample_rate)`` steps,
        composed with everything charged before, spend at most the odometer's epsilon budget; the whole
        phase is charged before the loader exists. ``sample_rate`` and ``expected_batch_size`` must not come
        from the true row count (derive them from ``measure_unit_count``): both end up in the manifest.

        At person level (k > 1) the session's unit is a person: the loader samples persons at ``sample_rate``
        and hands the module (persons, k, width) features (privacy/dpsgd.py ``DPSGDSession.batches``)."""
        slots = None if self.rows_per_person == 1 else \
            person_slots(self._require_persons(label), self.rows_per_person)
        if self.odometer.accountant == "zcdp" or self.odometer.epsilon_budget is None:
            raise PrivsynthError(f"{label}: DP-SGD needs an rdp or prv accountant (generator.params.accountant)")
        if not 0 < sample_rate <= 1 or epochs < 1 or max_grad_norm <= 0 or expected_batch_size < 1:
            raise PrivsynthError(f"{label}: need 0 < sample rate <= 1, epochs >= 1, max_grad_norm > 0 and "
                                 f"a batch size >= 1 (got {sample_rate}, {epochs}, {max_grad_norm}, "
                                 f"{expected_batch_size}); check generator.params")
        if numeric_bins is None:
            self._require_bought(self.domain.names, label)
        steps = epochs * steps_per_epoch(sample_rate)
        prior = self.odometer.history
        sigma = calibrate_noise(prior, sample_rate, steps, self.odometer.epsilon_budget,
                                self.odometer.delta, self.odometer.accountant)  # type: ignore[arg-type]
        self.odometer.charge_dpsgd(label, HistoryEntry(sigma, sample_rate, steps), noise_multiplier=sigma,
                                   sample_rate=sample_rate, steps=steps, max_grad_norm=max_grad_norm)
        layout, coders = self.one_hot_layout(numeric_bins)
        codes = self._codes if numeric_bins is None else \
            np.stack([coders[n].encode(self._train[n]) for n in self.domain.names], axis=1)
        features = torch.from_numpy(layout.one_hot(codes))
        session = self._start_dpsgd(module, optimizer, features, noise_multiplier=sigma,
                                    max_grad_norm=max_grad_norm, sample_rate=sample_rate, epochs=epochs,
                                    expected_batch_size=expected_batch_size, seed=int(self._rng.integers(2**62)),
                                    prior=prior, delta=self.odometer.delta, slots=slots,
                                    accountant=self.odometer.accountant)  # type: ignore[arg-type]
        if self.noise_tap is not None:
            self.noise_tap.watch(session, sigma)
        return session

    def fork_seed(self) -> int:
        """A seed for a generator's own data-independent randomness (weight initialisation, latent draws)."""
        return int(self._rng.integers(2**62))

    # ------------------------------------------------------------------ escape hatch, non-DP only
    def raw_frame_for_non_dp_baseline(self) -> pd.DataFrame:
        """The raw training rows, for SDV baselines. Refuses unless the threat model allows non-DP runs."""
        if not self._allow_non_dp:
            raise PrivsynthError("this generator has no DP guarantee and reads raw rows; set "
                                 "privacy.allow_non_dp: true to run it as a labelled non-DP baseline")
        self.non_dp_access = True
        return self._train.copy()

    # ------------------------------------------------------------------ internals
    def _gaussian(self, scale: float, shape: tuple[int, ...] | None = None) -> np.ndarray | float:
        """N(0, scale^2) draws from the run's secret noise: every Gaussian answer's noise comes from here."""
        return self._rng.normal(0.0, scale, size=shape)

    def _start_dpsgd(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, features: torch.Tensor,
                     **session: Any) -> DPSGDSession:
        """Opacus's wrapping of an already charged phase (privacy/dpsgd.py ``attach_dpsgd``)."""
        return attach_dpsgd(module, optimizer, features, **session)

    def _require_persons(self, label: str) -> np.ndarray:
        if self._persons is None:
            raise PrivsynthError(f"{label}: a person-level DP-SGD fit needs each training row's person; this "
                                 "PrivateData was built without them (pass persons=)")
        return self._persons

    def _require_bought(self, columns, label: str) -> None:
        pending = sorted(self._pending & set(columns))
        if pending:
            raise PrivsynthError(f"{label}: columns {pending} have bins: quantile and their cut points are not bought "
                                 "yet; this generator does not buy them (use aim or mst, or declare bins: N, edges "
                                 "or scale: log)")

    def _shape(self, columns: Sequence[str]) -> tuple[int, ...]:
        return tuple(self._sizes[c] for c in columns)

    def _true_counts(self, columns: tuple[str, ...]) -> np.ndarray:
        """Exact counts; cached because AIM scores the same candidates every round. Never returned outside."""
        if columns not in self._count_cache:
            self._count_cache[columns] = self._count(columns)
        return self._count_cache[columns]

    def _count(self, columns: tuple[str, ...]) -> np.ndarray:
        shape = self._shape(columns)
        return np.bincount(self._cell_index(columns), minlength=int(np.prod(shape))).astype(float).reshape(shape)

    def _cell_index(self, columns: tuple[str, ...]) -> np.ndarray:
        """Each row's flat cell in the marginal over ``columns``. The index over all columns but the last is
        kept for the next call: AIM counts its candidates in order, so (a, b, c) is followed by (a, b, d)."""
        last = self._codes[:, self.domain.names.index(columns[-1])]
        if len(columns) == 1:
            return last
        head = columns[:-1]
        if self._prefix is None or self._prefix[0] != head:
            self._prefix = (head, self._cell_index(head))
        return self._prefix[1] * self._sizes[columns[-1]] + last
