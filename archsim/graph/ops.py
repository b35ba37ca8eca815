"""Array kernels of the linear operators, batched, for floats and (exactly) for integers.

``apply_ops(ops, x)`` maps a batch ``x`` of shape ``(B, *input_shape)`` through a chain of
:mod:`archsim.graph.network` operators. Float arrays stay float64. Integer arrays (the chip path,
where weights are int32 from :mod:`archsim.graph.quantize`) are multiplied through BLAS in float64,
which is exact while every partial sum stays below 2**53; when the bound ``max|x| * max|w| * fan_in``
could exceed it the kernel falls back to int64 arithmetic. Convolutions and pools use im2col
(strided window views), so one step of a whole batch is a single matrix product per group.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.lib.stride_tricks import sliding_window_view

from archsim.graph.network import AvgPool2d, Conv1d, Conv2d, Dense, Flatten, Scale, SumPool2d

_EXACT_FLOAT_LIMIT = 2.0 ** 53


def apply_ops(ops, x: np.ndarray) -> np.ndarray:
    """Apply ``ops`` in order to ``x`` of shape ``(B, *shape)``; integer in, int64 out."""
    for op in ops:
        x = apply_op(op, x)
    return x


def apply_op(op, x: np.ndarray) -> np.ndarray:
    """Apply one linear op to a batch ``x`` of shape ``(B, *input_shape)`` in float semantics."""
    if isinstance(op, Dense):
        return dense(x, op.weight, op.bias)
    if isinstance(op, Conv2d):
        return conv2d(x, op.weight, op.bias, op.stride, op.padding, op.dilation, op.groups)
    if isinstance(op, Conv1d):
        return conv1d(x, op.weight, op.bias, op.stride, op.padding, op.dilation, op.groups)
    if isinstance(op, SumPool2d):
        return sum_pool2d(x, op.kernel, op.stride, op.padding)
    if isinstance(op, AvgPool2d):
        return sum_pool2d(x, op.kernel, op.stride, op.padding) / float(op.kernel[0] * op.kernel[1])
    if isinstance(op, Flatten):
        return x.reshape(x.shape[0], -1)
    if isinstance(op, Scale):
        return x * np.asarray(op.scale)
    raise TypeError(f"unknown linear op {type(op).__name__}")


def _is_int(a: np.ndarray) -> bool:
    return np.issubdtype(np.asarray(a).dtype, np.integer)


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b``: float64 BLAS; for integer operands exact (int64 result)."""
    if not (_is_int(a) and _is_int(b)):
        return np.asarray(a, dtype=np.float64) @ np.asarray(b, dtype=np.float64)
    bound = float(np.max(np.abs(a), initial=0)) * float(np.max(np.abs(b), initial=0)) * a.shape[-1]
    if bound < _EXACT_FLOAT_LIMIT:
        return np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    return a.astype(np.int64) @ b.astype(np.int64)


def _add_bias(y: np.ndarray, bias, shape_tail: tuple[int, ...]) -> np.ndarray:
    if bias is None:
        return y
    b = np.asarray(bias)
    return y + (b.astype(np.int64) if _is_int(y) else b).reshape(shape_tail)


def dense(x: np.ndarray, weight: np.ndarray, bias=None) -> np.ndarray:
    """``x.reshape(B, -1) @ weight.T + bias`` (``weight`` dense, or a SciPy sparse matrix)."""
    flat = x.reshape(x.shape[0], -1)
    if sp.issparse(weight):                       # exact in int64 for integers, float64 otherwise
        dtype = np.int64 if _is_int(flat) and np.issubdtype(weight.dtype, np.integer) else np.float64
        y = np.asarray((weight.astype(dtype) @ flat.T.astype(dtype)).T)
    else:
        y = _matmul(flat, np.asarray(weight).T)
    return _add_bias(y, bias, (1, -1))


def pad2d(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """Zero-pad the last two axes of ``x`` (B, C, H, W) by ``padding = (ph, pw)`` on each side."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _windows(x: np.ndarray, kernel, stride, padding, dilation=(1, 1)) -> np.ndarray:
    """(B, C, OH, OW, kh, kw) view of the padded input's receptive fields."""
    kh, kw = kernel
    dh, dw = dilation
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    view = sliding_window_view(pad2d(x, padding), span, axis=(2, 3))
    return view[:, :, ::stride[0], ::stride[1], ::dh, ::dw]


def conv2d(x, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1) -> np.ndarray:
    """2-D cross-correlation as PyTorch: x (B, C_in, H, W), weight (C_out, C_in/groups, kh, kw)."""
    weight = np.asarray(weight)
    c_out, c_in_g, kh, kw = weight.shape
    cols = _windows(x, (kh, kw), stride, padding, dilation)        # B, C, OH, OW, kh, kw
    b, _, oh, ow = cols.shape[:4]
    out_g = c_out // groups
    parts = []
    for g in range(groups):
        block = cols[:, g * c_in_g:(g + 1) * c_in_g]              # B, Cg, OH, OW, kh, kw
        block = block.transpose(0, 2, 3, 1, 4, 5).reshape(b * oh * ow, c_in_g * kh * kw)
        w = weight[g * out_g:(g + 1) * out_g].reshape(out_g, -1)
        parts.append(_matmul(block, w.T))                           # B*OH*OW, out_g
    y = parts[0] if groups == 1 else np.concatenate(parts, axis=1)
    y = y.reshape(b, oh, ow, c_out).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(_add_bias(y, bias, (1, -1, 1, 1)))


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> np.ndarray:
    """1-D cross-correlation as PyTorch: x (B, C_in, L), weight (C_out, C_in/groups, k); a conv2d of height 1."""
    y = conv2d(x[:, :, None, :], np.asarray(weight)[:, :, None, :], bias, (1, stride), (0, padding),
               (1, dilation), groups)
    return y[:, :, 0, :]


def sum_pool2d(x, kernel, stride, padding=(0, 0)) -> np.ndarray:
    """Sum over each window (zero padding); integers stay int64."""
    y = _windows(x, kernel, stride, padding).sum(axis=(4, 5))
    return y.astype(np.int64) if _is_int(x) else y

