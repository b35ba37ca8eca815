"""Threshold-dependent batch norm and residual SNNs: gradients, folding at export, skip connections on chip."""
from __future__ import annotations

import numpy as np
import pytest

from archsim.graph.functional import simulate as functional
from archsim.graph.quantize import Precision
from archsim.graph.workload import Workload
from archsim.models.manycore import simulate as manycore
from archsim.runner import resolve_chip
from workloads import export, zoo
from workloads.layers import TdBN
from workloads.trainer import Adam, loss_and_gradients


@pytest.mark.parametrize("shape", [(12, 3, 4, 4), (20, 5)])
def test_tdbn_gradients_match_finite_differences(shape):
    rng = np.random.default_rng(len(shape))
    x = rng.normal(size=shape) * 2 + 1
    op = TdBN(shape[1], v_th=0.5, alpha=0.7)
    op.params["gamma"] = rng.normal(size=shape[1])
    op.params["beta"] = rng.normal(size=shape[1])
    dy = rng.normal(size=shape)
    op.zero_grad()
    op.forward(x, keep=True)
    dx = op.backward(dy)
    loss = lambda: float((op.forward(x, keep=True) * dy).sum())  # noqa: E731  batch statistics, as trained
    eps = 1e-6
    for name in ("gamma", "beta"):
        for c in range(shape[1]):
            old = op.params[name][c]
            op.params[name][c] = old + eps
            up = loss()
            op.params[name][c] = old - eps
            down = loss()
            op.params[name][c] = old
            assert op.grads[name][c] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-7)
    for index in [tuple(rng.integers(0, s) for s in shape) for _ in range(5)]:
        old = x[index]
        x[index] = old + eps
        up = loss()
        x[index] = old - eps
        down = loss()
        x[index] = old
        assert dx[index] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-7)


def test_tdbn_normalises_to_the_threshold():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4, 5, 5)) * 3 + 2
    y = TdBN(4, v_th=0.5).forward(x, keep=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 0.5, rtol=1e-5)     # alpha * v_th


def test_folded_network_equals_the_trained_one_in_inference():
    model = zoo.make_model("resnet-digits", seed=3)
    rng = np.random.default_rng(4)
    x = rng.random((8, 16, 1, 8, 8))
    labels = rng.integers(0, 10, 16)
    optimiser = Adam(model, learning_rate=1e-2)
    for _ in range(2):                                   # running statistics and gammas move off their start
        loss_and_gradients(model, {"input": x}, labels)
        optimiser.step()
    bn = [op for op in model.ops() if isinstance(op, TdBN)]
    assert bn and all(np.any(op.running_mean != 0) for op in bn)
    values = model.forward({"input": x[:, :5]})
    network = export.to_network(model)
    assert not any(isinstance(op, TdBN) for layer in network.layers for p in layer.projections for op in p.ops)
    run = functional(network, {"input": x[:, :5]})
    for stage in model.stages:
        if stage.cell.spiking:
            np.testing.assert_array_equal(run.layer_outputs[stage.name], values[stage.name])
        else:
            np.testing.assert_allclose(run.layer_outputs[stage.name], values[stage.name], rtol=1e-12, atol=1e-12)
    assert sum(values[s.name].sum() for s in model.stages if s.cell.spiking) > 0


@pytest.mark.parametrize("chip_name", ["tianjic", "loihi"])
def test_skip_connections_on_chip_equal_the_functional_model(chip_name):
    network = zoo.build("resnet-digits", steps=3)
    block = network.layer("block1b")
    assert [p.source for p in block.projections] == ["block1a", "stem"] and block.projections[1].ops == ()
    chip = resolve_chip(chip_name)
    x = np.random.default_rng(5).random((3, 1, 1, 8, 8))
    trace = manycore(Workload("resnet-digits", network, {"input": x}, 3, 1), chip, "fast")
    truth = functional(network, {"input": x}, Precision.from_config(chip.params["precision"]))
    np.testing.assert_array_equal(trace.outputs, truth.outputs["readout"])
    assert trace.actions_by_layer["block1b"]["dendrite"]["add"] > 0


def test_resnet19_shape_follows_the_paper():
    model = zoo.make_model("resnet19-cifar10")
    weighted = [op for op in model.ops() if "weight" in op.params]
    shortcuts = [s for s in model.stages if len(s.projections) == 2]
    assert len(shortcuts) == 8                              # 3 + 3 + 2 basic blocks
    assert sum(1 for s in shortcuts if s.projections[1].ops) == 2   # 1x1 conv shortcuts where the shape changes
    assert len(weighted) == 19 + 2                          # 19 layers (17 conv + 2 FC) and two 1x1 shortcuts
    assert model.stages[-3].shape == (512, 8, 8) and model.steps == 4
    assert 12e6 < model.parameter_count() < 13e6
