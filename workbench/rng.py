"""Work that must not move the seeded random streams of the run around it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Python's, NumPy's and torch's random states (CPU, and CUDA once initialised) restored after the block.

    Why: a cascade point recognizes only what its transcript cache lacks. Building and running a
    recognizer draws from the seeded streams (a module's weights are initialised before its
    checkpoint is loaded), so the classifier trained after it started from other random numbers
    than a rerun reading the cache: the same point gave two answers (test probabilities apart by
    up to 0.05, measured on the embedded sweep's ca-romanized seed 1).
    """
    python_state, numpy_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
