"""Workload: a network plus the input it runs on (and labels, when it trains)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.graph.network import Network


@dataclass(eq=False)
class Workload:
    """What a chip runs: ``inputs[name]`` has shape ``(steps, batch, *input_shape)``.

    Spiking inputs hold 0/1; valued inputs (ANN frames, direct encoding) hold floats.
    ``labels`` (shape ``(batch,)``, class indices) are present when ``mode == "train"``.
    """

    name: str
    network: Network
    inputs: dict[str, np.ndarray]
    steps: int
    batch: int
    mode: str = "infer"
    labels: np.ndarray | None = None
