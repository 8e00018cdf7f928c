"""Adding an attack is one file and one catalogue line: the registry runs it with its controls, the threat
model's gate schema and the report explain it, and the gate blocks on it when it does not run."""
from __future__ import annotations

import sys
import types

import pytest

from privsynth.attacks.base import attack_tables
from privsynth.attacks.registry import run_checks
from privsynth.checks import CATALOGUE, Check
from privsynth.release.gate import decide, declared_checks
from privsynth.report.json_report import _attack

#: the "one file": a toy attack, the share of synthetic rows whose age equals some member's age beyond the
#: same share for control rows (a real, if weak, attack on real rows)
TOY_SOURCE = '''
import numpy as np
from privsynth.results import AttackResult

def toy_age_match(data, synthetic):
    ages = synthetic["age"].to_numpy()
    member, control = np.isin(ages, data.members["age"]), np.isin(ages, data.control["age"])
    estimate = float(member.mean() - control.mean())
    return [AttackResult("toy_age_match", estimate, (estimate - 0.05, estimate + 0.05), len(ages), baseline=0.0)]
'''
#: the "one catalogue line"
TOY = Check("toy_age_match", "attack", "upper_ci_at_most", "excess share of synthetic ages seen among members",
            "privsynth.attacks.toy_age_match:toy_age_match", 0.2, controls=("null", "positive"))


@pytest.fixture
def toy_check(monkeypatch):
    module = types.ModuleType("privsynth.attacks.toy_age_match")
    exec(compile(TOY_SOURCE, "toy_age_match.py", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(CATALOGUE, TOY.name, TOY)
    return TOY


def test_a_new_check_runs_with_its_controls_and_is_gated(toy_check, adult, adult_domain, adult_model):
    train, holdout = adult.iloc[:1500], adult.iloc[1500:3000]
    data, null = attack_tables(train, holdout, adult_domain, 300, ["age"], ["income"], 50, 0)
    synthetic = holdout.sample(500, random_state=1).reset_index(drop=True)
    (result,) = run_checks(data, synthetic, ["toy_age_match"], {"null": null, "positive": data.members})
    assert result.null_control is not None and result.positive_control is not None
    declared = [d for d in declared_checks(adult_model) if d.name == "toy_age_match"]
    assert declared and declared[0].threshold == 0.2
    attacks, _, decision = decide(declared, [result], [], None)
    assert attacks[0].passed == (result.ci[1] <= 0.2 and result.positive_control.estimate > 0.2)
    assert _attack(attacks[0])["meaning"] == TOY.meaning
    _, _, decision = decide(declared, [], [], None)
    assert not decision.released and "not measured" in decision.failures[0].reason
