"""The gate loops over the declared checks and fails closed: a check that did not run, ran on nothing, or gave
no finite figure blocks; an unknown result is an error; a blind attack cannot pass; intervals, not points."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privsynth.checks import CATALOGUE
from privsynth.errors import PrivsynthError
from privsynth.release.gate import Declared, decide, declared_checks, null_feasibility
from privsynth.results import AttackResult, Control, UtilityResult

POSITIVE = Control(0.9, (0.85, 0.95))
#: a null control at zero with no width: a relative check's excess then equals its risk (the arithmetic of the
#: absolute tests carries over)
NULL0 = Control(0.0, (0.0, 0.0))


def _declared(*names: str, threshold: float | None = None) -> list[Declared]:
    out = []
    for name in names:
        check = CATALOGUE[name.split(":")[0]]
        out.append(Declared(name, check, check.default_threshold if threshold is None else threshold))
    return out


def _attack(name: str, estimate: float, high: float, n: int = 500, positive: Control | None = POSITIVE,
            null: Control | None = NULL0) -> AttackResult:
    return AttackResult(name, estimate, (max(0.0, estimate - 0.02), high), n, positive_control=positive,
                        null_control=null)


def test_passes_only_when_the_upper_end_is_within_the_threshold():
    attacks, _, decision = decide(_declared("linkability"), [_attack("linkability", 0.05, 0.09)], [], None)
    assert decision.released and attacks[0].passed and attacks[0].threshold == 0.10
    attacks, _, decision = decide(_declared("linkability"), [_attack("linkability", 0.05, 0.12)], [], None)
    assert not decision.released and attacks[0].passed is False
    assert decision.failures[0].check == "linkability" and "0.120" in decision.failures[0].reason


def test_nothing_measured_blocks_everything_declared():
    """decide([], []) released everything before: now every declared check is 'not measured'."""
    declared = _declared("linkability", "tvd_2way", "attribute_inference:income")
    attacks, utility, decision = decide(declared, [], [], None)
    assert not decision.released
    assert [f.check for f in decision.failures] == ["linkability", "tvd_2way", "attribute_inference:income"]
    assert all("not measured: the check did not run" in f.reason for f in decision.failures)
    assert {a.name for a in attacks} == {"linkability", "attribute_inference:income"} and utility[0].passed is False


@pytest.mark.parametrize("result, why", [
    (AttackResult("linkability", 0.0, (0.0, 0.0), 0, positive_control=POSITIVE), "n = 0"),
    (AttackResult("linkability", math.nan, (0.0, 0.1), 500, positive_control=POSITIVE), "not a finite"),
    (AttackResult("linkability", 0.01, (0.0, math.inf), 500, positive_control=POSITIVE), "not a finite"),
    (AttackResult("linkability", 0.01, (0.0, 0.02), 500, null_control=NULL0), "positive control did not run"),
    (AttackResult("linkability", 0.01, (0.0, 0.02), 500, positive_control=POSITIVE), "null control did not run"),
])
def test_a_result_on_nothing_or_without_its_control_blocks(result, why):
    """anonymeter with no data once returned 0.0 with interval (0, 0) from n = 0: a certain zero from nothing."""
    _, _, decision = decide(_declared("linkability"), [result], [], None)
    assert not decision.released and why in decision.failures[0].reason


def test_an_unknown_result_name_is_an_error_not_a_pass():
    with pytest.raises(PrivsynthError, match="'linkabilty' is not a check of the catalogue"):
        decide(_declared("linkability"), [_attack("linkabilty", 0.0, 0.01)], [], None)


def test_a_blind_attack_cannot_pass():
    blind = _attack("linkability", 0.0, 0.01, positive=Control(0.05, (0.0, 0.08)))
    _, _, decision = decide(_declared("linkability"), [blind], [], None)
    assert not decision.released and "blind" in decision.failures[0].reason


def test_noise_floor_is_explained_when_the_null_control_also_fails():
    noisy = _attack("membership_distance_auc", 0.58, 0.63, null=Control(0.6, (0.55, 0.65)))
    _, _, decision = decide(_declared("membership_distance_auc"), [noisy], [], None)
    assert "noise floor" in decision.failures[0].reason


def test_anonymeter_gates_bound_the_risk_above_the_null_control():
    """A binary secret that a blind guess mostly gets right: unseen real rows already score 0.28; a candidate at
    the same level adds nothing and passes a 0.25 gate, one well above it is blocked; the review gets all
    three figures."""
    null = Control(0.28, (0.23, 0.33))
    same = AttackResult("attribute_inference:income", 0.30, (0.25, 0.35), 500, positive_control=POSITIVE,
                        null_control=null)
    attacks, _, decision = decide(_declared("attribute_inference:income"), [same], [], None)
    assert decision.released and attacks[0].details["excess_over_null"]["null"] == 0.28
    assert attacks[0].details["excess_over_null"]["excess_ci_upper"] == pytest.approx(0.02 + math.hypot(0.05, 0.05))
    leaky = AttackResult("attribute_inference:income", 0.60, (0.55, 0.65), 500, positive_control=POSITIVE,
                         null_control=null)
    _, _, decision = decide(_declared("attribute_inference:income"), [leaky], [], None)
    assert not decision.released and "above the null" in decision.failures[0].reason
    # the positive control must rise above the null by more than the threshold, or the attack is blind here
    blind = AttackResult("attribute_inference:income", 0.30, (0.25, 0.35), 500, null_control=null,
                         positive_control=Control(0.45, (0.40, 0.50)))
    _, _, decision = decide(_declared("attribute_inference:income"), [blind], [], None)
    assert not decision.released and "blind" in decision.failures[0].reason


def test_a_gate_that_unseen_real_rows_already_fail_is_a_threat_model_error():
    declared = _declared("membership_distance_auc", "linkability")
    nulls = {"membership_distance_auc": _attack("membership_distance_auc", 0.55, 0.62),
             "linkability": _attack("linkability", 0.0, 0.02)}
    found = null_feasibility(declared, nulls, n_attacks=500, sample_size=2000)
    assert len(found.problems) == 1 and "gates.membership_distance_auc = 0.6" in found.problems[0]
    assert "0.620" in found.problems[0] and found.attacks_needed is None
    # a relative gate whose null interval is too wide: more attacks, by the 1/sqrt(n) law, to reach half the bar
    wide = {"linkability": AttackResult("linkability", 0.05, (0.0, 0.15), 100)}
    found = null_feasibility(_declared("linkability"), wide, n_attacks=100, sample_size=2000)
    ideal = math.sqrt(2) * 0.10
    assert found.problems and found.attacks_needed == pytest.approx(100 * (ideal / 0.05) ** 2, abs=1)


def test_the_epsilon_audit_is_judged_against_the_claim_and_reported_without_one():
    audit = AttackResult("empirical_epsilon", 2.5, (2.5, 2.5), 300)
    _, _, decision = decide(_declared("empirical_epsilon"), [audit], [], claimed_epsilon=1.0)
    assert not decision.released and "implementation fault" in decision.failures[0].reason
    attacks, _, decision = decide(_declared("empirical_epsilon"), [audit], [], claimed_epsilon=None)
    assert decision.released and attacks[0].passed is None  # a non-DP baseline claims nothing
    _, _, decision = decide(_declared("empirical_epsilon"), [], [], claimed_epsilon=1.0)
    assert not decision.released  # the audit did not run: not measured


def test_utility_gate_and_report_only_metrics():
    utility = [UtilityResult("tvd_2way", 0.15, "lower_is_better", ci=(0.14, 0.21)),
               UtilityResult("tstr_auc", 0.8, "higher_is_better")]
    _, judged, decision = decide(_declared("tvd_2way", "tstr_auc"), [], utility, None)
    assert not decision.released and judged[0].passed is False and judged[1].passed is None


def test_declared_checks_follow_the_threat_model(adult_model):
    names = [d.name for d in declared_checks(adult_model)]
    assert "attribute_inference:income" in names and "shadow_auc" in names and "tstr_auc_gap" in names
    no_shadow = adult_model.model_copy(update={"attacks": adult_model.attacks.model_copy(
        update={"shadow": adult_model.attacks.shadow.model_copy(update={"enabled": False})})})
    assert "shadow_auc" not in [d.name for d in declared_checks(no_shadow)]
    report_only = adult_model.model_copy(update={"gates": adult_model.gates.model_copy(update={"linkability": "report"})})
    assert next(d for d in declared_checks(report_only) if d.name == "linkability").threshold is None


GATED = ["linkability", "singling_out_univariate", "membership_distance_auc", "tvd_1way"]


@st.composite
def _results(draw):
    out = []
    for name in GATED:
        if draw(st.booleans()):
            continue  # the check did not run
        estimate = draw(st.one_of(st.floats(0, 1), st.just(math.nan)))
        high = draw(st.floats(0, 1)) if not math.isnan(estimate) else 0.5
        if CATALOGUE[name].kind == "utility":
            out.append(UtilityResult(name, estimate, "lower_is_better", ci=(0.0, max(high, 0.0))))
        else:
            positive = draw(st.one_of(st.none(), st.floats(0, 1).map(lambda e: Control(e, (e, e)))))
            null = draw(st.one_of(st.none(), st.floats(0, 1).map(lambda e: Control(e, (e, min(1.0, e + 0.05))))))
            out.append(AttackResult(name, estimate, (0.0, high), draw(st.integers(0, 50)), positive_control=positive,
                                    null_control=null))
    return out


@settings(max_examples=300, deadline=None)
@given(_results())
def test_no_release_ever_lacks_a_gated_check_or_has_one_beyond_its_threshold(results):
    declared = _declared(*GATED)
    attacks, utility, decision = decide(declared, [r for r in results if isinstance(r, AttackResult)],
                                        [r for r in results if isinstance(r, UtilityResult)], None)
    if not decision.released:
        return
    by_name = {r.name: r for r in [*attacks, *utility]}
    for d in declared:
        result = by_name[d.name]
        figure = result.estimate if isinstance(result, AttackResult) else result.value
        assert result.passed is True and math.isfinite(figure)
        if d.check.relative:  # the upper end of the risk above the null is within the threshold
            null = result.null_control
            excess_upper = figure - null.estimate + math.hypot(result.ci[1] - figure, null.ci[1] - null.estimate)
            assert excess_upper <= d.threshold and result.positive_control.estimate - null.estimate > d.threshold
        else:
            assert result.ci[1] <= d.threshold
        if isinstance(result, AttackResult):
            assert result.n > 0 and result.positive_control is not None
