"""Routing tables (archsim.mapping.routing) against a plain SciPy statement of what they must hold."""
import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

from archsim.config import load_chip
from archsim.graph.network import LIF, Conv2d, Dense, Layer, Network, Projection
from archsim.graph.quantize import Precision, quantize
from archsim.mapping import build_routes, lower_network, map_network
from archsim.mapping.partition import neuron_order
from archsim.mapping.routing import traffic_edges


def _net(rng, conv: bool, n_in: int, hidden: int):
    lif = LIF(decay=np.float64(0.9), threshold=np.float64(1.0))
    if conv:
        w1 = rng.normal(size=(4, 2, 3, 3)).round(1)          # .round(1) leaves stored zero weights
        w2 = rng.normal(size=(3, 4, 3, 3)).round(1)
        return Network("c", {"x": (2, 6, 6)}, [
            Layer("a", (4, 6, 6), (Projection("x", (Conv2d(w1, padding=(1, 1)),)),), lif),
            Layer("b", (3, 6, 6), (Projection("a", (Conv2d(w2, padding=(1, 1)),)),
                                   Projection("b", (Conv2d(w2[:, :3], padding=(1, 1)),), recurrent=True)), lif)],
            ["b"])
    return Network("d", {"x": (n_in,)}, [
        Layer("a", (hidden,), (Projection("x", (Dense(rng.normal(size=(hidden, n_in)).round(1)),)),), lif),
        Layer("b", (5,), (Projection("a", (Dense(rng.normal(size=(5, hidden)).round(1)),)),), lif)], ["b"])


def _expected(mapping, lowered):
    """Per part (rows, CSR) and per source neuron its receiving parts, by SciPy slicing."""
    parts, receivers = [], {n: [set() for _ in range(low.size)] for n, low in lowered.items()}
    for name, low in lowered.items():
        perm = neuron_order(low, mapping.orders[name])
        for part in mapping.layer_parts(name):
            block = low.matrix[part.inputs[0]:part.inputs[1]][:, perm[part.neurons[0]:part.neurons[1]]].tocsr()
            used = np.flatnonzero(np.diff(block.indptr))
            local = sp.csr_matrix(block[used])
            local.sort_indices()
            rows = used + part.inputs[0]
            parts.append((rows, local))
            for source, offset, size, _ in low.segments:
                if source in receivers:
                    for r in rows[(rows >= offset) & (rows < offset + size)] - offset:
                        receivers[source][r].add(len(parts) - 1)
    return parts, receivers


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000), conv=st.booleans(), n_in=st.integers(2, 300), hidden=st.integers(1, 40),
       axons=st.sampled_from([16, 64, 256]), neurons=st.sampled_from([8, 64]))
def test_routes_match_scipy_statement(seed, conv, n_in, hidden, axons, neurons):
    rng = np.random.default_rng(seed)
    net = _net(rng, conv, n_in, hidden)
    chip = load_chip("chips/tianjic.yaml").with_overrides({"core.axons": axons, "core.neurons": neurons,
                                                           "core.synapse_memory_kb": 64})
    chip.params["noc"].update(chips_x=4, chips_y=4)
    qnet = quantize(net, Precision.from_config(chip.params["precision"]))
    mapping = map_network(net, chip, qnet)
    lowered = lower_network(net, qnet)
    routes = build_routes(mapping, lowered)
    parts, receivers = _expected(mapping, lowered)
    assert len(routes.parts) == len(parts)
    for got, (rows, local) in zip(routes.parts, parts):
        np.testing.assert_array_equal(got.axon_rows, rows)
        np.testing.assert_array_equal(got.indptr, local.indptr)
        np.testing.assert_array_equal(got.indices, local.indices)
        np.testing.assert_array_equal(got.weights, local.data)
    for name, per_neuron in receivers.items():
        for n, expected in enumerate(per_neuron):
            assert routes.destinations(name, n).tolist() == sorted(expected)
    edges = traffic_edges(routes)
    for (src, dst), packets in edges.items():
        assert packets > 0 and 0 <= src < len(parts) and 0 <= dst < len(parts)
    spike_edges = sum(len(r) for per_neuron in receivers.values() for r in per_neuron)
    psum = sum(0.5 * len(p.neurons) for p in routes.parts if p.owner != p.index)
    assert sum(edges.values()) == spike_edges + psum
