"""AIM: the budget is split and accounted exactly, the output depends on the private rows only through the
noisy answers, compression is decided from noisy counts, a seed fixes the table, and a wide table's workload
is drawn from its public columns alone."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from privsynth.data.domain import PublicDomain
from privsynth.errors import PrivsynthError
from privsynth.generator_config import AIMParams
from privsynth.generators.marginal._mbi import estimate_model
from privsynth.generators.marginal.aim import (AIM, _compress, default_model_size, public_workload, sampling_floor,
                                               workload_candidates)
from privsynth.privacy.noise import NoiseSource
from privsynth.privacy.accounting import zcdp_rho
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import NoisyMarginal, PrivateData
from privsynth.threat_model import CategoricalColumn

COLUMNS = ["age", "education", "marital_status", "sex", "hours_per_week", "capital_gain", "income"]
FAST = {"round_iters": 30, "final_iters": 100, "max_rounds": 12}


@pytest.fixture(scope="module")
def domain(adult_model) -> PublicDomain:
    return PublicDomain({c: adult_model.kept_columns[c] for c in COLUMNS}, target="income")


@pytest.fixture(scope="module")
def rows(adult):
    return adult[COLUMNS].iloc[:3000].reset_index(drop=True)


class Recording(PrivateData):
    """Writes down every answer the private table gives (views made by ``recoded`` share the tape)."""

    tape: list

    def measure_marginal(self, columns, sigma, label="marginal"):
        answer = super().measure_marginal(columns, sigma, label)
        self.tape.append(("measure", tuple(columns), answer.counts.copy()))
        return answer

    def select_by_error(self, candidates, estimates, epsilon, penalties=None, weights=None, feasible=None,
                        label="select"):
        choice = super().select_by_error(candidates, estimates, epsilon, penalties, weights, feasible, label)
        self.tape.append(("select", tuple(map(tuple, candidates)), choice))
        return choice


class Replaying(PrivateData):
    """Answers from a tape recorded on ANOTHER table; charges the odometer the same way, reads no row."""

    tape: list

    def measure_marginal(self, columns, sigma, label="marginal"):
        kind, recorded_columns, counts = self.tape.pop(0)
        assert kind == "measure" and recorded_columns == tuple(columns)
        self.odometer.charge(label, "gaussian", 1 / (2 * sigma**2))
        return NoisyMarginal(tuple(columns), counts, float(sigma))

    def select_by_error(self, candidates, estimates, epsilon, penalties=None, weights=None, feasible=None,
                        label="select"):
        kind, recorded_candidates, choice = self.tape.pop(0)
        assert kind == "select" and recorded_candidates == tuple(map(tuple, candidates))
        self.odometer.charge(label, "exponential", epsilon**2 / 8)
        return choice


@pytest.fixture(scope="module")
def fitted(rows, domain):
    private = Recording(rows, domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(0))
    private.tape = []
    return AIM(**FAST).fit(private), private


def test_round_budgets_sum_to_the_declared_rho(fitted):
    model, private = fitted
    charges = private.odometer.charges
    labels = [c.label.split("[")[0] for c in charges]
    assert labels.count("aim.1way") == len(COLUMNS)
    assert labels.count("aim.select") == labels.count("aim.measure") == len(model.rounds_) >= 1
    assert sum(c.rho for c in charges) == pytest.approx(private.odometer.total_rho, rel=1e-12)
    assert model.guarantee_.epsilon <= 1.0 and model.guarantee_.details["rho"] <= private.odometer.total_rho * (1 + 1e-9)
    # each round spends alpha = 90% of its budget on the measurement and the rest on the choice
    rounds = [c for c in charges if not c.label.startswith("aim.1way")]
    for select, measure in zip(rounds[::2], rounds[1::2]):
        assert select.mechanism == "exponential" and measure.mechanism == "gaussian"
        assert measure.rho / (measure.rho + select.rho) == pytest.approx(0.9, rel=1e-9)


def test_output_depends_on_private_rows_only_through_noisy_answers(fitted, adult, domain):
    """Replay the first fit's answers to a fit on DIFFERENT rows: if AIM read anything else from its table,
    the two models would differ."""
    model, private = fitted
    other_rows = adult[COLUMNS].iloc[5000:8000].reset_index(drop=True)
    replay = Replaying(other_rows, domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(123))
    replay.tape = list(private.tape)
    twin = AIM(**FAST).fit(replay)
    assert replay.tape == []  # it asked exactly the same questions, in the same order
    assert twin.sample(400, seed=5).equals(model.sample(400, seed=5))


def test_same_seed_gives_the_same_table(rows, domain, fitted):
    model, _ = fitted
    again = AIM(**FAST).fit(PrivateData(rows, domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(0)))
    assert again.sample(300, seed=1).equals(model.sample(300, seed=1))
    assert not model.sample(300, seed=1).equals(model.sample(300, seed=2))


def test_samples_stay_in_the_public_domain_and_keep_the_row_count_private(fitted, domain):
    model, _ = fitted
    table = model.sample(2000, seed=0)
    assert list(table.columns) == COLUMNS
    assert table["age"].between(17, 90).all() and table["hours_per_week"].between(1, 99).all()
    assert set(table["education"].dropna()) <= set(domain.columns["education"].values)
    assert abs(model.default_rows_ - 3000) < 300  # estimated from noisy totals, not read


def test_compression_merges_only_codes_with_small_noisy_counts():
    noisy = NoisyMarginal(("x",), np.array([500.0, 2.0, -4.0, 300.0, 10.0]), sigma=5.0)
    groups = _compress(noisy, sigma=5.0)
    assert groups.code_map.tolist() == [0, 2, 2, 1, 2] and groups.members.tolist() == [1, 2, 4]
    expanded = groups.expand(np.array([0, 1, 2, 2, 2, 2]), np.random.default_rng(0))
    assert expanded[0] == 0 and expanded[1] == 3 and set(expanded[2:]) <= {1, 4}  # -4 clips to weight 0
    assert _compress(NoisyMarginal(("x",), np.array([500.0, 2.0, 300.0]), 5.0), 5.0).n_merged == 0


def test_workload_weights_favour_the_target():
    names = ["a", "b", "c", "y"]
    plain = {c.columns: c.weight for c in workload_candidates(names, 3, "y", 1.0)}
    favoured = {c.columns: c.weight for c in workload_candidates(names, 3, "y", 3.0)}
    assert len(plain) == 4 + 6 + 4 and plain[("a", "b", "c")] == plain[("a", "b", "y")]
    assert favoured[("a", "b", "y")] > favoured[("a", "b", "c")]


def test_progress_names_each_round(rows, domain):
    lines: list[str] = []
    AIM(round_iters=10, final_iters=10, max_rounds=3).fit(
        PrivateData(rows.iloc[:500], domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(0)), progress=lines.append)
    rounds = [line for line in lines if line.startswith("round ")]
    assert 1 <= len(rounds) <= 3 and all("measured" in line and "rho left" in line for line in rounds)
    assert lines[-1].startswith("final estimate")


def test_time_budget_ends_the_rounds_and_still_spends_the_whole_budget(rows, domain):
    """max_seconds: once AIM's own computing has taken that long, the next round is the last and spends all
    that is left, so the charges still sum to the declared rho; the guarantee says the budget was reached."""
    private = PrivateData(rows.iloc[:500], domain, Odometer.for_epsilon(1.0, 1e-9),
                          NoiseSource.simulation(0))
    model = AIM(round_iters=10, final_iters=10, max_seconds=1e-6).fit(private)
    assert len(model.rounds_) == 1
    assert sum(c.rho for c in private.odometer.charges) == pytest.approx(private.odometer.total_rho, rel=1e-12)
    details = model.guarantee_.details
    assert details["stopped_by_time_budget"] is True and details["max_seconds"] == 1e-6
    assert "round 1 measured with all the budget that was left" in details["time_budget"]
    untimed = AIM(**FAST).fit(PrivateData(rows.iloc[:500], domain, Odometer.for_epsilon(1.0, 1e-9),
                                              NoiseSource.simulation(0)))
    assert "max_seconds" not in untimed.guarantee_.details and len(untimed.rounds_) > 1
    with pytest.raises(PrivsynthError, match="max_seconds.*greater than 0"):
        AIM(max_seconds=0)


@pytest.mark.parametrize("epsilon, mib", [(0.1, 5.0), (1.0, 5.0), (1.5, 7.5), (2.0, 10.0), (10.0, 10.0)])
def test_default_model_cap_grows_with_the_fits_epsilon(epsilon, mib):
    assert default_model_size(zcdp_rho(epsilon, 1e-9), 1e-9) == pytest.approx(mib, rel=1e-6)


def test_the_cap_used_is_in_the_public_details_and_a_declared_one_wins(fitted, rows, domain):
    assert fitted[0].guarantee_.details["max_model_size_mib"] == 5.0  # epsilon 1, nothing declared
    declared = AIM(round_iters=10, final_iters=10, max_rounds=2, max_model_size=7.5).fit(
        PrivateData(rows.iloc[:500], domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(0)))
    assert declared.guarantee_.details["max_model_size_mib"] == 7.5


def test_sampling_floor_is_the_noise_whose_error_matches_a_samples():
    """Expected L1 of Gaussian noise, sqrt(2/pi) sigma cells, equals the expected L1 sampling error of N rows,
    sum sqrt(2/pi) sqrt(N p (1 - p)), at the floor: 4 equal cells of N = 10,000 give 100 * sqrt(3/16)."""
    model = estimate_model({"a": 4}, [NoisyMarginal(("a",), np.full(4, 2500.0), 1.0)], iters=50)
    assert sampling_floor(model, ("a",)) == pytest.approx(100 * np.sqrt(3 / 16), rel=1e-3)


def test_sampling_floor_spends_a_large_budget_on_more_marginals_and_leaves_a_small_one_alone(rows, domain):
    """At a small budget sigma stays far above the floor: the fit is the paper's, round for round (3,000 rows
    at epsilon 0.3). At a large budget the paper's annealing quarters sigma within a few rounds; with the floor
    the same budget measures more marginals, and the charges still sum to the declared rho."""
    def fit(epsilon, floor):
        private = PrivateData(rows, domain, Odometer.for_epsilon(epsilon, 1e-9), NoiseSource.simulation(0))
        model = AIM(round_iters=30, final_iters=30, sampling_floor=floor).fit(private)
        assert sum(c.rho for c in private.odometer.charges) == pytest.approx(private.odometer.total_rho, rel=1e-12)
        return model.rounds_
    assert fit(0.3, True) == fit(0.3, False)
    paper, floored = fit(20.0, False), fit(20.0, True)
    assert len(floored) > len(paper)
    assert min(r["sigma"] for r in floored[:-1]) > min(r["sigma"] for r in paper[:-1])


WIDE = 40  # columns: 9,880 3-way marginals, ten times the default workload_size


@pytest.fixture(scope="module")
def wide_domain() -> PublicDomain:
    """A public domain of 40 categorical columns (2 to 5 values each), the last one the target."""
    columns = {f"c{i:02d}": CategoricalColumn(type="categorical", values=[f"v{j}" for j in range(2 + i % 4)])
               for i in range(WIDE)}
    return PublicDomain(columns, target=f"c{WIDE - 1:02d}")


def _wide_rows(domain: PublicDomain, n: int, seed: int) -> pd.DataFrame:
    """Rows in ``domain`` with a little structure (each column copies its left neighbour a third of the time)."""
    rng = np.random.default_rng(seed)
    sizes = [len(domain.columns[c].values) for c in domain.names]
    codes = np.empty((n, len(sizes)), dtype=int)
    codes[:, 0] = rng.integers(0, sizes[0], n)
    for j in range(1, len(sizes)):
        copy = rng.random(n) < 1 / 3
        codes[:, j] = np.where(copy, codes[:, j - 1] % sizes[j], rng.integers(0, sizes[j], n))
    return domain.cast(pd.DataFrame({c: [f"v{k}" for k in codes[:, j]] for j, c in enumerate(domain.names)}))


def _first_pool(rows: pd.DataFrame, domain: PublicDomain) -> tuple:
    """The candidates AIM's first selection scores (no compression, so the pool is a function of public
    sizes only), from a one-round fit on ``rows``."""
    private = Recording(rows, domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(0))
    private.tape = []
    AIM(max_rounds=1, round_iters=5, final_iters=5, compress=False).fit(private)
    return next(candidates for kind, candidates, _ in private.tape if kind == "select")


def test_sampled_workload_is_a_function_of_the_public_columns_only(wide_domain):
    """Two different tables with the same public domain are offered the same candidates; so is a table with
    the columns in another order, since the draw is seeded from the SORTED names."""
    first = _first_pool(_wide_rows(wide_domain, 300, seed=1), wide_domain)
    other = _first_pool(_wide_rows(wide_domain, 500, seed=2), wide_domain)
    assert first == other
    names = wide_domain.names
    workload = public_workload(names, 3, 1000, wide_domain.target)
    assert set(workload.marginals) <= set(first)  # the pool: the workload and its subsets
    reordered = public_workload(names[::-1], 3, 1000, wide_domain.target)
    assert set(map(frozenset, reordered.marginals)) == set(map(frozenset, workload.marginals))
    assert public_workload(names, 3, 999, wide_domain.target).marginals != workload.marginals  # size is a fact


def test_sampled_workload_has_the_declared_size_and_covers_every_column(wide_domain):
    names, target = wide_domain.names, wide_domain.target
    workload = public_workload(names, 3, AIMParams().workload_size, target)
    assert workload.sampled and workload.total == 9880
    assert len(workload.marginals) == len(set(map(frozenset, workload.marginals))) == 1000
    assert all(len(m) == 3 and list(m) == sorted(m, key=names.index) for m in workload.marginals)
    assert {c for m in workload.marginals for c in m} == set(names)
    # the target's 741 marginals fit in 1,000: all kept, the other 259 drawn from the rest
    assert workload.target_kept and sum(target in m for m in workload.marginals) == 741
    # 2,000 target marginals do not fit in 1,000: a uniform draw over all, the target like any column
    many = public_workload([f"x{i}" for i in range(64)] + ["y"], 3, 1000, "y")
    assert not many.target_kept and len(many.marginals) == 1000 and sum("y" in m for m in many.marginals) < 150
    # null: always the whole workload
    assert public_workload(names, 3, None, target).marginals == tuple(itertools.combinations(names, 3))


def test_adults_default_workload_is_the_whole_one(adult_domain):
    """Adult's 15 columns have 455 3-way marginals, under the default size: the workload (and so the fit) is
    exactly the unsampled one."""
    names = adult_domain.names
    workload = public_workload(names, 3, AIMParams().workload_size, adult_domain.target)
    assert not workload.sampled and len(workload.marginals) == 455
    assert [c.columns for c in workload_candidates(names, 3, "income", 1.0, workload.marginals)] == \
        [c.columns for c in workload_candidates(names, 3, "income", 1.0)]
    assert workload.details()["workload"] == "all 455 3-way marginals"


def test_wide_table_fits_on_the_sampled_workload_and_charges_the_declared_rho(wide_domain):
    private = PrivateData(_wide_rows(wide_domain, 1000, seed=3), wide_domain, Odometer.for_epsilon(1.0, 1e-9),
                          NoiseSource.simulation(0))
    model = AIM(max_rounds=6, round_iters=20, final_iters=50).fit(private)
    assert sum(c.rho for c in private.odometer.charges) == pytest.approx(private.odometer.total_rho, rel=1e-12)
    assert model.guarantee_.details["rho"] <= private.odometer.total_rho * (1 + 1e-9)
    details = model.guarantee_.details
    assert details["workload_marginals"] == 1000 and details["workload_of"] == 9880 and details["workload_sampled"]
    assert "1,000 of 9,880 3-way marginals" in details["workload"] and "public facts only" in details["workload"]
    assert 1 <= len(model.rounds_) <= 6 and list(model.sample(200, seed=0).columns) == wide_domain.names
