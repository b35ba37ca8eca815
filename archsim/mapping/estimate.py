"""Cores a network needs at least, counted from its layer shapes, weights and the chip's formats,
before anything is lowered (no synapse matrix is built: seconds and little memory, however large).

Per layer the largest of three bounds, each true of every cut the mapper can make (one part per
core, a part holds at most ``core.neurons x core.max_fold`` neurons and their state):

* **neurons**: ``size / neurons per core`` (the neuron-state memory may hold fewer);
* **fan-in**: a part gives a neuron at most ``core.axons`` of its inputs, so a neuron with ``f``
  stored synapses sits in at least ``ceil(f / axons)`` parts: ``sum ceil(f / axons) / neurons per core``;
* **synapse memory**: a layer storing every synapse (:mod:`~archsim.mapping.storage`) spends at
  least ``bits_per_synapse`` on each (a crossbar also stores zeros, a list also its headers); a
  convolution layer stores each output channel's whole kernel at least once
  (:func:`~archsim.mapping.lowering.kernel_bits_per_group`).

Synapses are counted as the lowering stores them (non-zero weights, :mod:`~archsim.mapping.lowering`)
for projections whose chain holds one Dense or Conv2d among shape-only ops (Flatten, Scale), and
for pools of disjoint windows before a Dense (each pooled input then stands for its window's pixels,
as the composed matrix stores them: a global average pool before a classifier); any other chain of
several weighted ops is counted as having no synapse, which keeps the bound a bound.
:func:`cores_needed` is exact where the limiting bound is exact and otherwise below the mapper's count.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from archsim.graph.network import AvgPool2d, Conv2d, Dense, Flatten, Scale, SumPool2d
from archsim.mapping.lowering import kernel_weights_per_plane

POOLS = (AvgPool2d, SumPool2d)


def cores_needed(layers, shape_of, state_words: dict[str, int], limits) -> dict[str, int]:
    """Lower bound on the cores of each layer (``layers`` of a Network or a QuantizedNetwork;
    ``state_words``: membrane words per neuron by layer name)."""
    out = {}
    # the narrowest weight cell the cores can be set to (``core.synapse_cell_bits``): a bound for any layer
    narrowest = min((*limits.cell_bits, limits.weight_bits))
    narrow_format = replace(limits.synapse_format, weight_bits=narrowest)
    for layer in layers:
        size = int(np.prod(layer.shape))
        per_core = max(limits.neurons_per_core(state_words.get(layer.name, 0)), 1)
        fan_in = np.zeros(size, dtype=np.int64)
        for proj in layer.projections:
            counted = _fan_in(proj.ops, tuple(shape_of(proj.source)), size)
            if counted is not None:
                fan_in += counted
        bound = -(-size // per_core)
        bound = max(bound, -(-int((-(-fan_in // limits.axons)).sum()) // per_core))
        kernel = kernel_weights_per_plane(layer.projections, shape_of)
        if kernel is not None:                   # each channel's kernel on some core
            bits = int(layer.shape[0]) * int(kernel.sum(axis=1).max(initial=0)) * narrowest
        else:
            bits = int(fan_in.sum()) * narrow_format.bits_per_synapse
        out[layer.name] = max(bound, -(-bits // limits.memory_bits), 1)
    return out


def _fan_in(ops, in_shape, size: int) -> np.ndarray | None:
    """Stored synapses per flat neuron of one projection, or None when its chain is not counted."""
    weighted = [op for op in ops if not isinstance(op, (Flatten, Scale, *POOLS))]
    pooled = any(isinstance(op, POOLS) for op in ops)
    if len(weighted) > 1 or (not weighted and pooled):
        return None
    if not weighted:
        return np.ones(size, dtype=np.int64)                             # an identity: one synapse each
    op = weighted[0]
    if pooled and not (isinstance(op, Dense) and all(not isinstance(o, POOLS) for o in ops[ops.index(op):])):
        return None                                                      # counted: pools before a Dense only
    shape = tuple(in_shape)
    pixels = np.ones(int(np.prod(shape)), dtype=np.int64)               # input elements behind each element
    for before in ops[:ops.index(op)]:
        if isinstance(before, POOLS):
            pixels = _pooled_pixels(before, shape, pixels)
            if pixels is None:
                return None
        shape = tuple(before.output_shape(shape))
    if isinstance(op, Dense):
        w = op.weight
        nonzero = (sp.csr_matrix(w) != 0) if sp.issparse(w) else sp.csr_matrix(np.asarray(w) != 0)
        per_row = nonzero.astype(np.int64) @ pixels        # a pooled input is its window's pixels
        return np.asarray(per_row, dtype=np.int64).reshape(-1)[:size]
    if isinstance(op, Conv2d) and len(shape) == 3:
        weight = np.asarray(op.weight)
        _, h, w = shape
        _, oh, ow = op.output_shape(shape)
        kh, kw = weight.shape[2:]
        taps = np.count_nonzero(weight, axis=1)                         # (C_out, kh, kw): input channels per tap
        iy = np.arange(oh)[:, None] * op.stride[0] - op.padding[0] + np.arange(kh)[None, :] * op.dilation[0]
        ix = np.arange(ow)[:, None] * op.stride[1] - op.padding[1] + np.arange(kw)[None, :] * op.dilation[1]
        valid_y = ((iy >= 0) & (iy < h)).astype(np.int64)
        valid_x = ((ix >= 0) & (ix < w)).astype(np.int64)
        per_neuron = np.einsum("cab,ya,xb->cyx", taps.astype(np.int64), valid_y, valid_x)
        return per_neuron.reshape(-1)
    return None


def _pooled_pixels(pool, shape, pixels: np.ndarray) -> np.ndarray | None:
    """Input elements behind each output of ``pool`` (``pixels``: behind each of its inputs), or None
    where windows overlap (stride below the kernel): there a union of windows, not a sum, is stored."""
    if any(s < k for s, k in zip(pool.stride, pool.kernel)):
        return None
    c, h, w = shape
    _, oh, ow = pool.output_shape(shape)
    per_input = pixels.reshape(c, h, w)
    out = np.zeros((c, oh, ow), dtype=np.int64)
    for ky in range(pool.kernel[0]):
        for kx in range(pool.kernel[1]):
            iy = np.arange(oh) * pool.stride[0] - pool.padding[0] + ky
            ix = np.arange(ow) * pool.stride[1] - pool.padding[1] + kx
            ok_y, ok_x = (iy >= 0) & (iy < h), (ix >= 0) & (ix < w)
            out[:, ok_y[:, None] & ok_x[None, :]] += per_input[:, iy[ok_y]][:, :, ix[ok_x]].reshape(c, -1)
    return out.reshape(-1)
