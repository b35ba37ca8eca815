"""Partitioned cuts: neurons that share inputs go to the same core, found by METIS (PyPI ``pymetis``).

A layer's synapses form a bipartite graph: one vertex per neuron, one per input (axon), one edge
per stored synapse (the star expansion of the hypergraph whose nets are the inputs). METIS cuts it
into ``k`` parts balanced in what binds the layer (neurons, or synapses where the synapse memory
needs more cores than the neuron count; inputs weigh nothing; one balance constraint, which METIS
holds tightly where two drift far apart) with few cut edges: an input whose synapses stay in one part is received by one core only, so the
axons per core and the packets per spike (one per receiving core) shrink where the layer has
locality, whatever its neuron order.

First a k-way cut into ``k`` parts, ``k`` the lower bound on the layer's cores (neurons per core,
and the stored synapses' bits per core in the chip's format, :mod:`~archsim.mapping.storage`):
it packs layers without structure tightly. Where some part overflows, recursive bisection is
tried too (it finds nested structure: a block too large for a core is halved along its own
seams, where a k-way cut at the bound mixes blocks), and larger ``k`` (``PART_COUNTS_TRIED``);
the try with fewest parts is kept. Every part is checked with the chip model's pass
rule under every core limit (neurons, axons, synapse and state memory:
:class:`~archsim.mapping.tiles.RunCheck`); a part that overflows is bisected again (METIS on its
own subgraph) until its pieces fit. Parts are then laid out one after the other (ascending
neuron index inside each, parts by their first neuron): the cut is a neuron order plus runs, so
fan-in groups, owners and routes work as for every other cut.

METIS is seeded (``mapping.seed``) and single-threaded, so the cut is deterministic.
"""
from __future__ import annotations

import numpy as np
import pymetis
import scipy.sparse as sp

from archsim.mapping.lowering import LoweredLayer
from archsim.mapping.tiles import RunCheck

#: Layers with more synapses than this are not partitioned (the graph and METIS' copies of it grow
#: with the synapses; the greedy and tile cuts still run; speed and memory only).
PARTITION_SYNAPSE_LIMIT = 8_000_000

#: Part counts tried at most: the lower bound first, then, while some part overflowed and was cut
#: again, halfway from the last count to the parts that try ended with.
PART_COUNTS_TRIED = 4

#: METIS' allowed imbalance, in thousandths over the mean part (1.001: parts as close to the lower
#: bound's size as METIS gets; assumption, a METIS setting, not a chip figure).
UFACTOR = 1


def partition_layer(lowered: LoweredLayer, csc: sp.csc_matrix, limits, bounds: list[int],
                    seed: int) -> tuple[np.ndarray, list[tuple[int, int]]] | None:
    """(neuron permutation, runs) of a METIS cut of ``lowered`` whose parts all fit ``limits`` in the
    fan-in groups ``bounds``, or None when the layer is too small, too large or a neuron fits no core."""
    n = lowered.size
    if n < 2 or csc.nnz == 0 or csc.nnz > PARTITION_SYNAPSE_LIMIT:
        return None
    col_ptr, col_rows = csc.indptr.astype(np.int64), csc.indices.astype(np.int64)
    groups = np.asarray(bounds, dtype=np.int64)
    check = RunCheck(lowered, col_ptr, col_rows, groups, limits)
    first, by_synapses = _lower_bound(lowered, csc, limits, groups)
    everyone = np.arange(n, dtype=np.int64)
    best, k = None, first
    for attempt in range(PART_COUNTS_TRIED):
        labels = _metis(csc, everyone, k, seed, by_synapses)
        parts, overflowed = _fitting_parts(csc, [np.flatnonzero(labels == p) for p in range(k)], check, seed,
                                           by_synapses)
        if parts is None:
            return None
        if best is None or len(parts) < len(best):
            best = parts
        if not overflowed:
            break
        if attempt == 0:                                                     # recursive bisection
            halves, _ = _fitting_parts(csc, [everyone], check, seed, by_synapses)
            best = halves if len(halves) < len(best) else best
        k = max(k + 1, (k + len(parts)) // 2)
        if k >= min(len(best), n):
            break
    best.sort(key=lambda p: int(p[0]))
    perm = np.concatenate(best).astype(np.int64)
    stops = np.cumsum([len(p) for p in best])
    return perm, [(int(a), int(b)) for a, b in zip(np.concatenate([[0], stops[:-1]]), stops)]


def _lower_bound(lowered: LoweredLayer, csc, limits, groups: np.ndarray) -> tuple[int, bool]:
    """(cores the layer needs at least, whether synapse memory binds before the neuron count): its
    neurons per core, and (layers storing every synapse) the stored synapses' bits of its fullest
    fan-in group per core."""
    per_core = max(limits.neurons_per_core(lowered.state_words), 1)
    k = -(-lowered.size // per_core)
    by_synapses = False
    if lowered.kernel_weights is None:
        per_group = np.diff(np.searchsorted(np.sort(csc.indices), groups))
        bits = int(per_group.max()) * limits.synapse_format.bits_per_synapse
        by_synapses = -(-bits // limits.memory_bits) > k
        k = max(k, -(-bits // limits.memory_bits))
    return max(1, min(k, lowered.size)), by_synapses


def _fitting_parts(csc, parts: list[np.ndarray], check: RunCheck, seed: int, by_synapses: bool):
    """(parts that fit, whether any was split again), or (None, True) when a single neuron fits no core."""
    out, overflowed, todo = [], False, [p for p in parts if len(p)]
    while todo:
        part = todo.pop()
        if check.check(part, np.array([0, len(part)], np.int64))[0]:
            out.append(part)
            continue
        if len(part) == 1:
            return None, True
        overflowed = True
        labels = _metis(csc, part, 2, seed, by_synapses)
        halves = [part[labels == 0], part[labels == 1]]
        if not len(halves[0]) or not len(halves[1]):
            halves = [part[:len(part) // 2], part[len(part) // 2:]]
        todo.extend(halves)
    return out, overflowed


def _metis(csc, neurons: np.ndarray, k: int, seed: int, by_synapses: bool) -> np.ndarray:
    """METIS labels (0..k-1) of ``neurons`` (ascending) on the star graph of their synapses, parts
    balanced in neurons or (``by_synapses``) in synapses."""
    if k <= 1:
        return np.zeros(len(neurons), dtype=np.int64)
    sub = csc[:, neurons]                                   # inputs x these neurons
    used = np.unique(sub.indices)
    n, m = len(neurons), len(used)
    neuron_adj = np.searchsorted(used, sub.indices) + n     # neuron -> its inputs' vertices
    by_input = sp.csc_matrix((np.ones(sub.nnz, np.int8), neuron_adj - n, sub.indptr), shape=(m, n)).tocsr()
    xadj = np.concatenate([sub.indptr, sub.nnz + by_input.indptr[1:]]).astype(np.int64)
    adjncy = np.concatenate([neuron_adj, by_input.indices]).astype(np.int64)
    weights = np.zeros(n + m, dtype=np.int64)
    weights[:n] = np.maximum(np.diff(sub.indptr), 1) if by_synapses else 1
    options = pymetis.Options(seed=int(seed), ufactor=UFACTOR)
    _, labels = pymetis.part_graph(k, pymetis.CSRAdjacency(xadj, adjncy), vweights=weights,
                                   options=options, recursive=False)
    return np.asarray(labels[:n], dtype=np.int64)
