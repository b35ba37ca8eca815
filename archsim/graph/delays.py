"""Delays moved to the source side of a projection, and the delay line that keeps a source's past.

A :class:`~archsim.graph.network.Delay` may stand anywhere in a projection's chain in the float
network (it is linear and time-invariant). The integer datapaths run it as an *axon delay*: the layer
reads each source element ``d`` steps late from a small history ring, and the synapses act on what it
read (Loihi's delays, Davies et al. 2018, are per synapse; a per-axon delay is the case where every
synapse of one axon shares one value). :func:`source_delay` finds that per-source-element delay:

* a scalar delay anywhere in the chain commutes with every op: ``d`` for every source element;
* a per-element delay preceded only by element-wise or reshaping ops (``Scale``, ``Flatten``) is the
  same delay on the source elements it reads (row-major order is kept by ``Flatten``);
* several delays on one path add up;
* a per-element delay after an op that mixes elements (``Dense``, ``Conv2d``, a pool) is a delay per
  *target*, not per axon: refused in one line (the cores here keep histories of sources only).

:class:`DelayLine` is the ring both the integer functional simulator and the many-core program use, so
the two read the same values by construction of the same code path.
"""
from __future__ import annotations

import numpy as np

from archsim.errors import UserError
from archsim.graph.network import Delay, Flatten, Scale, Shape

#: ops a per-element delay may follow and still be a delay of the source's own elements
_ELEMENTWISE = (Scale, Flatten)


def source_delay(ops, source_shape: Shape, layer_name: str) -> tuple[np.ndarray | None, tuple, str]:
    """``(delay, ops without Delay, node names)``: per source element (flat int64) or None when none.

    Raises a one-line UserError for a per-element delay behind an op that mixes elements.
    """
    size = int(np.prod(source_shape))
    total = np.zeros(size, dtype=np.int64)
    kept, names, mixed = [], [], None
    for op in ops:
        if not isinstance(op, Delay):
            kept.append(op)
            if not isinstance(op, _ELEMENTWISE) and mixed is None:
                mixed = type(op).__name__
            continue
        names.append(op.node or "Delay")
        steps = np.asarray(op.steps, dtype=np.int64)
        if steps.ndim == 0 or steps.size == 1:
            total += int(steps.reshape(-1)[0])
        elif mixed is None and steps.size == size:
            total += steps.reshape(-1)
        else:
            raise UserError(f"layer {layer_name}: Delay node {names[-1]}: one delay per element after a {mixed} "
                            "is a delay per target neuron, which the integer datapath does not run (allowed: one "
                            "delay for all, or one per source element before the synapses' weighted op)")
    if not names or not np.any(total):
        return None, tuple(kept), ""
    return total, tuple(kept), ", ".join(names)


class DelayLine:
    """A source's last ``max(delay)`` outputs; ``__call__(x)`` stores ``x`` and returns, per element
    ``j`` (the last axis), what arrived ``delay[j]`` calls ago (zeros before the first arrival)."""

    def __init__(self, delay: np.ndarray, shape: tuple[int, ...], dtype=np.int64):
        self.delay = np.asarray(delay, dtype=np.int64).reshape(-1)
        self.depth = int(self.delay.max(initial=0)) + 1
        self.ring = np.zeros((self.depth, *shape), dtype=dtype)
        self.pos = 0
        self.cols = np.arange(self.delay.size)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.pos = (self.pos + 1) % self.depth
        self.ring[self.pos] = x.reshape(self.ring.shape[1:])
        rows = (self.pos - self.delay) % self.depth
        return self.ring[rows, ..., self.cols].T if self.ring.ndim > 2 else self.ring[rows, self.cols]


def delay_buffer_bits(delay: np.ndarray | None, bits_per_value: int) -> int:
    """Bits a ring of ``delay`` holds beyond the current value: ``sum_j delay[j] * bits``."""
    return 0 if delay is None else int(np.sum(delay)) * int(bits_per_value)
