"""Partition: cut each layer into parts that each fit one core.

A part is a run of the layer's neurons (in a chosen neuron order) times a group of its input space
(fan-in). Limits per core: ``neurons``, ``axons`` (distinct inputs it receives) and synapse memory
(``synapse_memory_kb``; a convolution layer stores each output channel's kernel once per core,
Tianjic's folded mapping; other layers store every synapse).

* **Split fan-out**: the neuron order is cut greedily into the longest runs that fit.
* **Split fan-in**: when one neuron alone needs more axons than a core has, the input space is cut
  into contiguous groups of ``axons`` inputs; every run of neurons then has one part per group
  that reaches it, and the parts' partial sums are merged on the run's *owner* (its first group
  with synapses), which alone holds the membranes.
* **Folded conv**: conv layers are tried in channel-major order (channel groups over whole maps)
  and row-major order (bands of feature-map rows over all channels); the order needing fewer cores
  wins.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from archsim.mapping.lowering import LoweredLayer

ORDERS = ("chw", "hwc")


@dataclass(frozen=True)
class CoreLimits:
    """What one core holds."""

    neurons: int
    axons: int
    memory_bits: int
    weight_bits: int


@dataclass(eq=False)
class LayerSplit:
    """How one layer is cut: neuron order, runs of neurons and fan-in groups."""

    order: str
    fan_in_groups: int
    group_size: int
    runs: list[tuple[int, int]]

    def parts(self, lowered: LoweredLayer) -> list[tuple[int, int, int, int]]:
        """(run start, run stop, input start, input stop) for each non-empty part, owners first per run."""
        perm = neuron_order(lowered, self.order)
        csc = lowered.matrix.tocsc()
        out = []
        for start, stop in self.runs:
            cols = perm[start:stop]
            rows = np.concatenate([csc.indices[csc.indptr[c]:csc.indptr[c + 1]] for c in cols]) if len(cols) else []
            groups = np.unique(np.asarray(rows, dtype=np.int64) // self.group_size)
            groups = groups if len(groups) else np.zeros(1, dtype=np.int64)
            for g in groups:
                out.append((start, stop, int(g * self.group_size),
                            int(min((g + 1) * self.group_size, lowered.input_size))))
        return out


def neuron_order(lowered: LoweredLayer, order: str) -> np.ndarray:
    """Permutation of flat (C, H, W) neuron indices for ``order`` ("chw" natural, "hwc" rows first)."""
    n = lowered.size
    if order == "chw" or lowered.channels == 1:
        return np.arange(n, dtype=np.int64)
    c = lowered.channels
    return np.arange(n, dtype=np.int64).reshape(c, n // c).T.reshape(-1).copy()


def split_layer(lowered: LoweredLayer, limits: CoreLimits) -> LayerSplit:
    """The cheapest split of a layer (fewest parts) under ``limits``."""
    orders = ORDERS if lowered.channels > 1 else ("chw",)
    best = None
    for order in orders:
        split = _split_in_order(lowered, limits, order)
        cost = len(split.parts(lowered))
        if best is None or cost < best[0]:
            best = (cost, split)
    return best[1]


def _split_in_order(lowered: LoweredLayer, limits: CoreLimits, order: str) -> LayerSplit:
    csc = lowered.matrix.tocsc()
    csc.sort_indices()
    perm = neuron_order(lowered, order)
    fan_in = np.diff(csc.indptr)
    needs_split = fan_in.size and int(fan_in.max()) > limits.axons
    group_size = limits.axons if needs_split else max(lowered.input_size, 1)
    groups = (lowered.input_size + group_size - 1) // group_size if lowered.input_size else 1
    channel = perm // max(lowered.size // lowered.channels, 1)
    shared = -1 if lowered.shared_kernel_weights is None else lowered.shared_kernel_weights
    starts = _greedy_runs(csc.indptr.astype(np.int64), csc.indices.astype(np.int64), perm, channel,
                          lowered.input_size, group_size, groups, limits.neurons, limits.axons,
                          limits.memory_bits, limits.weight_bits, shared, lowered.channels)
    bounds = list(starts) + [lowered.size]
    runs = [(int(bounds[i]), int(bounds[i + 1])) for i in range(len(starts))]
    return LayerSplit(order=order, fan_in_groups=int(groups), group_size=int(group_size), runs=runs)


@nb.njit(cache=True)
def _greedy_runs(indptr, indices, perm, channel, n_inputs, group_size, groups, max_neurons, max_axons,
                 memory_bits, weight_bits, shared, channels):
    """Start positions of the longest runs of ``perm`` that fit a core, in every fan-in group."""
    seen_input = np.full(max(n_inputs, 1), -1, np.int64)
    seen_channel = np.full((channels, groups), -1, np.int64)
    axons = np.zeros(groups, np.int64)
    synapses = np.zeros(groups, np.int64)
    kernels = np.zeros(groups, np.int64)
    starts = [0]
    run = 0
    count = 0
    n = perm.shape[0]
    i = 0
    while i < n:
        col = perm[i]
        # tentatively add neuron col to the current run
        new_axons = axons.copy()
        new_syn = synapses.copy()
        new_kernels = kernels.copy()
        for k in range(indptr[col], indptr[col + 1]):
            r = indices[k]
            g = r // group_size
            if seen_input[r] != run:
                new_axons[g] += 1
            new_syn[g] += 1
            if shared >= 0 and seen_channel[channel[i], g] != run:
                new_kernels[g] += 1
        fits = count + 1 <= max_neurons
        for g in range(groups):
            mem = new_kernels[g] * shared * weight_bits if shared >= 0 else new_syn[g] * weight_bits
            if new_axons[g] > max_axons or mem > memory_bits:
                fits = False
        if fits or count == 0:
            for k in range(indptr[col], indptr[col + 1]):
                r = indices[k]
                seen_input[r] = run
                if shared >= 0:
                    seen_channel[channel[i], r // group_size] = run
            axons[:] = new_axons
            synapses[:] = new_syn
            kernels[:] = new_kernels
            count += 1
            i += 1
        else:
            run += 1
            starts.append(i)
            axons[:] = 0
            synapses[:] = 0
            kernels[:] = 0
            count = 0
    return np.array(starts, np.int64)
