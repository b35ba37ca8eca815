"""Passes of folded cores: which local neurons a core integrates in each time-multiplexed pass.

The mapper lets a core hold up to ``core.max_fold`` passes of a layer (Tianjic's folded mapping):
a run of up to ``neurons x max_fold`` neurons whose inputs fit ``axons`` per pass. The core then
integrates pass after pass, and each pass reads, from the axon buffer, every input its own neurons
need: an input shared by two passes (the halo rows of neighbouring conv bands, or any input of a
dense layer) is read once per pass, and its synapses are streamed per pass, ``ceil(k_pass / lanes)``
cycles for the ``k_pass`` synapses of that input into that pass's neurons.

Pass boundaries are recomputed here from the core's own synapses, greedily in local neuron order
(the mapper's run order): a pass takes neurons while it holds at most ``core.neurons`` neurons and
``core.axons`` distinct inputs. For a layer without fan-in groups this is the mapper's own cut; with
groups the mapper cuts at the first group that overflows, so a core here may get longer (never more)
passes, each still within the core's limits.
"""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def pass_of_neurons(indptr, indices, n_neurons, neurons_per_pass, axons_per_pass):
    """Pass id of each local neuron of one core (CSR ``indptr``/``indices``: local axons x local neurons)."""
    n_axons = indptr.shape[0] - 1
    counts = np.zeros(n_neurons + 1, np.int64)            # neuron -> its axons (transposed CSR)
    for j in range(indptr[n_axons]):
        counts[indices[j] + 1] += 1
    col_ptr = np.cumsum(counts)
    col_axons = np.empty(indptr[n_axons], np.int64)
    fill = col_ptr[:-1].copy()
    for a in range(n_axons):
        for j in range(indptr[a], indptr[a + 1]):
            col_axons[fill[indices[j]]] = a
            fill[indices[j]] += 1
    seen = np.full(n_axons, -1, np.int64)
    out = np.zeros(n_neurons, np.int64)
    current, in_pass, axons = 0, 0, 0
    for n in range(n_neurons):
        fresh = 0
        for q in range(col_ptr[n], col_ptr[n + 1]):
            if seen[col_axons[q]] != current:
                fresh += 1
        if in_pass > 0 and (in_pass + 1 > neurons_per_pass or axons + fresh > axons_per_pass):
            current += 1
            in_pass, axons = 0, 0
            fresh = col_ptr[n + 1] - col_ptr[n]            # new pass: every input of the neuron is fresh
        for q in range(col_ptr[n], col_ptr[n + 1]):
            seen[col_axons[q]] = current
        axons += fresh
        in_pass += 1
        out[n] = current
    return out


def stage_passes(stage, neurons_per_pass: int, axons_per_pass: int) -> tuple[np.ndarray, np.ndarray]:
    """``(slot_pass, core_passes)`` of a stage: the pass of every slot (local neuron, in the stage's slot
    order) and the number of passes of every core (a kernel-level core's, :mod:`.kernel_cores`, were cut
    by the same rule when it was built, from its generated synapses)."""
    slot_pass = np.zeros(int(stage.slot_ptr[-1]), np.int64)
    core_passes = np.ones(len(stage.cores), np.int64)
    for k, core in enumerate(stage.cores):
        if core.kernel is not None:                      # a kernel-level core: cut when it was built
            slot_pass[stage.slot_ptr[k]:stage.slot_ptr[k + 1]] = core.kernel.pass_of
            core_passes[k] = int(core.kernel.pass_of.max(initial=0)) + 1
            continue
        if len(core.neurons) <= neurons_per_pass and len(core.axon_source) <= axons_per_pass:
            continue                                         # one pass holds the whole core
        passes = pass_of_neurons(np.asarray(core.indptr, np.int64), np.asarray(core.indices, np.int64),
                                 len(core.neurons), neurons_per_pass, axons_per_pass)
        slot_pass[stage.slot_ptr[k]:stage.slot_ptr[k + 1]] = passes
        core_passes[k] = int(passes.max(initial=0)) + 1
    return slot_pass, core_passes
