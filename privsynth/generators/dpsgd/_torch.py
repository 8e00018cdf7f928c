"""What both DP-SGD generators share: device choice, seeded torch randomness, the guarantee they report,
and turning per-column logits back into codes. No private data passes through here."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from privsynth.data.encoding import OneHotLayout
from privsynth.errors import PrivsynthError
from privsynth.privacy.dpsgd import DPSGDSession
from privsynth.privacy.odometer import Odometer
from privsynth.results import Guarantee

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    """auto: CUDA when a GPU is visible, else CPU; cuda without a GPU is an error, not a silent fallback."""
    if device not in DEVICES:
        raise PrivsynthError(f"compute.device: {device!r} is not one of {DEVICES}")
    if device == "cuda" and not torch.cuda.is_available():
        raise PrivsynthError("--device cuda (compute.device): no CUDA GPU is visible to torch; use --device cpu")
    return torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                        "cpu" if device == "auto" else device)


def sample_codes(logits: torch.Tensor, layout: OneHotLayout, rng: np.random.Generator) -> np.ndarray:
    """One code per column, drawn from the softmax of that column's block of logits."""
    codes = np.empty((logits.shape[0], len(layout.names)), dtype=np.int64)
    for j, name in enumerate(layout.names):
        probs = torch.softmax(logits[:, layout.block(name)].double(), dim=1).cpu().numpy()
        u = rng.random((len(probs), 1))
        codes[:, j] = np.minimum((np.cumsum(probs, axis=1) < u).sum(axis=1), probs.shape[1] - 1)
    return codes


def dpsgd_guarantee(mechanism: str, odometer: Odometer, session: DPSGDSession, **details: Any) -> Guarantee:
    """The guarantee of a fit whose odometer history is the Opacus accountant's input."""
    return Guarantee(
        dp=True,
        mechanism=mechanism,
        epsilon=odometer.epsilon_spent,
        delta=odometer.delta,
        accounting=f"Opacus {odometer.accountant.upper()} accountant over the fit's history (noisy measurements "
                   f"as Gaussian mechanisms, then the DP-SGD phase); add/remove one {session.unit}",
        details={
            "accountant": odometer.accountant,
            "noise_multiplier": session.noise_multiplier,
            "max_grad_norm": session.max_grad_norm,
            "sample_rate": session.sample_rate,
            "steps": session.planned_steps,
            "steps_run": session.steps_taken,
            "epochs": session.epochs,
            "epsilon_spent": odometer.epsilon_spent,
            "epsilon_budget": odometer.epsilon_budget,
            "history": [list(e.as_opacus()) for e in odometer.history],
            "poisson_sampling": True,
            "sampled_unit": session.unit,
            **details,
        },
    )
