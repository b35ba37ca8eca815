"""h2learn trains tdBN (threshold-dependent batch norm) by tile statistics: its fixed-point forward and
backward against the trainer's float tdBN (workloads.layers.TdBN), reference == fast == golden (tiled), the
FE's and BE's BN work counted by hand, inference running the folded graph, and gamma and beta learnt."""
from __future__ import annotations

import numpy as np
import pytest

from archsim.graph.network import Layer, Network, Projection
from archsim.graph.workload import Workload
from archsim.models.h2learn import fixed, golden, run_iteration, train
from archsim.models.h2learn.layers import TrainBN, build_layers
from archsim.models.h2learn.params import read_params
from tests.test_h2learn import chip, lif, workload
from tests.test_h2learn_residual import SMALL_PES, conv, residual_net
from workloads.layers import TdBN


def bn_row(rng, projection, channels, alpha=1.0):
    return {"projection": projection, "alpha": alpha, "v_th": 0.25, "eps": 1e-5,
            "gamma": list(rng.uniform(0.5, 1.5, channels) * rng.choice([-1, 1], channels)),
            "beta": list(rng.normal(0, 0.1, channels))}


def bn_residual_net(rng, c=2, hw=3):
    net = residual_net(rng, c=c, hw=hw)
    net.metadata["tdbn"] = {"a": [bn_row(rng, 0, c)], "b": [bn_row(rng, 0, c, alpha=2 ** -0.5)]}
    return net


def test_fixed_point_tdbn_matches_the_trainers_float_tdbn():
    """Currents in membrane units 2^-exp through fixed.bn_forward / bn_backward against TdBN.forward(keep)
    and TdBN.backward on the same real values: outputs within one membrane unit, dL/dx, dL/dgamma and
    dL/dbeta within 1%."""
    rng = np.random.default_rng(21)
    params = read_params(chip())
    exp, threshold_q, k = 7, 32, 3                  # V_th = 32 / 2^7 = 0.25
    x = rng.normal(40, 60, (4, 5, k, 3, 3)).round().astype(np.int64)
    gamma, beta, alpha = rng.uniform(0.5, 1.5, k), rng.normal(0, 0.1, k), 2 ** -0.5
    bn = TrainBN(gamma_q=np.rint(gamma * 2 ** fixed.BN_GAMMA_FRAC_BITS).astype(np.int64),
                 beta_q=np.rint(beta * 2 ** exp).astype(np.int64),
                 alpha_q=int(round(alpha * 2 ** fixed.BN_ALPHA_FRAC_BITS)), eps_q=1e-5 * 4.0 ** exp)
    mean_q, inv_q = fixed.bn_statistics(x, bn.eps_q)
    y, xhat = fixed.bn_forward(x, mean_q, inv_q, bn, threshold_q, params)
    dy = rng.integers(-400, 400, x.shape)
    dx, dgamma, dbeta = fixed.bn_backward(dy, xhat, inv_q, bn, threshold_q, exp, params)

    def nchw(a):   # (T, B, K, E, F) -> (T*B*E*F as N, K) layout the trainer's op takes: (N, K, E, F)
        return a.reshape((-1,) + a.shape[2:])
    op = TdBN(k, v_th=threshold_q * 2.0 ** -exp, alpha=alpha)
    op.params["gamma"], op.params["beta"] = gamma, beta
    op.zero_grad()
    want_y = op.forward(nchw(x) * 2.0 ** -exp, keep=True)
    g = 2.0 ** -params.grad_frac_bits
    want_dx = op.backward(nchw(dy) * g)

    def close(got, want, tol=0.01):
        err = np.linalg.norm(got - want) / np.linalg.norm(want)
        assert err <= tol, err
    assert np.abs(nchw(y) * 2.0 ** -exp - want_y).max() <= 2.0 ** -exp     # within the membrane's one unit
    close(nchw(dx) * g, want_dx)
    close(dgamma * g, op.grads["gamma"])
    close(dbeta * g, op.grads["beta"])


@pytest.mark.parametrize("seed,lut,sparsity,tile", [(0, True, True, 1), (1, False, False, 2), (2, True, False, 3)])
def test_tdbn_reference_equals_fast_and_tiled_golden(seed, lut, sparsity, tile):
    rng = np.random.default_rng(seed)
    net = bn_residual_net(rng)
    wl = workload(net, rng, steps=3, batch=3, rate=0.5)
    ch = chip(**{"fe.lut": lut, "wue.lut": lut, "be.sparsity": sparsity, "tiling.tile_samples": tile, **SMALL_PES})
    fast, ref = run_iteration(wl, ch, "fast"), run_iteration(wl, ch, "reference")
    assert fast.trace.cycles == ref.trace.cycles
    assert fast.trace.actions_by_layer == ref.trace.actions_by_layer
    assert fast.trace.cycles_breakdown == ref.trace.cycles_breakdown
    params = read_params(ch)
    layers = build_layers(net, params, batch_norm=True)
    assert [p.bn is not None for l in layers for p in l.projections] == [True, True, False]
    want = golden.bptt(layers, {"in": (wl.inputs["in"] != 0).astype(np.int64)}, wl.labels, params, tile_samples=tile)
    for got_f, got_r, w in zip(fast.dweights, ref.dweights, want.dweight):
        np.testing.assert_array_equal(got_f, w)
        np.testing.assert_array_equal(got_r, w)
    for got_f, got_r, w in zip(fast.dbn, ref.dbn, want.dbn):
        assert (got_f is None) == (w is None) == (got_r is None)
        if w is not None:
            for a, b, c in zip(got_f, got_r, w):
                np.testing.assert_array_equal(a, c)
                np.testing.assert_array_equal(b, c)
    assert any(np.any(d[0] != 0) for d in want.dbn if d is not None)


def test_tdbn_work_by_hand_and_inference_runs_folded():
    """One layer with tdBN fed by the input, one tile: against its twin without tdBN (the same FE synaptic
    work) the FE adds 3 multiplies and 4 adds per neuron-step and two passes of the neuron lanes; the BE's
    whole work is its gradient unit plus the BN backward (4 multiplies, 5 adds, 2 lane passes, dL/dy read
    twice, dL/dx written); inference ignores the metadata (the folded graph)."""
    rng = np.random.default_rng(22)
    k, c, hw, steps, batch = 3, 2, 4, 3, 2
    layer = Layer("l", (k, hw, hw), (Projection("in", (conv(rng, k, c),)),), lif())
    x = (rng.random((steps, batch, c, hw, hw)) < 0.5).astype(np.float32)
    labels = rng.integers(0, k * hw * hw, batch)
    nets = {kind: Network(kind, {"in": (c, hw, hw)}, [layer], ["l"]) for kind in ("bn", "plain")}
    nets["bn"].metadata["tdbn"] = {"l": [bn_row(rng, 0, k)]}
    ch = chip(**{"tiling.tile_samples": batch})
    params = read_params(ch)
    runs = {kind: run_iteration(Workload(kind, net, {"in": x}, steps, batch, "train", labels), ch).trace
            for kind, net in nets.items()}
    e = steps * batch * k * hw * hw
    words = lambda bits: -(-bits // 64)     # noqa: E731  64-bit buffer words
    bn, plain = runs["bn"].actions_by_layer["l"], runs["plain"].actions_by_layer["l"]
    assert bn["fe_neuron_mul"]["multiply"] == plain["fe_neuron_mul"]["multiply"] + 3 * e
    assert bn["fe_adder"]["add"] == plain["fe_adder"]["add"] + 4 * e
    assert bn["activation_buffer"]["write"] == plain["activation_buffer"]["write"] + words(e * params.membrane_bits)
    lanes = lambda n, width: -(-n // width)     # noqa: E731
    fe_bn, fe_plain = (runs[kind].cycles_breakdown["layer"]["l"]["fe"] for kind in ("bn", "plain"))
    assert fe_bn == fe_plain + 2 * lanes(e, params.fe_neuron_lanes)
    assert bn["be_unit_mul"]["multiply"] == 3 * e + 4 * e
    assert bn["be_index"]["add"] == e + 5 * e                    # dL/du flags, then the BN backward's adds
    assert bn["gradient_buffer"]["read"] - words(e * params.grad_bits) == 2 * words(e * params.grad_bits) \
        and bn["gradient_buffer"]["write"] == 2 * words(e * params.grad_bits)   # the WUE's read, the unit's write
    assert runs["bn"].cycles_breakdown["layer"]["l"]["be"] == lanes(e, params.be_neuron_lanes) \
        + lanes(e, params.be_index_lanes) + 2 * lanes(e, params.be_neuron_lanes)
    assert runs["bn"].details["ops"]["l"]["bn_elements"] == e
    infer = {kind: run_iteration(Workload(kind, net, {"in": x}, steps, batch, "infer", None), ch).trace
             for kind, net in nets.items()}
    assert infer["bn"].actions == infer["plain"].actions
    np.testing.assert_array_equal(infer["bn"].outputs, infer["plain"].outputs)


def test_gamma_and_beta_are_learnt():
    rng = np.random.default_rng(23)
    net = bn_residual_net(rng, c=3, hw=4)
    wl = workload(net, rng, steps=4, batch=6, rate=0.5)
    runs = train(wl, chip(), iterations=3)
    first = build_layers(net, read_params(chip()), batch_norm=True)
    moved = [np.any(a.bn.gamma_q != b.bn.gamma_q) or np.any(a.bn.beta_q != b.bn.beta_q)
             for la, lb in zip(first, runs[-1].layers) for a, b in zip(la.projections, lb.projections) if a.bn]
    assert moved == [True, True]


def test_folded_export_normalised_again_equals_the_trainers_training_forward():
    """resnet-digits' stem (a gamma made negative, running statistics moved): the exported graph carries
    the tdBN folded at its running statistics; normalising its current by batch statistics with |gamma|
    gives the trainer's training-mode tdBN output (within the 8-bit weights' rounding)."""
    from workloads import export, zoo
    model = zoo.make_model("resnet-digits", seed=3)
    rng = np.random.default_rng(24)
    x = rng.integers(0, 256, (4, 6, 1, 8, 8)) / 255.0          # codes of 8-bit pixels: exact on the chip
    path = model.stages[0].projections[0]
    conv_op, bn_op = path.ops
    bn_op.params["gamma"][:3] = [-0.8, 1.3, 0.6]
    bn_op.params["beta"][:3] = [0.1, -0.2, 0.05]
    bn_op.forward(conv_op.forward(x.reshape(24, 1, 8, 8)) + 0.3, keep=True)   # running statistics off their start
    want = bn_op.forward(conv_op.forward(x.reshape(24, 1, 8, 8)), keep=True)
    network = export.to_network(model)
    params = read_params(chip())
    layer = build_layers(network, params, valued_inputs={"input"}, batch_norm=True)[0]
    proj = layer.projections[0]
    cur = golden.conv_forward(fixed.quantize_input(x, params.activation_bits).reshape(24, 1, 8, 8), proj)
    cur = cur.reshape((4, 6) + layer.out_shape)
    y, _ = fixed.bn_forward(cur, *fixed.bn_statistics(cur, proj.bn.eps_q), proj.bn, layer.threshold_q, params)
    got = y.reshape(want.shape) * 2.0 ** -layer.exp
    assert np.linalg.norm(got - want) <= 0.02 * np.linalg.norm(want)
    assert layer.bias_q is None                               # the folded bias is dropped: beta replaces it
