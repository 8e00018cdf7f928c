"""The gate judges on the upper end of each interval, and refuses blind attacks."""
from __future__ import annotations

from privsynth.release.gate import decide
from privsynth.results import AttackResult, UtilityResult
from privsynth.threat_model import GateSpec

GATES = GateSpec(linkability=0.10, tvd_2way=0.2)


def _attack(name, estimate, high):
    return AttackResult(name=name, estimate=estimate, ci=(max(0.0, estimate - 0.02), high), n=500)


def test_passes_only_when_the_upper_end_is_within_the_threshold():
    attacks, _, decision = decide([_attack("linkability", 0.05, 0.09)], [], GATES,
                                  positive_controls={"linkability": _attack("linkability", 0.6, 0.7)})
    assert decision.released and attacks[0].passed and attacks[0].threshold == 0.10
    attacks, _, decision = decide([_attack("linkability", 0.05, 0.12)], [], GATES,
                                  positive_controls={"linkability": _attack("linkability", 0.6, 0.7)})
    assert not decision.released and attacks[0].passed is False
    assert decision.failures[0].check == "linkability" and "0.120" in decision.failures[0].reason


def test_a_blind_attack_cannot_pass():
    _, _, decision = decide([_attack("linkability", 0.0, 0.01)], [], GATES,
                            positive_controls={"linkability": _attack("linkability", 0.05, 0.08)})
    assert not decision.released and "blind" in decision.failures[0].reason


def test_noise_floor_is_explained_when_the_null_control_also_fails():
    _, _, decision = decide([_attack("linkability", 0.08, 0.15)], [], GATES,
                            null_controls={"linkability": _attack("linkability", 0.09, 0.16)},
                            positive_controls={"linkability": _attack("linkability", 0.6, 0.7)})
    assert "noise floor" in decision.failures[0].reason


def test_secret_specific_inference_uses_the_inference_threshold():
    attacks, _, decision = decide([_attack("attribute_inference:income", 0.1, 0.14)], [], GATES,
                                  positive_controls={"attribute_inference:income": _attack("x", 0.9, 0.95)})
    assert attacks[0].threshold == GATES.attribute_inference and decision.released


def test_utility_gate_and_informational_metrics():
    utility = [UtilityResult("tvd_2way", 0.15, "lower_is_better", ci=(0.14, 0.21)),
               UtilityResult("tstr_auc", 0.8, "higher_is_better")]
    _, judged, decision = decide([], utility, GATES)
    assert not decision.released and judged[0].passed is False and judged[1].passed is None
