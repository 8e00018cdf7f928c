"""dp-ctgan: a conditional GAN (after Xu et al., "Modeling Tabular Data using Conditional GAN", NeurIPS 2019)
whose discriminator is trained with DP-SGD.

Privacy argument, in the order the fit touches private data:

1. Condition frequencies are BOUGHT, not read: one noisy one-way marginal per categorical column (Gaussian,
   charged to the odometer, composed by the same RDP/PRV accountant as DP-SGD), spending
   ``frequency_share`` of the budget. CTGAN proper reads exact category frequencies for its conditional
   sampler (the SmartNoise fault of DP_PITFALLS.md); here every frequency the generator ever sees is one of
   these noisy ones. They also give the row estimate (sample rate, rows to sample).
2. The discriminator is the only module that sees private rows, through ``PrivateData.dpsgd_training``
   (Poisson batches, every row's gradient clipped, Gaussian noise, noise calibrated so 1 + 2 stay within the
   target). A real row's condition is drawn from that row's own category in a uniformly chosen column, so
   its loss depends on its row alone. CTGAN's "training by sampling" (picking real rows that match a fake
   row's condition) would break Poisson sampling and is not used.
3. Generated rows hold no private row: the discriminator's loss on them is added as a public gradient
   (``DPSGDSession.public_pass``), and the generator learns from the discriminator only. Both are
   post-processing of DP outputs, so they cost nothing.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from privsynth.data.encoding import OneHotLayout
from privsynth.generator_config import DPCTGANParams
from privsynth.generators.base import Generator, Progress, silent
from privsynth.generators.dpsgd._torch import dpsgd_guarantee, resolve_device, sample_codes
from privsynth.errors import PrivsynthError
from privsynth.privacy.accounting import gaussian_sigma
from privsynth.privacy.private_data import PrivateData
from privsynth.results import Guarantee
from privsynth.threat_model import CategoricalColumn


def _mlp(width_in: int, hidden: int, width_out: int, activation: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width_in, hidden), activation, nn.Linear(hidden, hidden), activation,
                         nn.Linear(hidden, width_out))


class Conditions:
    """The conditional vector: one indicator block per categorical column, one block set per row.

    ``frequencies`` are the noisy (charged) counts per category, clipped at zero; training draws fake
    conditions from their logarithm (CTGAN's way of showing rare categories more often), sampling from
    the frequencies themselves, so the sampled marginal of each conditioned column follows the noisy one."""

    def __init__(self, layout: OneHotLayout, columns: list[str], frequencies: list[np.ndarray]) -> None:
        self.layout = layout
        self.columns = columns
        self.cond_layout = OneHotLayout(tuple(columns), tuple(layout.sizes[layout.names.index(c)] for c in columns))
        self.feature_index = torch.cat([torch.arange(layout.block(c).start, layout.block(c).stop) for c in columns])
        self.frequencies = [np.clip(f, 0.0, None) for f in frequencies]

    @property
    def width(self) -> int:
        return self.cond_layout.width

    def of_rows(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Each real row's own category in one uniformly chosen column: a function of that row alone."""
        chosen = torch.randint(len(self.columns), (len(x),), generator=rng, device=rng.device).to(x.device)
        mask = torch.zeros(len(x), self.width, device=x.device)
        offsets = torch.tensor(self.cond_layout.offsets, device=x.device)
        sizes = torch.tensor(self.cond_layout.sizes, device=x.device)
        position = torch.arange(self.width, device=x.device)
        mask[(position >= offsets[chosen, None]) & (position < (offsets + sizes)[chosen, None])] = 1.0
        return x[:, self.feature_index.to(x.device)] * mask

    def draw(self, n: int, rng: np.random.Generator, log_frequency: bool) -> tuple[np.ndarray, np.ndarray]:
        """``n`` fake conditions: column index and category code per row (from the noisy frequencies)."""
        columns = rng.integers(len(self.columns), size=n)
        categories = np.empty(n, dtype=np.int64)
        for j, counts in enumerate(self.frequencies):
            weights = np.log1p(counts) if log_frequency else counts
            weights = np.ones_like(weights) if weights.sum() <= 0 else weights
            rows = np.flatnonzero(columns == j)
            categories[rows] = rng.choice(len(weights), size=len(rows), p=weights / weights.sum())
        return columns, categories

    def one_hot(self, columns: np.ndarray, categories: np.ndarray, device: torch.device) -> torch.Tensor:
        cond = torch.zeros(len(columns), self.width, device=device)
        offsets = np.asarray(self.cond_layout.offsets)
        cond[torch.arange(len(columns)), torch.from_numpy(offsets[columns] + categories).to(device)] = 1.0
        return cond

    def mismatch(self, logits: torch.Tensor, columns: np.ndarray, categories: np.ndarray) -> torch.Tensor:
        """CTGAN's generator penalty: cross-entropy of the conditioned column's logits against the condition."""
        loss = torch.zeros((), device=logits.device)
        for j, name in enumerate(self.columns):
            rows = torch.from_numpy(np.flatnonzero(columns == j)).to(logits.device)
            if len(rows):
                target = torch.from_numpy(categories[columns == j]).to(logits.device)
                loss = loss + F.cross_entropy(logits[rows][:, self.layout.block(name)], target, reduction="sum")
        return loss / len(columns)


def gumbel_softmax(logits: torch.Tensor, layout: OneHotLayout, rng: torch.Generator, tau: float) -> torch.Tensor:
    """Soft one-hot rows per column block, with seeded Gumbel noise (torch's own uses the global RNG)."""
    u = torch.rand(logits.shape, generator=rng, device=rng.device).to(logits.device).clamp(1e-10, 1 - 1e-10)
    noisy = (logits - torch.log(-torch.log(u))) / tau
    return torch.cat([torch.softmax(noisy[:, layout.block(n)], dim=1) for n in layout.names], dim=1)


class DPCTGAN(Generator):
    kind = "dp-ctgan"
    buys_quantile_bins = True
    is_dp = True

    params_model = DPCTGANParams

    @property
    def accountant(self) -> str:  # type: ignore[override]
        return self.params.accountant

    def _buy_conditions(self, private: PrivateData, layout: OneHotLayout) -> tuple[Conditions, float, float]:
        """Noisy one-way marginals of the categorical columns, the row estimate they imply, and the number of
        DP-SGD units (rows; at person level a noisy count of persons at one frequency's noise)."""
        columns = [n for n, spec in private.domain.columns.items() if isinstance(spec, CategoricalColumn)]
        if not columns:
            raise PrivsynthError("dp-ctgan conditions on categorical columns and the threat model declares "
                                 "none; use dp-tvae for all-numeric tables")
        measurements = len(columns) + (private.rows_per_person > 1)
        sigma = gaussian_sigma(self.params.frequency_share * private.odometer.total_rho / measurements)
        counts = [private.measure_marginal([c], sigma, label="dp-ctgan.frequency").counts for c in columns]
        rows = float(np.mean([c.sum() for c in counts]))
        units = rows if private.rows_per_person == 1 else private.measure_unit_count(sigma, label="dp-ctgan.persons")
        return Conditions(layout, columns, counts), rows, units

    def fit(self, private: PrivateData, progress: Progress = silent) -> "DPCTGAN":
        device = resolve_device(self.device)
        private = private if self.params.numeric_bins is not None else private.with_quantile_bins(label="dp-ctgan.bins")
        layout, self.coders_ = private.one_hot_layout(self.params.numeric_bins)
        conditions, rows, units = self._buy_conditions(private, layout)
        rows, units = max(rows, float(self.params.batch_size)), max(units, float(self.params.batch_size))
        seed = private.fork_seed()
        rng = np.random.default_rng([seed, 0xC7])
        torch_rng = torch.Generator(device=device).manual_seed(seed)
        # real rows' condition draws get their own stream: Poisson batch sizes are private, and a shared
        # stream would shift every later generated row with them
        row_rng = torch.Generator(device=device).manual_seed(seed + 1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            generator = _mlp(self.params.noise_dim + conditions.width, self.params.hidden, layout.width,
                             nn.ReLU()).to(device)
            discriminator = _mlp(layout.width + conditions.width, self.params.hidden, 1, nn.LeakyReLU(0.2)).to(device)
        g_optimizer = torch.optim.Adam(generator.parameters(), lr=self.params.generator_lr, betas=(0.5, 0.9))
        d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=self.params.discriminator_lr, betas=(0.5, 0.9))
        session = private.dpsgd_training(discriminator, d_optimizer,
                                         sample_rate=min(1.0, self.params.batch_size / units),
                                         epochs=self.params.epochs, max_grad_norm=self.params.max_grad_norm,
                                         expected_batch_size=self.params.batch_size,
                                         numeric_bins=self.params.numeric_bins,
                                         label="dp-ctgan.discriminator")

        def fake(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
            columns, categories = conditions.draw(n, rng, log_frequency=True)
            cond = conditions.one_hot(columns, categories, device)
            z = torch.randn(n, self.params.noise_dim, generator=torch_rng, device=device)
            logits = generator(torch.cat([z, cond], dim=1))
            return gumbel_softmax(logits, layout, torch_rng, self.params.tau), cond, logits, columns, categories

        for epoch in range(session.epochs):
            total, batches = 0.0, 0
            for batch, mask in session.batches():  # rows, or persons x k rows at person level
                real = batch.to(device)
                session.optimizer.zero_grad(set_to_none=True)
                rows_fake, cond_fake, _, _, _ = fake(self.params.batch_size)
                with session.public_pass() as public_discriminator:
                    fake_loss = F.softplus(public_discriminator(torch.cat([rows_fake.detach(), cond_fake], 1))).mean()
                    fake_gradient = session.public_gradient(fake_loss)
                real_cond = conditions.of_rows(real.reshape(-1, layout.width), row_rng)
                real_in = torch.cat([real, real_cond.reshape(*real.shape[:-1], -1)], dim=-1)
                real_losses = session.unit_losses(F.softplus(-session.module(real_in)).reshape(-1), mask)
                session.backward(real_losses)
                session.step(fake_gradient)

                rows_fake, cond_fake, logits, columns, categories = fake(self.params.batch_size)
                with session.public_pass() as public_discriminator:
                    g_loss = F.softplus(-public_discriminator(torch.cat([rows_fake, cond_fake], 1))).mean() + \
                        conditions.mismatch(logits, columns, categories)
                    g_optimizer.zero_grad(set_to_none=True)
                    grads = torch.autograd.grad(g_loss, list(generator.parameters()))
                for p, g in zip(generator.parameters(), grads):
                    p.grad = g
                g_optimizer.step()
                d_loss = float(real_losses.detach().mean()) if len(real) else 0.0
                total, batches = total + d_loss + float(fake_loss.detach()), batches + 1
            progress(f"epoch {epoch + 1}/{session.epochs}: loss {total / max(batches, 1):.3f}, "
                     f"epsilon spent {session.epsilon_spent():.3f}")
        session.finish()
        self.generator_ = generator.cpu().eval()
        self.conditions_, self.layout_, self.domain_ = conditions, layout, private.domain
        self.default_rows_ = int(round(rows))
        self.guarantee = dpsgd_guarantee(
            f"DP-CTGAN: conditional GAN, discriminator trained with DP-SGD (Opacus: Poisson sampling, "
            f"per-{session.unit} clipping, Gaussian noise); condition frequencies from noisy one-way marginals; generator is "
            "post-processing", private.odometer, session, frequency_share=self.params.frequency_share,
            conditioned_columns=conditions.columns, expected_batch_size=self.params.batch_size, device=str(device),
            **private.edges_receipt())
        return self

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        self._require_fitted("generator_")
        rng = np.random.default_rng([seed, 0xC7A9])
        torch_rng = torch.Generator().manual_seed(int(rng.integers(2**62)))
        columns, categories = self.conditions_.draw(n, rng, log_frequency=False)
        cond = self.conditions_.one_hot(columns, categories, torch.device("cpu"))
        with torch.no_grad():
            z = torch.randn(n, self.params.noise_dim, generator=torch_rng)
            logits = self.generator_(torch.cat([z, cond], dim=1))
        return self.domain_.decode(sample_codes(logits, self.layout_, rng), self.coders_, rng)

    @property
    def guarantee_(self) -> Guarantee:
        self._require_fitted("guarantee")
        return self.guarantee
