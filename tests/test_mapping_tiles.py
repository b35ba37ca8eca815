"""Tile partition of conv layers (archsim.mapping.tiles): tiles cover the map, every core keeps the
chip model's pass limits, the search beats the greedy cuts, and tile orders load and validate."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from archsim.config import load_chip
from archsim.errors import UserError
from archsim.graph.network import LIF, Conv2d, Dense, Flatten, Layer, Network, Projection
from archsim.mapping import Mapping, core_limits, lower_network, map_network, validate_mapping
from archsim.mapping.partition import _split_in_order, input_groups, neuron_order
from archsim.mapping.tiles import Tile, tile_permutation
from archsim.models.manycore.passes import pass_of_neurons
from tests.test_mapping_partition import with_cuts

CHIP = "chips/tianjic.yaml"
LIF_ = dict(decay=np.float64(0.9), threshold=np.float64(1.0))


def _conv_net(c_in=32, c_out=16, size=12, stride=1, seed=0):
    rng = np.random.default_rng(seed)
    out = (size + 2 - 3) // stride + 1
    return Network("tiles", {"x": (c_in, size, size)}, [
        Layer("c", (c_out, out, out), (Projection("x", (Conv2d(rng.normal(size=(c_out, c_in, 3, 3)), stride=(stride, stride),
                                                                padding=(1, 1)),)),), LIF(**LIF_)),
        Layer("o", (10,), (Projection("c", (Flatten(), Dense(rng.normal(size=(10, c_out * out * out))))),), LIF(**LIF_))],
        ["o"])


@settings(max_examples=10, deadline=None)
@given(c=st.integers(1, 9), h=st.integers(1, 9), w=st.integers(1, 9), tc=st.integers(1, 9), tr=st.integers(1, 9),
       tw=st.integers(1, 9))
def test_tile_permutation_covers_the_map_tile_by_tile(c, h, w, tc, tr, tw):
    low = lower_network(Network("p", {"x": (1, h, w)}, [
        Layer("c", (c, h, w), (Projection("x", (Conv2d(np.ones((c, 1, 1, 1))),)),), LIF(**LIF_))], ["c"]))["c"]
    perm, starts = tile_permutation(low, Tile(tc, tr, tw))
    assert sorted(perm.tolist()) == list(range(c * h * w))
    ch, y, x = np.unravel_index(perm, (c, h, w))
    edges = list(starts) + [len(perm)]
    assert len(starts) == -(-c // tc) * -(-h // tr) * -(-w // tw)
    for a, b in zip(edges[:-1], edges[1:]):
        assert len(set(ch[a:b] // tc)) == len(set(y[a:b] // tr)) == len(set(x[a:b] // tw)) == 1
        key = list(zip(x[a:b], y[a:b], ch[a:b]))              # column by column, then row, then channel
        assert key == sorted(key)


@pytest.mark.parametrize("stride", [1, 2])
def test_tiled_cores_keep_the_chip_models_pass_limits(stride):
    chip = load_chip(CHIP)
    net = _conv_net(stride=stride)
    mapping = map_network(net, chip)
    assert Tile.parse(mapping.orders["c"]) is not None
    assert len(mapping.input_groups["c"]) - 1 >= 2            # 32 x 9 = 288 inputs per neuron > 256 axons
    validate_mapping(mapping, net, chip)
    limits = core_limits(chip)
    routes = mapping.handover[2]
    for part in routes.parts:
        if part.layer != "c":
            continue
        passes = pass_of_neurons(part.indptr.astype(np.int64), part.indices.astype(np.int64), len(part.neurons),
                                 limits.neurons, limits.axons)
        assert passes.max(initial=0) + 1 <= limits.max_fold
        for p in range(passes.max(initial=0) + 1):
            mine = np.flatnonzero(passes == p)
            rows = np.flatnonzero(np.isin(part.indices, mine))
            axons = np.unique(np.searchsorted(part.indptr, rows, side="right") - 1)
            assert len(mine) <= limits.neurons and len(axons) <= limits.axons


def test_tiles_need_no_more_cores_than_greedy_cuts():
    chip = load_chip(CHIP)
    limits = core_limits(chip)
    net = _conv_net(c_in=64, c_out=64, size=16)
    low = lower_network(net)["c"]
    csc = low.matrix.tocsc()
    csc.sort_indices()
    greedy = min(len(_split_in_order(low, csc, limits, order, input_groups(low, limits.axons)).parts(low))
                 for order in ("chw", "hwc"))
    tiled = map_network(net, chip)
    cores = len(tiled.layer_parts("c"))
    assert cores < greedy
    # Lower bound: 64 x 9 = 576 inputs per neuron need >= 3 groups of <= 256 axons; a core holds <= 1365
    # 24-bit membranes in 4 KB.
    assert cores >= 3 * -(-low.size // 1365)


def test_tile_order_saves_loads_and_is_checked(tmp_path):
    chip = load_chip(CHIP)
    net = _conv_net()
    mapping = map_network(net, chip)
    path = tmp_path / "m.yaml"
    mapping.save(path)
    loaded = Mapping.load(path)
    assert loaded.orders == mapping.orders and loaded.parts == mapping.parts
    validate_mapping(loaded, net, chip)
    low = lower_network(net)["c"]
    assert (neuron_order(low, loaded.orders["c"]) == neuron_order(low, mapping.orders["c"])).all()
    for bad in ("tile-c0-r1-w1", "tile-c4-r2", "tiles"):
        loaded.orders["c"] = bad
        with pytest.raises(UserError, match=r"layers.c.order: .*allowed: chw, hwc, tile-c"):
            validate_mapping(loaded, net, chip, source=str(path))
    loaded.orders["c"] = mapping.orders["c"]
    loaded.orders["o"] = "tile-c1-r1-w1"
    with pytest.raises(UserError, match="layers.o.order"):
        validate_mapping(loaded, net, chip, source=str(path))


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), axons=st.sampled_from([16, 32, 64]), neurons=st.sampled_from([8, 16]))
def test_tiled_conv_runs_reference_equals_fast_and_functional(seed, axons, neurons):
    from archsim.graph.functional import simulate as functional
    from archsim.graph.quantize import Precision
    from archsim.graph.workload import Workload
    from archsim.models.manycore import simulate

    rng = np.random.default_rng(seed)
    lif = LIF(decay=np.float64(0.875), threshold=np.float64(1.0))
    net = Network("tconv", {"x": (3, 6, 6)}, [
        Layer("c", (4, 6, 6), (Projection("x", (Conv2d(rng.normal(size=(4, 3, 3, 3)) * 0.6, padding=(1, 1)),)),), lif),
        Layer("o", (3,), (Projection("c", (Flatten(), Dense(rng.normal(size=(3, 144)) * 0.3))),), lif)], ["o"])
    chip = with_cuts(load_chip(CHIP).with_overrides({"core.axons": axons, "core.neurons": neurons, "noc.mesh_x": 8,
                                                     "noc.mesh_y": 8}), ["tiles"])
    x = (rng.random((3, 1, 3, 6, 6)) < 0.4).astype(float)
    work = Workload("tconv", net, {"x": x}, 3, 1)
    fast, ref = simulate(work, chip, "fast"), simulate(work, chip, "reference")
    assert Tile.parse(map_network(net, chip).orders["c"]) is not None
    assert fast.cycles == ref.cycles and fast.spikes == ref.spikes and fast.actions == ref.actions
    assert fast.noc == ref.noc
    truth = functional(net, {"x": x}, Precision.from_config(chip.params["precision"]))
    np.testing.assert_array_equal(fast.outputs, truth.outputs["o"])
