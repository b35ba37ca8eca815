"""The engines' arithmetic on one tile of samples: forward currents, dL/du, W^T dL/du and dL/dW.

Synaptic functions take one projection (:class:`~.layers.TrainProjection`); neuron functions a layer.

Fast path: each synaptic sum is one matrix product over an im2col view. Operands are integers held in
floating point, which is exact while every partial sum stays below the mantissa (2^24 for float32, 2^53
for float64): :func:`_exact_dtype` picks float32 only where a bound proves it exact (from the weights
alone in the forward; from the tile's actual dL/du in the backward and weight-gradient products, where
it is typically 10^4..10^6). The results equal the
golden model's integer loops bit for bit (tests/test_h2learn.py); LUT reads and skipped MACs change the
order of additions only, never the integer result.
"""
from __future__ import annotations

import numpy as np

from archsim.models.h2learn import fixed, kernels


def _exact_dtype(bound: float):
    return np.float32 if bound < 2 ** 24 else np.float64


def im2col(x: np.ndarray, proj, dtype, rows: np.ndarray | None = None) -> np.ndarray:
    """(N*E*F, C*R*S) patches of inputs (N, C, H, W); only the patch ``rows`` (flat indices) if given."""
    x = x.reshape((-1,) + proj.in_shape)
    c, r, s = proj.kernel_shape[1:]
    if r == 1 and s == 1 and proj.padding == (0, 0) and proj.stride == (1, 1):
        flat = x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])
        return np.ascontiguousarray(flat if rows is None else flat[rows], dtype=dtype)
    _, e, f = proj.out_shape
    rows = np.arange(x.shape[0] * e * f) if rows is None else rows.astype(np.int64)
    out = np.empty((len(rows), c * r * s), dtype=dtype)
    return kernels.gather_columns(np.ascontiguousarray(x), rows, out, e, f, r, s, *proj.stride, *proj.padding)


def col2im(cols: np.ndarray, proj, n: int, rows: np.ndarray) -> np.ndarray:
    """Scatter-add the (rows, C*R*S) columns of patch ``rows`` back to integer inputs (N, C, H, W)."""
    c, h, w = proj.in_shape
    _, r, s = proj.kernel_shape[1:]
    _, e, f = proj.out_shape
    return kernels.scatter_columns(np.ascontiguousarray(cols), rows.astype(np.int64), n, c, h, w, e, f, r, s,
                                   *proj.stride, *proj.padding)


def _gradient_rows(proj, du: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dL/du as integer (positions, K) rows, keeping only positions with a non-zero entry (the others add nothing)."""
    steps, batch = du.shape[:2]
    k = proj.kernel_shape[0]
    rows = du.reshape(steps * batch, k, -1).transpose(0, 2, 1).reshape(-1, k)
    keep = np.flatnonzero(rows.any(axis=1))
    return rows[keep], keep


def currents(proj, x: np.ndarray) -> np.ndarray:
    """Integer currents (T, Bt, K, E, F) of one projection on its source's codes x (T, Bt, *in_shape)."""
    steps, batch = x.shape[:2]
    kernel = proj.kernel()
    bound = float(np.abs(kernel).reshape(kernel.shape[0], -1).sum(axis=1).max()) * (2 ** proj.input_planes - 1)
    dtype = _exact_dtype(bound)
    cols = im2col(x.reshape((steps * batch,) + proj.in_shape), proj, dtype)
    cur = (cols @ kernel.reshape(kernel.shape[0], -1).T.astype(dtype)).astype(np.int64)   # exact integers: no rounding
    k, e, f = proj.out_shape
    return cur.reshape(steps, batch, e, f, k).transpose(0, 1, 4, 2, 3)


def neuron_forward(layer, cur: np.ndarray, params) -> tuple[np.ndarray, np.ndarray]:
    """Membrane before reset and output (spikes or ReLU codes), (T, Bt, K, E, F), from the summed currents."""
    if layer.bias_q is not None:
        cur = cur + layer.bias_q[None, None, :, None, None]
    steps = cur.shape[0]
    u = np.empty(cur.shape, dtype=np.int64)
    s = np.empty(cur.shape, dtype=fixed.output_dtype(layer))
    prev_u = np.zeros(cur.shape[1:], dtype=np.int64)
    prev_s = np.zeros(cur.shape[1:], dtype=s.dtype)
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


def backward_sums(proj, du: np.ndarray) -> np.ndarray:
    """Integer W^T dL/du onto the projection's source, (T, Bt, C, H, W)."""
    steps, batch = du.shape[:2]
    kernel = proj.kernel().reshape(proj.kernel_shape[0], -1)
    du_rows, keep = _gradient_rows(proj, du)
    bound = float(np.abs(du_rows).max(initial=0)) * float(np.abs(kernel).sum(axis=0).max(initial=0))
    dtype = _exact_dtype(bound)
    cols = du_rows.astype(dtype) @ kernel.astype(dtype)
    return col2im(cols, proj, steps * batch, keep).reshape((steps, batch) + proj.in_shape)


def weight_gradient(proj, du: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Integer sum of dL/du * x over the tile, the expanded kernel's shape."""
    steps, batch = du.shape[:2]
    du_rows, keep = _gradient_rows(proj, du)
    bound = float(np.abs(du_rows).sum(axis=0).max(initial=0)) * (2 ** proj.input_planes - 1)
    dtype = _exact_dtype(bound)
    cols = im2col(x.reshape((steps * batch,) + proj.in_shape), proj, dtype, keep)
    return (du_rows.T.astype(dtype) @ cols).astype(np.int64).reshape(proj.kernel_shape)   # exact integers
