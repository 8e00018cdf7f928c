"""Marginal generators with the threat model's structure: cut points bought for bins: quantile, a public
hierarchy measured parent-first, and consistency rules enforced by rejection. Each spends budget only where it
says (record/replay: the same noisy answers give the same table), and the output obeys the structure."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privsynth.data.domain import PublicDomain
from privsynth.errors import DataError
from privsynth.generators.marginal.aim import AIM
from privsynth.generators.marginal.mst import MST
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.noise import NoiseSource
from privsynth.privacy.private_data import NoisyMarginal, PrivateData
from privsynth.threat_model import CategoricalColumn, NumericColumn, ParentSpec

COLUMNS = ["age", "fnlwgt", "education", "education_num", "occupation", "sex", "hours_per_week", "income"]
FAST_AIM = {"round_iters": 30, "final_iters": 100, "max_rounds": 8}
EDUCATION_NUM = {"Preschool": 1, "1st-4th": 2, "5th-6th": 3, "7th-8th": 4, "9th": 5, "10th": 6, "11th": 7,
                 "12th": 8, "HS-grad": 9, "Some-college": 10, "Assoc-voc": 11, "Assoc-acdm": 12, "Bachelors": 13,
                 "Masters": 14, "Prof-school": 15, "Doctorate": 16}
RULES = [f"education == '{k}' -> education_num == {v}" for k, v in EDUCATION_NUM.items()]
#: a public grouping of Adult's occupations (Census major occupation groups)
GROUPS = {"Adm-clerical": "office", "Exec-managerial": "office", "Prof-specialty": "office", "Sales": "office",
          "Tech-support": "office", "Craft-repair": "manual", "Farming-fishing": "manual",
          "Handlers-cleaners": "manual", "Machine-op-inspct": "manual", "Transport-moving": "manual",
          "Armed-Forces": "service", "Other-service": "service", "Priv-house-serv": "service",
          "Protective-serv": "service"}


def structured_domain(adult_model, rules=RULES, parent=True) -> PublicDomain:
    columns = {c: adult_model.kept_columns[c] for c in COLUMNS}
    columns["fnlwgt"] = NumericColumn(type="integer", min=1, max=1_500_000, bins="quantile", quantile_bins=12)
    if parent:
        occupation = columns["occupation"]
        columns["occupation"] = occupation.model_copy(update={"parent": ParentSpec(column="occupation_group",
                                                                                   mapping=GROUPS)})
        columns["occupation_group"] = CategoricalColumn(type="categorical", values=["manual", "office", "service"],
                                                        missing=True)
    return PublicDomain(columns, target="income", rules=rules)


def with_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """The real occupation group of every row (the test's table has the parent column, as a census would)."""
    out = frame.copy()
    out["occupation_group"] = pd.Categorical(frame["occupation"].astype(object).map(GROUPS),
                                             categories=["manual", "office", "service"])
    return out


class Recording(PrivateData):
    """Writes down every answer the private table gives (views share the tape)."""

    tape: list

    def measure_marginal(self, columns, sigma, label="marginal"):
        answer = super().measure_marginal(columns, sigma, label)
        self.tape.append(("measure", tuple(columns), answer.counts.copy()))
        return answer

    def select_by_error(self, candidates, estimates, epsilon, penalties=None, weights=None, feasible=None,
                        label="select"):
        choice = super().select_by_error(candidates, estimates, epsilon, penalties, weights, feasible, label)
        self.tape.append(("select", len(candidates), choice))
        return choice

    def dp_quantiles(self, column, levels, candidates, rho, label="quantiles"):
        answer = super().dp_quantiles(column, levels, candidates, rho, label)
        self.tape.append(("quantiles", column, answer.copy()))
        return answer


class Replaying(PrivateData):
    """Answers from a tape recorded on ANOTHER table; charges the odometer the same way, reads no row."""

    tape: list

    def measure_marginal(self, columns, sigma, label="marginal"):
        kind, recorded, counts = self.tape.pop(0)
        assert (kind, recorded) == ("measure", tuple(columns))
        self.odometer.charge(label, "gaussian", 1 / (2 * sigma**2))
        return NoisyMarginal(tuple(columns), counts, float(sigma))

    def select_by_error(self, candidates, estimates, epsilon, penalties=None, weights=None, feasible=None,
                        label="select"):
        kind, n_candidates, choice = self.tape.pop(0)
        assert (kind, n_candidates) == ("select", len(candidates))
        self.odometer.charge(label, "exponential", epsilon**2 / 8)
        return choice

    def dp_quantiles(self, column, levels, candidates, rho, label="quantiles"):
        kind, recorded, answer = self.tape.pop(0)
        assert (kind, recorded) == ("quantiles", column)
        self.odometer.charge(label, "exponential", rho)
        return answer


@pytest.fixture(scope="module")
def rows(adult):
    return with_groups(adult[COLUMNS].iloc[:4000].reset_index(drop=True))


@pytest.fixture(scope="module", params=["mst", "aim"])
def recorded(request, rows, adult_model):
    domain = structured_domain(adult_model)
    private = Recording(rows, domain, Odometer.for_epsilon(3.0, 1e-9), NoiseSource.simulation(0))
    private.tape = []
    model = MST(iters=200) if request.param == "mst" else AIM(**FAST_AIM)
    return model.fit(private), private, request.param


def test_structure_is_obeyed_and_receipted(recorded, adult_model):
    model, private, kind = recorded
    table = model.sample(3000, seed=1)
    domain = structured_domain(adult_model)
    assert domain.rule_violations(table) == {rule: 0 for rule in RULES}
    inside = table["occupation"].astype(object).map(GROUPS)
    assert (inside.isna() == table["occupation_group"].isna()).all()
    assert (inside.dropna() == table["occupation_group"].astype(object)[inside.notna()]).all()
    details = model.guarantee_.details
    assert len(details["dp_bin_edges"]["fnlwgt"]) == 11
    assert details["hierarchies"]["occupation"]["parent"] == "occupation_group"
    receipt = details["rules"]
    assert [r["rule"] for r in receipt["rules"]] == RULES and 0 <= receipt["rejection_rate"] < 1
    assert receipt["repair_rate"] > 0 and sum(r["broken_share"] for r in receipt["rules"]) > 0
    assert model.last_rules_.rows_drawn >= 3000 and sum(model.last_rules_.broken.values()) >= 0
    labels = [c.label.split("[")[0] for c in private.odometer.charges]
    assert labels[0] == f"{kind}.bins" and f"{kind}.1way.parent" in labels
    assert "occupation_group" not in model.model_.columns  # derived from the child, never measured
    assert sum(c.rho for c in private.odometer.charges) == pytest.approx(private.odometer.total_rho, rel=1e-9)


def test_output_depends_on_rows_only_through_charged_answers(recorded, adult, adult_model):
    """Replay the answers to a fit on DIFFERENT rows: cut points, hierarchy groups, model and the filtered
    table come out identical, so nothing else was read from the rows."""
    model, private, kind = recorded
    other = with_groups(adult[COLUMNS].iloc[6000:10000].reset_index(drop=True))
    replay = Replaying(other, structured_domain(adult_model), Odometer.for_epsilon(3.0, 1e-9), NoiseSource.simulation(5))
    replay.tape = list(private.tape)
    twin = (MST(iters=200) if kind == "mst" else AIM(**FAST_AIM)).fit(replay)
    assert replay.tape == []
    assert twin.guarantee_.details == model.guarantee_.details
    assert twin.sample(500, seed=2).equals(model.sample(500, seed=2))


def test_rules_cost_no_budget(recorded, rows, adult_model):
    """The same answers, replayed to a fit WITHOUT rules, are charged identically: rules are post-processing.
    Without the filter the raw model breaks the rules in some rows; with it, none."""
    model, private, kind = recorded
    replay = Replaying(rows, structured_domain(adult_model, rules=()), Odometer.for_epsilon(3.0, 1e-9), NoiseSource.simulation(5))
    replay.tape = list(private.tape)
    plain = (MST(iters=200) if kind == "mst" else AIM(**FAST_AIM)).fit(replay)
    assert [(c.mechanism, c.rho) for c in replay.odometer.charges] == \
        [(c.mechanism, c.rho) for c in private.odometer.charges]
    assert np.allclose(plain.model_.marginal(["education", "education_num"]),
                       model.model_.marginal(["education", "education_num"]))  # the very same model
    assert "rules" not in plain.guarantee_.details
    raw = plain.sample(3000, seed=1)
    assert sum(structured_domain(adult_model).rule_violations(raw).values()) > 0
    filtered = model.sample(3000, seed=1)
    assert sum(structured_domain(adult_model).rule_violations(filtered).values()) == 0
    assert model.last_rules_.rows_repaired > 0  # broken rows were conditioned on their premise
    bachelors = filtered[filtered["education"] == "Bachelors"]
    assert len(bachelors) and (bachelors["education_num"] == 13).all()


def _diabetes() -> pd.DataFrame:
    """Diabetes 130-US diagnoses: the bundled copy (issue 17) or the shared datasets folder."""
    from privsynth.data.bundled import bundled_table
    from privsynth.data.io import read_raw

    try:
        return read_raw(bundled_table("diabetes"))
    except DataError:
        folder = os.environ.get("PRIVSYNTH_DATASETS")
        path = Path(folder or "/nonexistent") / "diabetes_130us" / "diabetes_130us.csv.gz"
        if not path.is_file():
            pytest.skip("needs the diabetes table: bundled:diabetes, or PRIVSYNTH_DATASETS=<shared datasets>")
        return read_raw(path)


def test_icd9_prefix_hierarchy_keeps_every_code_inside_its_block():
    """diag_1 (ICD-9, leading zeros lost) with a declared parent 'diag_1_block' = the first two digits of the
    zero-padded code: every synthetic code lies inside its synthetic block."""
    raw = _diabetes()[["diag_1", "age", "readmitted"]].iloc[:6000]
    codes = sorted(raw["diag_1"].dropna().unique().tolist())
    rule = ParentSpec(column="diag_1_block", prefix=2, pad=3)
    blocks = sorted({rule.parent_of(c) for c in codes})
    columns = {"diag_1": CategoricalColumn(type="categorical", values=codes, missing=True, parent=rule),
               "diag_1_block": CategoricalColumn(type="categorical", values=blocks, missing=True),
               "age": CategoricalColumn(type="categorical", values=sorted(raw["age"].unique())),
               "readmitted": CategoricalColumn(type="categorical", values=["<30", ">30", "NO"])}
    frame = raw.assign(diag_1_block=raw["diag_1"].map(lambda c: rule.parent_of(c) if isinstance(c, str) else None))
    domain = PublicDomain(columns, target="readmitted", rules=["diag_1 in category(diag_1_block)"])
    frame = domain.cast(frame)
    assert domain.rule_violations(frame) == {"diag_1 in category(diag_1_block)": 0}
    model = MST(iters=200).fit(PrivateData(frame, domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(0)))
    table = model.sample(5000, seed=0)
    parents = table["diag_1"].astype(object).map(lambda c: rule.parent_of(c) if isinstance(c, str) else None)
    assert (parents.fillna("-") == table["diag_1_block"].astype(object).fillna("-")).all()
    assert model.last_rules_.rows_rejected == 0  # consistent by construction: nothing to reject
    groups = model.groups_["diag_1"]
    assert len(groups.members) < len(codes) + 1  # rare codes share a code of their block
    assert all(len({rule.parent_of(codes[c]) if c < len(codes) else None for c in m}) == 1 for m in groups.members)
    assert np.isfinite(model.guarantee_.epsilon)


@pytest.mark.parametrize("kind", ["mst", "aim"])
def test_an_integer_parent_is_derived_from_its_child(adult, adult_model, kind):
    """education_num declared as education's public parent (adult.names: the ordinal code of the 16 levels):
    the model learns education alone and every synthetic education_num is its level's number, an integer."""
    columns = {c: adult_model.kept_columns[c] for c in ["age", "education", "education_num", "sex", "income"]}
    columns["education"] = columns["education"].model_copy(update={"parent": ParentSpec(
        column="education_num", mapping={k: str(v) for k, v in EDUCATION_NUM.items()})})
    domain = PublicDomain(columns, target="income")
    private = PrivateData(adult[list(columns)], domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(0))
    model = MST(iters=200) if kind == "mst" else AIM(**FAST_AIM)
    assert "education_num" not in model.model_columns(private)
    table = model.fit(private).sample(3000, seed=0)
    assert table["education_num"].dtype == np.int64
    expected = table["education"].astype(object).map(EDUCATION_NUM)
    assert (table["education_num"] == expected).all()
    assert table["education"].nunique() > 5  # the child itself is learnt, not collapsed
    assert "education_num" not in {c for columns_ in model.guarantee_.details.get("measured", []) for c in columns_}


@pytest.mark.parametrize("kind", ["dp-tvae", "dp-ctgan"])
def test_dpsgd_generators_buy_quantile_cut_points_before_training(adult, adult_model, kind):
    from privsynth.generators.registry import make_generator

    domain = structured_domain(adult_model, rules=(), parent=False)
    private = PrivateData(adult[domain.names].iloc[:800], domain, Odometer.for_epsilon(4.0, 1e-9, "rdp"), NoiseSource.simulation(0))
    model = make_generator(kind, {"epochs": 1, "batch_size": 200}).fit(private)
    assert private.odometer.charges[0].label == f"{kind}.bins[fnlwgt]"
    edges = model.guarantee_.details["dp_bin_edges"]["fnlwgt"]
    assert len(edges) == 11 and model.coders_["fnlwgt"].edges[1:-1] == tuple(sorted(set(edges)))
    assert model.sample(200, seed=0)["fnlwgt"].between(1, 1_500_000).all()
