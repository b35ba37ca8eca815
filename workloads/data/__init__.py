"""Data sets that ship with the repository (see README.md in this folder for sources and licences)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIGITS_PATH = Path(__file__).with_name("digits.npz")
DIGITS_MAX_PIXEL = 16


@dataclass(frozen=True, eq=False)
class Split:
    """Images (N, 1, 8, 8) as floats in [0, 1] (pixel / 16) and labels (N,) as int64."""

    x: np.ndarray
    y: np.ndarray


def load_digits() -> tuple[Split, Split]:
    """The UCI 8x8 digits, (train, test) = (1438, 359) images, pixels scaled to [0, 1]."""
    with np.load(DIGITS_PATH) as d:
        return tuple(Split(x=d[f"x_{part}"].astype(np.float64)[:, None] / DIGITS_MAX_PIXEL,
                           y=d[f"y_{part}"].astype(np.int64)) for part in ("train", "test"))
