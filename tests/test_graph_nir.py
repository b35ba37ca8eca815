"""NIR import per node type (hand-computed), subgraphs and recurrence, round trip, bad files."""
import h5py
import nir
import numpy as np
import pytest

from archsim.graph.nir_compat import make
from archsim.errors import UserError
from archsim.graph.functional import simulate
from archsim.graph.network import LIF, Conv2d, Dense, Layer, Network, Projection, ReLU
from archsim.graph.nir_io import from_nir_graph, read_network, to_nir_graph, write_network

DT = 1e-4


def graph(nodes, edges, **kw):
    return make(nir.NIRGraph, nodes=nodes, edges=edges, type_check=False, **kw)


def inp(*shape):
    return nir.Input(input_type={"input": np.array(shape)})


def out(*shape):
    return nir.Output(output_type={"output": np.array(shape)})


def run(g, x, dt=DT):
    net = from_nir_graph(g, dt=dt)
    return net, simulate(net, {"input": np.asarray(x, dtype=float)})


def chain(*nodes, shape_in, shape_out):
    names = [f"n{i}" for i in range(len(nodes))]
    all_nodes = {"input": inp(*shape_in), **dict(zip(names, nodes)), "output": out(*shape_out)}
    seq = ["input", *names, "output"]
    return graph(all_nodes, list(zip(seq[:-1], seq[1:])))


def test_affine_lif_snntorch_convention():
    beta, dt = 0.75, DT
    tau = dt / (1 - beta)
    w = np.array([[2.0, 0.0], [0.5, 1.0]])
    g = chain(nir.Affine(weight=w, bias=np.array([0.1, 0.0])),
              make(nir.LIF, tau=np.full(2, tau), r=np.full(2, tau / dt), v_leak=np.zeros(2),
                      v_threshold=np.ones(2), v_reset=np.zeros(2)), shape_in=(2,), shape_out=(2,))
    x = np.array([[[1, 0]], [[0, 1]], [[1, 1]]])
    net, r = run(g, x)
    assert [layer.name for layer in net.layers] == ["n1"] and net.outputs == ["n1"]
    v, spikes = np.zeros(2), []
    for t in range(3):  # snnTorch: v = beta v + W x + b; spike v > 1; reset to 0
        v = beta * v + w @ x[t, 0] + np.array([0.1, 0.0])
        s = v > 1.0
        v = np.where(s, 0.0, v)
        spikes.append(s)
    np.testing.assert_array_equal(r.outputs["n1"][:, 0], np.array(spikes, dtype=float))


def test_linear_if_integrates_r_dt_times_current():
    g = chain(nir.Linear(weight=np.array([[1.0, 1.0]])),
              make(nir.IF, r=np.array([0.5 / DT]), v_threshold=np.array([0.9]), v_reset=np.array([0.0])),
              shape_in=(2,), shape_out=(1,))
    _, r = run(g, np.ones((4, 1, 2)))
    np.testing.assert_array_equal(r.outputs["n1"][:, 0, 0], [1, 1, 1, 1])   # 1.0 > 0.9 each step
    _, r = run(g, np.array([[[1, 0]]] * 4))
    np.testing.assert_array_equal(r.outputs["n1"][:, 0, 0], [0, 1, 0, 1])   # 0.5, 1.0 -> reset


def test_conv_threshold_and_pools_flatten_scale():
    w = np.zeros((1, 1, 2, 2))
    w[0, 0] = [[1, 2], [3, 4]]
    g = chain(nir.Conv2d(input_shape=(3, 3), weight=w, stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(1)),
              nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 1]), padding=np.array([0, 0])),
              nir.Flatten(input_type={"input": np.array([1, 1, 1])}, start_dim=0, end_dim=-1),
              nir.Scale(scale=np.array([0.5])),
              nir.Threshold(threshold=np.array([9.0])), shape_in=(1, 3, 3), shape_out=(1,))
    x = np.zeros((2, 1, 1, 3, 3))
    x[0, 0, 0, 0, 0] = 1   # conv outputs: 1 at (0,0) -> sum 1 -> *0.5 -> 0.5
    x[1, 0, 0, 1, 1] = 1   # centre hits all four taps: 4+3+2+1 = 10 -> 5
    x[1, 0, 0, 2, 2] = 1   # plus 4 at (1,1) -> 14 -> 7... total 10 + 4 = 14 -> 7
    net, r = run(g, x)
    assert net.layers[0].shape == (1,)
    np.testing.assert_array_equal(r.outputs["n4"][:, 0, 0], [0, 0])
    x[1, 0, 0, 0, 0] = 1   # + 1 -> 15 -> 7.5; still below 9
    x[1, 0, 0, 0, 2] = 1   # + 2 -> 17 -> 8.5
    x[1, 0, 0, 2, 0] = 1   # + 3 -> 20 -> 10 > 9
    _, r = run(g, x)
    np.testing.assert_array_equal(r.outputs["n4"][:, 0, 0], [0, 1])


def test_avgpool_then_output_is_identity_layer():
    g = chain(nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
              shape_in=(1, 2, 2), shape_out=(1, 1, 1))
    net, r = run(g, np.arange(4.0).reshape(1, 1, 1, 2, 2))
    assert type(net.layers[0].neuron).__name__ == "Identity" and net.outputs == ["output"]
    assert r.outputs["output"][0, 0, 0, 0, 0] == pytest.approx(1.5)


def test_cubalif_li_and_i():
    dt, ts, tm = 1e-3, 4e-3, 2e-3
    g = chain(make(nir.CubaLIF, tau_syn=np.array([ts]), tau_mem=np.array([tm]), r=np.array([2.0]), v_leak=np.array([0.0]),
                          v_threshold=np.array([0.3]), v_reset=np.array([0.0]), w_in=np.array([1.5])),
              nir.LI(tau=np.array([tm]), r=np.array([1.0]), v_leak=np.array([0.1])),
              nir.I(r=np.array([3.0 / dt])), shape_in=(1,), shape_out=(1,))
    x = np.array([1.0, 1.0, 0.0, 1.0, 0.0]).reshape(5, 1, 1)
    _, r = run(g, x, dt=dt)
    i = v = li = acc = 0.0
    expect = []
    for t in range(5):
        i = (1 - dt / ts) * i + 1.5 * dt / ts * x[t, 0, 0]
        v = (1 - dt / tm) * v + 2.0 * dt / tm * i
        s = float(v > 0.3)
        v = 0.0 if s else v
        li = (1 - dt / tm) * li + dt / tm * 0.1 + dt / tm * s
        acc = acc + 3.0 * li
        expect.append(acc)
    np.testing.assert_allclose(r.outputs["n2"][:, 0, 0], expect, rtol=1e-12)


def test_nested_subgraph_with_recurrence():
    sub = graph({"input": inp(2), "lif": make(nir.LIF, tau=np.full(2, 2e-4), r=np.full(2, 2.0), v_leak=np.zeros(2),
                                                 v_threshold=np.full(2, 0.5), v_reset=np.zeros(2)),
                 "w_rec": nir.Linear(weight=np.array([[0.0, 1.0], [0.0, 0.0]])), "output": out(2)},
                [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    g = graph({"input": inp(2), "fc": nir.Linear(weight=np.eye(2)), "rec": sub, "output": out(2)},
              [("input", "fc"), ("fc", "rec.input"), ("rec.output", "output")])
    net, r = run(g, np.array([[[0.0, 1.0]], [[0.0, 0.0]], [[0.0, 0.0]]]))
    layer = net.layers[0]
    assert layer.name == "rec.lif" and [p.recurrent for p in layer.projections] == [False, True]
    # decay 0.5, gain 1: unit 1 spikes at t0; unit 0 gets it at t1 via the recurrent weight
    np.testing.assert_array_equal(r.outputs["rec.lif"][:, 0], [[0, 1], [1, 0], [0, 0]])


def _hybrid_network():
    rng = np.random.default_rng(3)
    return Network("hyb", {"x": (2, 5, 5)}, [
        Layer("conv", (3, 5, 5), (Projection("x", (Conv2d(rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3),
                                                           padding=(1, 1)),)),),
              LIF(decay=np.float64(0.7), threshold=np.float64(0.8), reset="subtract")),
        Layer("fc", (4,), (Projection("conv", (nir_flatten(), Dense(rng.normal(size=(4, 75))))),
                           Projection("fc", (Dense(rng.normal(size=(4, 4))),), recurrent=True)), ReLU()),
    ], ["fc"], metadata={"quant": {"input_scale": {"x": 1.0}}, "steps": 4})


def nir_flatten():
    from archsim.graph.network import Flatten
    return Flatten()


def test_round_trip(tmp_path):
    net = _hybrid_network()
    write_network(net, tmp_path / "h.nir")
    back = read_network(tmp_path / "h.nir")
    assert [layer.name for layer in back.layers] == ["conv", "fc"] and back.outputs == ["fc"]
    assert back.layers[0].neuron.reset == "subtract" and isinstance(back.layers[1].neuron, ReLU)
    assert back.metadata["quant"] == net.metadata["quant"] and back.metadata["steps"] == 4
    assert back.layers[0].neuron.decay == pytest.approx(0.7, abs=1e-12)
    x = {"x": (np.random.default_rng(0).random((4, 2, 2, 5, 5)) < 0.4).astype(float)}
    np.testing.assert_allclose(simulate(back, x).outputs["fc"], simulate(net, x).outputs["fc"], atol=1e-9)
    assert isinstance(nir.read(tmp_path / "h.nir"), nir.NIRGraph)


def test_export_is_valid_nir_graph():
    g = to_nir_graph(_hybrid_network())
    assert set(g.nodes) >= {"x", "conv", "fc", "output"}


def _one_line_error(fn):
    with pytest.raises(UserError) as info:
        fn()
    assert "\n" not in str(info.value)
    return str(info.value)


def test_bad_files(tmp_path):
    good = tmp_path / "good.nir"
    write_network(_hybrid_network(), good)
    assert "no such file" in _one_line_error(lambda: read_network(tmp_path / "missing.nir"))
    truncated = tmp_path / "trunc.nir"
    truncated.write_bytes(good.read_bytes()[:300])
    assert "trunc.nir" in _one_line_error(lambda: read_network(truncated))
    text = tmp_path / "text.nir"
    text.write_text("hello")
    assert "not a NIR file" in _one_line_error(lambda: read_network(text))
    assert "--dt" in _one_line_error(lambda: read_network(good, dt=0))
    assert "--dt" in _one_line_error(lambda: read_network(good, dt=-1e-4))


def test_unknown_node_type_in_file(tmp_path):
    path = tmp_path / "unknown.nir"
    write_network(_hybrid_network(), path)
    with h5py.File(path, "r+") as f:
        del f["node/nodes/conv/type"]
        f["node/nodes/conv"].create_dataset("type", data="Spiral", dtype=h5py.string_dtype())
    message = _one_line_error(lambda: read_network(path))
    assert "Spiral" in message and "supported" in message


def test_unsupported_node_and_shape_mismatch():
    g = chain(nir.Delay(delay=np.array([1.5e-4])), shape_in=(1,), shape_out=(1,))
    message = _one_line_error(lambda: from_nir_graph(g))
    assert "n0 (Delay)" in message and "whole number of steps" in message
    g = chain(nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)),
              make(nir.LIF, tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
              shape_in=(4,), shape_out=(2,))
    message = _one_line_error(lambda: from_nir_graph(g))
    assert "n0 (Affine)" in message and "shape mismatch" in message
    g = chain(nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)),
              make(nir.LIF, tau=np.ones(5), r=np.ones(5), v_leak=np.zeros(5), v_threshold=np.ones(5)),
              shape_in=(3,), shape_out=(2,))
    assert "n1 (LIF)" in _one_line_error(lambda: from_nir_graph(g))


def test_layer_named_output_round_trips(tmp_path):
    from archsim.graph.network import LIF, Dense, Layer, Network, Projection
    from archsim.graph.nir_io import read_network, write_network

    net = Network("t", {"x": (3,)}, [Layer("output", (2,), (Projection("x", (Dense(np.ones((2, 3))),)),),
                                           LIF(decay=np.float64(0.5), threshold=np.float64(1.0)))], ["output"])
    write_network(net, tmp_path / "o.nir")
    back = read_network(tmp_path / "o.nir")
    assert [layer.name for layer in back.layers] == ["output"] and back.outputs == ["output"]
