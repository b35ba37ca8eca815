"""Chip precision: the integer arithmetic every chip model and ``--precision chip`` share.

This module is the single definition of how a float :class:`~archsim.graph.network.Network` becomes
integers. The functional simulator (``archsim.graph.functional``), the many-core chip models and the
trainer's quantised evaluation all consume the :class:`QuantizedNetwork` made here, so their outputs
can be compared bit for bit.

Rules (``P`` is a :class:`Precision`; ``qmax = 2**(P.weight_bits - 1) - 1``,
``qmax_act = 2**(P.activation_bits - 1) - 1``; ``rint`` is NumPy's round-half-to-even):

* Every source has an output scale ``sigma``: 1 for a spiking layer (outputs 0/1), the layer's
  ``out_scale`` for a non-spiking layer, and ``input_scale`` for a network input (from
  ``network.metadata["quant"]["input_scale"][name]``; else 1 for a spiking input and
  ``1 / qmax_act`` for a valued input, values in [0, 1], marked by
  ``network.metadata["input_kind"][name] == "values"``).
  Network inputs are quantised as ``x_q = clip(rint(x / sigma), -qmax_act, qmax_act)``.
* Each projection's float operator chain is folded into one integer kernel (``Dense`` matrix or
  ``Conv2d`` kernel, with integer ``SumPool2d``/``Flatten`` steps kept as shape steps):
  ``AvgPool2d`` contributes ``1 / (kh * kw)`` and a scalar ``Scale`` its value to a scalar factor;
  the neuron's ``gain`` (and ``syn_gain`` for CubaLIF) is folded in too (one per layer: per-neuron
  gains must agree to ``GAIN_RTOL``, and the first is used). The effective float weight
  is ``w_eff = factor * gain * sigma_source * w``. Consecutive ``Dense`` ops are multiplied into
  one matrix and an array ``Scale`` next to a ``Dense`` is folded into its rows or columns first;
  a chain without ``Dense``/``Conv2d`` (pooling only) gets an integer ``Scale`` kernel, and an array
  ``Scale`` alone is itself the kernel. Two kernels left in one chain are an error.
* One scale per layer: ``scale = max over its projections of max|w_eff| / qmax`` (or the trainer's
  hint ``metadata["quant"]["weight_scale"][layer]`` when present and made for the same
  ``weight_bits``; 1 when every weight is zero, and 1 when every ``w_eff`` is an integer within
  ``[-qmax, qmax]``, so integer weights stay exact), so
  currents of all projections add in one integer domain. ``w_q = clip(rint(w_eff / scale), -qmax,
  qmax)``; biases ``b_q = rint(factor_after * gain * bias / scale)`` (int32), where ``factor_after``
  is the product of the scalar factors of the ops *after* the kernel (a ``Scale`` before a ``Dense``
  does not scale its bias; an ``AvgPool2d`` after a ``Conv2d`` does).
* Neuron constants in the same unit: ``threshold_q = floor(threshold / scale)`` (the comparison is
  the strict ``v > threshold``: an integer ``v`` exceeds ``t`` exactly when it exceeds ``floor(t)``),
  ``v_reset_q = rint(v_reset / scale)``, ``leak_q = rint((1 - decay) * v_leak / scale)``;
  decays as fixed point ``decay_q = rint(decay * 2**P.decay_frac_bits)``.
* Exactly representable (chip spikes equal float spikes): integer effective weights within the
  weight range, integer inputs, any threshold with reset to zero and an integer ``v_reset``, decay 1
  (or decays and leaks exact in ``decay_frac_bits``), membranes within ``membrane_bits``. A
  subtractive reset subtracts ``threshold_q``: exact only for integer thresholds (a half-integer
  threshold would need a fractional membrane bit).
* Dynamics per step, integers throughout (``>>`` is an arithmetic shift, rounding toward -inf;
  ``current_q`` is the int64 sum over projections of the integer kernels applied to the sources'
  integer outputs, biases included)::

      LIF zero:      v = sat(((v * decay_q) >> F) + leak_q + current_q)
                     s = v > threshold_q ; v = v_reset_q where s
      LIF subtract:  v = sat(((v * decay_q) >> F) + leak_q + current_q - threshold_q * s_prev)
                     s = v > threshold_q          (s_prev: the layer's spikes of the previous step,
                                                   0 at the first; v is not changed after a spike)
      CubaLIF:  i = sat(((i * syn_decay_q) >> F) + current_q)
                v = sat(((v * decay_q) >> F) + leak_q + i) ; spike and reset as LIF zero
      LI:       v = sat(((v * decay_q) >> F) + leak_q + current_q) ; output v (value scale ``scale``)
      Threshold: s = current_q > threshold_q
      ReLU:     y = clip((current_q * M + 2**15) >> 16, 0, qmax_act), M = rint(scale / out_scale * 2**16)
      Identity: y = current_q (value scale ``scale``)

  ``sat`` saturates to ``P.membrane_bits`` two's complement. ``out_scale`` of a ReLU layer is the
  hint ``metadata["quant"]["activation_scale"][layer]`` or, without one, calibrated from the float
  network on its recorded input statistics (see :func:`calibrate`). ``out_scale`` of an LI or
  Identity layer is its ``scale``; of a spiking layer, 1.

What a chip model reads (all integers are NumPy arrays; neuron constants are 0-d or of the layer's
shape, ``None`` where the neuron kind has no such constant):

* ``QuantizedNetwork``: ``network`` (the float original), ``precision``, ``layers`` (list of
  :class:`QuantizedLayer`, same order as ``network.layers``), ``input_scales`` {input: sigma},
  ``qmax``, ``qmax_act``, ``membrane_min``/``membrane_max``; ``layer(name)``,
  ``source_scale(name)``, ``quantize_inputs(inputs)``.
* ``QuantizedLayer``: ``name``, ``shape``, ``kind`` (``"lif" | "cubalif" | "li" | "threshold" |
  "relu" | "identity"``), ``spiking``, ``projections`` (tuple of :class:`QuantizedProjection`),
  ``scale``, ``out_scale``, ``threshold_q``, ``v_reset_q``, ``leak_q``, ``decay_q``,
  ``syn_decay_q``, ``reset`` (``"zero"``/``"subtract"``, spiking kinds with a membrane),
  ``relu_multiplier`` (M) and ``relu_shift`` (16).
* ``QuantizedProjection``: ``source``, ``recurrent``, ``source_scale`` (sigma), ``delay`` (steps per
  source element, flat int64, or None: :mod:`archsim.graph.delays`), ``ops`` (the integer
  steps in order: :class:`~archsim.graph.network.Dense` with int32 ``weight`` (out, in_flat) and
  int32 ``bias`` or None, :class:`~archsim.graph.network.Conv2d` with int32 ``weight``/``bias`` and
  its stride/padding/dilation/groups, :class:`~archsim.graph.network.Scale` with an int32 ``scale``,
  :class:`~archsim.graph.network.SumPool2d`, :class:`~archsim.graph.network.Flatten`),
  ``kernel_index`` (position of the one weighted op in ``ops``) and ``kernel`` (that op), and
  ``plasticity``: the integer local rule of a plastic projection (:mod:`archsim.graph.plasticity`), or None.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from archsim.errors import UserError
from archsim.graph.delays import source_delay, split_target_delays
from archsim.graph.plasticity import QuantizedPlasticity, check_plastic, quantize_plasticity
from archsim.graph.network import (LI, LIF, AvgPool2d, Conv2d, CubaLIF, Dense, Flatten, Identity, LinearOp,
                                   Network, ReLU, Scale, Shape, SumPool2d, Threshold)

RELU_SHIFT = 16
#: Per-neuron gains within this relative distance of the first count as one gain (an exporter's float32
#: rounding: snnTorch writes r = tau / dt, so gain = r * dt / tau is 1 only to about 1e-7).
GAIN_RTOL = 1e-6
#: A threshold over its scale this close (relative) to an integer is that integer (float rounding noise).
INTEGRAL_RTOL = 1e-9
#: Float-domain input values of valued inputs are assumed to lie in [0, 1] without a scale hint.
DEFAULT_VALUE_RANGE = 1.0


@dataclass(frozen=True)
class Precision:
    """Bit widths of a chip (read from its config's ``precision`` block)."""

    weight_bits: int = 8
    activation_bits: int = 8
    membrane_bits: int = 24
    decay_frac_bits: int = 12

    @classmethod
    def from_config(cls, block: dict | None) -> "Precision":
        """A Precision from a chip config's ``precision`` mapping (missing keys take the defaults)."""
        block = dict(block or {})
        allowed = {"weight_bits", "activation_bits", "membrane_bits", "decay_frac_bits"}
        unknown = sorted(set(block) - allowed)
        if unknown:
            raise UserError(f"precision: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
        return cls(**{k: int(v) for k, v in block.items()})

    @property
    def qmax(self) -> int:
        return 2 ** (self.weight_bits - 1) - 1

    @property
    def qmax_act(self) -> int:
        return 2 ** (self.activation_bits - 1) - 1


@dataclass(frozen=True, eq=False)
class QuantizedProjection:
    """Integer synapses from ``source``: ``ops`` applied in order to the source's integer output."""

    source: str
    ops: tuple[LinearOp, ...]
    kernel_index: int
    source_scale: float
    recurrent: bool = False
    delay: np.ndarray | None = None     # steps per source element (flat int64), None: read at once
    delay_nodes: str = ""               # the NIR Delay nodes it came from (for messages)
    plasticity: QuantizedPlasticity | None = None   # the integer local rule (:mod:`archsim.graph.plasticity`)

    @property
    def kernel(self) -> LinearOp:
        """The one weighted op (``Dense``, ``Conv2d`` or ``Scale``) with integer weights."""
        return self.ops[self.kernel_index]


@dataclass(frozen=True, eq=False)
class QuantizedLayer:
    """A layer in integers: its projections, its scale and its neuron constants (module docstring)."""

    name: str
    shape: Shape
    kind: str
    spiking: bool
    projections: tuple[QuantizedProjection, ...]
    scale: float
    out_scale: float
    threshold_q: np.ndarray | None = None
    v_reset_q: np.ndarray | None = None
    leak_q: np.ndarray | None = None
    decay_q: np.ndarray | None = None
    syn_decay_q: np.ndarray | None = None
    reset: str | None = None
    relu_multiplier: int | None = None
    relu_shift: int = RELU_SHIFT

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass(eq=False)
class QuantizedNetwork:
    """The integer form of ``network`` at ``precision`` (see the module docstring for every field)."""

    network: Network
    precision: Precision
    layers: list[QuantizedLayer]
    input_scales: dict[str, float]
    metadata: dict = field(default_factory=dict)

    @property
    def qmax(self) -> int:
        return self.precision.qmax

    @property
    def qmax_act(self) -> int:
        return self.precision.qmax_act

    @property
    def membrane_max(self) -> int:
        return 2 ** (self.precision.membrane_bits - 1) - 1

    @property
    def membrane_min(self) -> int:
        return -(2 ** (self.precision.membrane_bits - 1))

    def layer(self, name: str) -> QuantizedLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def source_scale(self, name: str) -> float:
        """sigma of an input or layer: the float value of one integer unit of its output."""
        if name in self.input_scales:
            return self.input_scales[name]
        return self.layer(name).out_scale

    def quantize_inputs(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Float inputs (any shape) to int64: ``clip(rint(x / sigma), -qmax_act, qmax_act)``."""
        return {name: quantize_input(np.asarray(x), self.input_scales[name], self.precision)
                for name, x in inputs.items()}


def quantize_input(x: np.ndarray, sigma: float, precision: Precision) -> np.ndarray:
    """One raw input array to integers at scale ``sigma`` (int64, clipped to the activation range)."""
    q = np.rint(np.asarray(x, dtype=np.float64) / sigma)
    return np.clip(q, -precision.qmax_act, precision.qmax_act).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# quantize
# ----------------------------------------------------------------------------------------------
def quantize(network: Network, precision: Precision, calibration: dict[str, float] | None = None) -> QuantizedNetwork:
    """Fold ``network`` into integers at ``precision`` following the module docstring's rules.

    ``calibration`` optionally gives ReLU layers' ``out_scale`` (as :func:`calibrate` returns);
    without it, layers lacking a hint are calibrated here on the network's synthetic input.
    A network with features no chip runs (:mod:`archsim.graph.chip_support`) is refused in one line.
    """
    from archsim.graph.chip_support import check_chip_runnable

    check_chip_runnable(network, "chip precision")
    network = split_target_delays(network)
    quant = network.metadata.get("quant", {}) or {}
    input_scales = {name: _input_scale(network, name, precision) for name in network.inputs}
    relu_scales = _relu_out_scales(network, precision, calibration)
    layer_index = {layer.name: i for i, layer in enumerate(network.layers)}
    out_scales: dict[str, float] = {}
    layers: list[QuantizedLayer] = []
    for idx, layer in enumerate(network.layers):
        gain = _neuron_gain(layer)
        folded = []
        delays = []
        for proj in layer.projections:
            sigma = _sigma(proj.source, network, input_scales, out_scales, layer_index, idx, layer.name)
            delay, chain, delay_nodes = source_delay(proj.ops, network.shape_of(proj.source), layer.name)
            delays.append((delay, delay_nodes))
            ops, k, factor_after, weight_factor = _fold_chain(chain, network.shape_of(proj.source), layer.name)
            folded.append((proj, ops, k, sigma, factor_after, weight_factor))
        hint = (quant.get("weight_scale") or {}).get(layer.name)
        if quant.get("weight_bits", precision.weight_bits) != precision.weight_bits:
            hint = None  # the trainer's scale was chosen for another width: it would clip or waste range
        if hint is not None:
            scale = float(hint)
        else:
            peak = 0.0
            for proj, ops, k, sigma, _, weight_factor in folded:
                stored = _stored(_weight_of(ops[k]))
                peak = max(peak, float(np.max(np.abs(stored), initial=0.0)) * abs(weight_factor * gain * sigma))
            scale = _weight_scale(peak, [(ops[k], weight_factor * gain * sigma) for _, ops, k, sigma, _, weight_factor
                                         in folded], precision)
        projections = tuple(
            _plastic(QuantizedProjection(source=proj.source, recurrent=proj.recurrent, source_scale=sigma, kernel_index=k,
                                         ops=_integer_ops(ops, k, weight_factor * gain * sigma / scale,
                                                          factor_after * gain / scale, precision),
                                         delay=delay, delay_nodes=delay_nodes),
                     network, layer, proj, weight_factor * gain * sigma / scale, precision)
            for (proj, ops, k, sigma, factor_after, weight_factor), (delay, delay_nodes) in zip(folded, delays))
        qlayer = _quantize_neuron(layer, projections, scale, relu_scales.get(layer.name), precision)
        out_scales[layer.name] = qlayer.out_scale
        layers.append(qlayer)
    return QuantizedNetwork(network=network, precision=precision, layers=layers, input_scales=input_scales,
                            metadata={"relu_out_scales": relu_scales})


def _plastic(qproj: QuantizedProjection, network, layer, proj, multiplier: float, precision) -> QuantizedProjection:
    """``qproj`` with the integer form of ``proj``'s local rule, when it has one."""
    if proj.plasticity is None:
        return qproj
    check_plastic(network, layer, proj)
    rule = quantize_plasticity(proj.plasticity, qproj.kernel.weight, multiplier, precision)
    return dataclasses.replace(qproj, plasticity=rule)


def calibrate(network: Network, precision: Precision, steps: int | None = None, batch: int = 4,
              seed: int = 0) -> dict[str, float]:
    """ReLU layers' ``out_scale``: the peak float activation on the synthetic input, over ``qmax_act``.

    The synthetic input (``archsim.graph.workload.synthetic_inputs``) follows the network's recorded
    input statistics; a layer that never activates gets ``1 / qmax_act``.
    """
    from archsim.graph.functional import simulate
    from archsim.graph.workload import synthetic_inputs

    names = [layer.name for layer in network.layers if isinstance(layer.neuron, ReLU)]
    if not names:
        return {}
    steps = steps or int(network.metadata.get("steps", 8))
    run = simulate(network, synthetic_inputs(network, steps, batch, seed=seed))
    scales = {}
    for name in names:
        peak = float(np.max(run.layer_outputs[name])) if run.layer_outputs[name].size else 0.0
        scales[name] = (peak if peak > 0 else 1.0) / precision.qmax_act
    return scales


def _relu_out_scales(network: Network, precision: Precision, calibration: dict | None) -> dict[str, float]:
    hints = ((network.metadata.get("quant") or {}).get("activation_scale") or {})
    relus = [layer.name for layer in network.layers if isinstance(layer.neuron, ReLU)]
    scales = {name: float(hints[name]) for name in relus if name in hints}
    missing = [name for name in relus if name not in scales]
    if missing:
        measured = dict(calibration) if calibration is not None else calibrate(network, precision)
        scales.update({name: float(measured[name]) for name in missing})
    return scales


def _input_scale(network: Network, name: str, precision: Precision) -> float:
    hint = ((network.metadata.get("quant") or {}).get("input_scale") or {}).get(name)
    if hint is not None:
        return float(hint)
    if input_is_valued(network, name):
        return DEFAULT_VALUE_RANGE / precision.qmax_act
    return 1.0


def input_is_valued(network: Network, name: str) -> bool:
    """True when input ``name`` carries values (``metadata["input_kind"][name] == "values"``), not spikes."""
    return (network.metadata.get("input_kind") or {}).get(name) == "values"


def _sigma(source, network, input_scales, out_scales, layer_index, idx, layer_name) -> float:
    if source in input_scales:
        return input_scales[source]
    if source in out_scales:
        return out_scales[source]
    src = network.layers[layer_index[source]]
    if src.spiking:
        return 1.0
    raise UserError(f"layer {layer_name}: recurrent projection from non-spiking layer {source} "
                    f"({type(src.neuron).__name__}) cannot be quantised (allowed: recurrence from spiking layers)")


def _neuron_gain(layer) -> float | np.ndarray:
    neuron = layer.neuron
    gain = np.asarray(getattr(neuron, "gain", 1.0), dtype=np.float64)
    if isinstance(neuron, CubaLIF):
        gain = gain * np.asarray(neuron.syn_gain, dtype=np.float64)
    if gain.ndim and not np.allclose(gain, gain.flat[0], rtol=GAIN_RTOL, atol=0.0):
        raise UserError(f"layer {layer.name}: per-neuron gain cannot be folded into shared weights "
                        "(allowed: one gain per layer)")
    return float(gain.flat[0]) if gain.ndim else float(gain)


def _weight_of(op) -> np.ndarray:
    """The op's weights in float64; a sparse ``Dense`` weight stays sparse (its stored values only)."""
    values = op.scale if isinstance(op, Scale) else op.weight
    if sp.issparse(values):
        return sp.csr_matrix(values, dtype=np.float64)
    return np.asarray(values, dtype=np.float64)


def _stored(values) -> np.ndarray:
    """The values that exist: a sparse matrix's stored entries, else every entry."""
    return values.data if sp.issparse(values) else np.asarray(values)


def _fold_chain(ops, input_shape, layer_name):
    """Float chain -> (ops with at most one kernel, kernel index, factor_after, scalar weight factor).

    Scalar ``Scale`` and ``AvgPool2d`` become factors (AvgPool2d turns into SumPool2d); consecutive
    ``Dense`` ops (and array ``Scale`` ops beside them) are multiplied together.
    """
    steps: list = []
    factors: list[tuple[int, float]] = []  # (position in steps when met, factor)
    shape = tuple(input_shape)
    for op in ops:
        if isinstance(op, Scale) and np.ndim(op.scale) == 0:
            factors.append((len(steps), float(op.scale)))
        elif isinstance(op, AvgPool2d):
            factors.append((len(steps), 1.0 / (op.kernel[0] * op.kernel[1])))
            steps.append(SumPool2d(kernel=op.kernel, stride=op.stride, padding=op.padding))
        elif isinstance(op, Flatten) and len(shape) == 1:
            pass
        else:
            if isinstance(op, Dense) and steps and isinstance(steps[-1], Dense):
                between = [f for pos, f in factors if pos == len(steps)]
                factors = [(pos, f) for pos, f in factors if pos != len(steps)]
                steps[-1] = _scaled_dense(steps[-1], float(np.prod(between)) if between else 1.0)
            merged = _merge_with_previous(steps, op)
            if merged is not None:
                steps.append(merged)
        shape = op.output_shape(shape)
    kernels = [i for i, op in enumerate(steps) if isinstance(op, (Dense, Conv2d, Scale))]
    if len(kernels) > 1:
        names = ", ".join(type(steps[i]).__name__ for i in kernels)
        raise UserError(f"layer {layer_name}: a projection with several weighted ops ({names}) cannot be folded "
                        "into one integer kernel (allowed: one Dense or Conv2d per chain, with pools, flatten, scale)")
    if kernels:
        k = kernels[0]
    else:
        k = len(steps)
        steps.append(Scale(scale=np.float64(1.0)))
    weight_factor = float(np.prod([f for _, f in factors])) if factors else 1.0
    after = [f for pos, f in factors if pos > k]
    factor_after = float(np.prod(after)) if after else 1.0
    return steps, k, factor_after, weight_factor


def _scaled_dense(op: Dense, factor: float) -> Dense:
    bias = None if op.bias is None else np.asarray(op.bias, dtype=np.float64) * factor
    return Dense(weight=np.asarray(op.weight, dtype=np.float64) * factor, bias=bias)


def _merge_with_previous(steps, op):
    """Append-or-merge: Dense after Dense (or array Scale) multiplies out; returns the op to append.

    When the op merges into ``steps[-1]`` it replaces it in place and ``None`` is returned.
    """
    prev = steps[-1] if steps else None
    if isinstance(op, Dense) and isinstance(prev, Dense):
        steps[-1] = Dense(weight=np.asarray(op.weight) @ np.asarray(prev.weight),
                          bias=_compose_bias(op, prev))
        return None
    if isinstance(op, Dense) and isinstance(prev, Scale):
        steps[-1] = Dense(weight=np.asarray(op.weight) * np.asarray(prev.scale, dtype=np.float64).reshape(1, -1),
                          bias=op.bias)
        return None
    if isinstance(op, Scale) and isinstance(prev, Dense):
        s = np.asarray(op.scale, dtype=np.float64).reshape(-1)
        bias = None if prev.bias is None else np.asarray(prev.bias) * s
        steps[-1] = Dense(weight=np.asarray(prev.weight) * s[:, None], bias=bias)
        return None
    if isinstance(op, Scale) and isinstance(prev, Scale):
        steps[-1] = Scale(scale=np.asarray(prev.scale) * np.asarray(op.scale))
        return None
    return op


def _compose_bias(outer: Dense, inner: Dense):
    if inner.bias is None:
        return outer.bias
    b = np.asarray(outer.weight) @ np.asarray(inner.bias)
    return b if outer.bias is None else b + np.asarray(outer.bias)


def _integer_ops(steps, k, weight_mult, bias_mult, precision) -> tuple:
    """Replace the kernel at ``k`` with its integer form: weights times ``weight_mult``, bias times ``bias_mult``."""
    qmax = precision.qmax
    kernel = steps[k]
    w = _weight_of(kernel)
    if sp.issparse(w):                            # a sparse layer stays sparse: only its stored values are scaled
        w.data = np.clip(np.rint(w.data * weight_mult), -qmax, qmax)
        w.eliminate_zeros()
        w_q = w.astype(np.int32)
    else:
        w_q = np.clip(np.rint(w * weight_mult), -qmax, qmax).astype(np.int32)
    if isinstance(kernel, Scale):
        q = Scale(scale=w_q)
    else:
        bias = None if kernel.bias is None else np.rint(np.asarray(kernel.bias, dtype=np.float64) * bias_mult).astype(np.int32)
        if isinstance(kernel, Dense):
            q = Dense(weight=w_q, bias=bias)
        else:
            q = Conv2d(weight=w_q, bias=bias, stride=kernel.stride, padding=kernel.padding,
                       dilation=kernel.dilation, groups=kernel.groups)
    return tuple(steps[:k]) + (q,) + tuple(steps[k + 1:])


def _weight_scale(peak: float, kernels, precision: Precision) -> float:
    """1 when every effective weight is an integer within the weight range (exact on the chip), else
    ``peak / qmax`` (1 for all-zero weights). ``kernels``: (kernel op, its effective factor) pairs."""
    if peak <= 0:
        return 1.0
    if peak <= precision.qmax and all(_integral(_stored(_weight_of(op)) * factor) for op, factor in kernels):
        return 1.0
    return peak / precision.qmax


def _integral(values: np.ndarray) -> bool:
    return bool(np.all(values == np.rint(values)))


def _threshold_q(threshold, scale) -> np.ndarray:
    """``floor(threshold / scale)``: for an integer membrane ``v``, ``v > floor(t)`` exactly when ``v > t``,
    so the strict comparison agrees with the float one wherever the membrane is exact. A quotient
    within ``INTEGRAL_RTOL`` of an integer is that integer (float noise of ``t / scale``)."""
    x = np.asarray(threshold, dtype=np.float64) / scale
    nearest = np.rint(x)
    return np.where(np.abs(x - nearest) <= INTEGRAL_RTOL * np.maximum(1.0, np.abs(x)), nearest,
                    np.floor(x)).astype(np.int64)


def _q(value, scale) -> np.ndarray:
    return np.rint(np.asarray(value, dtype=np.float64) / scale).astype(np.int64)


def _decay_q(decay, precision) -> np.ndarray:
    return np.rint(np.asarray(decay, dtype=np.float64) * 2 ** precision.decay_frac_bits).astype(np.int64)


def _leak_q(neuron, scale) -> np.ndarray:
    decay = np.asarray(neuron.decay, dtype=np.float64)
    return _q((1.0 - decay) * np.asarray(neuron.v_leak, dtype=np.float64), scale)


def _quantize_neuron(layer, projections, scale, relu_scale, precision) -> QuantizedLayer:
    n = layer.neuron
    common = dict(name=layer.name, shape=tuple(layer.shape), projections=projections, scale=scale,
                  spiking=bool(n.spiking))
    if isinstance(n, LIF):
        return QuantizedLayer(kind="lif", out_scale=1.0, threshold_q=_threshold_q(n.threshold, scale),
                              v_reset_q=_q(n.v_reset, scale), leak_q=_leak_q(n, scale),
                              decay_q=_decay_q(n.decay, precision), reset=n.reset, **common)
    if isinstance(n, CubaLIF):
        return QuantizedLayer(kind="cubalif", out_scale=1.0, threshold_q=_threshold_q(n.threshold, scale),
                              v_reset_q=_q(n.v_reset, scale), leak_q=_leak_q(n, scale),
                              decay_q=_decay_q(n.decay, precision), syn_decay_q=_decay_q(n.syn_decay, precision),
                              reset="zero", **common)
    if isinstance(n, LI):
        return QuantizedLayer(kind="li", out_scale=scale, leak_q=_leak_q(n, scale),
                              decay_q=_decay_q(n.decay, precision), **common)
    if isinstance(n, Threshold):
        return QuantizedLayer(kind="threshold", out_scale=1.0, threshold_q=_threshold_q(n.threshold, scale), **common)
    if isinstance(n, ReLU):
        return QuantizedLayer(kind="relu", out_scale=relu_scale,
                              relu_multiplier=int(np.rint(scale / relu_scale * 2 ** RELU_SHIFT)), **common)
    if isinstance(n, Identity):
        return QuantizedLayer(kind="identity", out_scale=scale, **common)
    raise UserError(f"layer {layer.name}: neuron {type(n).__name__} cannot be quantised "
                    "(allowed: LIF, CubaLIF, LI, Threshold, ReLU, Identity)")
