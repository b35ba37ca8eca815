"""Golden model: quantised BPTT of one training iteration in plain NumPy, the accelerator's specification.

Straightforward on purpose: the synaptic sums are loops over kernel taps with integer ``einsum`` over the
whole batch, no tiling, no LUTs, no skipping. The accelerator's datapath (:mod:`.datapath`) must give the
same integers (tests/test_h2learn.py). Element-wise rules come from :mod:`.fixed`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.models.h2learn import fixed


@dataclass
class BpttResult:
    """Per layer: membrane ``u`` (T, B, K, E, F, before reset), spikes ``s``, ``du`` (dL/du),
    ``dweight`` (the network weight's shape), ``dbias`` (or None); and the mean loss per sample."""

    u: list
    s: list
    du: list
    dweight: list
    dbias: list
    loss: float


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
    """Integer currents (N, K, E, F) of inputs (N, C, H, W)."""
    w = layer.kernel()
    k = w.shape[0]
    _, e, f = layer.out_shape
    dtype = np.result_type(w, np.int64)   # integers here; float64 only for a float reference in tests
    xp = _padded(x.reshape((-1,) + layer.in_shape).astype(dtype), layer)
    out = np.zeros((xp.shape[0], k, e, f), dtype=dtype)
    for i, j, (rows, cols) in _tap_slices(layer, e, f):
        out += np.einsum("kc,ncef->nkef", w[:, :, i, j], xp[:, :, rows, cols])
    if layer.bias_q is not None:
        out += layer.bias_q[None, :, None, None]
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


def bptt(layers, x_q: np.ndarray, labels: np.ndarray, params) -> BpttResult:
    """One iteration over the whole batch: ``x_q`` (T, B, *input_shape) integer input codes."""
    steps, batch = x_q.shape[:2]
    inputs, us, ss = [], [], []
    x = x_q
    for layer in layers:
        inputs.append(x)
        cur = conv_forward(x.reshape((steps * batch,) + layer.in_shape), layer)
        cur = cur.reshape((steps, batch) + layer.out_shape)
        u = np.zeros_like(cur)
        s = np.zeros(cur.shape, dtype=np.uint8)
        for t in range(steps):
            prev_u = u[t - 1] if t else np.zeros_like(cur[0])
            prev_s = s[t - 1] if t else np.zeros(cur[0].shape, dtype=np.uint8)
            u[t], s[t] = fixed.neuron_step(layer, prev_u, prev_s, cur[t], params)
        us.append(u)
        ss.append(s)
        x = s
    ds_spatial, loss = fixed.output_gradient(layers[-1], us[-1], ss[-1], labels, params)
    dus, dws, dbs = [None] * len(layers), [None] * len(layers), [None] * len(layers)
    for li in range(len(layers) - 1, -1, -1):
        layer = layers[li]
        du = np.zeros(us[li].shape, dtype=np.int64)
        for t in range(steps - 1, -1, -1):
            du_next = du[t + 1] if t + 1 < steps else np.zeros_like(du[0])
            du[t] = fixed.neuron_gradient_step(layer, ds_spatial[t], du_next, us[li][t], ss[li][t], params,
                                               last_step=t == steps - 1)
        dus[li] = du
        flat_du = du.reshape((steps * batch,) + layer.out_shape)
        dws[li] = layer.reduce_kernel(conv_weight_gradient(flat_du, inputs[li], layer))
        dbs[li] = None if layer.bias_q is None else du.sum(axis=(0, 1, 3, 4))
        if li > 0:
            below = layers[li - 1]
            sums = conv_backward(flat_du, layer).reshape((steps, batch) + below.out_shape)
            open_below = fixed.window_open(us[li - 1], below.threshold_q, below.half_window_q)
            ds_spatial = fixed.spatial_gradient(sums, layer, params, open_below)
    return BpttResult(us, ss, dus, dws, dbs, loss)
