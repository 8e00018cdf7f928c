"""Containing third-party global RNG use.

privsynth never uses global random state. Some libraries (anonymeter's samplers, SDV's copula sampler) draw
from numpy's global generator and offer no seed. ``numpy_global_seed`` seeds it for the duration of one
call and restores the previous state afterwards, so results are reproducible and nothing leaks into the
caller's random stream.
"""
from __future__ import annotations

import contextlib
import random
from typing import Iterator

import numpy as np


@contextlib.contextmanager
def numpy_global_seed(seed: int) -> Iterator[None]:
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    np.random.seed(seed % 2**32)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
