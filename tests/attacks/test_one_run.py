"""The one-run bound (Steinke, Nasr & Jagielski 2023) against its closed forms, and the detection floor."""
from __future__ import annotations

import math

import pytest

from privsynth.attacks.one_run import claim_accuracy, detection_floor, epsilon_lower_bound, p_value


@pytest.mark.parametrize("guesses, certifiable", [(100, 3.49), (1000, 5.81)])
def test_all_right_guesses_certify_the_papers_closed_form(guesses, certifiable):
    # at delta 0 the theorem is a Binomial tail: r right guesses out of r certify q^r = alpha, eps = logit(q)
    q = 0.05 ** (1 / guesses)
    assert math.log(q / (1 - q)) == pytest.approx(certifiable, abs=0.005)
    assert epsilon_lower_bound(guesses, guesses, guesses, delta=0.0) == pytest.approx(certifiable, abs=0.005)


def test_the_bound_is_where_the_p_value_crosses_alpha():
    bound = epsilon_lower_bound(1000, 200, 180, delta=1e-5)
    assert p_value(1000, 200, 180, bound, 1e-5) <= 0.05 < p_value(1000, 200, 180, bound + 1e-3, 1e-5)
    # exactly the randomised-response accuracy of the bound is about what 180/200 right guesses prove
    assert claim_accuracy(bound) < 0.9


def test_delta_only_weakens_the_bound():
    bounds = [epsilon_lower_bound(1000, 1000, 1000, delta=d) for d in (0.0, 1e-9, 1e-5, 1e-4, 1e-3)]
    assert bounds == sorted(bounds, reverse=True) and bounds[-1] < bounds[0] - 2
    assert bounds[1] == pytest.approx(bounds[0], abs=0.01)  # at the declared 1e-9 the delta term is negligible
    # 900 right of 1,000 with 2 m delta = 2: the delta term swamps what exact DP would allow
    assert epsilon_lower_bound(1000, 1000, 900, delta=1e-3) < epsilon_lower_bound(1000, 1000, 900, delta=0.0)


def test_coin_flip_guesses_prove_nothing():
    assert epsilon_lower_bound(1000, 500, 250, delta=1e-9) == 0.0
    assert epsilon_lower_bound(1000, 0, 0, delta=1e-9) == 0.0


def test_the_floor_says_what_the_audit_can_see():
    floor = detection_floor(2000, 1000, claimed_epsilon=1.0, delta=1e-9)
    assert floor.max_certifiable == pytest.approx(epsilon_lower_bound(2000, 1000, 1000, 1e-9))
    assert floor.claim_accuracy == pytest.approx(math.e / (1 + math.e))
    assert floor.claim_accuracy < floor.accuracy_to_flag < 0.8 and not floor.smoke_test
    small = detection_floor(20, 20, claimed_epsilon=1.0, delta=1e-9)  # 20 right guesses certify 1.6 at most
    assert small.smoke_test and small.max_certifiable < 3.0


def test_a_coin_that_swaps_rows_counts_twice():
    """The shadow audit's coins swap a target for a population row: two add/remove steps (group privacy)."""
    one_step = epsilon_lower_bound(300, 300, 300, delta=1e-9)
    assert epsilon_lower_bound(300, 300, 300, delta=1e-9, group=2) == pytest.approx(one_step / 2, abs=0.01)
