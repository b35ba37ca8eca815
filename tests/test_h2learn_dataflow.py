"""h2learn: pooling as pooling (exact MAC counts on the pooled shapes), per-layer op counts and DRAM bytes
by tensor in the Trace, and the dataflow search (never overflows a buffer; a hand-checked case)."""
from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from archsim.graph.network import AvgPool2d, Conv2d, Dense, Flatten, Layer, Network, Projection
from archsim.models.h2learn import dataflow, golden, fixed, run_iteration, simulate
from archsim.models.h2learn.layers import build_layers
from archsim.models.h2learn.params import read_params
from tests.test_h2learn import chip, lif, workload

OP_KEYS = {"forward_macs_dense", "forward_macs_performed", "backward_macs_dense", "backward_macs_performed",
           "update_macs_dense", "update_macs_performed", "lut_builds", "lut_reads", "pool_adds", "shortcut_adds",
           "fork_adds", "bn_elements", "dram_bytes"}


def pooled_vgg(rng, c_in=2, hw=8, c1=4, c2=4, c3=6, hidden=8, classes=3):
    """conv-pool-conv-conv-pool-dense-dense (3x3 convs, padding 1, 2x2 average pools), LIF everywhere."""
    pool = AvgPool2d((2, 2), (2, 2))
    h2, h4 = hw // 2, hw // 4
    layers = [
        Layer("c1", (c1, hw, hw), (Projection("in", (Conv2d(rng.normal(0, 0.6, (c1, c_in, 3, 3)), padding=(1, 1)),)),),
              lif()),
        Layer("c2", (c2, h2, h2), (Projection("c1", (pool, Conv2d(rng.normal(0, 0.6, (c2, c1, 3, 3)), padding=(1, 1)))),),
              lif()),
        Layer("c3", (c3, h2, h2), (Projection("c2", (Conv2d(rng.normal(0, 0.6, (c3, c2, 3, 3)), padding=(1, 1)),)),),
              lif()),
        Layer("d1", (hidden,), (Projection("c3", (pool, Flatten(), Dense(rng.normal(0, 0.5, (hidden, c3 * h4 * h4))))),),
              lif()),
        Layer("d2", (classes,), (Projection("d1", (Dense(rng.normal(0, 0.5, (classes, hidden))),)),), lif()),
    ]
    return Network("pooled-vgg", {"in": (c_in, hw, hw)}, layers, ["d2"])


def arithmetic_macs(c_in=2, hw=8, c1=4, c2=4, c3=6, hidden=8, classes=3) -> dict:
    """K*C*R*S*E*F per sample-step on the pooled shapes, written out by hand (the pools halve the side)."""
    h2, h4 = hw // 2, hw // 4
    return {"c1": c1 * c_in * 9 * hw * hw, "c2": c2 * c1 * 9 * h2 * h2, "c3": c3 * c2 * 9 * h2 * h2,
            "d1": hidden * c3 * h4 * h4, "d2": classes * hidden}


@pytest.mark.parametrize("sparsity", [True, False])
def test_pooled_vgg_dense_counts_equal_the_arithmetic(sparsity):
    rng = np.random.default_rng(3)
    net = pooled_vgg(rng)
    steps, batch = 3, 2
    wl = workload(net, rng, steps=steps, batch=batch, rate=0.4)
    trace = simulate(wl, chip(**{"be.sparsity": sparsity}))
    ops = trace.details["ops"]
    n = steps * batch
    for name, per_step in arithmetic_macs().items():
        row = ops[name]
        assert set(row) == OP_KEYS
        assert row["forward_macs_dense"] == per_step * n
        assert row["update_macs_dense"] == per_step * n
        assert row["backward_macs_dense"] == (0 if name == "c1" else per_step * n)   # c1's source is the input
        assert 0 <= row["forward_macs_performed"] <= row["forward_macs_dense"]
        assert 0 <= row["backward_macs_performed"] <= row["backward_macs_dense"]
        assert 0 <= row["update_macs_performed"] <= row["update_macs_dense"]
    # the pools: p^2 - 1 = 3 adds per pooled value, c1 pooled to 4x4x4 in front of c2, c3 to 6x2x2 in front of d1
    assert ops["c2"]["pool_adds"] == 3 * 4 * 4 * 4 * n and ops["d1"]["pool_adds"] == 3 * 6 * 2 * 2 * n
    assert ops["c1"]["pool_adds"] == ops["c3"]["pool_adds"] == 0
    if not sparsity:   # dense backward: every in-bounds tap of every dL/du
        macs = trace.details["backward_macs"]
        assert all(v["performed"] == v["dense"] for v in macs.values())
        assert ops["d1"]["backward_macs_performed"] == ops["d1"]["backward_macs_dense"]


def test_pooled_vgg_gradients_equal_golden_and_pool_runs_on_the_pooled_shape():
    rng = np.random.default_rng(4)
    net = pooled_vgg(rng)
    wl = workload(net, rng, steps=3, batch=2, rate=0.4)
    ch = chip()
    params = read_params(ch)
    run = run_iteration(wl, ch)
    layers = build_layers(net, params)
    proj = layers[1].projections[0]
    assert proj.in_shape == (4, 4, 4) and proj.kernel_shape == (4, 4, 3, 3) and proj.input_planes == 3
    x = {"in": fixed.quantize_input(wl.inputs["in"], 1)}
    ref = golden.bptt(layers, x, np.asarray(wl.labels), params)
    assert len(run.dweights) == len(ref.dweight) == 5
    for a, b in zip(run.dweights, ref.dweight):
        np.testing.assert_array_equal(a, b)
    # the reference steppers count the same work on the pooled shapes
    small = workload(net, rng, steps=2, batch=1, rate=0.4)
    fast, slow = run_iteration(small, ch, "fast").trace, run_iteration(small, ch, "reference").trace
    assert fast.cycles == slow.cycles and fast.actions == slow.actions
    assert fast.details["ops"] == slow.details["ops"]


def test_dram_bytes_by_tensor_add_up_to_the_run():
    rng = np.random.default_rng(5)
    net = pooled_vgg(rng)
    trace = simulate(workload(net, rng, steps=3, batch=4, rate=0.3), chip(**{"tiling.tile_samples": 2}))
    total = sum(sum(row["dram_bytes"].values()) for row in trace.details["ops"].values())
    d = trace.details["dram_bytes"]
    assert abs(total - (d["read"] + d["write"])) <= 2 * len(trace.details["ops"])   # each layer's bits round down
    assert set(trace.details["mapping"]) == {layer.name for layer in net.layers}


def shape(name, acc_kb, out, step_kb=1, weight_kb=1, src=64, top=False):
    """A LayerShape by its sizes (KB of 8192 bits)."""
    return dataflow.LayerShape(name=name, weight_bits=weight_kb * 8192, source_bits=(src,), grad_in_sizes=(src,),
                               mask_sizes=(src,), out_size=out, out_bits=1, readout=False, top=top,
                               accumulator_bits=acc_kb * 8192, step_bits=step_kb * 8192,
                               update_macs_per_step=acc_kb * 256 * out)


def search_params(grad_kb=64, pipeline=False, tiles_in_flight=2):
    return replace(read_params(chip()), gradient_buffer_bits=grad_kb * 8192, weight_buffer_bits=64 * 8192,
                   activation_buffer_bits=64 * 8192, pipeline=pipeline, tiles_in_flight=tiles_in_flight)


def bits(shapes, maps, tiles, params):
    """DRAM bits of an iteration under ``maps``, from the traffic rules."""
    return sum(sum(sum(d.values()) for rw in dataflow.traffic(s, m, n, i == 0, True, False, params).values()
                   for d in rw.values()) for s, m in zip(shapes, maps) for i, n in enumerate(tiles)) \
        + sum(sum(sum(d.values()) for d in dataflow.update_traffic(s, m).values()) for s, m in zip(shapes, maps))


def test_search_hand_checked_case():
    """Gradient buffer 64 KB; every layer's one-step set is 8 KB; tiles of 16 sample-steps, 16-bit dL/du,
    engines one after another (one tile's dL/du alive at a time).
    Layer a: 40 KB of accumulators, 512 outputs (its tile's dL/du: 16 x 512 x 16 bits = 16 KB);
    layer b: 30 KB of accumulators, 256 outputs (dL/du 8 KB). Holding both (70 KB) overflows; holding a
    leaves 24 KB, 16 KB beside the working set: a's dL/du fits there on chip, and b's accumulators go
    blocked (in 24 - 8 = 16 KB: 2 blocks, after the tiles, with b's dL/du through DRAM) rather than
    round-tripped per tile."""
    params = search_params()
    shapes = (shape("a", 40, 512, step_kb=8), shape("b", 30, 256, step_kb=8, top=True))
    tiles = (16, 16, 16)
    maps = dataflow.search(shapes, tiles, True, False, params)
    assert maps[0].dw == "on-chip" and maps[0].du == "on-chip"
    assert maps[1].dw == "blocked" and maps[1].dw_blocks == 2 and maps[1].du == "dram"   # blocked needs dL/du in DRAM
    assert dataflow.gradient_buffer_use(shapes, maps, len(tiles), 16, params) == 64 * 8192   # 40 + 8 + 16 KB
    # the chosen mapping is the cheapest legal one: holding b instead of a costs more DRAM bits
    alt = (dataflow.Mapping("input-stationary", 1, "mask", "dram", "blocked", 2),
           dataflow.Mapping("input-stationary", 1, "mask", "on-chip", "on-chip"))
    assert bits(shapes, maps, tiles, params) < bits(shapes, alt, tiles, params)


def test_search_checks_tensors_that_fit_alone_against_the_buffer_together():
    """No accumulators (0 KB: always held); 64 KB gradient buffer, 8 KB one-step sets: 56 KB for dL/du.
    a's tile of dL/du is 16 x 1280 x 16 bits = 40 KB, b's 16 x 768 x 16 = 24 KB: each fits alone, together
    (64 KB) they overflow. On chip a saves 2 x 40 KB per tile (the BE's write, the WUE's read), b 2 x 24 KB:
    a stays, b goes through DRAM. Pipelined (tiles_in_flight 2: the WUE's, 2 queued and the BE's tile, but
    only 3 tiles) one tile's 24 KB already needs 72 KB: neither stays."""
    shapes = (shape("a", 0, 1280, step_kb=8), shape("b", 0, 768, step_kb=8, top=True))
    tiles = (16, 16, 16)
    params = search_params()
    maps = dataflow.search(shapes, tiles, True, False, params)
    assert [m.du for m in maps] == ["on-chip", "dram"]
    both = tuple(replace(m, du="on-chip") for m in maps)
    assert dataflow.gradient_buffer_use(shapes, both, len(tiles), 16, params) == (8 + 40 + 24) * 8192 > 64 * 8192
    assert dataflow.gradient_buffer_use(shapes, maps, len(tiles), 16, params) == (8 + 40) * 8192
    flipped = (replace(maps[0], du="dram"), replace(maps[1], du="on-chip"))
    assert bits(shapes, maps, tiles, params) < bits(shapes, flipped, tiles, params)
    assert dataflow.live_tiles(len(tiles), search_params(pipeline=True)) == 3
    piped = dataflow.search(shapes, tiles, True, False, search_params(pipeline=True))
    assert [m.du for m in piped] == ["dram", "dram"]
    assert dataflow.search(shapes, tiles, True, False, search_params(grad_kb=8 + 3 * 40 + 3 * 24, pipeline=True)) \
        == tuple(replace(m, du="on-chip") for m in piped)


def every_legal_mapping(shapes, tiles, params):
    """Brute force: every combination of per-layer mappings whose tensors fit their buffers together."""
    n = max(tiles)
    blocks = [max(1, -(-s.weight_bits // params.weight_buffer_bits)) for s in shapes]
    orders = ["input-stationary", "weight-stationary"]
    per_layer = [[(o, w, du, dw) for o in orders for w in ("mask", "membrane") for du in ("on-chip", "dram")
                  for dw in ("on-chip", "dram", "blocked")
                  if (o == "weight-stationary" or n * sum(s.source_bits) <= params.activation_buffer_bits)
                  and not (dw == "blocked" and du == "on-chip")] for s in shapes]
    for combo in itertools.product(*per_layer):
        held = sum(s.accumulator_bits for s, c in zip(shapes, combo) if c[3] == "on-chip")
        maps = []
        for s, b, (o, w, du, dw) in zip(shapes, blocks, combo):
            k = dataflow.dw_blocks(s, params.gradient_buffer_bits - held) if dw == "blocked" else 0
            maps.append(dataflow.Mapping(o, b, w, du, dw, k))
        if any(m.dw == "blocked" and not m.dw_blocks for m in maps):
            continue
        if dataflow.gradient_buffer_use(shapes, tuple(maps), len(tiles), n, params) <= params.gradient_buffer_bits:
            yield tuple(maps)


def iteration_cost(shapes, maps, tiles, params):
    costs = [dataflow._cost(s, m, tiles, True, False, params) for s, m in zip(shapes, maps)]
    return tuple(sum(c[j] for c in costs) for j in range(3))


@settings(max_examples=30, deadline=None)
@given(grad_kb=st.integers(8, 200), accs=st.lists(st.integers(0, 120), min_size=1, max_size=3),
       outs=st.lists(st.integers(1, 2000), min_size=3, max_size=3), n=st.integers(1, 32),
       pipeline=st.booleans(), tiles=st.integers(1, 4))
def test_search_never_overflows_and_equals_brute_force(grad_kb, accs, outs, n, pipeline, tiles):
    params = search_params(grad_kb, pipeline)
    shapes = tuple(shape(f"l{i}", acc, outs[i], step_kb=4, top=i == len(accs) - 1) for i, acc in enumerate(accs))
    steps = (n,) * tiles
    maps = dataflow.search(shapes, steps, True, False, params)
    legal = list(every_legal_mapping(shapes, steps, params))
    if not legal:   # not even the one-step working set fits: nothing to choose
        return
    assert dataflow.gradient_buffer_use(shapes, maps, tiles, n, params) <= params.gradient_buffer_bits
    assert maps in legal
    assert iteration_cost(shapes, maps, steps, params) == min(iteration_cost(shapes, m, steps, params) for m in legal)


def test_report_lists_the_chosen_dataflow_per_layer():
    from archsim.report import _dataflow_section
    rng = np.random.default_rng(6)
    trace = simulate(workload(pooled_vgg(rng), rng, steps=2, batch=2, rate=0.3), chip())
    section = _dataflow_section({"trace": {"details": trace.details}})
    rows = {row[0]: row for row in section.tables[0].rows}
    assert set(rows) == set(trace.details["mapping"])
    assert rows["d2"][1:5] == [trace.details["mapping"]["d2"][k] for k in ("fe_order", "window", "du", "dw")]
    assert _dataflow_section({"trace": {"details": {}}}) is None
    assert _dataflow_section({"trace": {"details": {"mapping": {"cores": 3}}}}) is None


def test_blocked_weight_gradients_run_after_the_tiles():
    """A 1 KB gradient buffer leaves no room to hold most accumulators: those layers go blocked, and their
    WUE passes (all tiles' work) run after the last tile with the update, not overlapped with the tiles."""
    rng = np.random.default_rng(8)
    wl = workload(pooled_vgg(rng), rng, steps=2, batch=2, rate=0.4)
    ch = chip(**{"components.gradient_buffer.size_kb": 1, "tiling.tile_samples": 1})
    fast, ref = run_iteration(wl, ch, "fast").trace, run_iteration(wl, ch, "reference").trace
    assert fast.cycles == ref.cycles and fast.cycles_breakdown == ref.cycles_breakdown
    blocked = [name for name, m in fast.details["mapping"].items() if m["dw"] == "blocked"]
    assert blocked
    rows = {(row[0], row[1]): row[3] - row[2] for row in fast.details["timeline"]}
    layer_wue = fast.cycles_breakdown["layer"]
    assert rows["wue", "update"] >= sum(layer_wue[name]["wue"] for name in blocked)
    assert sum(rows["wue", i] for i in (0, 1)) < sum(layer_wue[name]["wue"] for name in blocked)   # not in the tiles
    assert fast.details["gradient_buffer_bits_used"] <= 8192
