"""The one-run canary audit on real generators: controls, planted faults it must block, correct generators it
must pass, and the release gate that blocks a faulty DP release with the audit's numbers in its review.

Sizes: the defaults of attacks.audit (100 canaries a run, 500 holdout rows, 6 runs) on the bundled Adult rows;
an MST audit takes about 15 s on one core. Faults that a black-box audit cannot see at this size are below,
marked slow, with the reason."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from privsynth.attacks.base import AuditSetup
from privsynth.attacks.canary import design_canaries, run_canary_audit
from privsynth.attacks.membership.shadow import copy_training_rows
from privsynth.checks import CATALOGUE
from privsynth.generators import registry
from privsynth.parallel import task_mapper
from privsynth.pipeline import ShadowGenerator
from privsynth.release.gate import Declared, decide
from privsynth.results import AttackResult
from tests.attacks.faults import FAULTS, NoiseOffMST

CLAIM, DELTA = 1.0, 1e-9


@pytest.fixture(scope="module")
def population(adult) -> pd.DataFrame:
    """The attacker's population: real Adult rows (the audit never sees a release's training rows)."""
    return adult.sample(n=3000, random_state=np.random.RandomState(11)).reset_index(drop=True)


@pytest.fixture
def faults(monkeypatch):
    for kind, cls in FAULTS.items():
        monkeypatch.setitem(registry.GENERATORS, kind, cls)


def _audit(fit_and_sample, population, domain, runs: int = 6, canaries: int = 100) -> dict:
    setup = AuditSetup(population, fit_and_sample, task_mapper(None), canaries, runs, 500, DELTA, CLAIM)
    return run_canary_audit(setup, domain, seed=0)


def _generator(kind: str, domain, params=None) -> ShadowGenerator:
    return ShadowGenerator(kind, params or {}, CLAIM, DELTA, False, domain, 22_000)


def _judge(details: dict) -> tuple[bool, str]:
    result = AttackResult("canary_epsilon", details["epsilon"], (details["epsilon"],) * 2, details["m"],
                          details=details)
    _, _, decision = decide([Declared("canary_epsilon", CATALOGUE["canary_epsilon"], None)], [result], [], CLAIM)
    return decision.released, " ".join(f.reason for f in decision.failures)


def test_canaries_come_from_the_public_domain_alone(adult_domain):
    first, again = design_canaries(adult_domain, 100, seed=3), design_canaries(adult_domain, 100, seed=3)
    pd.testing.assert_frame_equal(first, again)  # a function of the domain and the seed: no table goes in
    codes, _ = adult_domain.encode(adult_domain.cast(first))
    for j, name in enumerate(adult_domain.names):  # every column's codes spread evenly over its public codes
        counts = np.bincount(codes[:, j], minlength=adult_domain.coders()[name].size)
        assert counts.max() - counts.min() <= 1, name


def test_a_generator_that_publishes_its_rows_is_caught(population, adult_domain):
    """Positive control: the attack sees a table that holds its training rows."""
    details = _audit(copy_training_rows, population, adult_domain, runs=2)
    assert details["accuracy"] == 1.0 and details["guesses"] == details["m"] // 2, details
    assert details["epsilon"] == pytest.approx(details["max_certifiable"]) and details["epsilon"] > 2.5


def test_a_generator_blind_to_its_input_proves_nothing(population, adult_domain):
    """Null control: a table drawn from the population whatever the input gives no bound at all."""
    def ignore_input(train: pd.DataFrame, seed: int) -> pd.DataFrame:
        return population.sample(n=len(train), replace=True, random_state=np.random.RandomState(seed % 2**32))

    assert _audit(ignore_input, population, adult_domain, runs=2)["epsilon"] == 0.0


@pytest.mark.parametrize("kind, why", [("mst-noise-off", "exact marginals behind a charged budget"),
                                       ("mst-data-domain", "an output domain read from the training rows")])
def test_a_planted_fault_is_blocked(kind, why, faults, population, adult_domain):
    details = _audit(_generator(kind, adult_domain), population, adult_domain)
    released, reason = _judge(details)
    assert details["epsilon"] > CLAIM and not released, (why, details)
    assert "implementation fault" in reason


@pytest.mark.parametrize("kind, params, runs", [("mst", {}, 6), ("aim", {}, 2),
                                                ("dp-tvae", {"epochs": 3}, 1)])
def test_a_correct_generator_passes(kind, params, runs, population, adult_domain):
    details = _audit(_generator(kind, adult_domain, params), population, adult_domain, runs=runs)
    released, reason = _judge(details)
    assert details["epsilon"] <= CLAIM and released, reason


def test_the_gate_blocks_a_faulty_release_with_the_shadow_attack_off(write_threat_model, monkeypatch):
    from privsynth.pipeline import run

    class BrokenMST(NoiseOffMST):
        kind = "mst"  # the threat model says mst; the code behind it is broken

    monkeypatch.setitem(registry.GENERATORS, "mst", BrokenMST)
    path = write_threat_model(privacy__epsilon=1.0, attacks__audit={"enabled": True, "runs": 3},
                              attacks__shadow={"enabled": False}, gates__tvd_1way="report",
                              gates__tvd_2way="report", gates__tstr_auc_gap="report")
    result = run(path, out=path.parent / "out")
    audit = next(a for a in result.attacks if a.name == "canary_epsilon")
    assert audit.passed is False and audit.estimate > 1.0 and audit.threshold == pytest.approx(1.0)
    assert not result.decision.released and "empirical_epsilon" not in {a.name for a in result.attacks}
    saved = json.loads((result.review_dir / "report.json").read_text())
    entry = next(a for a in saved["attacks"] if a["name"] == "canary_epsilon")
    details = entry["details"]
    assert details["max_certifiable"] >= entry["estimate"]
    assert details["claim_accuracy"] == pytest.approx(0.731, abs=1e-3)
    assert details["smoke_test"] is False  # 300 canaries could certify more than 3 times the claim
    html = (result.review_dir / "report.html").read_text()
    assert "Epsilon audits" in html and "canary_epsilon (100 canaries x 3 runs" in html
