"""Convolution layers at kernel level (archsim.mapping.kernels, models.manycore.kernel_cores): the
generated synapses are the explicit lowering's, and a chip run with conv layers mapped as kernels
equals the run with them lowered to synapse lists in every count, cycle and spike."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import archsim.mapping as mapping_pkg
from archsim.config import load_chip
from archsim.graph.network import LIF, Conv2d, Dense, Flatten, Layer, Network, Projection, Scale
from archsim.graph.workload import Workload
from archsim.mapping import map_network
from archsim.mapping.kernels import kernel_layer, use_kernels
from archsim.mapping.lowering import lower_layer
from archsim.mapping.tiles import Tile
from archsim.models.manycore import simulate
from workloads.layers import EvenConv2d

from tests.engine_checks import assert_engines_agree
from tests.test_mapping_partition import with_cuts

LIF_ = dict(decay=np.float64(0.75), threshold=np.float64(0.6))


def _kernel(rng, c_out, c_in, k, even, density):
    """A random kernel: an even C2sp kernel embedded in (k + 1) x (k + 1) (EvenConv2d), pruned to ``density``."""
    if even:
        return EvenConv2d(rng.normal(size=(c_out, c_in, k, k))).embedded() * (rng.random((c_out, c_in, k + 1, k + 1)) < density)
    return rng.normal(size=(c_out, c_in, k, k)) * (rng.random((c_out, c_in, k, k)) < density)


def _net(seed, c_in, c, size, k, stride, padding, even, density, residual, scaled=False):
    rng = np.random.default_rng(seed)
    weight = _kernel(rng, c, c_in, k, even, density)
    conv = Conv2d(weight, stride=(stride, stride), padding=(padding, padding) if not even else (k // 2, k // 2))
    shape = conv.output_shape((c_in, size, size))
    layers = [Layer("c", shape, (Projection("x", (conv,)),), LIF(**LIF_))]
    last = "c"
    if residual:                               # a second conv plus the identity shortcut (two projections)
        inner = Conv2d(_kernel(rng, c, c, 3, False, density), padding=(1, 1))
        shortcut = (Scale(np.int64(2)),) if scaled else ()
        layers.append(Layer("r", shape, (Projection("c", (inner,)), Projection("c", shortcut)), LIF(**LIF_)))
        last = "r"
    n = int(np.prod(shape))
    layers.append(Layer("o", (5,), (Projection(last, (Flatten(), Dense(rng.normal(size=(5, n))))),), LIF(**LIF_)))
    return Network("kern", {"x": (c_in, size, size)}, layers, ["o"])


def _chip(neurons, axons, fold, lanes=16, banks=1):
    chip = load_chip("chips/tianjic.yaml").with_overrides(
        {"core.neurons": neurons, "core.axons": axons, "core.max_fold": fold, "core.dendrite_lanes": lanes,
         "core.mac_lanes": lanes, "core.synapse_banks": banks, "core.synapse_read_cycles": 2,
         "noc.mesh_x": 24, "noc.mesh_y": 24})
    return with_cuts(chip, ["tiles"])


def _explicit_run(net, chip, x):
    """The same run with every layer lowered to synapse lists (no layer at kernel level)."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(mapping_pkg, "kernel_candidates", lambda *args, **kwargs: {})
        return _run(net, chip, x)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), c_in=st.integers(1, 4), c=st.integers(2, 6), size=st.integers(3, 8),
       k=st.sampled_from([1, 2, 3]), stride=st.sampled_from([1, 2]), padding=st.sampled_from([0, 1]),
       even=st.booleans(), density=st.sampled_from([1.0, 0.5]), residual=st.booleans(),
       valued=st.booleans(), scaled=st.booleans())
def test_generated_columns_and_scatter_equal_the_lowered_matrix(seed, c_in, c, size, k, stride, padding, even,
                                                                 density, residual, valued, scaled):
    net = _net(seed, c_in, c, size, k if not even else 2, stride, padding, even and k != 1, density, residual, scaled)
    rng = np.random.default_rng(seed + 1)
    for layer in net.layers[:-1]:
        kernels = kernel_layer(layer.projections, layer.shape, net.shape_of)
        low = lower_layer(layer.name, layer.shape, layer.projections, net.shape_of)
        csc = low.matrix.tocsc()
        csc.sort_indices()
        lo = int(rng.integers(0, low.input_size))
        hi = int(rng.integers(lo + 1, low.input_size + 1))
        neurons = rng.permutation(low.size)[:int(rng.integers(1, low.size + 1))]
        ptr, rows, values = kernels.columns(neurons, lo, hi)
        for j, n in enumerate(neurons):
            r, v = csc.indices[csc.indptr[n]:csc.indptr[n + 1]], csc.data[csc.indptr[n]:csc.indptr[n + 1]]
            keep = (r >= lo) & (r < hi)
            np.testing.assert_array_equal(rows[ptr[j]:ptr[j + 1]], r[keep])
            np.testing.assert_array_equal(values[ptr[j]:ptr[j + 1]], v[keep])
        np.testing.assert_array_equal(kernels.fan_in(), np.diff(csc.indptr))
        assert kernels.stored_max_abs() == np.abs(csc.data).max(initial=0)
        assert kernels.weights.dtype.kind == low.matrix.dtype.kind              # the same value type
        np.testing.assert_array_equal(lower_layer(layer.name, layer.shape, layer.projections, net.shape_of,
                                                  kernels=kernels).bias, low.bias)
        integer = lower_layer(layer.name, layer.shape, [_rounded(p) for p in layer.projections], net.shape_of)
        int_kernels = kernel_layer([_rounded(p) for p in layer.projections], layer.shape, net.shape_of)
        x = rng.integers(-3 if valued else 0, 4 if valued else 2, size=low.input_size)
        bounds = np.unique(np.r_[0, rng.integers(0, low.input_size, 2), low.input_size])
        sums = int_kernels.scatter(x, bounds)
        for g in range(len(bounds) - 1):
            part = np.zeros_like(x)
            part[bounds[g]:bounds[g + 1]] = x[bounds[g]:bounds[g + 1]]
            np.testing.assert_array_equal(sums[g], part @ integer.matrix)


def _rounded(proj):
    ops = tuple(Conv2d(np.rint(op.weight * 3).astype(np.int64), stride=op.stride, padding=op.padding)
                if isinstance(op, Conv2d) else op for op in proj.ops)
    return Projection(proj.source, ops)


def _run(net, chip, x, engine="fast"):
    return simulate(Workload("kern", net, {"x": x}, x.shape[0], x.shape[1]), chip, engine)


def _same(a, b):
    assert_engines_agree(a, b)
    assert a.synaptic_ops == b.synaptic_ops
    assert a.details["mapping"] == b.details["mapping"]
    np.testing.assert_array_equal(a.outputs, b.outputs)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), c_in=st.integers(1, 5), c=st.integers(2, 6), size=st.integers(3, 8),
       k=st.sampled_from([1, 2, 3]), stride=st.sampled_from([1, 2]), padding=st.sampled_from([0, 1]),
       even=st.booleans(), density=st.sampled_from([1.0, 0.4]), residual=st.booleans(),
       neurons=st.sampled_from([8, 16]), axons=st.sampled_from([24, 40]), fold=st.sampled_from([1, 3]),
       lanes=st.sampled_from([2, 16]), banks=st.sampled_from([1, 2]), rate=st.sampled_from([0.3, 0.7]))
def test_kernel_level_run_equals_the_explicit_lowering(seed, c_in, c, size, k, stride, padding, even,
                                                       density, residual, neurons, axons, fold, lanes, banks, rate):
    net = _net(seed, c_in, c, size, 2 if even else k, stride, padding, even, density, residual)
    chip = _chip(neurons, axons, fold, lanes, banks)
    x = (np.random.default_rng(seed).random((3, 1, c_in, size, size)) < rate).astype(float)
    mapping = map_network(net, chip)
    for name in ("c", "r") if residual else ("c",):
        low = mapping.handover[1][name]
        # kernel level wherever the map is cut in tiles (a map the tile search cannot cut is lowered explicitly)
        assert (low.matrix is None) == (Tile.parse(mapping.orders[name]) is not None)
    _same(_run(net, chip, x), _explicit_run(net, chip, x))


@pytest.mark.parametrize("valued", [False, True])
def test_kernel_level_reference_engine_equals_fast(valued):
    net = _net(3, 3, 6, 7, 3, 1, 1, False, 0.6, True)
    chip = _chip(16, 30, 3, lanes=2, banks=2)
    rng = np.random.default_rng(4)
    x = rng.random((2, 1, 3, 7, 7)) if valued else (rng.random((2, 1, 3, 7, 7)) < 0.5).astype(float)
    mapping = map_network(net, chip)
    assert mapping.handover[1]["c"].matrix is None and mapping.handover[1]["r"].matrix is None
    assert len(mapping.input_groups["r"]) > 2                      # fan-in split: partial sums merged
    fast = _run(net, chip, x, "fast")
    _same(fast, _run(net, chip, x, "reference"))
    _same(fast, _explicit_run(net, chip, x))


def test_kernel_level_is_chosen_only_where_the_tile_cut_is_taken():
    net = _net(0, 2, 4, 6, 3, 1, 1, False, 1.0, True)
    layer = net.layers[1]
    kernels = kernel_layer(layer.projections, layer.shape, net.shape_of)
    assert kernels is not None and kernels.shape == tuple(layer.shape)
    assert use_kernels(kernels, ("tiles",), 10 ** 9)                 # only tiles allowed
    assert not use_kernels(kernels, ("tiles", "contiguous", "partitioned"), 10 ** 9)   # small: every cut tried
    assert use_kernels(kernels, ("tiles", "contiguous"), kernels.synapses() - 1)   # large: tiles taken directly
    assert not use_kernels(kernels, ("contiguous",), 0)
    assert kernel_layer(net.layers[2].projections, net.layers[2].shape, net.shape_of) is None   # a dense layer


def test_memory_guard_counts_kernel_level_layers_by_their_kernels():
    from archsim.guard.memory import synapse_bound

    net = _net(0, 2, 4, 6, 3, 1, 1, False, 1.0, True)
    conv_c, conv_r = net.layers[0].projections[0].ops[0], net.layers[1].projections[0].ops[0]
    listed = synapse_bound(net, True)
    as_kernels = synapse_bound(net, True, {"c", "r"})
    out = int(np.prod(net.layers[0].shape))
    assert listed - as_kernels == (out * 2 * 9 - conv_c.weight.size) + (out * 4 * 9 - conv_r.weight.size)
