"""DP-SGD is really attached and exactly accounted (DP_PITFALLS.md: accountant off by a step, no Poisson
sampling, clipping configured but not applied, privacy only for some hyper-parameters)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from opacus.accountants import PRVAccountant, RDPAccountant
from opacus.utils.uniform_sampler import UniformWithReplacementSampler

from privsynth.errors import BudgetExceeded
from privsynth.generators.registry import make_generator
from privsynth.privacy.accounting import HistoryEntry
from privsynth.privacy.dpsgd import RDP_ORDERS, DPSGDSession, calibrate_noise, epsilon_for
from privsynth.privacy.noise import NoiseSource
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import PrivateData

DELTA = 1e-6


def _fit(kind: str, rows, domain, epsilon: float = 3.0, **params):
    generator = make_generator(kind, {"epochs": 2, "batch_size": 100, **params})
    private = PrivateData(rows, domain, Odometer.for_epsilon(epsilon, DELTA, generator.accountant), NoiseSource.simulation(0))
    return generator.fit(private), private


def _opacus_epsilon(history: list[list[float]], accountant: str) -> float:
    """Opacus's own accountant, stepped the way Opacus's training loop steps it."""
    acc = RDPAccountant() if accountant == "rdp" else PRVAccountant()
    for sigma, rate, steps in history:
        for _ in range(int(steps)):
            acc.step(noise_multiplier=sigma, sample_rate=rate)
    return acc.get_epsilon(DELTA, alphas=list(RDP_ORDERS)) if accountant == "rdp" else acc.get_epsilon(DELTA)


@pytest.mark.parametrize("kind,accountant", [("dp-tvae", "rdp"), ("dp-tvae", "prv"), ("dp-ctgan", "rdp")])
def test_reported_epsilon_is_opacus_accountant_and_within_target(adult, adult_domain, kind, accountant):
    model, private = _fit(kind, adult.iloc[:600], adult_domain, accountant=accountant)
    guarantee = model.guarantee_
    details = guarantee.details
    assert details["accountant"] == accountant
    assert details["steps_run"] == details["steps"] == 2 * int(1 / details["sample_rate"])
    assert details["history"][-1] == [details["noise_multiplier"], details["sample_rate"], details["steps"]]
    assert guarantee.epsilon == pytest.approx(_opacus_epsilon(details["history"], accountant), rel=1e-6)
    assert guarantee.epsilon <= 3.0
    assert guarantee.epsilon > 2.9  # calibration spends the budget rather than wasting it
    # the sample rate comes from a noisy count, never the true one (600 rows, batch 100)
    assert details["sample_rate"] != pytest.approx(100 / 600, abs=1e-12)


@settings(max_examples=5, deadline=None)
@given(rate=st.floats(0.005, 0.5), steps=st.integers(1, 300), epsilon=st.floats(0.2, 10.0))
def test_calibration_never_exceeds_the_target_and_is_tight(rate, steps, epsilon):
    """Property over the hyper-parameter space: the charge is what runs, and it fits the target."""
    prior = [HistoryEntry(100.0, 1.0, 1)]
    sigma = calibrate_noise(prior, rate, steps, epsilon, DELTA, "rdp")
    spent = epsilon_for([*prior, HistoryEntry(sigma, rate, steps)], DELTA, "rdp")
    assert spent <= epsilon
    if sigma > 0.06:  # above the search floor, a slightly smaller noise would overspend
        assert epsilon_for([*prior, HistoryEntry(sigma / 1.01, rate, steps)], DELTA, "rdp") > epsilon


def test_loader_is_poisson_and_steps_beyond_the_charge_are_refused(adult, adult_domain, monkeypatch):
    seen: list[DPSGDSession] = []
    original = DPSGDSession.backward

    def record(self, row_losses):
        seen.append(self)
        return original(self, row_losses)

    monkeypatch.setattr(DPSGDSession, "backward", record)
    model, _ = _fit("dp-tvae", adult.iloc[:500], adult_domain)
    session = seen[0]
    assert isinstance(session.loader.batch_sampler, UniformWithReplacementSampler)
    assert session.loader.batch_sampler.sample_rate == pytest.approx(model.guarantee_.details["sample_rate"])
    batch_sizes = {len(b[0]) for b in session.loader}
    assert len(batch_sizes) > 1  # Poisson: batch sizes vary
    assert session.steps_taken == session.planned_steps
    session.optimizer.zero_grad(set_to_none=True)
    for p in session.optimizer.params:
        p.grad = torch.zeros_like(p)
    with pytest.raises(BudgetExceeded, match="was not paid for"):
        session.step()


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_per_row_gradients_are_clipped_in_real_training(adult, adult_domain, monkeypatch):
    """Hooks into dp-tvae's own training loop: for the first steps, each row's gradient is computed
    independently (hooks off), clipped by hand, summed, and compared with what Opacus accumulated."""
    max_grad_norm = 0.05
    checked: list[tuple[float, float]] = []
    original = DPSGDSession.backward

    def check(self, row_losses):
        if len(checked) < 2 and len(row_losses):
            params = [p for p in self.module.parameters() if p.requires_grad]
            self.module.disable_hooks()
            per_row = [torch.autograd.grad(loss, params, retain_graph=True) for loss in row_losses]
            self.module.enable_hooks()
            norms = torch.stack([torch.sqrt(sum((g ** 2).sum() for g in grads)) for grads in per_row])
            factors = torch.clamp(max_grad_norm / (norms + 1e-6), max=1.0)
            expected = [sum(f * grads[k] for f, grads in zip(factors, per_row)) for k in range(len(params))]
            original(self, row_losses)
            error = max(float((p.grad - e).abs().max()) for p, e in zip(params, expected))
            clipped_norms = norms * factors
            assert float(clipped_norms.max()) <= max_grad_norm * (1 + 1e-4)
            checked.append((float(norms.max()), error))
            return
        original(self, row_losses)

    monkeypatch.setattr(DPSGDSession, "backward", check)
    _fit("dp-tvae", adult.iloc[:300], adult_domain, max_grad_norm=max_grad_norm, hidden=32, latent_dim=8)
    assert len(checked) == 2
    for raw_max, error in checked:
        assert raw_max > 10 * max_grad_norm  # clipping was active, not vacuous
        assert error < 1e-4  # the accumulated gradient IS the sum of clipped per-row gradients


def test_odometer_charges_the_whole_phase_before_training(adult, adult_domain):
    model, private = _fit("dp-tvae", adult.iloc[:400], adult_domain)
    labels = [c.label for c in private.odometer.charges]
    assert labels == ["dp-tvae.count", "dp-tvae.dpsgd"]
    phase = private.odometer.charges[1]
    assert phase.params["steps"] == model.guarantee_.details["steps"]
    assert np.isclose(private.odometer.epsilon_spent, model.guarantee_.epsilon)
