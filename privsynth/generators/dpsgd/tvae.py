"""dp-tvae: a tabular VAE (after Xu et al., "Modeling Tabular Data using Conditional GAN", NeurIPS 2019)
trained end to end with DP-SGD.

1. Buy a noisy row count (Gaussian, ``count_sigma``): it sets the sample rate (batch_size / count) and the
   number of rows to sample, so neither reveals the true count.
2. Train encoder and decoder with DP-SGD on the public one-hot encoding (PrivateData.dpsgd_training): the
   noise multiplier is calibrated so that count + every step stays within the target epsilon.
3. Sample: latent draws through the decoder, one category per column block. Post-processing.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from privsynth.data.encoding import OneHotLayout
from privsynth.generator_config import DPTVAEParams
from privsynth.generators.base import Generator, Progress, silent
from privsynth.generators.dpsgd._torch import dpsgd_guarantee, resolve_device, sample_codes
from privsynth.privacy.private_data import PrivateData
from privsynth.results import Guarantee


class _VAE(nn.Module):
    def __init__(self, width: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, width))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h).clamp(-10, 10)
        return self.decoder(mu + noise * torch.exp(0.5 * logvar)), mu, logvar


def per_row_loss(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                 layout: OneHotLayout, reconstruction_weight: float) -> torch.Tensor:
    """Weighted negative ELBO of each row: cross-entropy per column block (times ``reconstruction_weight``,
    TVAE's loss factor, against posterior collapse) plus the KL term. A function of one row at a time, as
    per-row clipping requires."""
    reconstruction = torch.zeros(len(x), device=x.device)
    for name in layout.names:
        block = layout.block(name)
        reconstruction = reconstruction + F.cross_entropy(logits[:, block], x[:, block].argmax(dim=1),
                                                          reduction="none")
    return reconstruction_weight * reconstruction - 0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)


class DPTVAE(Generator):
    kind = "dp-tvae"
    buys_quantile_bins = True
    is_dp = True

    params_model = DPTVAEParams

    @property
    def accountant(self) -> str:  # type: ignore[override]
        return self.params.accountant

    def fit(self, private: PrivateData, progress: Progress = silent) -> "DPTVAE":
        device = resolve_device(self.device)
        private = private if self.params.numeric_bins is not None else private.with_quantile_bins(label="dp-tvae.bins")
        rows = max(private.measure_count(self.params.count_sigma, label="dp-tvae.count"), float(self.params.batch_size))
        # person level: DP-SGD samples persons, so its rate needs a (noisy) number of persons
        units = rows if private.rows_per_person == 1 else \
            max(private.measure_unit_count(self.params.count_sigma, label="dp-tvae.persons"),
                float(self.params.batch_size))
        layout, self.coders_ = private.one_hot_layout(self.params.numeric_bins)
        seed = private.fork_seed()
        torch_rng = torch.Generator(device=device).manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            vae = _VAE(layout.width, self.params.hidden, self.params.latent_dim).to(device)
        optimizer = torch.optim.Adam(vae.parameters(), lr=self.params.learning_rate)
        session = private.dpsgd_training(vae, optimizer, sample_rate=min(1.0, self.params.batch_size / units),
                                         epochs=self.params.epochs, max_grad_norm=self.params.max_grad_norm,
                                         expected_batch_size=self.params.batch_size,
                                         numeric_bins=self.params.numeric_bins,
                                         label="dp-tvae.dpsgd")
        for epoch in range(session.epochs):
            total, batches = 0.0, 0
            for batch, mask in session.batches():  # rows, or persons x k rows at person level
                x = batch.to(device)
                noise = torch.randn(*x.shape[:-1], self.params.latent_dim, generator=torch_rng, device=device)
                logits, mu, logvar = session.module(x, noise)
                width, latent = layout.width, self.params.latent_dim
                row_losses = per_row_loss(logits.reshape(-1, width), x.reshape(-1, width), mu.reshape(-1, latent),
                                          logvar.reshape(-1, latent), layout, self.params.reconstruction_weight)
                losses = session.unit_losses(row_losses, mask)
                session.optimizer.zero_grad(set_to_none=True)
                session.backward(losses)
                session.step()
                total, batches = total + float(losses.detach().mean()) if len(x) else total, batches + 1
            progress(f"epoch {epoch + 1}/{session.epochs}: loss {total / max(batches, 1):.3f}, "
                     f"epsilon spent {session.epsilon_spent():.3f}")
        self.decoder_ = session.finish().decoder.cpu().eval()
        self.layout_, self.domain_ = layout, private.domain
        self.default_rows_ = int(round(rows))
        self.guarantee = dpsgd_guarantee(
            f"DP-TVAE: VAE trained with DP-SGD (Opacus: Poisson sampling, per-{session.unit} clipping, Gaussian "
            "noise) on a one-hot encoding built from the public domain", private.odometer, session,
            count_sigma=self.params.count_sigma, expected_batch_size=self.params.batch_size, device=str(device),
            **private.edges_receipt())
        return self

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        self._require_fitted("decoder_")
        rng = np.random.default_rng([seed, 0x7FAE])
        torch_rng = torch.Generator().manual_seed(int(rng.integers(2**62)))
        with torch.no_grad():
            logits = self.decoder_(torch.randn(n, self.params.latent_dim, generator=torch_rng))
        return self.domain_.decode(sample_codes(logits, self.layout_, rng), self.coders_, rng)

    @property
    def guarantee_(self) -> Guarantee:
        self._require_fitted("guarantee")
        return self.guarantee
