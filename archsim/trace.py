"""Trace: what happened during a simulation, with no energy numbers in it.

A chip model fills a Trace; ``archsim.cost`` turns its action counts into energy with the
technology tables, so a stored Trace can be re-costed without simulating again.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Trace:
    """Counts of one run of a workload on a chip.

    ``actions`` maps component -> action -> count (e.g. ``{"dendrite": {"synaptic_op": 1234}}``);
    the component and action names are those of the chip config's ``components`` block.
    ``actions_by_layer`` maps layer -> component -> action -> count, layers in network order, for the
    actions a model can attribute to one layer; summed over layers it gives ``actions`` minus the
    *shared* remainder (barrier and control cycles, traffic of several layers at once). Empty when the
    model does not attribute (and in traces stored before it existed).
    ``cycles_breakdown`` holds family-specific cycle splits (per core, per phase, per engine, per
    layer); ``details`` holds family-specific statistics (utilisation, sparsity, NoC link loads).
    Everything except ``outputs`` is JSON-serialisable.
    """

    chip: str
    family: str
    workload: str
    mode: str
    engine: str
    steps: int
    batch: int
    cycles: int
    clock_hz: float
    actions: dict[str, dict[str, int]]
    actions_by_layer: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    synaptic_ops: int = 0
    spikes: int = 0
    cycles_breakdown: dict = field(default_factory=dict)
    noc: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    active_units: dict[str, int] = field(default_factory=dict)
    outputs: np.ndarray | None = field(default=None, repr=False)

    @property
    def latency_s(self) -> float:
        return self.cycles / self.clock_hz

    def to_dict(self) -> dict:
        """JSON-ready view (without the output array)."""
        data = asdict(self)
        data.pop("outputs")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Trace":
        return cls(**{k: v for k, v in data.items() if k != "outputs"})
