"""Input encodings over T steps: what a static image becomes before the first layer sees it.

* ``direct``: the values themselves, fed unchanged at every step (the first layer integrates analogue
  currents; the exported network marks the input as ``"values"``).
* ``rate``: Bernoulli spikes, ``P(spike at step t) = value`` (values in [0, 1]), drawn from the given
  seeded generator (the exported network marks the input as ``"spikes"``).
"""
from __future__ import annotations

import numpy as np

ENCODINGS = ("direct", "rate")
INPUT_KIND = {"direct": "values", "rate": "spikes"}


def encode(x: np.ndarray, steps: int, encoding: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """(B, *shape) values in [0, 1] -> (steps, B, *shape) float64 input sequence."""
    if encoding == "direct":
        return np.broadcast_to(x, (steps, *x.shape)).astype(np.float64)
    if encoding == "rate":
        if rng is None:
            raise ValueError("rate encoding needs a random generator")
        return (rng.random((steps, *x.shape)) < x).astype(np.float64)
    raise ValueError(f"unknown encoding {encoding!r} (allowed: {', '.join(ENCODINGS)})")
