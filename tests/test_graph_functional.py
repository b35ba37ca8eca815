"""Float semantics against a hand loop; chip semantics against hand-computed integers; workloads; CLI."""
import subprocess
import sys

import numpy as np
import pytest

from archsim.errors import UserError
from archsim.graph.functional import simulate
from archsim.graph.network import LI, LIF, AvgPool2d, Dense, Flatten, Layer, Network, Projection, ReLU
from archsim.graph.nir_io import write_network
from archsim.graph.quantize import Precision, quantize
from archsim.graph.workload import load_inputs, make_workload, synthetic_inputs


def tiny():
    w1 = np.array([[0.5, -0.25, 1.0], [0.75, 0.5, -0.5]])
    w2 = np.array([[1.0, -1.0], [0.5, 0.25]])
    return Network("tiny", {"x": (3,)}, [
        Layer("h", (2,), (Projection("x", (Dense(w1, np.array([0.1, 0.0])),)),),
              LIF(decay=np.float64(0.5), threshold=np.float64(0.6))),
        Layer("o", (2,), (Projection("h", (Dense(w2),)),), LI(decay=np.float64(0.75))),
    ], ["o"]), w1, w2


def test_float_matches_hand_loop():
    net, w1, w2 = tiny()
    x = (np.random.default_rng(1).random((5, 2, 3)) < 0.5).astype(float)
    run = simulate(net, {"x": x})
    v = np.zeros((2, 2))
    o = np.zeros((2, 2))
    for t in range(5):
        v = 0.5 * v + x[t] @ w1.T + np.array([0.1, 0.0])
        s = (v > 0.6).astype(float)
        v = np.where(s > 0, 0.0, v)
        o = 0.75 * o + s @ w2.T
        np.testing.assert_allclose(run.layer_outputs["h"][t], s)
        np.testing.assert_allclose(run.outputs["o"][t], o)
    assert run.spike_counts["h"] == int(run.layer_outputs["h"].sum())


def test_subtract_reset_takes_the_threshold_off_on_the_next_step():
    """snnTorch's Leaky default: v = decay v + I - threshold s_prev, s = v > threshold, no change on the spike."""
    net = Network("sub", {"x": (1,)}, [
        Layer("h", (1,), (Projection("x", (Dense(np.array([[1.1]])),)),),
              LIF(decay=np.float64(0.5), threshold=np.float64(1.0), reset="subtract"))], ["h"])
    x = np.ones((5, 1, 1))
    # v: 1.1 (spike), 0.55 + 1.1 - 1 = 0.65, 1.425 (spike), 0.8125, 1.50625 (spike). Subtracting right
    # after the spike, before the decay, would leave 0.1, 1.15, ...: a spike on every step.
    np.testing.assert_array_equal(simulate(net, {"x": x}).outputs["h"].ravel(), [1, 0, 1, 0, 1])
    # Integers: w_q 127 (scale 1.1 / 127), threshold_q rint(127 / 1.1) = 115, decay_q 8 / 2**4.
    run = simulate(net, {"x": x}, Precision(weight_bits=8, membrane_bits=16, decay_frac_bits=4))
    assert int(run.quantized.layer("h").threshold_q) == 115
    v, s_prev, spikes = 0, 0, []
    for _ in range(5):
        v = min(max(((v * 8) >> 4) + 127 - 115 * s_prev, -2 ** 15), 2 ** 15 - 1)
        s_prev = int(v > 115)
        spikes.append(s_prev)
    np.testing.assert_array_equal(run.layer_outputs_q["h"].ravel(), spikes)
    assert spikes == [1, 0, 1, 0, 1]


def test_quantize_fields_and_chip_integers():
    net, w1, w2 = tiny()
    q = quantize(net, Precision(weight_bits=8, membrane_bits=16, decay_frac_bits=4))
    h, o = q.layers
    assert h.scale == pytest.approx(1.0 / 127) and h.kind == "lif" and h.reset == "zero"
    np.testing.assert_array_equal(h.projections[0].kernel.weight, np.rint(w1 * 127))
    np.testing.assert_array_equal(h.projections[0].kernel.bias, [13, 0])       # rint(0.1 * 127)
    assert int(h.threshold_q) == 76 and int(h.decay_q) == 8                      # rint(0.6*127), 0.5*16
    assert o.kind == "li" and o.out_scale == o.scale == pytest.approx(1.0 / 127) and int(o.decay_q) == 12
    x = np.array([[[1, 0, 1]], [[1, 1, 1]], [[0, 0, 1]]], dtype=float)
    run = simulate(net, {"x": x}, q)
    wq1, wq2 = np.rint(w1 * 127).astype(int), np.rint(w2 * 127).astype(int)
    v, vo = np.zeros(2, int), np.zeros(2, int)
    for t in range(3):
        v = np.clip(((v * 8) >> 4) + wq1 @ x[t, 0].astype(int) + np.array([13, 0]), -2 ** 15, 2 ** 15 - 1)
        s = (v > 76).astype(int)
        v = np.where(s > 0, 0, v)
        vo = np.clip(((vo * 12) >> 4) + wq2 @ s, -2 ** 15, 2 ** 15 - 1)
        np.testing.assert_array_equal(run.layer_outputs_q["h"][t, 0], s)
        np.testing.assert_array_equal(run.layer_outputs_q["o"][t, 0], vo)
    np.testing.assert_allclose(run.outputs["o"], run.layer_outputs_q["o"] * o.scale)


def test_relu_requant_and_avgpool_folding():
    net = Network("pool", {"img": (1, 2, 2)}, [
        Layer("a", (1, 1, 1), (Projection("img", (AvgPool2d((2, 2), (2, 2)),)),), ReLU()),
        Layer("r", (1,), (Projection("a", (Flatten(), Dense(np.array([[2.0]])))),), ReLU()),
    ], ["r"], metadata={"input_kind": {"img": "values"},
                        "quant": {"activation_scale": {"a": 0.01, "r": 0.02}}})
    q = quantize(net, Precision())
    a, r = q.layers
    assert q.input_scales["img"] == pytest.approx(1 / 127)
    # w_eff = (1/4) * 1 * (1/127); one weight at qmax: scale = w_eff / 127
    assert a.scale == pytest.approx(1 / 4 / 127 / 127) and int(a.projections[0].kernel.scale) == 127
    assert a.relu_multiplier == int(np.rint(a.scale / 0.01 * 2 ** 16))
    img = np.array([0.2, 0.4, 0.6, 0.8]).reshape(1, 1, 1, 2, 2)
    run = simulate(net, {"img": img}, q)
    xq = np.rint(img.ravel() / (1 / 127)).astype(int)
    ya = min(max((int(xq.sum() * 127) * a.relu_multiplier + 2 ** 15) >> 16, 0), 127)
    assert run.layer_outputs_q["a"].ravel()[0] == ya
    assert run.layer_outputs["a"].ravel()[0] == pytest.approx(0.5, abs=0.01)
    assert run.outputs["r"].ravel()[0] == pytest.approx(1.0, abs=0.03)


def test_workload_inputs(tmp_path):
    net, *_ = tiny()
    net.metadata["stats"] = {"input_rate": {"x": 0.5}}
    a, b = synthetic_inputs(net, 50, 4, seed=3), synthetic_inputs(net, 50, 4, seed=3)
    np.testing.assert_array_equal(a["x"], b["x"])
    assert set(np.unique(a["x"])) <= {0.0, 1.0} and 0.35 < a["x"].mean() < 0.65
    np.save(tmp_path / "one.npy", np.ones((4, 3)))
    assert load_inputs(tmp_path / "one.npy", net)["x"].shape == (4, 1, 3)
    np.save(tmp_path / "bad.npy", np.ones((4, 5)))
    with pytest.raises(UserError, match=r"bad.npy.*\(T, 3\)"):
        load_inputs(tmp_path / "bad.npy", net)
    with pytest.raises(UserError, match="no such file"):
        load_inputs(tmp_path / "none.npy", net)
    w = make_workload(net, steps=3, batch=2, mode="train")
    assert w.inputs["x"].shape == (3, 2, 3) and w.labels.shape == (2,) and w.labels.max() < 2


def test_cli_info_and_error(tmp_path):
    net, *_ = tiny()
    write_network(net, tmp_path / "tiny.nir")
    ok = subprocess.run([sys.executable, "-m", "archsim.cli", "info", str(tmp_path / "tiny.nir")],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "LIF" in ok.stdout and "total" in ok.stdout
    bad = tmp_path / "bad.nir"
    bad.write_text("not hdf5")
    err = subprocess.run([sys.executable, "-m", "archsim.cli", "info", str(bad)], capture_output=True, text=True)
    assert err.returncode == 2 and len(err.stderr.strip().splitlines()) == 1 and "bad.nir" in err.stderr
