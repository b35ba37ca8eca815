"""h2learn on residual blocks and on the one definition of synaptic_ops: identity shortcuts (the FE's add
path, the BE's shortcut path and fork sums) against the golden BPTT, the reference steppers, a float
BPTT and hand counts; resnet-digits trains on the published design point; zero weights are not synaptic
operations but still cost the dense cycles."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from archsim import cli
from archsim.errors import UserError
from archsim.graph.network import Conv2d, Dense, Flatten, Layer, Network, Projection, ReLU
from archsim.graph.workload import Workload, make_workload
from archsim.models.h2learn import fixed, golden, run_iteration, train
from archsim.models.h2learn.layers import build_layers
from archsim.models.h2learn.params import read_params
from tests.test_h2learn import _scaled, chip, lif, workload

PUBLISHED = Path(__file__).resolve().parents[1] / "chips" / "h2learn.yaml"
SMALL_PES = {"components.fe_lut.count": 3, "components.be_mac.count": 5, "components.wue_lut.count": 4}


def conv(rng, k, c, kernel=3, scale=0.7):
    return Conv2d(rng.normal(0, scale, (k, c, kernel, kernel)), padding=(kernel // 2, kernel // 2))


def residual_net(rng, c=4, hw=4, classes=3, shortcut_from="a", shortcut=True):
    """in -> a (conv) -> b (conv from a [+ identity shortcut from ``shortcut_from``]) -> o (dense), LIF."""
    a = Layer("a", (c, hw, hw), (Projection("in", (conv(rng, c, c),)),), lif())
    projections = (Projection("a", (conv(rng, c, c),)),) + ((Projection(shortcut_from, ()),) if shortcut else ())
    b = Layer("b", (c, hw, hw), projections, lif())
    o = Layer("o", (classes,), (Projection("b", (Flatten(), Dense(rng.normal(0, 0.5, (classes, c * hw * hw))))),),
              lif())
    return Network("res" if shortcut else "plain", {"in": (c, hw, hw)}, [a, b, o], ["o"])


def spikes_of(net, wl, ch, name):
    """The spikes of layer ``name`` (T, B, ...) from the golden forward."""
    params = read_params(ch)
    layers = build_layers(net, params)
    ref = golden.bptt(layers, {"in": (wl.inputs["in"] != 0).astype(np.int64)}, wl.labels, params)
    index = [l.name for l in layers].index(name)
    return ref, layers, index


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), source=st.sampled_from(["a", "in"]), lut=st.booleans(),
       sparsity=st.booleans(), steps=st.integers(1, 3), batch=st.integers(1, 3))
def test_residual_reference_equals_fast_and_golden(seed, source, lut, sparsity, steps, batch):
    rng = np.random.default_rng(seed)
    net = residual_net(rng, c=2, hw=3, shortcut_from=source)
    wl = workload(net, rng, steps=steps, batch=batch, rate=0.5)
    ch = chip(**{"fe.lut": lut, "wue.lut": lut, "be.sparsity": sparsity, "tiling.tile_samples": 2, **SMALL_PES})
    fast, ref = run_iteration(wl, ch, "fast"), run_iteration(wl, ch, "reference")
    assert fast.trace.cycles == ref.trace.cycles
    assert fast.trace.actions == ref.trace.actions
    assert fast.trace.actions_by_layer == ref.trace.actions_by_layer
    assert fast.trace.cycles_breakdown == ref.trace.cycles_breakdown
    assert fast.trace.details["ops"] == ref.trace.details["ops"]
    assert fast.trace.synaptic_ops == ref.trace.synaptic_ops
    want = golden.bptt(build_layers(net, read_params(ch)), {"in": (wl.inputs["in"] != 0).astype(np.int64)},
                       wl.labels, read_params(ch))
    for got_f, got_r, w in zip(fast.dweights, ref.dweights, want.dweight):
        np.testing.assert_array_equal(got_f, w)
        np.testing.assert_array_equal(got_r, w)
    assert fast.loss == pytest.approx(want.loss)


@pytest.mark.parametrize("seed", [0, 1])
def test_shortcut_from_a_relu_layer_adds_its_codes_bit_serially(seed):
    """A ReLU source's 8-bit codes go through the add path one bit plane at a time (shift = the code's
    scale in b's units); reference == fast == golden."""
    rng = np.random.default_rng(seed)
    a = Layer("a", (2, 3, 3), (Projection("in", (conv(rng, 2, 2),)),), ReLU())
    b = Layer("b", (2, 3, 3), (Projection("a", (conv(rng, 2, 2, scale=0.1),)), Projection("a", ())), lif())
    o = Layer("o", (3,), (Projection("b", (Flatten(), Dense(rng.normal(0, 0.5, (3, 18))))),), lif())
    net = Network("relu-res", {"in": (2, 3, 3)}, [a, b, o], ["o"])
    wl = workload(net, rng, steps=2, batch=2, valued=True)
    ch = chip(**{"tiling.tile_samples": 1, **SMALL_PES})
    params = read_params(ch)
    layers = build_layers(net, params, valued_inputs={"in"})
    assert layers[1].shortcuts[0].planes == params.activation_bits and layers[1].shortcuts[0].shift > 0
    fast, ref = run_iteration(wl, ch, "fast"), run_iteration(wl, ch, "reference")
    assert fast.trace.actions == ref.trace.actions and fast.trace.cycles == ref.trace.cycles
    want = golden.bptt(layers, {"in": fixed.quantize_input(wl.inputs["in"], params.activation_bits)}, wl.labels, params)
    for got, w in zip(fast.dweights, want.dweight):
        np.testing.assert_array_equal(got, w)
    codes = want.s[0]
    assert fast.trace.details["ops"]["b"]["shortcut_adds"] == sum(int(((codes >> p) & 1).sum()) for p in range(8)) > 0


def test_identity_shortcut_costs_the_plain_twin_plus_the_add_path():
    """Inference, b the last layer: the twin without the shortcut sees the same spikes of a, so b's FE
    differs by the add path alone, counted here by hand: one FE add per spike of a, the codes written to and
    read from the activation buffer once (64-bit words), read from DRAM once, and cycles of 3 output-stationary
    PEs taking b's neuron-steps in (n, k, e, f) order, a block of 3 lasting 1 cycle if any of its 3 has a spike."""
    rng = np.random.default_rng(11)
    c, hw, steps, batch = 4, 4, 3, 2
    a = Layer("a", (c, hw, hw), (Projection("in", (conv(rng, c, c),)),), lif())
    w_b = conv(rng, c, c)
    nets = {kind: Network(kind, {"in": (c, hw, hw)},
                          [a, Layer("b", (c, hw, hw), (Projection("a", (w_b,)),) + extra, lif())], ["b"])
            for kind, extra in (("res", (Projection("a", ()),)), ("plain", ()))}
    x = (rng.random((steps, batch, c, hw, hw)) < 0.5).astype(np.float32)
    ch = chip(**{"tiling.tile_samples": batch, **SMALL_PES})
    traces = {kind: run_iteration(Workload(kind, net, {"in": x}, steps, batch, "infer", None), ch).trace
              for kind, net in nets.items()}
    a_only = Network("a", {"in": (c, hw, hw)}, [a], ["a"])
    s_a = run_iteration(Workload("a", a_only, {"in": x}, steps, batch, "infer", None), ch).trace.outputs
    spikes = int(s_a.sum())
    assert spikes > 0
    n_bits = steps * batch * c * hw * hw                     # a's codes: one bit per neuron-step
    words = -(-n_bits // 64)
    flat = [int(v) for v in s_a.reshape(-1)]                 # (t, b, k, e, f) = (n, k, e, f) order
    cycles = sum(max(flat[i:i + 3]) for i in range(0, len(flat), 3))
    res, plain = traces["res"], traces["plain"]
    want = json.loads(json.dumps(plain.actions_by_layer["b"]))
    want["fe_adder"]["add"] += spikes
    want["activation_buffer"]["write"] += words
    want["activation_buffer"]["read"] += words
    got = res.actions_by_layer["b"]
    assert {k: v for k, v in got.items() if k != "dram"} == {k: v for k, v in want.items() if k != "dram"}
    assert res.details["ops"]["b"]["dram_bytes"]["spikes"] == plain.details["ops"]["b"]["dram_bytes"]["spikes"] \
        + n_bits // 8
    assert res.actions_by_layer["a"] == plain.actions_by_layer["a"]
    assert res.cycles_breakdown["layer"]["b"]["fe"] == plain.cycles_breakdown["layer"]["b"]["fe"] + cycles
    assert res.details["ops"]["b"]["shortcut_adds"] == spikes and plain.details["ops"]["b"]["shortcut_adds"] == 0
    assert res.synaptic_ops == plain.synaptic_ops            # a shortcut holds no synapse


def test_shortcut_backward_fork_sums_by_hand():
    """Training: a feeds b twice (conv and shortcut), so the second part a receives is a fork sum: one add
    on the BE's index adders per neuron-step of a with an open window (golden u); b's index adders also
    compact its dL/du flags and the window mask of the conv's source (one flag per neuron-step each)."""
    rng = np.random.default_rng(12)
    net = residual_net(rng)
    steps, batch = 3, 4
    wl = workload(net, rng, steps=steps, batch=batch, rate=0.5)
    ch = chip(**{"tiling.tile_samples": 2, **SMALL_PES})
    params = read_params(ch)
    ref, layers, ia = spikes_of(net, wl, ch, "a")
    a = layers[ia]
    open_a = int((np.abs(ref.u[ia] - a.threshold_q) < a.half_window_q).sum())
    trace = run_iteration(wl, ch).trace
    n, size = steps * batch, 4 * 4 * 4
    assert open_a > 0
    assert trace.details["ops"]["b"]["fork_adds"] == open_a
    assert trace.details["ops"]["a"]["fork_adds"] == trace.details["ops"]["o"]["fork_adds"] == 0
    assert trace.actions_by_layer["b"]["be_index"]["add"] == n * size + n * size + open_a
    dense = run_iteration(wl, chip(**{"tiling.tile_samples": 2, "be.sparsity": False, **SMALL_PES})).trace
    assert dense.details["ops"]["b"]["fork_adds"] == n * size     # dense: every neuron-step of a
    assert params.be_sparsity


def float_bptt(layers, x, labels, params):
    """Float64 BPTT (no gradient rounding) of a network of LIF layers fed by projections and identity
    shortcuts, on the accelerator's dequantised weights; the forward keeps the chip's floored decay so both
    see the same spikes. Returns dL/dW per projection, layers in order."""
    steps, batch = x.shape[:2]
    a_w = params.surrogate_width
    acts, us, ss = {"in": x}, [], []
    for layer in layers:
        cur = 0.0
        for p in layer.projections:
            w = p.kernel() * 2.0 ** -layer.exp
            cur = cur + golden.conv_forward(acts[p.source].reshape((-1,) + p.in_shape), _scaled(p, w)).reshape(
                (steps, batch) + layer.out_shape)
        for sc in layer.shortcuts:
            cur = cur + acts[sc.source].reshape((steps, batch) + sc.shape) * 2.0 ** (sc.shift - layer.exp)
        alpha, v = layer.decay_q / 2 ** params.decay_frac_bits, layer.threshold_q * 2.0 ** -layer.exp
        u, s = np.zeros_like(cur), np.zeros_like(cur)
        for t in range(steps):
            prev = u[t - 1] * (1 - s[t - 1]) if t else 0.0
            u[t] = np.floor(alpha * prev * 2.0 ** layer.exp) * 2.0 ** -layer.exp + cur[t]
            s[t] = u[t] > v
        us.append(u)
        ss.append(s)
        acts[layer.name] = s
    counts = ss[-1].reshape(steps, batch, -1).sum(0)
    d_out = {layers[-1].name: np.broadcast_to(((counts / steps - np.eye(counts.shape[1])[labels]) / steps).reshape(
        (1, batch) + layers[-1].out_shape), us[-1].shape)}
    index = {l.name: i for i, l in enumerate(layers)}
    grads = [None] * len(layers)
    for li in range(len(layers) - 1, -1, -1):
        layer, u, s = layers[li], us[li], ss[li]
        alpha, v = layer.decay_q / 2 ** params.decay_frac_bits, layer.threshold_q * 2.0 ** -layer.exp
        ds, du = d_out.get(layer.name, np.zeros_like(u)), np.zeros_like(u)
        for t in range(steps - 1, -1, -1):
            nxt = du[t + 1] if t + 1 < steps else 0.0
            du[t] = (ds[t] - alpha * u[t] * nxt) * (np.abs(u[t] - v) < a_w / 2) / a_w + alpha * (1 - s[t]) * nxt
        flat = du.reshape((steps * batch,) + layer.out_shape)
        grads[li] = [p.reduce_kernel(golden.conv_weight_gradient(flat, acts[p.source], _scaled(p, None)))
                     for p in layer.projections]
        sends = [(p.source, golden.conv_backward(flat, _scaled(p, p.kernel() * 2.0 ** -layer.exp)))
                 for p in layer.projections]
        sends += [(sc.source, du * 2.0 ** (sc.shift - layer.exp)) for sc in layer.shortcuts]
        for source, sums in sends:
            if source in index:
                below = layers[index[source]]
                vb = below.threshold_q * 2.0 ** -below.exp
                part = np.where(np.abs(us[index[source]] - vb) < a_w / 2, sums.reshape(us[index[source]].shape), 0.0)
                d_out[source] = d_out.get(source, 0.0) + part
    return [g for per_layer in grads for g in per_layer]


def test_residual_gradients_close_to_float_bptt():
    """The quantised gradients of a residual network (identity shortcut from a LIF layer) stay close to a
    float BPTT with the same weights, the shortcut's gradient path included."""
    rng = np.random.default_rng(13)
    net = residual_net(rng, c=4, hw=5)
    wl = workload(net, rng, steps=6, batch=8, rate=0.4)
    ch = chip()
    params = read_params(ch)
    layers = build_layers(net, params)
    run = run_iteration(wl, ch)
    want = float_bptt(layers, (wl.inputs["in"] != 0).astype(np.float64), wl.labels, params)
    for name, got, ref in zip(["a", "b", "o"], run.dweights, want):
        assert np.linalg.norm(ref) > 0, name
        err = np.linalg.norm(got * 2.0 ** -params.grad_frac_bits - ref) / np.linalg.norm(ref)
        assert err < 0.05, (name, err)
    twin = build_layers(residual_net(np.random.default_rng(13), c=4, hw=5, shortcut=False), params)
    plain = float_bptt(twin, (wl.inputs["in"] != 0).astype(np.float64), wl.labels, params)
    assert np.linalg.norm(plain[0] - want[0]) > 0.05 * np.linalg.norm(want[0])   # the shortcut's path matters


def test_resnet_digits_trains_on_the_published_design(tmp_path):
    """`archsim run resnet-digits --chip chips/h2learn.yaml --mode train` runs one iteration through both
    residual blocks (an identity and a 1x1 projection shortcut), and iterations applying the accelerator's
    update (weights, tdBN's gamma and beta by tile statistics) lower the loss."""
    out = tmp_path / "r.json"
    assert cli.main(["run", "resnet-digits", "--chip", str(PUBLISHED), "--mode", "train", "--batch", "8",
                     "--gpu", "none", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    ops = result["trace"]["details"]["ops"]
    assert result["cycles"] > 0 and result["energy_pj"] > 0
    assert ops["block1b"]["shortcut_adds"] > 0 and ops["block2b"]["shortcut_adds"] == 0   # block 2: 1x1 conv
    assert ops["block1a"]["fork_adds"] > 0 and ops["block2a"]["fork_adds"] > 0            # both blocks' inputs fork
    assert result["trace"]["details"]["training_macs"]["backward"] > 0
    from workloads import zoo
    net = zoo.build("resnet-digits")
    wl = make_workload(net, batch=16, mode="train", seed=0)
    runs = train(wl, chip(), iterations=4)
    assert sum(p.bn is not None for layer in runs[0].layers for p in layer.projections) == 6   # every tdBN
    losses = [r.loss for r in runs]
    assert min(losses[1:]) < losses[0], losses


def test_shortcut_refusals_name_the_layer():
    rng = np.random.default_rng(14)
    params = read_params(chip())
    a = Layer("a", (2, 4, 4), (Projection("in", (conv(rng, 2, 2),)),), lif())
    other = Layer("b", (3, 4, 4), (Projection("a", (conv(rng, 3, 2),)), Projection("a", ())), lif())
    with pytest.raises(UserError, match=r"layer 'b': an identity shortcut from 'a' of another shape"):
        build_layers(Network("n", {"in": (2, 4, 4)}, [a, other], ["b"]), params)
    valued = Layer("b", (2, 4, 4), (Projection("a", (conv(rng, 2, 2),)), Projection("in", ())), lif())
    with pytest.raises(UserError, match=r"layer 'b': an identity shortcut from 'in' worth .* power of two"):
        build_layers(Network("n", {"in": (2, 4, 4)}, [a, valued], ["b"]), params, valued_inputs={"in"})
    alone = Layer("b", (2, 4, 4), (Projection("a", ()),), lif())
    with pytest.raises(UserError, match=r"layer 'b': a layer fed by identity shortcuts alone"):
        build_layers(Network("n", {"in": (2, 4, 4)}, [a, alone], ["b"]), params)


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_zero_weights_are_not_synaptic_ops_but_cost_the_dense_cycles(mode):
    """A layer whose weights are 90% zeros (one non-zero of 10 output channels per input channel and tap)
    reports 10% of the synaptic operations of its dense twin; the FE (LUTs hold every weight, read by
    input pattern) takes the same cycles and does the same reads."""
    rng = np.random.default_rng(15)
    k, c, hw, steps, batch = 10, 3, 4, 3, 2
    dense_w = rng.choice([-1.0, 1.0], (k, c, 3, 3)) * rng.uniform(0.3, 0.7, (k, c, 3, 3))
    keep = np.zeros((k, c, 3, 3), dtype=bool)
    chosen = rng.integers(0, k, (c, 3, 3))
    for ci, r, s in np.ndindex(c, 3, 3):
        keep[chosen[ci, r, s], ci, r, s] = True
    sparse_w = np.where(keep, dense_w, 0.0)
    x = (rng.random((steps, batch, c, hw, hw)) < 0.4).astype(np.float32)
    labels = rng.integers(0, k * hw * hw, batch) if mode == "train" else None
    traces = {}
    for kind, w in (("dense", dense_w), ("sparse", sparse_w)):
        layer = Layer("l", (k, hw, hw), (Projection("in", (Conv2d(w, padding=(1, 1)),)),), lif())
        net = Network(kind, {"in": (c, hw, hw)}, [layer], ["l"])
        traces[kind] = run_iteration(Workload(kind, net, {"in": x}, steps, batch, mode, labels), chip()).trace
    dense, sparse = traces["dense"], traces["sparse"]
    assert dense.synaptic_ops > 0 and sparse.synaptic_ops * 10 == dense.synaptic_ops
    assert sparse.cycles_breakdown["layer"]["l"]["fe"] == dense.cycles_breakdown["layer"]["l"]["fe"]
    assert sparse.actions_by_layer["l"]["fe_lut"] == dense.actions_by_layer["l"]["fe_lut"]
    assert dense.details["forward_macs"] == dense.details["ops"]["l"]["forward_macs_dense"]
    if mode == "infer":
        assert sparse.cycles == dense.cycles
        assert dense.details["training_macs"] is None
    else:   # training work is reported apart, never in synaptic_ops
        assert dense.details["training_macs"]["update"] == dense.details["ops"]["l"]["update_macs_performed"]
    ops = dense.details["ops"]["l"]
    assert dense.synaptic_ops == ops["forward_macs_performed"]   # dense weights: every reached tap exists
