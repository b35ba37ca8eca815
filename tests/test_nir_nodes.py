"""NIR node types added to the importer: Delay, Conv1d, CubaLI (where the installed nir has it), each against
a hand-worked or independently computed result, and refused on chips in one line."""
from __future__ import annotations

import nir
import numpy as np
import pytest

from archsim.graph.nir_compat import make
from archsim.errors import UserError
from archsim.graph.functional import simulate
from archsim.graph.nir_io import from_nir_graph


def _graph(nodes: dict, shape_in, shape_out):
    names = list(nodes)
    all_nodes = {"input": nir.Input({"input": np.array(shape_in)}), **nodes,
                 "output": nir.Output({"output": np.array(shape_out)})}
    chain = ["input"] + names + ["output"]
    return make(nir.NIRGraph, nodes=all_nodes, edges=list(zip(chain, chain[1:])), type_check=False)


def test_delay_per_element_in_steps_of_dt():
    delay = nir.Delay(delay=np.array([0.0, 2e-4, 5e-4]))              # 0, 2 and 5 steps at dt = 1e-4
    net = from_nir_graph(_graph({"d": delay, "w": nir.Linear(weight=np.eye(3))}, (3,), (3,)), dt=1e-4)
    x = np.random.default_rng(1).random((9, 2, 3))
    y = simulate(net, {"input": x}).outputs[net.outputs[0]]
    for k, d in enumerate((0, 2, 5)):
        expected = np.concatenate([np.zeros((d, 2)), x[:9 - d, :, k]])
        np.testing.assert_array_equal(y[:, :, k], expected)


def test_delay_before_a_neuron_shifts_its_spikes():
    lif = make(nir.LIF, tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.full(2, 0.05),
                  v_reset=np.zeros(2))
    plain = from_nir_graph(_graph({"w": nir.Linear(weight=np.eye(2)), "n": lif}, (2,), (2,)))
    delayed = from_nir_graph(_graph({"w": nir.Linear(weight=np.eye(2)), "d": nir.Delay(delay=np.array([3e-4])),
                                     "n": lif}, (2,), (2,)))
    x = (np.random.default_rng(2).random((20, 1, 2)) < 0.5).astype(float)
    a = simulate(plain, {"input": x}).outputs[plain.outputs[0]]
    b = simulate(delayed, {"input": x}).outputs[delayed.outputs[0]]
    assert a.sum() > 0 and np.array_equal(b[3:], a[:-3]) and not b[:3].any()


def test_delay_runs_on_loihi_and_is_refused_on_tianjic_in_one_line(tmp_path):
    """A file's Delay node runs on Loihi (its output the functional truth's, bit for bit) and is refused on
    Tianjic, which has no delay hardware, in one line naming the node and the chip."""
    from archsim.config import load_chip
    from archsim.graph.quantize import Precision
    from archsim.runner import execute

    net = from_nir_graph(_graph({"d": nir.Delay(delay=np.array([2e-4])), "w": nir.Linear(weight=np.eye(3) * 2),
                                 "n": make(nir.IF, r=np.ones(3), v_threshold=np.full(3, 1e-4), v_reset=np.zeros(3))},
                                (3,), (3,)))
    x = (np.random.default_rng(4).random((6, 1, 3)) < 0.6).astype(float)
    path = str(tmp_path / "x.npy")
    np.save(path, x)
    outcome = execute(net, "chips/loihi.yaml", input_path=path, gpu=None)
    truth = simulate(net, {"input": x}, Precision.from_config(load_chip("chips/loihi.yaml").params["precision"]))
    np.testing.assert_array_equal(outcome.outputs, truth.outputs[net.outputs[0]])
    assert outcome.outputs[2:].any() and not outcome.outputs[:2].any()
    with pytest.raises(UserError) as info:
        execute(net, "chips/tianjic.yaml", input_path=path, gpu=None)
    message = str(info.value)
    assert "\n" not in message and "Delay node d" in message and "tianjic" in message.lower()


def _conv1d_reference(x, w, b, stride, padding):
    """Direct loops: y[o, l] = b[o] + sum_c,k w[o, c, k] x[c, l * stride + k - padding]."""
    xp = np.pad(x, ((0, 0), (padding, padding)))
    c_out, _, k = w.shape
    length = (xp.shape[1] - k) // stride + 1
    y = np.zeros((c_out, length))
    for o in range(c_out):
        for pos in range(length):
            y[o, pos] = b[o] + np.sum(w[o] * xp[:, pos * stride: pos * stride + k])
    return y


def test_conv1d_equals_direct_loops():
    rng = np.random.default_rng(3)
    w, b = rng.normal(size=(4, 2, 3)), rng.normal(size=4)
    conv = nir.Conv1d(input_shape=10, weight=w, stride=2, padding=1, dilation=1, groups=1, bias=b)
    net = from_nir_graph(_graph({"c": conv}, (2, 10), (4, 5)))
    assert net.layers[0].shape == (4, 5)
    x = rng.normal(size=(3, 2, 2, 10))
    y = simulate(net, {"input": x}).outputs[net.outputs[0]]
    for t in range(3):
        for k in range(2):
            np.testing.assert_allclose(y[t, k], _conv1d_reference(x[t, k], w, b, 2, 1), rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not hasattr(nir, "CubaLI"), reason="nir < 1.0.5 has no CubaLI")
def test_cubali_is_cubalif_without_spikes():
    tau_syn, tau_mem, w_in, r = 2e-4, 5e-4, 1.5, 2.0
    cubali = nir.CubaLI(tau_syn=np.full(1, tau_syn), tau_mem=np.full(1, tau_mem), r=np.full(1, r),
                        v_leak=np.zeros(1), w_in=np.full(1, w_in))
    net = from_nir_graph(_graph({"n": cubali}, (1,), (1,)), dt=1e-4)
    x = np.random.default_rng(4).random((12, 1, 1))
    y = simulate(net, {"input": x}).outputs[net.outputs[0]][:, 0, 0]
    i = v = 0.0
    for t in range(12):                          # forward Euler of NIR's CubaLI at dt = 1e-4
        i += 1e-4 / tau_syn * (-i + w_in * x[t, 0, 0])
        v += 1e-4 / tau_mem * (-v + r * i)
        assert y[t] == pytest.approx(v, rel=1e-12)


def test_delay_conv1d_and_cubali_write_and_read_back(tmp_path):
    """archsim's exporter writes Delay (seconds at the network's dt), Conv1d and CubaLI (where nir has it); read
    back, the network computes the same outputs."""
    from archsim.graph.network import CubaLI, Delay, Dense, Flatten, Layer, LIF, Network, Projection
    from archsim.graph.network import Conv1d as Conv1dOp
    from archsim.graph.nir_io import read_network, write_network

    rng = np.random.default_rng(5)
    conv = Conv1dOp(weight=rng.normal(size=(3, 2, 3)), bias=rng.normal(size=3), stride=1, padding=1)
    lif = LIF(decay=np.float64(0.9), threshold=np.float64(0.5))
    layers = [Layer("c", (3, 6), (Projection("x", (Delay(steps=np.arange(12).reshape(2, 6) % 3), conv)),), lif)]
    readout = CubaLI(syn_decay=np.float64(0.8), decay=np.float64(0.9)) if hasattr(nir, "CubaLI") else None
    if readout is not None:
        layers.append(Layer("r", (4,), (Projection("c", (Flatten(), Dense(rng.normal(size=(4, 18))),
                                                         Delay(steps=np.int64(2)))),), readout))
    net = Network("rt", {"x": (2, 6)}, layers, [layers[-1].name], metadata={"dt": 1e-3})
    write_network(net, tmp_path / "rt.nir")
    back = read_network(tmp_path / "rt.nir", dt=1e-3)
    x = (rng.random((10, 2, 2, 6)) < 0.5).astype(float)
    a = simulate(net, {"x": x}).outputs[net.outputs[0]]
    b = simulate(back, {"x": x}).outputs[back.outputs[0]]
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)
    assert np.abs(a).sum() > 0
    _info_and_gpu_run(tmp_path / "rt.nir", synapses=int(np.count_nonzero(conv.weight)) * 6 + 4 * 18 * (readout is not None))


def _info_and_gpu_run(path, synapses):
    """``archsim info`` counts the synapses (a delay holds none) and a GPU estimates the same file."""
    from archsim.graph.describe import summary
    from archsim.graph.nir_io import read_network
    from archsim.runner import execute

    net = read_network(path, dt=1e-3)
    assert summary(net)["synapses"] <= synapses and summary(net)["synapses"] > 0
    result = execute(str(path), "chips/gpu/v100.yaml", steps=3, dt=1e-3).result
    assert result["latency_s"] > 0 and result["energy_pj"] > 0
