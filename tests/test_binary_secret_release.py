"""Issue 21's acceptance: on the bundled bank marketing and Adult tables, with a binary secret declared
(``y`` and ``income``, which a blind guess mostly gets right), a DP run at epsilon 1 passes every privacy
gate at its default threshold, and Adult's releases; the copied-rows generator is still blocked
(tests/test_gates_fit_the_table.py).

Full tables and default attack sizes (the sizing raises anonymeter's attacks and the shadow targets as the
gates need); the threat models' own generator (AIM); the shadow attack runs 12 fits instead of the default 40 to fit CI's budget, and the sizing
raises its targets so a blind attack's interval still fits under the 0.65 gate. Minutes per table, so not in
the default run: `make test-acceptance`. The run's nonce is fixed so
the outcome reproduces: the noise is still a real draw from the secret source, only not a fresh one."""
from __future__ import annotations

import pytest
import yaml

from privsynth.checks import CATALOGUE
from privsynth.pipeline import run
from tests.conftest import ROOT, TEST_NONCE


@pytest.mark.acceptance
@pytest.mark.parametrize("table, secret", [("bank_marketing", "y"), ("adult", "income")])
def test_a_dp_run_with_a_binary_secret_releases_with_default_gates(tmp_path, table, secret):
    doc = yaml.safe_load((ROOT / "threat_models" / f"{table}.yaml").read_text())
    doc["attacker"]["secret_columns"] = [secret]
    doc["gates"] = {}  # every threshold at the catalogue's default
    doc["attacks"]["shadow"] = {"enabled": True, "shadow_runs": 12}
    path = tmp_path / f"{table}.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = run(path, out=tmp_path / "out", home=tmp_path / "home", nonce=TEST_NONCE)
    judged = {a.name: a for a in result.attacks}
    assert all(a.passed for a in judged.values() if a.threshold is not None), [
        (a.name, a.reason) for a in judged.values() if a.passed is False]
    inference = judged[f"attribute_inference:{secret}"]
    assert inference.threshold == CATALOGUE["attribute_inference"].default_threshold and inference.passed
    assert judged["shadow_auc"].passed and judged["shadow_auc"].threshold == 0.65
    # the privacy gates fit the table; what can still block is fidelity: on bank marketing AIM at epsilon 1
    # misses duration x y in about one fit in eight (its annealing ends after about 10 rounds) and the
    # train-on-synthetic gap then exceeds 0.15, as it does with this nonce (measured, see the issue-21 note)
    utility = {c.name for c in CATALOGUE.values() if c.kind == "utility"}
    assert {f.check for f in result.decision.failures} <= utility, result.decision.failures
    assert result.decision.released or table == "bank_marketing"
    sizes = result.report["attack_sizes"]
    assert sizes["shadow_targets"] > sizes["shadow_targets_declared"] and sizes["shadow_blind_half_width"] <= 0.075
