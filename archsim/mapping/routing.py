"""Routing: what each core receives and whom each core's neurons must reach.

From a :class:`~archsim.mapping.layout.Mapping` and the lowered layers this derives, per part, its
axons (the input-space rows with synapses on that core), the local synapse matrix, the owner of its
neurons (where fan-in partial sums merge) and, per source neuron, the set of cores that need its
output: the routing table of its owner core. A spike is one multicast packet from the owner to
that set (XY multicast tree in the NoC).
"""
from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.sparse as sp

from archsim.mapping.layout import Mapping
from archsim.mapping.lowering import LoweredLayer
from archsim.mapping.partition import neuron_order


@dataclass(eq=False)
class PartRoute:
    """One placed part with everything the chip model needs.

    Its synapses are a CSR matrix local axons x local neurons (``indptr``, ``indices`` sorted within
    each axon, ``weights``), stored entries only; a part of a kernel-level layer lists none
    (``indptr`` None: :func:`part_synapses` generates them from the layer's kernels when asked).
    """

    index: int
    layer: str
    core: tuple[int, int]
    neurons: np.ndarray          # flat neuron indices of the layer held here, local order
    axon_rows: np.ndarray        # input-space rows received here (ascending), local axon order
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    owner: int                   # index of the part that merges partial sums (itself when owner)

    inputs: tuple[int, int] = (0, 0)   # the fan-in group of input rows the part receives

    @property
    def synapses(self) -> sp.csr_matrix:
        """The local synapse matrix as a SciPy CSR matrix (local axons x local neurons)."""
        return sp.csr_matrix((self.weights, self.indices, self.indptr), shape=(len(self.axon_rows), len(self.neurons)))


@dataclass(eq=False)
class Routes:
    """All parts plus, per layer, which part owns each neuron and who needs each neuron's output.

    ``dest_ptr[layer]`` / ``dest_parts[layer]`` is a CSR list: the receiving part indices of flat
    neuron ``n`` are ``dest_parts[layer][dest_ptr[layer][n]:dest_ptr[layer][n + 1]]`` (ascending).
    """

    parts: list[PartRoute]
    owner_of: dict[str, np.ndarray]                       # layer -> part index per flat neuron
    dest_ptr: dict[str, np.ndarray]
    dest_parts: dict[str, np.ndarray]

    def destinations(self, layer: str, neuron: int) -> np.ndarray:
        """Receiving part indices of one neuron of ``layer``."""
        ptr = self.dest_ptr[layer]
        return self.dest_parts[layer][ptr[neuron]:ptr[neuron + 1]]


def build_routes(mapping: Mapping, lowered: dict[str, LoweredLayer]) -> Routes:
    """Per part its axons and local synapses, per layer the owners, per source neuron its receivers.

    Work is O(synapses) in compiled loops over the layer's CSC matrix; no dense matrix is formed.
    """
    parts: list[PartRoute] = []
    owner_of: dict[str, np.ndarray] = {}
    receivers: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in lowered}
    for name, low in lowered.items():
        perm = neuron_order(low, mapping.orders[name], mapping.permutations.get(name))
        owner = np.full(low.size, -1, dtype=np.int64)
        row_mark = np.full(max(low.input_size, 1), -1, dtype=np.int64)
        if low.kernels is None:
            csc = low.matrix.tocsc()
            csc.sort_indices()                   # rows ascending per column: a part's rows are one slice
            col_ptr, col_rows = csc.indptr.astype(np.int64), csc.indices          # rows stay int32: no copy of the layer
        for part in mapping.layer_parts(name):
            neurons = perm[part.neurons[0]:part.neurons[1]]
            if low.kernels is None:
                rows, indptr, indices, entries = _part_synapses(col_ptr, col_rows, neurons, part.inputs[0],
                                                                part.inputs[1], row_mark)
                weights = csc.data[entries]
            else:                                # the part's axons only: its synapses are generated when used
                rows, indptr, indices, weights = part_synapses(low, neurons, part.inputs, row_mark)[0], None, None, None
            index = len(parts)
            fresh = owner[neurons] < 0
            owner[neurons[fresh]] = index
            owner_index = int(owner[neurons[0]]) if len(neurons) else index
            parts.append(PartRoute(index=index, layer=name, core=part.core, neurons=neurons, axon_rows=rows,
                                   indptr=indptr, indices=indices, weights=weights, owner=owner_index,
                                   inputs=tuple(part.inputs)))
            for source, offset, size, _ in low.segments:
                if source in receivers:
                    inside = rows[(rows >= offset) & (rows < offset + size)] - offset
                    receivers[source].append((inside, np.full(len(inside), index, dtype=np.int64)))
        owner_of[name] = owner
        if low.kernels is None:
            del csc, col_rows                    # free this layer's column copy before the next one's
    dest_ptr, dest_parts = {}, {}
    n_parts = max(len(parts), 1)
    for name, low in lowered.items():
        pairs = receivers[name]
        key = np.unique(np.concatenate([n * n_parts + p for n, p in pairs])) if pairs else np.zeros(0, np.int64)
        dest_ptr[name] = np.searchsorted(key // n_parts, np.arange(low.size + 1)).astype(np.int64)
        dest_parts[name] = (key % n_parts).astype(np.int64)
    return Routes(parts=parts, owner_of=owner_of, dest_ptr=dest_ptr, dest_parts=dest_parts)


def moved_routes(routes: Routes, mapping: Mapping) -> Routes:
    """``routes`` for ``mapping``, whose parts are those the routes were built for (same layers, neurons
    and inputs, in the same order) placed on other cores: each part takes its new core, the only thing
    of a route that depends on where a part sits (receivers and owners are part indices)."""
    placed = {name: iter(mapping.layer_parts(name)) for name in routes.owner_of}
    for part in routes.parts:
        new = next(placed[part.layer])
        if tuple(new.inputs) != part.inputs:
            raise ValueError(f"{part.layer}: the mapping's parts are not the routed ones")
        part.core = tuple(int(v) for v in new.core)
    return routes


def part_synapses(low: LoweredLayer, neurons: np.ndarray, inputs: tuple[int, int], row_mark=None):
    """A kernel-level part's synapses, generated from its layer's kernels: ``(rows, indptr, indices,
    weights)`` exactly as :func:`build_routes` lists an explicit part's (axons ascending, a CSR over
    them with local neuron indices ascending per axon)."""
    row_mark = np.full(max(low.input_size, 1), -1, dtype=np.int64) if row_mark is None else row_mark
    ptr, col_rows, values = low.kernels.columns(neurons, inputs[0], inputs[1])
    rows, indptr, indices, entries = _part_synapses(ptr, col_rows, np.arange(len(neurons), dtype=np.int64),
                                                    inputs[0], inputs[1], row_mark)
    return rows, indptr, indices, values[entries]


@nb.njit(cache=True)
def _part_synapses(col_ptr, col_rows, neurons, row_start, row_stop, row_mark):
    """One part's synapses: the layer's columns ``neurons`` (rows ascending) restricted to input rows [start, stop).

    Returns ``(rows, indptr, indices, entries)``: the used input rows ascending (the part's axons),
    a CSR over them with local neuron indices (int32) ascending per row, and for each synapse its position
    in the layer's CSC arrays (to pick its weight). ``row_mark`` (all -1, input-space long) is
    scratch space, left all -1.
    """
    rows = []
    first = np.empty(neurons.shape[0], np.int64)      # each column's synapses from rows [start, stop)
    last = np.empty(neurons.shape[0], np.int64)
    for j in range(neurons.shape[0]):
        c = neurons[j]
        column = col_rows[col_ptr[c]:col_ptr[c + 1]]
        first[j] = col_ptr[c] + np.searchsorted(column, row_start)
        last[j] = col_ptr[c] + np.searchsorted(column, row_stop)
        for k in range(first[j], last[j]):
            r = np.int64(col_rows[k])
            if row_mark[r] < 0:
                row_mark[r] = 0
                rows.append(r)
            row_mark[r] += 1
    used = np.array(rows, dtype=np.int64) if len(rows) else np.zeros(0, np.int64)
    used.sort()
    indptr = np.zeros(used.shape[0] + 1, np.int64)
    for a in range(used.shape[0]):
        indptr[a + 1] = indptr[a] + row_mark[used[a]]
        row_mark[used[a]] = indptr[a]            # now: next free slot of the row
    indices = np.empty(indptr[-1], np.int32)
    entries = np.empty(indptr[-1], np.int64)
    for j in range(neurons.shape[0]):            # local neurons ascending: each row comes out sorted
        for k in range(first[j], last[j]):
            r = col_rows[k]
            slot = row_mark[r]
            indices[slot] = j
            entries[slot] = k
            row_mark[r] = slot + 1
    for a in range(used.shape[0]):
        row_mark[used[a]] = -1
    return used, indptr, indices, entries


def traffic_edges(routes: Routes, psum_packets_per_neuron: float = 0.5) -> dict[tuple[int, int], float]:
    """Expected packets per step between parts (one per source neuron and receiving part, plus partial sums).

    Keys come in first-seen order: layers, then source neurons ascending, then receivers ascending.
    """
    src_all, dst_all = [], []
    for name, ptr in routes.dest_ptr.items():
        src_all.append(np.repeat(routes.owner_of[name], np.diff(ptr)))
        dst_all.append(routes.dest_parts[name])
    edges: dict[tuple[int, int], float] = {}
    if src_all:
        n_parts = max(len(routes.parts), 1)
        key = np.concatenate(src_all) * n_parts + np.concatenate(dst_all)
        unique, first, counts = np.unique(key, return_index=True, return_counts=True)
        order = np.argsort(first, kind="stable")
        edges = {(int(k // n_parts), int(k % n_parts)): float(c) for k, c in zip(unique[order], counts[order])}
    for part in routes.parts:
        if part.owner != part.index:
            key = (part.index, part.owner)
            edges[key] = edges.get(key, 0.0) + psum_packets_per_neuron * len(part.neurons)
    return edges
