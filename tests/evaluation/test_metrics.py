"""The functions behind the utility gates and the report's aggregates, against hand-computed values."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privsynth.data.domain import PublicDomain
from privsynth.evaluation.comparison import MIN_CELL, SMALL_CELLS, _cramers_v, marginal_shares
from privsynth.evaluation.marginals import marginal_tvd, mean_tvd
from privsynth.evaluation.ml import hanley_mcneil_variance
from privsynth.evaluation.registry import UtilityData
from privsynth.threat_model import CategoricalColumn

DOMAIN = PublicDomain({"colour": CategoricalColumn(type="categorical", values=["red", "green", "blue"]),
                       "size": CategoricalColumn(type="categorical", values=["S", "L"])})


def _frame(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return DOMAIN.cast(pd.DataFrame(rows, columns=["colour", "size"]))


REAL = _frame([("red", "S"), ("red", "L"), ("green", "S"), ("blue", "L")])
SYNTHETIC = _frame([("red", "S"), ("red", "S"), ("red", "S"), ("green", "L")])


def test_tvd_of_two_small_tables_by_hand():
    # colour: real (.5, .25, .25), synthetic (.75, .25, 0) -> TVD .25; size: real (.5, .5), synthetic (.75, .25) -> .25
    assert mean_tvd(REAL, SYNTHETIC, DOMAIN, 1) == pytest.approx(0.25)
    # (colour, size) cells: real rS .25 rL .25 gS .25 bL .25; synthetic rS .75 gL .25 -> |.5|+.25+.25+.25+.25 = 1.5
    assert mean_tvd(REAL, SYNTHETIC, DOMAIN, 2) == pytest.approx(0.75)
    tvd_1way, tvd_2way = marginal_tvd(UtilityData(REAL, REAL, DOMAIN, None, 0), SYNTHETIC)
    assert (tvd_1way.value, tvd_2way.value) == (pytest.approx(0.25), pytest.approx(0.75))
    assert tvd_1way.ci[0] <= tvd_1way.value <= tvd_1way.ci[1]
    assert mean_tvd(REAL, REAL, DOMAIN, 2) == 0.0


def test_small_cells_are_merged_at_the_boundary():
    """A cell of exactly MIN_CELL real rows is shown; one of MIN_CELL - 1 is merged into "other"."""
    rows = [("red", "S")] * 30 + [("green", "S")] * MIN_CELL + [("blue", "S")] * (MIN_CELL - 1)
    shares = marginal_shares(_frame(rows), _frame(rows), DOMAIN, ["colour"])["colour"]
    assert shares["labels"] == ["red", "green", SMALL_CELLS] and shares["suppressed_cells"] == 1
    assert shares["real"] == pytest.approx([30 / 49, 10 / 49, 9 / 49]) and shares["tvd"] == 0.0


def test_cramers_v_of_a_perfect_association_is_one_and_of_independence_zero():
    a = np.array([0, 1, 2, 0, 1, 2])
    assert _cramers_v(a, a, 3, 3) == pytest.approx(1.0)
    assert _cramers_v(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), 2, 2) == pytest.approx(0.0)


def test_hanley_mcneil_golden_value():
    # AUC 0.8, 50 positives, 50 negatives: Q1 = 0.8/1.2, Q2 = 2 * 0.64 / 1.8 (Hanley & McNeil 1982, eq. 2)
    q1, q2 = 0.8 / 1.2, 2 * 0.64 / 1.8
    expected = (0.8 * 0.2 + 49 * (q1 - 0.64) + 49 * (q2 - 0.64)) / 2500
    assert hanley_mcneil_variance(0.8, 50, 50) == pytest.approx(expected) == pytest.approx(0.0019804, abs=1e-7)
