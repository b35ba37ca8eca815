"""Importers of the NIR linear nodes that archsim added after its first set (Conv1d, Delay).

Each takes ``(node_name, node, input_shape, carries_bias, where, dt)`` and returns an archsim op
(:mod:`archsim.graph.network`); the older linear nodes are read in :mod:`archsim.graph.nir_io`.

* ``Conv1d`` (input_shape, weight (C_out, C_in/groups, k), stride, padding, dilation, groups, bias):
  1-D cross-correlation over ``(C, L)`` as PyTorch's; ``padding`` may be an integer, ``"same"`` or ``"valid"``.
* ``Delay`` (delay, seconds, one per element or one for all): ``y(t) = x(t - delay)``; at step ``dt`` it
  becomes ``delay / dt`` whole steps, and a delay that is not a whole number of steps is refused.
"""
from __future__ import annotations

import numpy as np

from archsim.errors import UserError
from archsim.graph.network import Conv1d, Delay


def _one_int(value, name, node_name, where) -> int:
    arr = np.atleast_1d(np.asarray(value)).astype(int).ravel()
    if arr.size != 1:
        raise UserError(f"{where}: node {node_name} (Conv1d): {name} {arr.tolist()} (allowed: one integer)")
    return int(arr[0])


def conv1d_from_nir(node_name, node, shape, carries_bias, where, dt) -> Conv1d:
    """NIR ``Conv1d``."""
    from archsim.graph.nir_neurons import text

    weight = np.asarray(node.weight, dtype=np.float64)
    if weight.ndim != 3:
        raise UserError(f"{where}: node {node_name} (Conv1d): weight of shape {weight.shape} "
                        "(allowed: (C_out, C_in/groups, k))")
    dilation = _one_int(node.dilation, "dilation", node_name, where)
    padding = node.padding
    if isinstance(padding, (str, bytes)):
        padding = {"valid": 0, "same": (weight.shape[2] - 1) // 2 * dilation}.get(text(padding))
        if padding is None:
            raise UserError(f"{where}: node {node_name} (Conv1d): padding {text(node.padding)!r} "
                            "(allowed: an integer, same, valid)")
    bias = None
    if carries_bias and getattr(node, "bias", None) is not None:
        bias = np.asarray(node.bias, dtype=np.float64).reshape(-1)
        bias = bias if np.any(bias) else None
    groups = int(np.asarray(node.groups))
    if len(shape) != 2 or shape[0] != weight.shape[1] * groups:
        raise UserError(f"{where}: node {node_name} (Conv1d): shape mismatch: receives {shape} but expects "
                        f"(C={weight.shape[1] * groups}, L)")
    op = Conv1d(weight=weight, bias=bias, stride=_one_int(node.stride, "stride", node_name, where),
                padding=_one_int(padding, "padding", node_name, where), dilation=dilation, groups=groups)
    if op.output_shape(shape)[1] <= 0:
        raise UserError(f"{where}: node {node_name} (Conv1d): shape mismatch: kernel larger than its padded input")
    return op


def delay_from_nir(node_name, node, shape, carries_bias, where, dt) -> Delay | None:
    """NIR ``Delay``: whole steps of ``dt``, one for all elements or one per element (None: no delay at all)."""
    seconds = np.asarray(node.delay, dtype=np.float64)
    if np.any(~np.isfinite(seconds)) or np.any(seconds < 0):
        raise UserError(f"{where}: node {node_name} (Delay): delay must be finite and >= 0 seconds")
    steps = seconds / dt
    whole = np.rint(steps)
    if np.any(np.abs(steps - whole) > 1e-6 * np.maximum(1.0, whole)):
        raise UserError(f"{where}: node {node_name} (Delay): delay {seconds.ravel()[:4].tolist()} s is not a whole "
                        f"number of steps of dt = {dt:g} s (allowed: multiples of dt; set --dt)")
    whole = whole.astype(np.int64)
    if whole.ndim and whole.size != 1:
        if whole.size != int(np.prod(shape)):
            raise UserError(f"{where}: node {node_name} (Delay): shape mismatch: {whole.size} delays for "
                            f"input {shape} (allowed: one, or one per element)")
        whole = whole.reshape(shape)
        if np.all(whole == whole.flat[0]):
            whole = np.int64(whole.flat[0])
    else:
        whole = np.int64(whole.reshape(-1)[0]) if whole.ndim else np.int64(whole)
    return Delay(steps=whole, node=str(node_name)) if np.any(whole) else None


LINEAR_IMPORTERS = {"Conv1d": conv1d_from_nir, "Delay": delay_from_nir}
