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
* a per-element delay after a ``Dense`` (optionally followed by element-wise ops) is a delay per
  *target* neuron, Loihi's per-synapse case: :func:`split_target_delays` rewrites the projection as one
  projection per distinct delay value, each with the ``Dense`` rows of the targets that have that delay
  (the others zero) and one delay for all. Exact (every weight lands in exactly one copy, scales and
  rounding unchanged); the cost is one copy of the source's axons per distinct delay value;
* a per-element delay after a ``Conv2d``, ``Conv1d`` or a pool is refused in one line (its rows cannot be
  selected without leaving the op's form).

:class:`DelayLine` is the ring both the integer functional simulator and the many-core program use, so
the two read the same values by construction of the same code path.
"""
from __future__ import annotations

import numpy as np

import dataclasses

import scipy.sparse as sp

from archsim.errors import UserError
from archsim.graph.network import Delay, Dense, Flatten, Network, Projection, Scale, Shape

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


def split_target_delays(network: Network) -> Network:
    """``network`` with every per-target delay behind a ``Dense`` split into one projection per delay value
    (module docstring); the same object when it has none."""
    layers, changed = [], False
    for layer in network.layers:
        projections, split = [], False
        for proj in layer.projections:
            parts = _split(proj, layer.name)
            split |= parts is not None
            projections.extend(parts if parts is not None else [proj])
        layers.append(dataclasses.replace(layer, projections=tuple(projections)) if split else layer)
        changed |= split
    if not changed:
        return network
    return Network(name=network.name, inputs=dict(network.inputs), layers=layers, outputs=list(network.outputs),
                   metadata=network.metadata)


def _split(proj: Projection, layer_name: str) -> list[Projection] | None:
    """The projection as one copy per value of its first per-target delay (recursively), or None."""
    ops = list(proj.ops)
    dense_at = None
    for i, op in enumerate(ops):
        if isinstance(op, Dense) and dense_at is None:
            dense_at = i
        elif isinstance(op, Delay) and np.asarray(op.steps).size > 1 and dense_at is not None:
            if any(not isinstance(o, _ELEMENTWISE) for o in ops[dense_at + 1:i]):
                return None                      # something mixes after the Dense: source_delay refuses it
            steps = np.asarray(op.steps, dtype=np.int64).reshape(-1)
            dense = ops[dense_at]
            copies = []
            for value in np.unique(steps):
                keep = (steps == value).astype(np.float64)
                weight = (sp.diags(keep) @ dense.weight).tocsr() if sp.issparse(dense.weight) \
                    else np.asarray(dense.weight) * keep[:, None]
                bias = None if dense.bias is None else np.asarray(dense.bias) * keep
                rest = ops[i + 1:]
                head = ops[:dense_at] + [Dense(weight=weight, bias=bias)] + ops[dense_at + 1:i]
                delayed = [Delay(steps=np.int64(value), node=op.node)] if value else []
                copy = Projection(source=proj.source, ops=tuple(head + delayed + rest), recurrent=proj.recurrent)
                copies.extend(_split(copy, layer_name) or [copy])
            return copies
    return None


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
