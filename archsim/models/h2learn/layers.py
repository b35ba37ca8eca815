"""Which layers the accelerator can train, and their fixed-point form.

Every trainable layer becomes one *binary-input convolution*: a ``Conv2d`` is one already; a ``Dense``
is a 1x1 convolution over its flattened input; an ``AvgPool2d`` in front of either is folded into the
kernel (each weight repeated over its p x p pooling window, the 1/p^2 folded into the weight scale), so
the engines always see 0/1 inputs and LUT grouping stays exact. Weight gradients of the expanded kernel
are summed back over the pooling windows (:meth:`TrainLayer.reduce_kernel`).

Supported: a chain of LIF layers (reset to zero, no leak), optionally ending in an LI read-out (no
leak potential), each fed by exactly one feed-forward projection ``[AvgPool2d] [Flatten] Dense|Conv2d``
from the previous layer or the network input. Anything else raises a one-line :class:`~archsim.errors.UserError` naming the layer.

Fixed point (interpretation, documented in the package docstring): each layer keeps power-of-two
weight scale ``2^-exp`` chosen once from the initial weights, so the membrane, the threshold and the
window limits are integers in that unit and every gradient step is a shift.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from archsim.errors import UserError
from archsim.graph.network import LI, LIF, AvgPool2d, Conv2d, Dense, Flatten, Network
from archsim.models.h2learn.params import H2LearnParams


@dataclass(eq=False)
class TrainLayer:
    """One trainable layer in the accelerator's integer formats.

    ``weight_q`` keeps the network's own weight shape ((K, C, R, S) or (K, fan_in)); ``kernel()`` gives
    the expanded binary-input kernel (K, C, R, S) over ``in_shape`` with ``stride`` and ``padding``.
    """

    name: str
    source: str
    source_index: int            # index of the source layer, -1 for the network input
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    weight_q: np.ndarray
    bias_q: np.ndarray | None
    pool: int
    dense: bool
    pooled_shape: tuple[int, ...]  # the source shape after pooling (what the network's weight sees)
    stride: tuple[int, int]
    padding: tuple[int, int]
    exp: int                     # weight scale 2^-exp (membrane units)
    threshold_q: int
    decay_q: int
    half_window_q: int           # surrogate window half-width in membrane units
    input_planes: int            # 1 for spikes; activation_bits for a valued network input
    readout: bool = False        # an integrator (LI) read-out: no spikes, softmax cross-entropy on v[T-1]

    def kernel(self) -> np.ndarray:
        """The expanded kernel over the unpooled, binary input: (K, C, R, S) int64."""
        w = self.weight_q.astype(np.int64)
        p = self.pool
        if self.dense:
            k = w.shape[0]
            if p > 1:
                c, hp, wp = self.pooled_shape
                w = w.reshape(k, c, hp, wp).repeat(p, axis=2).repeat(p, axis=3)
            return w.reshape(k, -1, 1, 1)
        return w.repeat(p, axis=2).repeat(p, axis=3) if p > 1 else w

    def reduce_kernel(self, dkernel: np.ndarray) -> np.ndarray:
        """Gradient of the expanded kernel summed back to ``weight_q``'s shape."""
        p = self.pool
        k = dkernel.shape[0]
        if self.dense:
            if p > 1:
                c, hp, wp = self.pooled_shape
                return dkernel.reshape(k, c, hp, p, wp, p).sum(axis=(3, 5)).reshape(self.weight_q.shape)
            return dkernel.reshape(self.weight_q.shape)
        if p > 1:
            kk, c, r, s = dkernel.shape
            return dkernel.reshape(kk, c, r // p, p, s // p, p).sum(axis=(3, 5))
        return dkernel

    @property
    def kernel_shape(self) -> tuple[int, int, int, int]:
        """Shape of :meth:`kernel` without building it."""
        k = int(self.weight_q.shape[0])
        if self.dense:
            return (k, self.in_shape[0], 1, 1)
        _, c, r, s = self.weight_q.shape
        return (k, int(c), int(r) * self.pool, int(s) * self.pool)

    @property
    def out_size(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def in_size(self) -> int:
        return int(np.prod(self.in_shape))


def _uniform(value, layer: str, what: str) -> float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0 or not np.all(arr == arr.flat[0]):
        raise UserError(f"layer {layer!r}: {what} differs between neurons; h2learn trains one {what} per layer")
    return float(arr.flat[0])


def _unsupported(layer, why: str) -> UserError:
    return UserError(f"layer {layer.name!r}: {why} cannot be trained on h2learn "
                     f"(supported: LIF layers fed by one [AvgPool2d] [Flatten] Dense|Conv2d projection)")


def _parse_ops(layer, src_shape):
    """(pool, weighted op, dense?) from a projection's op chain, or a UserError."""
    ops = list(layer.projections[0].ops)
    pool = 1
    if ops and isinstance(ops[0], AvgPool2d):
        op = ops.pop(0)
        kh, kw = op.kernel
        if kh != kw or tuple(op.stride) != (kh, kw) or tuple(op.padding) != (0, 0) or len(src_shape) != 3 \
                or src_shape[1] % kh or src_shape[2] % kw:
            raise _unsupported(layer, "an AvgPool2d with overlap, padding or a partial window")
        pool = kh
    if ops and isinstance(ops[0], Flatten):
        ops.pop(0)
    if len(ops) != 1 or not isinstance(ops[0], (Dense, Conv2d)):
        names = "+".join(type(o).__name__ for o in layer.projections[0].ops)
        raise _unsupported(layer, f"the projection {names}")
    op = ops[0]
    if isinstance(op, Conv2d) and (op.groups != 1 or tuple(op.dilation) != (1, 1) or len(src_shape) != 3):
        raise _unsupported(layer, "a grouped, dilated or flat-input Conv2d")
    return pool, op, isinstance(op, Dense)


def build_layers(network: Network, params: H2LearnParams, input_valued: bool) -> list[TrainLayer]:
    """The network as a list of :class:`TrainLayer` (raises a one-line UserError if it cannot train)."""
    if len(network.inputs) != 1:
        raise UserError(f"network {network.name!r}: h2learn trains networks with one input, not {len(network.inputs)}")
    input_name = next(iter(network.inputs))
    qmax = params.qmax_weight
    input_planes = params.activation_bits if input_valued else 1
    input_sigma = 1.0 / (2 ** input_planes - 1)   # valued inputs are codes of [0, 1] (fixed.quantize_input)
    layers: list[TrainLayer] = []
    prev = input_name
    for index, layer in enumerate(network.layers):
        readout = isinstance(layer.neuron, LI) and index == len(network.layers) - 1
        if not isinstance(layer.neuron, LIF) and not readout:
            where = "" if not isinstance(layer.neuron, LI) else " before the last layer"
            raise _unsupported(layer, f"a {type(layer.neuron).__name__} neuron{where}")
        if len(layer.projections) != 1:
            raise _unsupported(layer, f"{len(layer.projections)} projections")
        proj = layer.projections[0]
        if proj.recurrent:
            raise _unsupported(layer, f"a recurrent projection from {proj.source!r}")
        if proj.source != prev:
            raise _unsupported(layer, f"a projection from {proj.source!r} (not the previous layer {prev!r})")
        neuron = layer.neuron
        if not readout and (neuron.reset != "zero" or _uniform(neuron.v_reset, layer.name, "v_reset") != 0.0):
            raise _unsupported(layer, "a LIF that does not reset to zero")
        decay = _uniform(neuron.decay, layer.name, "decay")
        if (1.0 - decay) * _uniform(neuron.v_leak, layer.name, "v_leak") != 0.0:
            raise _unsupported(layer, f"a {type(neuron).__name__} with a leak potential")
        threshold = 0.0 if readout else _uniform(neuron.threshold, layer.name, "threshold")
        gain = _uniform(neuron.gain, layer.name, "gain")
        src_shape = tuple(network.shape_of(proj.source))
        pool, op, dense = _parse_ops(layer, src_shape)
        sigma = input_sigma if index == 0 else 1.0
        w_eff = np.asarray(op.weight, dtype=np.float64) * (gain * sigma / (pool * pool))
        bias = None if op.bias is None else np.asarray(op.bias, dtype=np.float64) * gain
        peak = float(np.max(np.abs(w_eff))) if w_eff.size else 0.0
        if bias is not None and bias.size:
            peak = max(peak, float(np.max(np.abs(bias))) / 2 ** (params.membrane_bits - 2 - params.weight_bits))
        exp = int(math.floor(math.log2(qmax / peak))) if peak > 0 else params.weight_bits
        exp = min(exp, params.membrane_bits - 2 - max(0, math.ceil(math.log2(max(threshold, 1e-12)))))
        weight_q = np.clip(np.rint(w_eff * 2.0 ** exp), -qmax, qmax).astype(np.int64)
        bias_q = None if bias is None else np.rint(bias * 2.0 ** exp).astype(np.int64)
        pooled_shape = src_shape if pool == 1 else (src_shape[0], src_shape[1] // pool, src_shape[2] // pool)
        if dense:
            fan_in = int(np.prod(src_shape))
            in_shape = (fan_in, 1, 1)
            if int(np.prod(pooled_shape)) != op.weight.shape[1]:
                raise _unsupported(layer, "a Dense whose fan-in does not match its source")
            stride, padding = (1, 1), (0, 0)
            out_shape = (int(op.weight.shape[0]), 1, 1)
        else:
            in_shape = tuple(int(v) for v in src_shape)
            stride = (op.stride[0] * pool, op.stride[1] * pool)
            padding = (op.padding[0] * pool, op.padding[1] * pool)
            out_shape = tuple(int(v) for v in op.output_shape(pooled_shape))
        if int(np.prod(out_shape)) != layer.size:
            raise _unsupported(layer, f"an output shape {out_shape} that differs from the layer's {layer.shape}")
        layers.append(TrainLayer(
            name=layer.name, source=proj.source, source_index=index - 1, in_shape=in_shape, out_shape=out_shape,
            weight_q=weight_q, bias_q=bias_q, pool=pool, dense=dense, pooled_shape=tuple(pooled_shape),
            stride=stride, padding=padding, exp=exp,
            threshold_q=int(round(threshold * 2 ** exp)),
            decay_q=int(round(decay * 2 ** params.decay_frac_bits)),
            half_window_q=0 if readout else int(round(params.surrogate_width / 2 * 2 ** exp)),
            input_planes=input_planes if index == 0 else 1,
            readout=readout,
        ))
        prev = layer.name
    if not layers:
        raise UserError(f"network {network.name!r}: no layers to train")
    if network.outputs != [layers[-1].name]:
        raise UserError(f"network {network.name!r}: outputs {network.outputs} must be the last layer "
                        f"{layers[-1].name!r} alone for h2learn training (spike-count loss)")
    return layers
