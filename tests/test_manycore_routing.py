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
        perm = neuron_order(low, mapping.orders[name], mapping.permutations.get(name))
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


def _python_packets(prog, stage, outputs, per_packet, rate):
    """The route phase's packets by the rule in archsim.models.manycore.machine, in plain Python."""
    packets = []
    for name in stage.layers:
        layer = prog.layers[name]
        out = outputs[name]
        for i in layer.owners:
            core = prog.cores[i]
            sends = []
            dests = [layer.dest_cores[layer.dest_ptr[n]:layer.dest_ptr[n + 1]].tolist() for n in core.neurons]
            if layer.spiking:
                sends = [d for n, d in zip(core.neurons, dests) if out[n] and d]
            else:
                for start in range(0, len(core.neurons), per_packet):
                    d = sorted(set(sum(dests[start:start + per_packet], [])))
                    if d:
                        sends.append(d)
            packets += [(core.core_id, d, k * rate) for k, d in enumerate(sends)]
    return packets


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 1000), neurons=st.sampled_from([4, 16]), per_packet=st.sampled_from([1, 3, 8]))
def test_route_packets_kernel_matches_python(seed, neurons, per_packet):
    from archsim.graph.network import ReLU
    from archsim.models.manycore.kernels import route_packets
    from archsim.models.manycore.program import build_program
    from archsim.models.manycore.stage import build_stages

    rng = np.random.default_rng(seed)
    lif = LIF(decay=np.float64(0.9), threshold=np.float64(1.0))
    net = Network("r", {"x": (30,)}, [
        Layer("a", (20,), (Projection("x", (Dense(rng.normal(size=(20, 30))),)),), lif),
        Layer("v", (12,), (Projection("x", (Dense(rng.normal(size=(12, 30))),)),), ReLU()),
        Layer("b", (6,), (Projection("a", (Dense(rng.normal(size=(6, 20))),)),
                          Projection("v", (Dense(rng.normal(size=(6, 12))),))), lif)], ["b"],
        metadata={"quant": {"activation_scale": {"v": 0.05}}})
    chip = load_chip("chips/tianjic.yaml").with_overrides({"core.neurons": neurons, "noc.mesh_x": 8, "noc.mesh_y": 8})
    qnet = quantize(net, Precision.from_config(chip.params["precision"]))
    prog = build_program(qnet, chip, map_network(net, chip, qnet))
    stage = build_stages(prog)[0]
    outputs = {"a": (rng.random(20) < 0.5).astype(np.int64), "v": rng.integers(0, 3, 12)}
    flat = np.concatenate([outputs[n] for n in stage.layers])
    src, ptr, dst, inject, last = route_packets(flat, stage.route_core_ids, stage.route_spiking,
                                                stage.route_neuron_ptr, stage.route_neurons, stage.dest_ptr,
                                                stage.dest_cores, per_packet, 2, prog.noc.n_cores,
                                                np.zeros(len(flat), np.int64))
    got = [(int(s), dst[ptr[k]:ptr[k + 1]].tolist(), int(c)) for k, (s, c) in enumerate(zip(src, inject))]
    expected = _python_packets(prog, stage, outputs, per_packet, 2)
    assert got == expected
    per_core = {}
    for s, _, _ in expected:
        per_core[s] = per_core.get(s, 0) + 1
    assert last == 2 * max(per_core.values(), default=0)
