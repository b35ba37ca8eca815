"""h2learn: gradients vs the golden quantised BPTT, reference steppers vs the fast path, ablations,
arithmetic op counts, and one-line errors for bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from archsim.config import load_chip
from archsim.cost import shared_actions
from archsim.errors import UserError
from archsim.graph.network import (LIF, AvgPool2d, Conv2d, Dense, Flatten, Identity, Layer, Network, Projection,
                                   ReLU)
from archsim.graph.workload import Workload
from archsim.models.h2learn import fixed, golden, run_iteration, simulate, train
from archsim.models.h2learn.layers import build_layers
from archsim.models.h2learn.params import read_params

CHIP = Path(__file__).resolve().parents[1] / "chips" / "h2learn-edge.yaml"


def lif(decay=0.25, threshold=0.25):
    return LIF(decay=np.float64(decay), threshold=np.float64(threshold))


def conv_net(rng, c_in=2, hw=6, c1=4, c2=3, classes=3, pool=True):
    """conv3x3(pad 1) -> [avgpool2 ->] flatten -> dense -> dense, LIF everywhere."""
    w1 = rng.normal(0, 0.6, (c1, c_in, 3, 3))
    conv = Layer("conv", (c1, hw, hw), (Projection("in", (Conv2d(w1, padding=(1, 1)),)),), lif())
    side = hw // 2 if pool else hw
    ops = ((AvgPool2d((2, 2), (2, 2)),) if pool else ()) + (Flatten(), Dense(rng.normal(0, 0.5, (c2 * 4, c1 * side * side))))
    fc = Layer("fc", (c2 * 4,), (Projection("conv", ops),), lif())
    out = Layer("out", (classes,), (Projection("fc", (Dense(rng.normal(0, 0.5, (classes, c2 * 4))),)),), lif())
    return Network("tiny-conv", {"in": (c_in, hw, hw)}, [conv, fc, out], ["out"])


def workload(net, rng, steps=4, batch=3, rate=0.3, mode="train", valued=False):
    shape = (steps, batch) + tuple(net.inputs["in"])
    x = rng.random(shape) if valued else (rng.random(shape) < rate).astype(np.float32)
    labels = rng.integers(0, net.layers[-1].size, batch)
    return Workload(net.name, net, {"in": x}, steps, batch, mode, labels)


def chip(**over):
    c = load_chip(CHIP)
    return c.with_overrides(over) if over else c


def test_gradients_equal_golden_bptt():
    rng = np.random.default_rng(1)
    net = conv_net(rng)
    wl = workload(net, rng, steps=5, batch=5)
    ch = chip(**{"tiling.tile_samples": 2})
    run = run_iteration(wl, ch)
    params = read_params(ch)
    layers = build_layers(net, params)
    x_q = (wl.inputs["in"] != 0).astype(np.int64)
    ref = golden.bptt(layers, {"in": x_q}, wl.labels, params)
    assert any(np.any(d != 0) for d in ref.dweight)
    for got, want in zip(run.dweights, ref.dweight):
        np.testing.assert_array_equal(got, want)
    assert run.loss == pytest.approx(ref.loss)


def test_gradients_close_to_float_stbp():
    """Quantised gradients stay close to float STBP on the same (dequantised) weights."""
    rng = np.random.default_rng(2)
    net = conv_net(rng, pool=False)
    wl = workload(net, rng, steps=6, batch=8, rate=0.4)
    ch = chip()
    params = read_params(ch)
    layers = build_layers(net, params)
    run = run_iteration(wl, ch)
    x = (wl.inputs["in"] != 0).astype(np.float64)
    want = float_stbp(layers, x, wl.labels, params)
    for layer, got, ref in zip(layers, run.dweights, want):
        got_real = got * 2.0 ** -params.grad_frac_bits
        err = np.linalg.norm(got_real - ref) / max(np.linalg.norm(ref), 1e-12)
        assert err < 0.05, (layer.name, err)


def test_relu_gradients_close_to_float():
    """A ReLU layer on valued input under a LIF layer: its quantised gradients stay close to float."""
    rng = np.random.default_rng(21)
    ann = Layer("ann", (24,), (Projection("in", (Dense(rng.normal(0, 0.5, (24, 16))),)),), ReLU())
    out = Layer("out", (3,), (Projection("ann", (Dense(rng.normal(0, 0.6, (3, 24))),)),), lif())
    net = Network("relu", {"in": (16,)}, [ann, out], ["out"])
    steps, batch = 6, 8
    x = rng.random((steps, batch, 16))
    wl = Workload("relu", net, {"in": x}, steps, batch, "train", rng.integers(0, 3, batch))
    ch = chip()
    params = read_params(ch)
    layers = build_layers(net, params, valued_inputs={"in"})
    run = run_iteration(wl, ch)
    want = float_stbp(layers, fixed.quantize_input(x, params.activation_bits).astype(np.float64), wl.labels, params)
    for layer, got, ref in zip(layers, run.dweights, want):
        assert np.linalg.norm(ref) > 0, layer.name
        err = np.linalg.norm(got * 2.0 ** -params.grad_frac_bits - ref) / np.linalg.norm(ref)
        assert err < 0.05, (layer.name, err)


def float_stbp(layers, x, labels, params):
    """Float64 STBP backward (no gradient rounding) with the accelerator's dequantised weights, for a chain
    of LIF and ReLU layers.

    The forward keeps the chip's floored decay and ReLU output codes so both runs see the same spikes and
    codes: the bound measures the gradient arithmetic, not flips from the forward format."""
    steps, batch = x.shape[:2]
    a = params.surrogate_width
    acts, us, ss = [], [], []
    for layer in layers:
        proj = layer.projections[0]
        w = proj.kernel() * 2.0 ** -layer.exp
        alpha = layer.decay_q / 2 ** params.decay_frac_bits
        v = layer.threshold_q * 2.0 ** -layer.exp
        acts.append(x)
        cur = golden.conv_forward(x.reshape((-1,) + proj.in_shape), _scaled(proj, w)).astype(np.float64)
        cur = cur.reshape((steps, batch) + layer.out_shape)
        u = np.zeros_like(cur)
        s = np.zeros_like(cur)
        if layer.relu:   # codes, as the chip (u is exact: integer currents in 2^-exp)
            u = cur
            s = fixed.neuron_step(layer, None, None, np.rint(cur * 2.0 ** layer.exp).astype(np.int64), params)[1]
        for t in range(0 if layer.relu else steps):
            prev = u[t - 1] * (1 - s[t - 1]) if t else 0.0
            u[t] = np.floor(alpha * prev * 2.0 ** layer.exp) * 2.0 ** -layer.exp + cur[t]
            s[t] = u[t] > v
        us.append(u)
        ss.append(s)
        x = s
    counts = ss[-1].reshape(steps, batch, -1).sum(0)
    onehot = np.eye(counts.shape[1])[labels]
    ds = np.broadcast_to(((counts / steps - onehot) / steps).reshape((1, batch) + layers[-1].out_shape),
                         (steps, batch) + layers[-1].out_shape)
    grads = [None] * len(layers)
    for li in range(len(layers) - 1, -1, -1):
        layer = layers[li]
        proj = layer.projections[0]
        alpha = layer.decay_q / 2 ** params.decay_frac_bits
        v = layer.threshold_q * 2.0 ** -layer.exp
        u, s = us[li], ss[li]
        du = np.array(ds, dtype=np.float64) if layer.relu else np.zeros_like(u)   # ReLU: ds is already dL/du
        for t in range(-1 if layer.relu else steps - 1, -1, -1):
            nxt = du[t + 1] if t + 1 < steps else 0.0
            total = ds[t] - alpha * u[t] * nxt
            du[t] = total * (np.abs(u[t] - v) < a / 2) / a + alpha * (1 - s[t]) * nxt
        flat = du.reshape((steps * batch,) + layer.out_shape)
        grads[li] = proj.reduce_kernel(golden.conv_weight_gradient(flat, acts[li], _scaled(proj, None)))
        if li:
            below = layers[li - 1]
            vb = below.threshold_q * 2.0 ** -below.exp
            w = proj.kernel() * 2.0 ** -layer.exp
            sums = golden.conv_backward(flat, _scaled(proj, w)).reshape(us[li - 1].shape)
            if below.relu:   # dL/d(code) -> dL/du: code scale 2^(exp - relu_shift), ReLU derivative u > 0
                ds = np.where(us[li - 1] > 0, sums * 2.0 ** (below.exp - below.relu_shift), 0.0)
            else:
                ds = np.where(np.abs(us[li - 1] - vb) < a / 2, sums, 0.0)
    return grads


class _scaled:
    """A projection view whose kernel() is a float array (for the float reference only)."""

    def __init__(self, layer, kernel):
        self._layer, self._kernel = layer, kernel

    def __getattr__(self, name):
        return getattr(self._layer, name)

    def kernel(self):
        return self._kernel if self._kernel is not None else self._layer.kernel()


def test_training_iterations_lower_the_loss():
    rng = np.random.default_rng(3)
    net = conv_net(rng, pool=False)
    wl = workload(net, rng, steps=6, batch=8, rate=0.4)
    runs = train(wl, chip(), iterations=6)
    losses = [r.loss for r in runs]
    assert min(losses[1:]) < losses[0], losses


def small_layer_case(draw_seed, c, hw, k, kernel, stride, pad, steps, batch, planes_valued, hybrid=False):
    """in -> a (1x1 conv) -> b (conv); with ``hybrid`` a is a ReLU layer and b has a second projection
    straight from the input (the same geometry), so b sums two currents and sends gradients to a only."""
    rng = np.random.default_rng(draw_seed)
    w = rng.normal(0, 0.7, (k, c, kernel, kernel))
    first = Layer("a", (c, hw, hw), (Projection("in", (Conv2d(rng.normal(0, 0.7, (c, c, 1, 1))),)),),
                  ReLU() if hybrid else lif())
    conv = Conv2d(w, stride=(stride, stride), padding=(pad, pad))
    out_shape = conv.output_shape((c, hw, hw))
    projections = (Projection("a", (conv,)),)
    if hybrid:
        skip = Conv2d(rng.normal(0, 0.7, (k, c, kernel, kernel)), stride=(stride, stride), padding=(pad, pad))
        projections += (Projection("in", (skip,)),)
    second = Layer("b", out_shape, projections, lif())
    net = Network("case", {"in": (c, hw, hw)}, [first, second], ["b"])
    return net, workload(net, rng, steps=steps, batch=batch, rate=0.5, valued=planes_valued)


@settings(max_examples=16, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.integers(1, 5), hw=st.integers(2, 5), k=st.integers(1, 4),
       kernel=st.integers(1, 3), stride=st.integers(1, 2), pad=st.integers(0, 1), steps=st.integers(1, 4),
       batch=st.integers(1, 3), lut=st.booleans(), sparsity=st.booleans(), group=st.integers(1, 4),
       wue_steps=st.integers(1, 4), valued=st.booleans(), hybrid=st.booleans())
def test_reference_steppers_equal_fast_path(seed, c, hw, k, kernel, stride, pad, steps, batch, lut, sparsity,
                                            group, wue_steps, valued, hybrid):
    if kernel > hw + 2 * pad:
        kernel = 1
    net, wl = small_layer_case(seed, c, hw, k, kernel, stride, pad, steps, batch, valued, hybrid)
    ch = chip(**{"fe.lut": lut, "wue.lut": lut, "be.sparsity": sparsity, "fe.lut_group": group,
                 "wue.lut_steps": wue_steps, "tiling.tile_samples": 2,
                 "components.fe_lut.count": 3, "components.be_mac.count": 5, "components.wue_lut.count": 4})
    fast = run_iteration(wl, ch, "fast")
    ref = run_iteration(wl, ch, "reference")
    assert fast.trace.cycles == ref.trace.cycles
    assert fast.trace.actions == ref.trace.actions
    assert fast.trace.actions_by_layer == ref.trace.actions_by_layer
    assert fast.trace.synaptic_ops == ref.trace.synaptic_ops
    assert fast.trace.cycles_breakdown == ref.trace.cycles_breakdown
    assert fast.trace.details["pe_blocks"] == ref.trace.details["pe_blocks"]
    assert all(v["busiest_cycles"] >= v["even_cycles"] for v in fast.trace.details["pe_blocks"].values())
    for a, b in zip(fast.dweights, ref.dweights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast.trace.outputs, ref.trace.outputs)


def dense_case(rate, steps=3, batch=4, n_in=32, n_hidden=16, n_out=4, seed=5):
    rng = np.random.default_rng(seed)
    l1 = Layer("h", (n_hidden,), (Projection("in", (Dense(rng.normal(0, 0.4, (n_hidden, n_in))),)),), lif())
    l2 = Layer("o", (n_out,), (Projection("h", (Dense(rng.normal(0, 0.6, (n_out, n_hidden))),)),), lif())
    net = Network("dense", {"in": (n_in,)}, [l1, l2], ["o"])
    return net, workload(net, rng, steps=steps, batch=batch, rate=rate)


def test_forward_op_counts_equal_the_arithmetic():
    """All-ones input, no padding: FE adds (LUT off) = K*C*R^2*E^2*T*B, zero weights included; synaptic ops =
    non-zero weights x E^2*T*B; LUT reads = K*R^2*E^2*T*B*ceil(C/k)."""
    rng = np.random.default_rng(7)
    k, c, r, hw, steps, batch = 5, 6, 3, 6, 2, 3
    conv = Conv2d(rng.normal(0, 0.3, (k, c, r, r)))
    e = conv.output_shape((c, hw, hw))[1]
    layer = Layer("c", (k, e, e), (Projection("in", (conv,)),), lif())
    net = Network("one", {"in": (c, hw, hw)}, [layer], ["c"])
    x = np.ones((steps, batch, c, hw, hw))
    wl = Workload("one", net, {"in": x}, steps, batch, "infer", None)
    plain = simulate(wl, chip(**{"fe.lut": False}))
    assert plain.actions["fe_adder"]["add"] == k * c * r * r * e * e * steps * batch
    stored = int(np.count_nonzero(build_layers(net, read_params(chip()))[0].projections[0].weight_q))
    assert 0 < stored < k * c * r * r            # some small weights round to zero: they are no synapse
    assert plain.synaptic_ops == stored * e * e * steps * batch
    group = 4
    lut = simulate(wl, chip(**{"fe.lut_group": group}))
    assert lut.actions["fe_lut"]["read"] == k * r * r * e * e * steps * batch * -(-c // group)
    tables = k * r * r * -(-c // group)
    assert lut.actions["fe_lut"]["write"] == tables * 2 ** group
    assert lut.actions["fe_adder"]["add"] == tables * (2 ** group - group - 1) + lut.actions["fe_lut"]["read"]
    # a ReLU layer (its inputs are codes; here 0b10110001, four set bits): one shift-and-add per set bit, no LUT
    from archsim.models.h2learn import engines
    relu = Layer("c", (k, e, e), (Projection("in", (conv,)),), ReLU())
    readout = Layer("o", (2,), (Projection("c", (Flatten(), Dense(rng.normal(0, 0.3, (2, k * e * e))))),), lif())
    net = Network("ann", {"in": (c, hw, hw)}, [relu, readout], ["o"])
    params = read_params(chip())
    layer = build_layers(net, params, valued_inputs={"in"})[0]
    codes = np.full((steps, batch, c, hw, hw), 0b1011_0001)
    work = engines.fe_work(layer.projections[0], codes, engines.fe_uses_lut(layer, params), params)
    assert "fe_lut" not in work.actions
    assert work.actions["fe_adder"]["add"] == k * c * r * r * e * e * steps * batch * 4


def test_dense_backward_macs_equal_the_arithmetic():
    net, wl = dense_case(0.5)
    trace = simulate(wl, chip(**{"be.sparsity": False}))
    sp = trace.details["sparsity"]
    assert trace.actions["be_mac"]["mac"] == 4 * 16 * 3 * 4     # out x hidden x T x B, only the top layer
    macs = trace.details["backward_macs"]
    assert macs["o"]["performed"] == macs["o"]["dense"] == 4 * 16 * 3 * 4
    assert sp["o"]["skipped_backward_mac_fraction"] == 0.0 and "skipped_backward_mac_fraction" not in sp["h"]


def test_ablations_move_cycles_the_expected_way():
    # sparsity pays once W^T dL/du outweighs finding the non-zeros (64 flags a cycle): here 256 x 64 MACs
    # per sample-step against 320 flags
    net, wl = dense_case(0.05, steps=6, batch=8, n_in=256, n_hidden=256, n_out=64)
    base = simulate(wl, chip())
    assert simulate(wl, chip(**{"be.sparsity": False})).cycles_breakdown["engine"]["be"] > \
        base.cycles_breakdown["engine"]["be"]
    assert simulate(wl, chip(pipeline=False)).cycles > base.cycles
    # on a tiny layer the index generator costs more than the MACs it saves
    net, wl = dense_case(0.05, steps=6, batch=8, n_in=256, n_hidden=64, n_out=8)
    assert simulate(wl, chip(**{"be.sparsity": False})).cycles_breakdown["engine"]["be"] < \
        simulate(wl, chip()).cycles_breakdown["engine"]["be"]
    # dense spikes (every input fires): a group of k spikes costs one LUT read instead of k adds
    net, wl = dense_case(1.0, steps=6, batch=8, n_in=256, n_hidden=64, n_out=8)
    lut_on = simulate(wl, chip(**{"tiling.tile_samples": 8}))
    lut_off = simulate(wl, chip(**{"fe.lut": False, "tiling.tile_samples": 8}))
    assert lut_off.cycles_breakdown["engine"]["fe"] > lut_on.cycles_breakdown["engine"]["fe"]
    # the WUE's table over T = 6 steps of dL/du: one read per input with any spike replaces up to 6 adds
    wue_off = simulate(wl, chip(**{"wue.lut": False, "tiling.tile_samples": 8}))
    assert wue_off.cycles_breakdown["engine"]["wue"] > lut_on.cycles_breakdown["engine"]["wue"]
    # twice the PEs: each block of 2P entries is two blocks of P, so no engine's blocked phases get slower,
    # and none is ever faster than its items spread evenly
    net, wl = small_layer_case(11, 3, 5, 4, 3, 1, 1, 4, 4, False)
    counts = {"components.fe_lut.count": 8, "components.be_mac.count": 8, "components.wue_lut.count": 8}
    few = simulate(wl, chip(**counts)).details["pe_blocks"]
    many = simulate(wl, chip(**{key: 2 * v for key, v in counts.items()})).details["pe_blocks"]
    for engine in ("fe", "be", "wue"):
        assert many[engine]["busiest_cycles"] <= few[engine]["busiest_cycles"]
        assert few[engine]["busiest_cycles"] >= few[engine]["even_cycles"] > 0


def test_trace_reports_engines_sparsity_and_timeline():
    net, wl = dense_case(0.3)
    trace = simulate(wl, chip(**{"tiling.tile_samples": 2}))
    d = trace.details
    assert set(d["utilisation"]) == {"fe", "be", "wue"} and all(0 < v <= 1 for v in d["utilisation"].values())
    assert {row[0] for row in d["timeline"]} == {"fe", "be", "wue"}
    for row in d["sparsity"].values():   # the report draws these as "zeros [%]": fractions only
        assert row and all(isinstance(v, float) and 0 <= v <= 1 for v in row.values())
    assert d["sparsity"]["o"]["du_zero_fraction"] < 1
    assert d["sparsity"]["h"]["input_zero_fraction"] == pytest.approx(1 - np.count_nonzero(wl.inputs["in"]) / wl.inputs["in"].size)
    assert trace.actions["dram"]["read"] > 0 and trace.cycles > 0
    assert trace.outputs.shape == (3, 4, 4)


def test_bad_input_fails_with_one_line():
    net, wl = dense_case(0.3)
    wl.batch = 0
    with pytest.raises(UserError, match="batch 0"):
        simulate(wl, chip())
    rng = np.random.default_rng(0)
    linear = Layer("r", (4,), (Projection("in", (Dense(rng.normal(size=(4, 8))),)),), Identity())
    net = Network("ann", {"in": (8,)}, [linear], ["r"])
    with pytest.raises(UserError, match="layer 'r': a Identity neuron cannot be trained") as err:
        simulate(workload_flat(net), chip())
    assert "\n" not in str(err.value)
    relu = Layer("r", (4,), (Projection("in", (Dense(rng.normal(size=(4, 8))),)),), ReLU())
    net = Network("ann", {"in": (8,)}, [relu], ["r"])
    with pytest.raises(UserError, match="must be the last layer 'r' alone, a LIF or LI read-out"):
        simulate(workload_flat(net), chip())
    rec = Layer("h", (4,), (Projection("h", (Dense(rng.normal(size=(4, 4))),), recurrent=True),), lif())
    net = Network("rec", {"in": (8,)}, [rec], ["h"])
    with pytest.raises(UserError, match="recurrent projection"):
        simulate(workload_flat(net), chip())
    net, wl = dense_case(0.3)
    with pytest.raises(UserError, match="activation_buffer.size_kb"):
        simulate(wl, chip(**{"components.activation_buffer.size_kb": 0.001}))


def workload_flat(net, steps=2, batch=2):
    x = np.ones((steps, batch) + tuple(net.inputs["in"]))
    return Workload(net.name, net, {"in": x}, steps, batch, "train", np.zeros(batch, dtype=np.int64))


def readout_net(rng):
    """dense LIF -> dense LI integrator read-out (the zoo's shape)."""
    from archsim.graph.network import LI
    h = Layer("h", (12,), (Projection("in", (Dense(rng.normal(0, 0.5, (12, 20))),)),), lif())
    o = Layer("o", (3,), (Projection("h", (Dense(rng.normal(0, 0.5, (3, 12))),)),), LI(decay=np.float64(1.0)))
    return Network("readout", {"in": (20,)}, [h, o], ["o"])


def test_readout_gradients_equal_golden_and_training_lowers_loss():
    rng = np.random.default_rng(11)
    net = readout_net(rng)
    wl = Workload("readout", net, {"in": rng.random((4, 6, 20))}, 4, 6, "train", rng.integers(0, 3, 6))
    ch = chip(**{"tiling.tile_samples": 4})
    params = read_params(ch)
    layers = build_layers(net, params, valued_inputs={"in"})
    x_q = np.clip(np.rint(wl.inputs["in"] * 255), 0, 255).astype(np.int64)
    ref = golden.bptt(layers, {"in": x_q}, wl.labels, params)
    run = run_iteration(wl, ch)
    for got, want in zip(run.dweights, ref.dweight):
        np.testing.assert_array_equal(got, want)
    losses = [r.loss for r in train(wl, ch, iterations=5)]
    assert min(losses[1:]) < losses[0], losses


def test_reference_equals_fast_on_pooled_conv_net():
    rng = np.random.default_rng(4)
    net = conv_net(rng, hw=4, c1=3, c2=2)
    wl = workload(net, rng, steps=3, batch=2)
    ch = chip(**{"components.fe_lut.count": 7, "components.be_mac.count": 3})
    fast, ref = run_iteration(wl, ch, "fast"), run_iteration(wl, ch, "reference")
    assert (fast.trace.cycles, fast.trace.actions) == (ref.trace.cycles, ref.trace.actions)
    for a, b in zip(fast.dweights, ref.dweights):
        np.testing.assert_array_equal(a, b)


def hybrid_net(rng):
    """Two inputs (frames as values, events as spikes); a ReLU conv on the frames, a LIF conv on the events,
    a LIF layer fed by both (two projections), and a read-out fed by that layer and by the ReLU layer (so
    the ReLU layer's gradient is the sum of two consumers')."""
    from archsim.graph.network import LI
    ann = Layer("ann", (3, 4, 4), (Projection("frames", (Conv2d(rng.normal(0, 0.5, (3, 1, 3, 3)),
                                                              bias=rng.normal(0, 0.1, 3), stride=(2, 2),
                                                              padding=(1, 1)),)),), ReLU())
    snn = Layer("snn", (3, 4, 4), (Projection("events", (Conv2d(rng.normal(0, 0.8, (3, 2, 3, 3)), stride=(2, 2),
                                                               padding=(1, 1)),)),), lif())
    fuse = Layer("fuse", (4, 4, 4), (Projection("ann", (Conv2d(rng.normal(0, 0.6, (4, 3, 3, 3)), padding=(1, 1)),)),
                                     Projection("snn", (Conv2d(rng.normal(0, 0.6, (4, 3, 3, 3)), padding=(1, 1)),))),
                 lif())
    out = Layer("out", (3,), (Projection("fuse", (Flatten(), Dense(rng.normal(0, 0.4, (3, 64))))),
                              Projection("ann", (AvgPool2d((2, 2), (2, 2)), Flatten(), Dense(rng.normal(0, 0.4, (3, 12)))))),
                LI(decay=np.float64(1.0)))
    return Network("hybrid", {"frames": (1, 8, 8), "events": (2, 8, 8)}, [ann, snn, fuse, out], ["out"])


def test_hybrid_gradients_equal_golden_and_training_lowers_loss():
    """ReLU layers, a two-projection layer, a source with two consumers and two network inputs."""
    rng = np.random.default_rng(12)
    net = hybrid_net(rng)
    steps, batch = 4, 5
    frames = rng.random((steps, batch, 1, 8, 8))
    events = (rng.random((steps, batch, 2, 8, 8)) < 0.3).astype(np.float64)
    wl = Workload("hybrid", net, {"frames": frames, "events": events}, steps, batch, "train", rng.integers(0, 3, batch))
    ch = chip(**{"tiling.tile_samples": 2})
    params = read_params(ch)
    layers = build_layers(net, params, valued_inputs={"frames"})
    assert [l.kind for l in layers] == ["relu", "lif", "lif", "readout"]
    x_q = {"frames": np.clip(np.rint(frames * 255), 0, 255).astype(np.int64), "events": events.astype(np.int64)}
    ref = golden.bptt(layers, x_q, wl.labels, params)
    run = run_iteration(wl, ch)
    assert len(run.dweights) == 6
    assert all(np.any(d != 0) for d in ref.dweight), [float(np.abs(d).sum()) for d in ref.dweight]
    for got, want in zip(run.dweights, ref.dweight):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(run.dbiases[0], ref.dbias[0])
    assert run.loss == pytest.approx(ref.loss)
    assert 0 < ref.s[0].max() <= 255 and ref.s[0].dtype == np.int64     # ReLU codes, not spikes
    infer = Workload("hybrid", net, wl.inputs, steps, batch, "infer", None)
    fe_cycles = [simulate(infer, chip(**{"fe.lut": lut})).cycles_breakdown["layer"] for lut in (True, False)]
    assert fe_cycles[0]["ann"]["fe"] == fe_cycles[1]["ann"]["fe"]       # the ANN layer never uses the LUTs
    assert fe_cycles[0]["snn"]["fe"] != fe_cycles[1]["snn"]["fe"]
    losses = [r.loss for r in train(wl, ch, iterations=5)]
    assert min(losses[1:]) < losses[0], losses



def test_every_zoo_network_builds_and_the_hybrid_tracker_trains():
    """Every zoo network maps to trainable layers (a residual block's identity shortcut included); the hybrid
    one (two inputs, ReLU branch, fused layer) runs one training iteration with non-zero gradients through
    the fused layer's two projections."""
    from archsim.graph.workload import make_workload
    from workloads import zoo
    from archsim.graph.quantize import input_is_valued
    params = read_params(chip())
    for name in zoo.names():
        net = zoo.build(name)
        valued = {n for n in net.inputs if input_is_valued(net, n)}
        assert [l.name for l in build_layers(net, params, valued_inputs=valued)] == [l.name for l in net.layers]
    net = zoo.build("hybrid-tracker")
    wl = make_workload(net, steps=2, batch=2, mode="train", seed=0)
    run = run_iteration(wl, chip())
    kinds = {l.name: l.kind for l in run.layers}
    fuse = [l.name for l in run.layers].index("fuse")
    assert kinds["ann1"] == kinds["ann2"] == "relu" and len(run.layers[fuse].projections) == 2
    assert run.trace.cycles > 0 and np.isfinite(run.loss)
    assert np.any(run.dweights[fuse] != 0)    # fuse <- ann2


def test_per_layer_actions_add_up_to_the_run_with_control_and_dram_rounding_shared():
    net, wl = dense_case(0.4)
    trace = run_iteration(wl, chip(), "fast").trace
    assert list(trace.actions_by_layer) == ["h", "o"]
    for name in ("h", "o"):
        assert trace.actions_by_layer[name]["dram"]["read"] > 0
    shared = shared_actions(trace)
    assert shared.pop("control") == trace.actions["control"]
    assert set(shared) <= {"dram"}
    for action, words in shared.get("dram", {}).items():     # at most one rounded-down word per layer
        assert 0 < words <= len(trace.actions_by_layer)
    be = sum(trace.actions_by_layer[n].get("be_mac", {}).get("mac", 0) for n in ("h", "o"))
    assert be == trace.actions["be_mac"]["mac"]
