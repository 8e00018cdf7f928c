"""DP-SGD with Opacus: the one module that imports opacus.

Two things live here, both small:

* an accountant adapter: ``epsilon_for(history, delta, accountant)`` evaluates Opacus's own RDP or PRV
  accountant over a history of (noise multiplier, sample rate, steps) entries, and ``calibrate_noise`` finds
  by bisection the smallest noise multiplier whose history stays within a target epsilon. Calibration is a
  pure function (a fresh accountant per evaluation): Opacus's ``get_noise_multiplier`` mutates accountant
  history, and ``make_private_with_epsilon`` cannot compose with earlier measurements of the same fit.
* ``attach_dpsgd``: wraps a torch module and optimizer for DP-SGD (per-unit gradients clipped to
  ``max_grad_norm``, Gaussian noise) and builds a Poisson-sampling loader over an already encoded tensor.
  A unit is a row, or at person level (``person_slots``) a person with up to k rows.
  Clipping uses Opacus's ghost clipping (Li et al. 2022; Bu et al. 2023): each row's gradient norm comes
  from activations and backpropagated gradients without materialising per-row gradients, then a second
  backward pass of the norm-weighted loss yields exactly the sum of clipped per-row gradients. Materialised
  per-row gradients cost batch x parameters memory traffic (2.3 s a step on Adult's 390-wide one-hot rows).

Why the pieces are built directly rather than through ``PrivacyEngine.make_private``: make_private sets the
sample rate to ``1 / len(data_loader)`` and the averaging denominator to ``len(dataset) * sample_rate``, i.e.
from the PRIVATE row count, and that rate would then be published in the manifest. Here the sample rate
and the expected batch size are arguments, which callers derive from a noisy (charged) row count.
The objects are the ones ``make_private(grad_sample_mode="ghost")`` returns.

Person level (issue 19). Opacus clips one *sample*'s gradient, and a sample is whatever the first dimension of
the module's input indexes. So a person-level session hands the module one sample per PERSON, shaped
(persons, k, width): the person's kept rows, padded with zero rows and a 0/1 mask. The generator's loss for a
person is the masked sum of their rows' losses, so the gradient Opacus clips is the sum of that person's
per-row gradients (padded slots contribute nothing: their loss terms are multiplied by 0). Ghost clipping
computes that per-person norm exactly for linear layers over the extra row dimension (Opacus's
``compute_linear_norm_sample`` for 3-d activations: ||sum_t g_t a_t^T||_F^2 = <G G^T, A A^T>). The Poisson
loader samples persons, each independently at the sample rate, and the accountant composes at that rate:
this is DP-SGD with the person as the individual, which is exactly the row-level argument with "row"
replaced by "person" (adding or removing a person adds or removes one sample of the loader, whose clipped
gradient has norm at most ``max_grad_norm``). Modules must therefore act on each row separately (linear
layers and element-wise functions over the last dimension: no normalisation across rows or persons).
"""
from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Iterator, Literal, Sequence

import numpy as np
import pandas as pd
import torch
from opacus.accountants import PRVAccountant, RDPAccountant
from opacus.data_loader import DPDataLoader
from opacus.grad_sample import GradSampleModuleFastGradientClipping
from opacus.optimizers import DPOptimizerFastGradientClipping
from opacus.utils.fast_gradient_clipping_utils import DPTensorFastGradientClipping
from torch.utils.data import TensorDataset

from privsynth.errors import BudgetExceeded
from privsynth.privacy.accounting import HistoryEntry

Accountant = Literal["rdp", "prv"]
ACCOUNTANTS: tuple[str, ...] = ("rdp", "prv")

#: noise multipliers searched by calibration; above the top a phase buys nothing worth its cost
_SIGMA_LOW, _SIGMA_HIGH = 0.05, 1000.0
#: Renyi orders for the RDP accountant: Opacus's defaults stop at 63, which is far from optimal for the small
#: deltas (1e-9) and cheap Gaussian measurements privsynth uses (the best order there is in the hundreds)
RDP_ORDERS: tuple[float, ...] = (*RDPAccountant.DEFAULT_ALPHAS, *range(64, 256, 8), 256, 320, 384, 448, 512,
                                 640, 768, 1024)


def epsilon_for(history: Sequence[HistoryEntry], delta: float, accountant: Accountant) -> float:
    """Epsilon of the composed ``history`` at ``delta``, as Opacus's accountant computes it (PRV: its upper
    bound). A fresh accountant each call, so nothing is mutated."""
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"unknown accountant {accountant!r} (choose one of {ACCOUNTANTS})")
    if not history:
        return 0.0
    history_tuples = [entry.as_opacus() for entry in history]
    if accountant == "rdp":
        rdp = RDPAccountant()
        rdp.history = history_tuples
        with warnings.catch_warnings():  # "optimal order is the largest alpha": still a valid bound
            warnings.simplefilter("ignore", UserWarning)
            return float(rdp.get_epsilon(delta=delta, alphas=list(RDP_ORDERS)))
    prv = PRVAccountant()
    prv.history = history_tuples
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return float(prv.get_epsilon(delta=delta))


def calibrate_noise(prior: Sequence[HistoryEntry], sample_rate: float, steps: int, epsilon: float, delta: float,
                    accountant: Accountant, rel_tol: float = 1e-3) -> float:
    """The smallest noise multiplier (to ``rel_tol``) such that ``prior`` plus ``steps`` steps at
    ``sample_rate`` spend at most ``epsilon``. Raises BudgetExceeded when even the largest searched noise
    does not fit (the prior has used up the budget)."""
    if not 0 < sample_rate <= 1 or steps < 1:
        raise ValueError("need 0 < sample_rate <= 1 and steps >= 1")

    def fits(sigma: float) -> bool:
        return epsilon_for([*prior, HistoryEntry(sigma, sample_rate, steps)], delta, accountant) <= epsilon

    if accountant == "prv":
        # PRV is tighter than RDP, so the RDP answer fits; PRV's discretisation grows without bound at small
        # noise, so search just below the RDP answer instead of from _SIGMA_LOW
        high = calibrate_noise(prior, sample_rate, steps, epsilon, delta, "rdp", rel_tol)
        while not fits(high):  # PRV reports an upper bound with eps_error 0.01: rarely above RDP
            high *= 1.05
        low = high / 2
        while fits(low):
            high, low = low, low / 2
    else:
        if not fits(_SIGMA_HIGH):
            spent = epsilon_for(prior, delta, accountant)
            raise BudgetExceeded(f"DP-SGD: {steps} steps at sample rate {sample_rate:.4g} do not fit in epsilon "
                                 f"{epsilon:g} (already spent {spent:.4g}); lower generator.params.epochs or "
                                 "raise privacy.epsilon")
        low, high = _SIGMA_LOW, _SIGMA_HIGH
        if fits(low):
            return low
    while high / low > 1 + rel_tol:
        mid = math.sqrt(low * high)
        if fits(mid):
            high = mid
        else:
            low = mid
    return high


@dataclass
class DPSGDSession:
    """What a generator trains with. ``module`` and ``optimizer`` replace the ones passed in; ``batches()``
    yields the Poisson batches, ``steps_per_epoch`` per pass. A step is ``optimizer.zero_grad()``,
    ``backward(unit_losses(per-row losses, mask))``, ``step()``.

    ``row_features`` is set at person level only: the loader then yields person slot indices (persons x k,
    -1 for an empty slot) and ``batches`` turns them into (persons, k, width) features and a mask."""

    module: GradSampleModuleFastGradientClipping
    optimizer: DPOptimizerFastGradientClipping
    loader: DPDataLoader
    noise_multiplier: float
    max_grad_norm: float
    sample_rate: float
    epochs: int
    steps_per_epoch: int
    prior: tuple[HistoryEntry, ...]
    delta: float
    accountant: Accountant
    steps_taken: int = 0
    #: audit fits only (privacy/noise_audit.py): the step hook measures the noise each step added, as the sum
    #: of its squares in units of the clip norm over ``noise_values`` coordinates
    measure_noise: bool = False
    noise_squares: float = 0.0
    noise_values: int = 0
    row_features: torch.Tensor | None = None

    @property
    def unit(self) -> str:
        """What one clipped sample is: a row, or a person's rows (person level)."""
        return "row" if self.row_features is None else "person"

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """One pass of Poisson batches as (features, mask). Row level: (rows, width) and no mask. Person level:
        (persons, k, width), padded with zero rows, and a (persons, k) 0/1 mask of the real rows."""
        for (batch,) in self.loader:
            if self.row_features is None:
                yield batch, None
                continue
            mask = (batch >= 0).to(self.row_features.dtype)
            yield self.row_features[batch.clamp(min=0)] * mask.unsqueeze(-1), mask

    @staticmethod
    def unit_losses(row_losses: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """One loss per clipped unit: the row losses at row level; at person level, each person's masked sum
        of their rows' losses (``row_losses`` flattened from the (persons, k) slots), so padded slots carry no
        gradient and Opacus clips the sum of one person's per-row gradients."""
        if mask is None:
            return row_losses
        return (row_losses.reshape(mask.shape) * mask.to(row_losses.device)).sum(dim=1)

    @property
    def planned_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def backward(self, row_losses: torch.Tensor) -> None:
        """Gradients of the mean of ``row_losses`` (one loss per unit of the batch, each a function of its
        own unit's rows only: see ``unit_losses``) with every unit's gradient clipped to ``max_grad_norm``. An
        empty Poisson batch gives zero gradients: the step still runs (noise only), as the accountant assumes."""
        if row_losses.ndim != 1:
            raise ValueError("backward needs one loss per unit (a 1-d tensor)")
        if len(row_losses) == 0:
            for p in self.module.parameters():
                if p.requires_grad:
                    p.grad = torch.zeros_like(p)
            return
        with warnings.catch_warnings():  # Opacus's second pass fires full backward hooks on input-free graphs
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            DPTensorFastGradientClipping(self.module, self.optimizer, row_losses, "mean").backward()

    @contextlib.contextmanager
    def public_pass(self) -> Iterator[torch.nn.Module]:
        """The trained module with Opacus's hooks off, for inputs that hold no private row (a GAN's generated
        rows). Their gradients need neither clipping nor noise: they are functions of the DP weights and of
        public randomness, i.e. post-processing. Do not feed private rows through it."""
        self.module.disable_hooks()
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Full backward hook is firing")
                yield self.module._module
        finally:
            self.module.enable_hooks()

    def public_gradient(self, loss: torch.Tensor) -> list[torch.Tensor]:
        """Gradient of ``loss`` (built inside ``public_pass``) with respect to the trained parameters, in
        the optimizer's order, for ``step``. Zeros for parameters the loss does not reach."""
        params = self.optimizer.params
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]

    def step(self, public_gradient: Sequence[torch.Tensor] | None = None) -> None:
        """One DP-SGD step: noise is added to the sum of the clipped private gradients, which is divided by
        the expected batch size (Opacus's ``pre_step``, which also counts the step); then ``public_gradient``
        (see ``public_gradient``) is added unclipped and unnoised, and the wrapped optimizer updates."""
        if not self.optimizer.pre_step():
            return
        for p, g in zip(self.optimizer.params, public_gradient or ()):
            p.grad.add_(g)
        self.optimizer.original_optimizer.step()

    def epsilon_spent(self) -> float:
        """Epsilon of the fit so far: everything charged before this phase plus the steps taken."""
        taken = [HistoryEntry(self.noise_multiplier, self.sample_rate, self.steps_taken)] if self.steps_taken else []
        return epsilon_for([*self.prior, *taken], self.delta, self.accountant)

    def finish(self) -> torch.nn.Module:
        """Detach Opacus's hooks and return the trained module (its weights are DP, so free to use)."""
        self.module.remove_hooks()
        return self.module._module


def steps_per_epoch(sample_rate: float) -> int:
    """Opacus's convention: one pass of a Poisson loader is int(1 / sample_rate) batches."""
    return max(1, int(1 / sample_rate))


def person_slots(persons: np.ndarray, k: int) -> np.ndarray:
    """Row positions grouped by person: a (persons x k) integer matrix, one person per line (in order of first
    appearance), their rows in table order, -1 in the slots of a person with fewer than k rows. Refuses a
    person with more than k rows: the contribution bound (data/persons.py) must have run first."""
    codes, _ = pd.factorize(pd.Series(persons), sort=False)
    if len(codes) and codes.min() < 0:
        raise ValueError("every row needs a person id")
    counts = np.bincount(codes) if len(codes) else np.zeros(0, dtype=np.int64)
    if len(counts) and counts.max() > k:
        raise ValueError(f"a person has {int(counts.max())} rows, more than the bound k = {k}")
    order = np.argsort(codes, kind="stable")
    rank = np.arange(len(codes)) - np.repeat(np.cumsum(counts) - counts, counts)
    slots = np.full((len(counts), k), -1, dtype=np.int64)
    slots[codes[order], rank] = order
    return slots


def attach_dpsgd(module: torch.nn.Module, optimizer: torch.optim.Optimizer, features: torch.Tensor, *,
                 noise_multiplier: float, max_grad_norm: float, sample_rate: float, epochs: int,
                 expected_batch_size: int, seed: int, prior: Sequence[HistoryEntry], delta: float,
                 accountant: Accountant, slots: np.ndarray | None = None) -> DPSGDSession:
    """Wrap ``module`` and ``optimizer`` for DP-SGD over ``features`` (rows x width).

    The unit sampled and clipped is a row, or with ``slots`` (``person_slots``: persons x k row positions) a
    person and all their rows. Every optimizer step clips each unit's gradient to ``max_grad_norm`` and adds
    N(0, (noise_multiplier * max_grad_norm)^2) to the sum; the loss must be a mean of per-unit terms
    (``loss_reduction="mean"``), and the sum is divided by the public ``expected_batch_size``. A step hook
    counts noisy steps and refuses one beyond ``epochs * steps_per_epoch``, the number the caller charged for."""
    generator = torch.Generator().manual_seed(seed)
    noise_generator = torch.Generator(device=next(module.parameters()).device).manual_seed(seed + 1)
    private_module = GradSampleModuleFastGradientClipping(module, loss_reduction="mean",
                                                          max_grad_norm=max_grad_norm, use_ghost_clipping=True)
    private_optimizer = DPOptimizerFastGradientClipping(
        optimizer, noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
        expected_batch_size=expected_batch_size, loss_reduction="mean", generator=noise_generator)
    units = features if slots is None else torch.from_numpy(slots)
    loader = DPDataLoader(TensorDataset(units), sample_rate=sample_rate, generator=generator)
    session = DPSGDSession(private_module, private_optimizer, loader, noise_multiplier, max_grad_norm,
                           sample_rate, epochs, len(loader), tuple(prior), delta, accountant,
                           row_features=None if slots is None else features)

    def count_step(_: DPOptimizerFastGradientClipping) -> None:
        if session.steps_taken >= session.planned_steps:
            raise BudgetExceeded(f"DP-SGD: step {session.steps_taken + 1} was not paid for (the plan charged "
                                 f"{session.planned_steps}); the training loop must stop after its epochs")
        session.steps_taken += 1
        if session.measure_noise:
            _measure_noise(session, private_optimizer)

    private_optimizer.step_hook = count_step
    return session


def _measure_noise(session: DPSGDSession, optimizer: DPOptimizerFastGradientClipping) -> None:
    """The noise this step added, read back after Opacus's ``add_noise`` and ``scale_grad``: the gradient is
    (clipped sum + noise) / (expected batch size x accumulated iterations), so the noise is the gradient times
    that divisor minus the clipped sum Opacus kept in ``summed_grad``."""
    divisor = optimizer.expected_batch_size * optimizer.accumulated_iterations
    with torch.no_grad():
        for p in optimizer.params:
            noise = (p.grad.reshape(-1) * divisor - p.summed_grad.reshape(-1)) / session.max_grad_norm
            session.noise_squares += float(torch.sum(noise.double() ** 2))
            session.noise_values += noise.numel()
