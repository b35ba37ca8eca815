"""The reference trainer: BPTT gradients, determinism, learning, export exactness and quantisation."""
from __future__ import annotations

import numpy as np
import pytest

from archsim.graph import ops as graph_ops
from archsim.graph.functional import simulate
from archsim.graph.quantize import Precision
from workloads import export, zoo
from workloads.data import load_digits
from workloads.layers import AvgPool2d, Conv2d
from workloads.model import Builder
from workloads.neurons import LIFCell, RectangularSurrogate, Readout, SigmoidSpike
from workloads.trainer import TrainConfig, accuracy, encoded_batches, predict, train

from tests.gradcheck import check_gradients


def _smooth_net(reset: str, seed: int = 0):
    """A tiny conv + pool + dense network whose spikes are sigmoids, so the loss is differentiable."""
    rng = np.random.default_rng(seed)
    spike = SigmoidSpike(steepness=3.0)
    b = Builder("smooth", {"input": (2, 5, 5)}, steps=4, rng=rng)
    b.stage("conv", LIFCell(decay=0.6, threshold=0.5, reset=reset, spike_fn=spike),
            ("input", [("conv", 3, 3, 2, 1, True)]), init_gain=2.0)
    b.stage("fc", LIFCell(decay=0.3, threshold=0.4, reset=reset, spike_fn=spike),
            ("conv", [("pool", 2), ("flatten",), ("dense", 6)]), init_gain=2.0)
    b.stage("output", Readout(decay=0.8), ("fc", [("dense", 4, True)]), ("conv", [("flatten",), ("dense", 4)]))
    x = {"input": rng.random((4, 3, 2, 5, 5))}
    return b.model, x, np.array([0, 3, 1])


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_bptt_gradients_match_finite_differences(reset):
    model, x, labels = _smooth_net(reset)
    checked = check_gradients(model, x, labels, np.random.default_rng(1))
    assert checked > 30


def test_rectangular_surrogate_window():
    s = RectangularSurrogate(width=0.5)
    v = np.array([0.7, 0.76, 1.0, 1.24, 1.26, 1.3])
    np.testing.assert_array_equal(s.derivative(v, 1.0), [0, 2, 2, 2, 0, 0])
    np.testing.assert_array_equal(s.spike(v, 1.0), [0, 0, 0, 1, 1, 1])


def test_lif_gradient_is_zero_outside_window_without_temporal_path():
    cell = LIFCell(decay=0.0, threshold=1.0, spike_fn=RectangularSurrogate(width=1.0))
    current = np.array([[[0.2, 0.9, 1.4, 2.0]]])
    cell.forward(current, keep=True)
    np.testing.assert_array_equal(cell.backward(np.ones_like(current)), [[[0.0, 1.0, 1.0, 0.0]]])


def test_conv_and_pool_forward_match_graph_kernels():
    rng = np.random.default_rng(3)
    x = rng.random((4, 3, 7, 6))
    conv = Conv2d(rng.standard_normal((5, 3, 3, 2)), rng.standard_normal(5), stride=(2, 1), padding=(1, 0))
    np.testing.assert_allclose(conv.forward(x), graph_ops.conv2d(x, conv.params["weight"], conv.params["bias"],
                                                                 (2, 1), (1, 0)), rtol=1e-12)
    pool = AvgPool2d(kernel=(2, 2), padding=(1, 1))
    np.testing.assert_allclose(pool.forward(x), graph_ops.sum_pool2d(x, (2, 2), (2, 2), (1, 1)) / 4, rtol=1e-12)


def _digits_for(model):
    train_split, test_split = load_digits()
    shape = model.inputs["input"]
    return (train_split.x.reshape(-1, *shape), train_split.y, test_split.x.reshape(-1, *shape), test_split.y)


def test_same_seed_same_bytes_and_loss_falls():
    runs = []
    for _ in range(2):
        model = zoo.make_model("mlp-digits", seed=5)
        tx, ty, vx, vy = _digits_for(model)
        result = train(model, tx[:400], ty[:400], vx[:100], vy[:100], TrainConfig(epochs=3, seed=5))
        runs.append((b"".join(p.tobytes() for op in model.ops() for p in op.params.values()), result))
    assert runs[0][0] == runs[1][0]
    losses = [h["loss"] for h in runs[0][1].history]
    assert losses[2] < losses[0] * 0.8
    other = zoo.make_model("mlp-digits", seed=6)
    assert b"".join(p.tobytes() for op in other.ops() for p in op.params.values()) != runs[0][0]


def test_rate_encoding_is_seeded_and_spiking():
    model = zoo.make_model("mlp-digits")
    x = load_digits()[1].x[:20].reshape(20, 64)
    a = np.concatenate(list(encoded_batches(x, 8, "rate", seed=3, batch_size=7)), axis=1)
    b = np.concatenate(list(encoded_batches(x, 8, "rate", seed=3, batch_size=7)), axis=1)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert abs(a.mean() - x.mean()) < 0.03
    assert predict(model, x, "rate", seed=3).readout.shape == (8, 20, 10)


def assert_same_float_outputs(actual: np.ndarray, desired: np.ndarray, spiking: bool):
    """Spikes equal exactly; float membranes equal up to BLAS rounding. The trainer multiplies all
    steps of a batch in one GEMM, the simulator one step at a time, and OpenBLAS picks its kernel (so its
    summation order) by matrix size: the last bit of a float sum may differ, nothing else."""
    if spiking:
        np.testing.assert_array_equal(actual, desired)
    else:
        np.testing.assert_allclose(actual, desired, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["mlp-digits", "conv-digits"])
def test_exported_float_network_reproduces_trainer_forward(name):
    model = zoo.make_model(name, seed=2)
    _, _, vx, _ = _digits_for(model)
    seq = next(encoded_batches(vx[:24], model.steps, "direct"))
    values = model.forward({"input": seq})
    run = simulate(export.to_network(model), {"input": seq})
    for stage in model.stages:
        assert_same_float_outputs(run.layer_outputs[stage.name], values[stage.name], stage.cell.spiking)
    assert any(values[s.name].any() for s in model.stages if s.cell.spiking)


def test_exported_subtract_network_reproduces_trainer_forward():
    rng = np.random.default_rng(4)
    b = Builder("sub", {"input": (6,)}, steps=8, rng=rng)
    b.stage("hidden", LIFCell(decay=0.7, threshold=1.0, reset="subtract"), ("input", [("dense", 10, True)]),
            init_gain=3.0)
    b.stage("out", LIFCell(decay=0.9, threshold=0.5, reset="subtract"), ("hidden", [("dense", 3)]), init_gain=3.0)
    seq = (rng.random((8, 5, 6)) < 0.6).astype(float)
    values = b.model.forward({"input": seq})
    run = simulate(export.to_network(b.model), {"input": seq})
    for name in ("hidden", "out"):
        np.testing.assert_array_equal(run.layer_outputs[name], values[name])
    # Spikes on consecutive steps exist, so the delayed subtraction is exercised.
    assert np.any(values["hidden"][1:] * values["hidden"][:-1])


@pytest.fixture(scope="module")
def short_mlp(tmp_path_factory):
    """mlp-digits trained for 3 epochs, exported (float + quantised accuracy measured)."""
    out = tmp_path_factory.mktemp("mlp") / "m.nir"
    network, stats = zoo.train("mlp-digits", epochs=3, seed=0, out=out)
    return network, stats, out


def test_quantized_accuracy_within_one_point(short_mlp):
    _, stats, _ = short_mlp
    acc = stats["accuracy"]
    assert acc["float"] > 0.9
    assert abs(acc["float"] - acc["quantized"]) <= 0.01


def test_quant_hints_make_thresholds_exact(short_mlp):
    network, _, _ = short_mlp
    from archsim.graph.quantize import quantize

    qnet = quantize(network, Precision(weight_bits=8))
    hidden = qnet.layer("hidden")
    assert float(hidden.threshold_q) * hidden.scale == pytest.approx(1.0, abs=1e-12)
    assert qnet.input_scales["input"] == 1 / 16
    weights = hidden.projections[0].kernel.weight
    assert np.max(np.abs(weights)) <= 127 and np.max(np.abs(weights)) >= 120


def test_export_round_trip_and_stats(short_mlp):
    from archsim.graph.nir_io import read_network

    network, stats, out = short_mlp
    back = read_network(out)
    assert [layer.name for layer in back.layers] == [layer.name for layer in network.layers]
    assert back.metadata["quant"]["weight_scale"] == pytest.approx(network.metadata["quant"]["weight_scale"])
    assert back.metadata["stats"]["spike_rates"]["hidden"] == pytest.approx(stats["spike_rates"]["hidden"])
    assert back.metadata["steps"] == 8
    x = load_digits()[1].x[:30].reshape(30, 64)
    seq = next(encoded_batches(x, 8, "direct"))
    np.testing.assert_allclose(simulate(back, {"input": seq}).outputs["readout"],
                               simulate(network, {"input": seq}).outputs["readout"], rtol=1e-9, atol=1e-12)
    side = export.stats_path(out)
    assert side.exists()
    for key in ("accuracy", "train_time_s", "spike_rates", "input_rate", "window_fraction", "zero_grad_fraction",
                "steps", "encoding", "seed"):
        assert key in stats
    assert len(stats["spike_rates"]["hidden"]) == 8
    assert 0 < stats["window_fraction"]["hidden"] < 1 and 0 < stats["zero_grad_fraction"]["hidden"] < 1


def test_stats_accuracy_matches_network(short_mlp):
    network, stats, _ = short_mlp
    x = load_digits()[1]
    readout = export.float_readout(network, encoded_batches(x.x.reshape(-1, 64), 8, "direct"))
    assert accuracy(readout, x.y) == stats["accuracy"]["float"]


@pytest.mark.parametrize("name", ["mlp-digits", "conv-digits"])
def test_archsim_run_float_reproduces_trainer_outputs(tmp_path, name):
    from archsim.cli import main as cli_main

    model = zoo.make_model(name, seed=4)
    _, _, vx, _ = _digits_for(model)
    seq = next(encoded_batches(vx[:6], model.steps, "direct"))
    path = tmp_path / "n.nir"
    export.write(export.to_network(model), {}, path)
    np.save(tmp_path / "x.npy", seq)
    assert cli_main(["run", str(path), "--precision", "float", "--input", str(tmp_path / "x.npy"),
                     "--save-outputs", str(tmp_path / "y.npy")]) == 0
    readout = model.stages[-1]
    assert readout.name == model.output
    assert_same_float_outputs(np.load(tmp_path / "y.npy"), model.forward({"input": seq})[model.output],
                              readout.cell.spiking)
