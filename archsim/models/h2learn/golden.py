"""Golden model: quantised BPTT of one training iteration in plain NumPy, the accelerator's specification.

Straightforward on purpose: the synaptic sums are loops over kernel taps with integer ``einsum`` over the
whole batch, no tiling, no LUTs, no skipping. A layer's current is the sum over its projections (plus its
bias) and its identity shortcuts' codes (shifted); its dL/du flows back through each projection, then
each shortcut (dL/du shifted), to that one's source, and a source feeding several consumers sums their
gradients (:func:`fixed.add_gradients`, consumers in reverse layer order). The accelerator's datapath
(:mod:`.datapath`) must give the same integers (tests/test_h2learn.py). A projection with tdBN normalises its current per tile
(:func:`fixed.bn_forward`) and sends dL/du through the BN's backward before its own. Element-wise rules
come from :mod:`.fixed`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.models.h2learn import fixed


@dataclass
class BpttResult:
    """Per layer: membrane ``u`` (T, B, K, E, F, before reset), output ``s`` (spikes or ReLU codes), ``du``
    (dL/du), ``dbias`` (or None); per projection, layers in order: ``dweight`` (the network weight's
    shape); and the mean loss per sample."""

    u: list
    s: list
    du: list
    dweight: list
    dbias: list
    loss: float
    dbn: list = None             # per projection, layers in order: (dgamma, dbeta) of its tdBN, or None


def _tap_slices(layer, e, f):
    sh, sw = layer.stride
    _, _, r, s = layer.kernel().shape
    for i in range(r):
        for j in range(s):
            yield i, j, (slice(i, i + sh * (e - 1) + 1, sh), slice(j, j + sw * (f - 1) + 1, sw))


def _padded(x, layer):
    ph, pw = layer.padding
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)])


def conv_forward(x: np.ndarray, layer) -> np.ndarray:
    """Integer currents (N, K, E, F) of one projection ``layer`` on inputs (N, C, H, W) (no bias)."""
    w = layer.kernel()
    k = w.shape[0]
    _, e, f = layer.out_shape
    dtype = np.result_type(w, np.int64)   # integers here; float64 only for a float reference in tests
    xp = _padded(x.reshape((-1,) + layer.in_shape).astype(dtype), layer)
    out = np.zeros((xp.shape[0], k, e, f), dtype=dtype)
    for i, j, (rows, cols) in _tap_slices(layer, e, f):
        out += np.einsum("kc,ncef->nkef", w[:, :, i, j], xp[:, :, rows, cols])
    return out


def conv_backward(du: np.ndarray, layer) -> np.ndarray:
    """Integer sums ``W^T du`` (N, C, H, W) for du (N, K, E, F)."""
    w = layer.kernel()
    _, e, f = layer.out_shape
    c, h, wd = layer.in_shape
    ph, pw = layer.padding
    out = np.zeros((du.shape[0], c, h + 2 * ph, wd + 2 * pw), dtype=np.result_type(w, du, np.int64))
    for i, j, (rows, cols) in _tap_slices(layer, e, f):
        out[:, :, rows, cols] += np.einsum("kc,nkef->ncef", w[:, :, i, j], du)
    return out[:, :, ph:ph + h, pw:pw + wd]


def conv_weight_gradient(du: np.ndarray, x: np.ndarray, layer) -> np.ndarray:
    """Integer ``sum du * x`` over samples and positions, the expanded kernel's shape."""
    w = layer.kernel()
    _, e, f = layer.out_shape
    dtype = np.result_type(du, np.int64)
    xp = _padded(x.reshape((-1,) + layer.in_shape).astype(dtype), layer)
    dk = np.zeros(w.shape, dtype=dtype)
    for i, j, (rows, cols) in _tap_slices(layer, e, f):
        dk[:, :, i, j] = np.einsum("nkef,ncef->kc", du, xp[:, :, rows, cols])
    return dk


def _tiles(batch: int, tile_samples: int | None):
    step = batch if tile_samples is None else tile_samples
    return [slice(b0, min(b0 + step, batch)) for b0 in range(0, batch, step)]


def bptt(layers, inputs: dict, labels: np.ndarray, params, tile_samples: int | None = None) -> BpttResult:
    """One iteration over the whole batch: ``inputs`` maps each network input to (T, B, *shape) codes.

    A projection with tdBN normalises its current by the statistics of each tile of ``tile_samples``
    samples (default: the whole batch), as the accelerator's FE does."""
    steps, batch = next(iter(inputs.values())).shape[:2]
    acts = {name: np.asarray(x) for name, x in inputs.items()}
    index = {layer.name: li for li, layer in enumerate(layers)}
    tiles = _tiles(batch, tile_samples)
    us, ss, bn_state = [], [], {}
    for li, layer in enumerate(layers):
        cur = 0
        for pi, p in enumerate(layer.projections):
            part = conv_forward(p.gather(acts[p.source]).reshape((steps * batch,) + p.in_shape), p).reshape(
                (steps, batch) + layer.out_shape)
            if p.bn is not None:
                part = part.copy()
                for tile in tiles:
                    mean_q, inv_q = fixed.bn_statistics(part[:, tile], p.bn.eps_q)
                    part[:, tile], xhat = fixed.bn_forward(part[:, tile], mean_q, inv_q, p.bn, layer.threshold_q,
                                                           params)
                    bn_state[li, pi, tile.start] = (xhat, inv_q)
            cur = cur + part
        if layer.bias_q is not None:
            cur = cur + layer.bias_q[None, None, :, None, None]
        for sc in layer.shortcuts:
            cur = cur + sc.current(acts[sc.source])
        u = np.zeros_like(cur)
        s = np.zeros(cur.shape, dtype=fixed.output_dtype(layer))
        for t in range(steps):
            prev_u = u[t - 1] if t else np.zeros_like(cur[0])
            prev_s = s[t - 1] if t else np.zeros_like(s[0])
            u[t], s[t] = fixed.neuron_step(layer, prev_u, prev_s, cur[t], params)
        us.append(u)
        ss.append(s)
        acts[layer.name] = s
    d_out = {}
    d_out[layers[-1].name], loss = fixed.output_gradient(layers[-1], us[-1], ss[-1], labels, params)
    dus, dws, dbs, dbn = [None] * len(layers), [None] * len(layers), [None] * len(layers), [None] * len(layers)
    for li in range(len(layers) - 1, -1, -1):
        layer = layers[li]
        ds_spatial = d_out.get(layer.name)
        if ds_spatial is None:
            ds_spatial = np.zeros(us[li].shape, dtype=np.int64)
        du = np.zeros(us[li].shape, dtype=np.int64)
        for t in range(steps - 1, -1, -1):
            du_next = du[t + 1] if t + 1 < steps else np.zeros_like(du[0])
            du[t] = fixed.neuron_gradient_step(layer, ds_spatial[t], du_next, us[li][t], ss[li][t], params,
                                               last_step=t == steps - 1)
        dus[li] = du
        dws[li], dbn[li], flat = [], [], []
        for pi, p in enumerate(layer.projections):
            d = du
            if p.bn is not None:          # the projection's dL/d(current) through its tdBN, tile by tile
                d = np.zeros_like(du)
                dg = db = 0
                for tile in tiles:
                    xhat, inv_q = bn_state[li, pi, tile.start]
                    d[:, tile], g, b = fixed.bn_backward(du[:, tile], xhat, inv_q, p.bn, layer.threshold_q, layer.exp,
                                                         params)
                    dg, db = dg + g, db + b
                dbn[li].append((dg, db))
            else:
                dbn[li].append(None)
            flat.append(d.reshape((steps * batch,) + layer.out_shape))
            dws[li].append(p.reduce_kernel(conv_weight_gradient(flat[-1], p.gather(acts[p.source]), p)))
        dbs[li] = None if layer.bias_q is None else du.sum(axis=(0, 1, 3, 4))
        for p, flat_du in zip(layer.projections, flat):
            if p.source in index:
                si = index[p.source]
                sums = p.scatter(conv_backward(flat_du, p).reshape((steps, batch) + p.in_shape)).reshape(
                    (steps, batch) + layers[si].out_shape)
                part = fixed.spatial_gradient(sums, layer, params, layers[si], fixed.output_open(layers[si], us[si]))
                d_out[p.source] = fixed.add_gradients(d_out.get(p.source), part, params)
        for sc in layer.shortcuts:
            if sc.source in index:
                si = index[sc.source]
                sums = sc.backward_sums(du).reshape(us[si].shape)
                part = fixed.spatial_gradient(sums, layer, params, layers[si], fixed.output_open(layers[si], us[si]))
                d_out[sc.source] = fixed.add_gradients(d_out.get(sc.source), part, params)
    return BpttResult(us, ss, dus, [dw for per_layer in dws for dw in per_layer], dbs, loss,
                      [d for per_layer in dbn for d in per_layer])
