"""Cores counted from layer shapes and formats before lowering: a bound the mapper's cut never beats."""
import numpy as np
import pytest

import archsim.mapping as mapping_pkg
from archsim.config import load_chip
from archsim.errors import UserError
from archsim.graph.network import LIF, AvgPool2d, Conv2d, Dense, Flatten, Layer, Network, Projection, SumPool2d
from archsim.graph.quantize import Precision, quantize
from archsim.mapping import core_limits, map_network
from archsim.mapping.estimate import _fan_in, cores_needed
from archsim.mapping.lowering import lower_chain

LIF_ = dict(decay=np.float64(0.9), threshold=np.float64(1.0))


def _conv_net(rng):
    w = rng.normal(size=(8, 2, 3, 3))
    w[:, :, 0, 0] = 0.0                                        # zero taps are no synapses
    return Network("conv", {"x": (2, 16, 16)}, [
        Layer("c", (8, 16, 16), (Projection("x", (Conv2d(w, padding=(1, 1)),)),), LIF(**LIF_)),
        Layer("o", (10,), (Projection("c", (Flatten(), Dense(rng.normal(size=(10, 2048))))),), LIF(**LIF_))], ["o"])


def _mlp(rng, keep=1.0):
    w = rng.normal(size=(300, 784)) * (rng.random((300, 784)) < keep)
    return Network("mlp", {"x": (784,)}, [
        Layer("h", (300,), (Projection("x", (Dense(w),)),), LIF(**LIF_)),
        Layer("o", (10,), (Projection("h", (Dense(rng.normal(size=(10, 300))),)),), LIF(**LIF_))], ["o"])


def _pooled_net(rng):
    """A global average pool before the classifier, as ResNets end: every pooled input is 64 pixels."""
    return Network("pooled", {"x": (6, 8, 8)}, [
        Layer("o", (40,), (Projection("x", (AvgPool2d((8, 8), (8, 8)), Flatten(), Dense(rng.normal(size=(40, 6))))),),
              LIF(**LIF_))], ["o"])


def _bound_and_cut(net, chip):
    qnet = quantize(net, Precision.from_config(chip.params["precision"]))
    states = {layer.name: 1 for layer in net.layers}
    bound = cores_needed(qnet.layers, net.shape_of, states, core_limits(chip))
    mapping = map_network(net, chip, qnet)
    return bound, {name: len(mapping.layer_parts(name)) for name in mapping.orders}


@pytest.mark.parametrize("path", ["chips/tianjic.yaml", "chips/loihi.yaml"])
@pytest.mark.parametrize("make", [_conv_net, _mlp, lambda rng: _mlp(rng, 0.1), _pooled_net])
def test_bound_never_exceeds_the_cut(path, make):
    net = make(np.random.default_rng(0))
    for overrides in ({}, {"core.neurons": 32, "core.axons": 128}, {"core.synapse_memory_kb": 8}):
        big_mesh = {"noc.mesh_x": 32, "noc.mesh_y": 32}
        bound, cut = _bound_and_cut(net, load_chip(path).with_overrides({**overrides, **big_mesh}))
        assert all(1 <= bound[name] <= cut[name] for name in cut), (overrides, bound, cut)


@pytest.mark.parametrize("pool, shape", [(AvgPool2d((2, 2), (2, 2)), (3, 7, 6)),
                                         (SumPool2d((3, 3), (3, 3), (1, 1)), (2, 8, 8))])
def test_fan_in_through_disjoint_pools_is_what_the_lowering_stores(pool, shape):
    rng = np.random.default_rng(1)
    width = int(np.prod(pool.output_shape(shape)))
    ops = (pool, Flatten(), Dense(rng.normal(size=(5, width)) * (rng.random((5, width)) < 0.6)))
    matrix, _ = lower_chain(ops, shape)
    np.testing.assert_array_equal(_fan_in(ops, shape, 5), np.diff(matrix.tocsc().indptr))
    overlapping = (AvgPool2d((3, 3), (2, 2)), Flatten(), Dense(np.ones((2, 3 * 3 * 3))))
    assert _fan_in(overlapping, (3, 7, 7), 2) is None          # a union of windows: not counted


def test_bound_is_exact_where_neurons_bind():
    """40 neurons on cores of 2: 20 cores, from the shape alone."""
    net = Network("one", {"x": (16,)}, [Layer("h", (40,), (Projection("x", (Dense(np.full((40, 16), 1.0)),)),),
                                              LIF(**LIF_))], ["h"])
    chip = load_chip("chips/loihi.yaml").with_overrides({"core.neurons": 2})
    bound, cut = _bound_and_cut(net, chip)
    assert bound == cut == {"h": 20}


def test_a_network_too_large_is_refused_before_lowering(monkeypatch):
    def no_lowering(*args, **kwargs):
        raise AssertionError("lowered although the shapes already say it does not fit")

    monkeypatch.setattr(mapping_pkg, "lower_network", no_lowering)
    net = _conv_net(np.random.default_rng(1))
    chip = load_chip("chips/loihi.yaml").with_overrides({"core.neurons": 8, "noc.mesh_x": 4, "noc.mesh_y": 4})
    with pytest.raises(UserError, match=r"conv: needs 258 cores but .* has 16: at least that many, counted from "
                                        r"its layer shapes .*; a board of 5 x 4 of these chips or more .*; per layer: "
                                        r"c: 256, o: 2$"):
        map_network(net, chip)
