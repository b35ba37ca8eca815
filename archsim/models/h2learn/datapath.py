"""The engines' arithmetic on one tile of samples: forward currents, dL/du, W^T dL/du and dL/dW.

Fast path: each synaptic sum is one matrix product over an im2col view. Operands are integers held in
floating point, which is exact while every sum stays below the mantissa (2^24 for float32, 2^53 for
float64): :func:`_exact_dtype` picks float32 only where the bound proves it exact. The results equal the
golden model's integer loops bit for bit (tests/test_h2learn.py); LUT reads and skipped MACs change the
order of additions only, never the integer result.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from archsim.models.h2learn import fixed


def _exact_dtype(bound: float):
    return np.float32 if bound < 2 ** 24 else np.float64


def im2col(x: np.ndarray, layer, dtype) -> np.ndarray:
    """(N*E*F, C*R*S) patches of inputs (N, C, H, W)."""
    _, r, s = layer.kernel_shape[1:]
    sh, sw = layer.stride
    ph, pw = layer.padding
    _, e, f = layer.out_shape
    x = x.reshape((-1,) + layer.in_shape)
    if r == 1 and s == 1 and (ph, pw) == (0, 0) and (sh, sw) == (1, 1):
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1]), dtype=dtype)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))).astype(dtype, copy=False)
    win = sliding_window_view(xp, (r, s), axis=(2, 3))[:, :, : sh * (e - 1) + 1 : sh, : sw * (f - 1) + 1 : sw]
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(x.shape[0] * e * f, -1)


def col2im(cols: np.ndarray, layer, n: int) -> np.ndarray:
    """Scatter-add (N*E*F, C*R*S) columns back to (N, C, H, W)."""
    c, h, w = layer.in_shape
    _, r, s = layer.kernel_shape[1:]
    sh, sw = layer.stride
    ph, pw = layer.padding
    _, e, f = layer.out_shape
    cols = cols.reshape(n, e, f, c, r, s)
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=np.int64)
    for i in range(r):
        for j in range(s):
            out[:, :, i : i + sh * (e - 1) + 1 : sh, j : j + sw * (f - 1) + 1 : sw] += \
                np.rint(cols[:, :, :, :, i, j]).astype(np.int64).transpose(0, 3, 1, 2)
    return out[:, :, ph : ph + h, pw : pw + w]


def forward(layer, x: np.ndarray, params) -> tuple[np.ndarray, np.ndarray]:
    """Membrane before reset and spikes, (T, Bt, K, E, F), for input codes x (T, Bt, *in_shape)."""
    steps, batch = x.shape[:2]
    kernel = layer.kernel()
    bound = float(np.abs(kernel).reshape(kernel.shape[0], -1).sum(axis=1).max()) * (2 ** layer.input_planes - 1)
    dtype = _exact_dtype(bound)
    cols = im2col(x.reshape((steps * batch,) + layer.in_shape), layer, dtype)
    cur = np.rint(cols @ kernel.reshape(kernel.shape[0], -1).T.astype(dtype)).astype(np.int64)
    k, e, f = layer.out_shape
    cur = cur.reshape(steps, batch, e, f, k).transpose(0, 1, 4, 2, 3)
    if layer.bias_q is not None:
        cur = cur + layer.bias_q[None, None, :, None, None]
    u = np.empty(cur.shape, dtype=np.int64)
    s = np.empty(cur.shape, dtype=np.uint8)
    prev_u = np.zeros(cur.shape[1:], dtype=np.int64)
    prev_s = np.zeros(cur.shape[1:], dtype=np.uint8)
    for t in range(steps):
        prev_u, prev_s = fixed.neuron_step(layer, prev_u, prev_s, cur[t], params)
        u[t], s[t] = prev_u, prev_s
    return u, s


def membrane_gradient(layer, ds_spatial: np.ndarray, u: np.ndarray, s: np.ndarray, params) -> np.ndarray:
    """dL/du (T, Bt, K, E, F) by the gradient unit, last step first."""
    steps = u.shape[0]
    du = np.zeros(u.shape, dtype=np.int64)
    for t in range(steps - 1, -1, -1):
        du_next = du[t + 1] if t + 1 < steps else du[t]
        du[t] = fixed.neuron_gradient_step(layer, ds_spatial[t], du_next, u[t], s[t], params,
                                           last_step=t == steps - 1)
    return du


def backward_sums(layer, du: np.ndarray) -> np.ndarray:
    """Integer W^T dL/du onto the layer's input, (T, Bt, C, H, W)."""
    steps, batch = du.shape[:2]
    kernel = layer.kernel()
    k = kernel.shape[0]
    du_rows = du.reshape(steps * batch, k, -1).transpose(0, 2, 1).reshape(-1, k).astype(np.float64)
    cols = du_rows @ kernel.reshape(k, -1).astype(np.float64)
    return col2im(cols, layer, steps * batch).reshape((steps, batch) + layer.in_shape)


def weight_gradient(layer, du: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Integer sum of dL/du * x over the tile, the expanded kernel's shape."""
    steps, batch = du.shape[:2]
    kernel_shape = layer.kernel_shape
    k = kernel_shape[0]
    du_rows = du.reshape(steps * batch, k, -1).transpose(0, 2, 1).reshape(-1, k).astype(np.float64)
    cols = im2col(x.reshape((steps * batch,) + layer.in_shape), layer, np.float64)
    return np.rint(du_rows.T @ cols).astype(np.int64).reshape(kernel_shape)
