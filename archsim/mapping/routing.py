"""Routing: what each core receives and whom each core's neurons must reach.

From a :class:`~archsim.mapping.layout.Mapping` and the lowered layers this derives, per part, its
axons (the input-space rows with synapses on that core), the local synapse matrix, the owner of its
neurons (where fan-in partial sums merge) and, per source neuron, the set of cores that need its
output: the routing table of its owner core. A spike is one multicast packet from the owner to
that set (XY multicast tree in the NoC).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from archsim.mapping.layout import Mapping
from archsim.mapping.lowering import LoweredLayer
from archsim.mapping.partition import neuron_order


@dataclass(eq=False)
class PartRoute:
    """One placed part with everything the chip model needs."""

    index: int
    layer: str
    core: tuple[int, int]
    neurons: np.ndarray          # flat neuron indices of the layer held here, local order
    axon_rows: np.ndarray        # input-space rows received here, local axon order
    synapses: sp.csr_matrix      # local axons x local neurons
    owner: int                   # index of the part that merges partial sums (itself when owner)


@dataclass(eq=False)
class Routes:
    """All parts plus, per layer, which part owns each neuron and who needs each neuron's output."""

    parts: list[PartRoute]
    owner_of: dict[str, np.ndarray]                       # layer -> part index per flat neuron
    destinations: dict[str, list[np.ndarray]]             # layer -> per flat neuron: receiving part indices


def build_routes(mapping: Mapping, lowered: dict[str, LoweredLayer]) -> Routes:
    parts: list[PartRoute] = []
    owner_of: dict[str, np.ndarray] = {}
    for name, low in lowered.items():
        perm = neuron_order(low, mapping.orders[name])
        owner = np.full(low.size, -1, dtype=np.int64)
        csr = low.matrix
        for part in mapping.layer_parts(name):
            neurons = perm[part.neurons[0]:part.neurons[1]]
            block = csr[part.inputs[0]:part.inputs[1]][:, neurons].tocsr()
            used = np.flatnonzero(np.diff(block.indptr))
            synapses = block[used].tocsr()
            index = len(parts)
            fresh = owner[neurons] < 0
            owner[neurons[fresh]] = index
            owner_index = int(owner[neurons[0]]) if len(neurons) else index
            parts.append(PartRoute(index=index, layer=name, core=part.core, neurons=neurons,
                                   axon_rows=used.astype(np.int64) + part.inputs[0], synapses=synapses,
                                   owner=owner_index))
        owner_of[name] = owner
    destinations = {name: [[] for _ in range(low.size)] for name, low in lowered.items()}
    for part in parts:
        for source, offset, size, _ in lowered[part.layer].segments:
            if source not in destinations:
                continue
            rows = part.axon_rows[(part.axon_rows >= offset) & (part.axon_rows < offset + size)] - offset
            for r in rows:
                destinations[source][r].append(part.index)
    dest_arrays = {name: [np.asarray(sorted(set(d)), dtype=np.int64) for d in lst]
                   for name, lst in destinations.items()}
    return Routes(parts=parts, owner_of=owner_of, destinations=dest_arrays)


def traffic_edges(routes: Routes, psum_packets_per_neuron: float = 0.5) -> dict[tuple[int, int], float]:
    """Expected packets per step between parts (one per source neuron and receiving part, plus partial sums)."""
    edges: dict[tuple[int, int], float] = {}
    for name, dests in routes.destinations.items():
        owners = routes.owner_of[name]
        for neuron, receivers in enumerate(dests):
            src = int(owners[neuron])
            for dst in receivers:
                key = (src, int(dst))
                edges[key] = edges.get(key, 0.0) + 1.0
    for part in routes.parts:
        if part.owner != part.index:
            key = (part.index, part.owner)
            edges[key] = edges.get(key, 0.0) + psum_packets_per_neuron * len(part.neurons)
    return edges
