"""The one-run canary audit and the noise audit of its fits on real generators: controls, planted faults they
must block, correct generators they must pass, and the release gate that blocks a faulty DP release with the
audit's numbers in its review.

Sizes: the defaults of attacks.audit (100 canaries a run, 500 holdout rows) on the bundled Adult rows, with
fewer runs where the noise audit is what must see the fault (it reads thousands of noisy cells per fit); an MST
audit run takes a few seconds on one core."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from privsynth.attacks.base import AuditedFit, AuditSetup
from privsynth.attacks.canary import audit_results, design_canaries, run_canary_audit
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
    fit_and_audit = fit_and_sample.audit if isinstance(fit_and_sample, ShadowGenerator) else \
        AuditedFit.table_only(fit_and_sample)
    setup = AuditSetup(population, fit_and_audit, task_mapper(None), canaries, runs, 500, DELTA, CLAIM)
    return run_canary_audit(setup, domain, seed=0)


def _generator(kind: str, domain, params=None) -> ShadowGenerator:
    return ShadowGenerator(kind, params or {}, CLAIM, DELTA, False, domain, 22_000)


def _judge(details: dict) -> tuple[bool, dict[str, str]]:
    """The gate's verdict on both audit checks, and the reason of each one that failed."""
    checks = [Declared(name, CATALOGUE[name], None) for name in ("canary_epsilon", "noise_epsilon")]
    _, _, decision = decide(checks, audit_results(details), [], CLAIM)
    return decision.released, {f.check: f.reason for f in decision.failures}


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


@pytest.mark.parametrize("kind, params, runs, caught_by, why", [
    ("mst-noise-off", {}, 2, "noise_epsilon", "exact marginals behind a charged budget"),
    ("mst-noise-third", {}, 2, "noise_epsilon", "a third of the charged noise: an actual epsilon about 3 x the claim"),
    ("tvae-noise-third", {"epochs": 2}, 1, "noise_epsilon", "DP-SGD at a third of the charged noise multiplier"),
    ("mst-data-domain", {}, 6, "canary_epsilon", "an output domain read from the training rows")])
def test_a_planted_fault_is_blocked(kind, params, runs, caught_by, why, faults, population, adult_domain):
    details = _audit(_generator(kind, adult_domain, params), population, adult_domain, runs=runs)
    released, reasons = _judge(details)
    assert not released and caught_by in reasons, (why, reasons, details)
    assert "implementation fault" in reasons[caught_by]


def test_the_noise_audit_reads_the_noise_a_fault_removed(faults, population, adult_domain):
    """The measured ratio is what was planted: a third of the charged noise reads as about 1/3, and the epsilon
    it implies is about three times the claim (Gaussian DP scales with 1 / noise)."""
    details = _audit(_generator("mst-noise-third", adult_domain), population, adult_domain, runs=1)
    noise = details["noise"]
    low, high = noise["ratio_interval"]
    assert low <= 1 / 3 <= high and high - low < 0.05, noise
    assert 2.2 * CLAIM < noise["epsilon"] < 3.2 * CLAIM, noise


@pytest.mark.parametrize("kind, params, runs", [("mst", {}, 4), ("aim", {}, 2),
                                                ("dp-tvae", {"epochs": 2}, 1)])
def test_a_correct_generator_passes(kind, params, runs, population, adult_domain):
    details = _audit(_generator(kind, adult_domain, params), population, adult_domain, runs=runs)
    released, reasons = _judge(details)
    assert details["epsilon"] <= CLAIM and released, reasons
    noise = details["noise"]
    low, high = noise["ratio_interval"]
    assert low <= 1.0 <= high, noise  # the noise added is the noise charged
    assert 0 < noise["epsilon"] <= CLAIM, noise


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
    noise = next(a for a in result.attacks if a.name == "noise_epsilon")  # the noise audit of the same fits
    assert noise.passed is False and noise.estimate > 100 and noise.details["ratio_interval"][1] < 0.01
    assert "noise_epsilon (the noise of the same fits" in html
