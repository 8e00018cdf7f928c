"""MST (McKenna, Miklau & Sheldon, "Winning the NIST Contest", JPC 2021), on Private-PGM.

0. Buy the cut points of ``bins: quantile`` columns (their declared budget shares), if any.
1. Measure every 1-way marginal with Gaussian noise (a third of the rest; a column with a public parent at its
   parent level, then its children, at the same cost: generators/marginal/compression.py).
2. Choose a maximum spanning tree of 2-way marginals, one edge at a time with the exponential mechanism,
   scoring each candidate pair by how badly the independence model of the noisy 1-ways explains it
   (a third of the budget, split over the r-1 choices).
3. Measure the chosen 2-way marginals with Gaussian noise (the last third).
4. Fit a graphical model to the noisy measurements (Private-PGM) and sample from it with our own sampler.

Steps 1-3 go through PrivateData, which charges every query; step 4 is post-processing.
"""
from __future__ import annotations

import itertools

import numpy as np

from privsynth.generator_config import MSTParams
from privsynth.generators.base import Progress, silent
from privsynth.generators.marginal.base import MarginalGenerator
from privsynth.generators.marginal._mbi import estimate_model
from privsynth.generators.marginal.compression import measure_one_ways
from privsynth.privacy.accounting import exponential_epsilon, gaussian_sigma
from privsynth.privacy.private_data import NoisyMarginal, PrivateData


class MST(MarginalGenerator):
    kind = "mst"
    is_dp = True

    params_model = MSTParams

    def fit(self, private: PrivateData, progress: Progress = silent) -> "MST":
        private = self._prepare(private, self.kind)
        names = self.model_columns(private)
        rho = private.odometer.remaining_rho
        sigma_1way = gaussian_sigma(rho / 3 / len(names))
        private, one_way, groups = measure_one_ways(private, names, sigma_1way, "mst.1way")
        progress(f"measured {len(names)} one-way marginals (sigma {sigma_1way:.1f})")
        tree = self._select_tree(private, one_way, rho / 3)
        progress(f"spanning tree chosen: {', '.join(' x '.join(e) for e in tree)}")
        sigma_2way = gaussian_sigma(rho / 3 / max(1, len(tree)))
        two_way = [private.measure_marginal(edge, sigma_2way, label="mst.2way") for edge in tree]
        self.tree_, self.measurements_ = tree, one_way + two_way
        progress(f"measured {len(tree)} two-way marginals (sigma {sigma_2way:.1f}); fitting Private-PGM")
        model = estimate_model({c: private.sizes[c] for c in names}, one_way + two_way, iters=self.params.iters)
        self._finish(private, model, "MST (Gaussian marginals + exponential-mechanism tree selection, Private-PGM)",
                     {"sigma_1way": sigma_1way, "sigma_2way": sigma_2way, "tree": [list(e) for e in tree]}, groups)
        return self

    @staticmethod
    def _select_tree(private: PrivateData, one_way: list[NoisyMarginal], rho: float) -> list[tuple[str, str]]:
        """Kruskal's algorithm where each edge is an exponential-mechanism choice among the pairs that
        still join two components. Scores compare true 2-way counts with the independence model of the
        NOISY 1-way marginals, so estimates are public; only the score itself touches private rows."""
        names = [m.columns[0] for m in one_way]
        probs = {m.columns[0]: _normalise(m.counts) for m in one_way}
        total = float(np.mean([max(m.counts.sum(), 1.0) for m in one_way]))
        component = {c: c for c in names}

        def root(c: str) -> str:
            while component[c] != c:
                component[c] = component[component[c]]
                c = component[c]
            return c

        if len(names) < 2:
            return []
        epsilon = exponential_epsilon(rho / (len(names) - 1))
        tree: list[tuple[str, str]] = []
        pairs = list(itertools.combinations(names, 2))
        for _ in range(len(names) - 1):
            candidates = [p for p in pairs if root(p[0]) != root(p[1])]
            estimates = [total * np.outer(probs[a], probs[b]) for a, b in candidates]
            chosen = candidates[private.select_by_error(candidates, estimates, epsilon, label="mst.select")]
            component[root(chosen[0])] = root(chosen[1])
            tree.append(chosen)
        return tree


def _normalise(counts: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(counts, dtype=float), 0.0, None)
    total = clipped.sum()
    return clipped / total if total > 0 else np.full(clipped.shape, 1.0 / clipped.size)


