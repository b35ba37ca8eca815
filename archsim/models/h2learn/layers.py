"""Which layers the accelerator can train, and their fixed-point form.

A trainable layer (:class:`TrainLayer`) is a neuron population fed by one or more projections
(:class:`TrainProjection`); its current is the sum of the projections' currents (plus the biases), so
the gradient dL/du of the layer flows back through every projection to its own source. Each projection
becomes one *integer-input convolution*: a ``Conv2d`` is one already; a ``Dense`` is a 1x1 convolution
over its flattened input. An ``AvgPool2d`` in front of either runs as a pool: the FE sums each p x p window
of the source's codes (p^2 - 1 adds per pooled value, :meth:`TrainProjection.gather`; the 1/p^2 is folded
into the weight scale), and the convolution runs on the pooled shape with the network's own kernel, so its
MACs are those of the pooled layer. A pooled spike window is a multi-bit code (0..p^2): the FE takes it in
bit planes (``input_planes`` = bits of the largest window sum), one LUT pass per plane shifted by its
weight, which keeps LUT grouping exact (interpretation). The gradient of a pooled value goes unchanged to
every source neuron of its window (:meth:`TrainProjection.scatter`); a pooled value needs a gradient if any
neuron of its window has an open surrogate window (:meth:`TrainProjection.gather_open`).

Neurons (``TrainLayer.kind``):

* ``lif``: LIF, reset to zero, no leak potential; output spikes 0/1.
* ``readout``: an LI integrator as the last layer (no spikes; softmax cross-entropy on its last membrane).
* ``relu``: an ANN layer, ``y = clip(round(u / 2^relu_shift), 0, 2^activation_bits - 1)``: its output is
  an unsigned ``activation_bits`` code (not a spike), so its consumers see a valued input (bit planes).
  The shift is chosen once from the same calibration the inference quantiser uses
  (:func:`archsim.graph.quantize.calibrate`: the peak float activation on the synthetic input), rounded
  up to a power of two so the hardware shifts instead of multiplying (interpretation). Its backward is
  ``dL/du = dL/dy * 2^(exp - relu_shift)`` where ``u > 0`` (the ReLU derivative; the upper clip is passed
  straight through), zero elsewhere: the BE treats ``u <= 0`` like a closed surrogate window and writes
  dL/du of the ReLU layer directly (:func:`.fixed.spatial_gradient`).

Residual blocks: a projection without ops is an identity shortcut (:class:`TrainShortcut`): the source
(of the layer's shape) adds its codes into the layer's current through the FE's add path, times a power
of two (its real units per code in the layer's membrane units: ``2^exp`` for spikes), and the BE sends
the layer's dL/du back along it (the same shift), summed with the gradients of the source's other
consumers where the shortcut forks. A 1x1 projection shortcut is an ordinary Conv2d projection.
Threshold-dependent batch norm (tdBN, Zheng et al. 2021) reaches the accelerator folded into the weights
and biases at its running statistics (:func:`workloads.export.archsim_ops`), which is what inference runs.
In training, a projection the network's ``metadata["tdbn"]`` names (:class:`TrainBN`) normalises its
current by the statistics of the tile again, ``gamma * alpha * V_th * x_hat + beta`` (the folded bias
dropped: the batch mean removes it), and its backward runs on the BE (:func:`.fixed.bn_backward`).

Sources: a network input (spikes or values; several inputs are allowed) or any earlier layer; no
recurrent projections. Anything else raises a one-line :class:`~archsim.errors.UserError` naming the layer.

Fixed point (interpretation): each layer keeps one power-of-two weight scale ``2^-exp`` shared by all its
projections, chosen once from the initial weights, so the membrane, the threshold and the window limits
are integers in that unit and every gradient step is a shift.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from archsim.errors import UserError
from archsim.graph.network import LI, LIF, AvgPool2d, Conv2d, Dense, Flatten, Network, ReLU
from archsim.graph.quantize import Precision, calibrate
from archsim.models.h2learn.fixed import BN_ALPHA_FRAC_BITS, BN_GAMMA_FRAC_BITS
from archsim.models.h2learn.params import H2LearnParams


@dataclass(eq=False)
class TrainProjection:
    """One projection in the accelerator's integer formats.

    ``weight_q`` keeps the network's own weight shape ((K, C, R, S) or (K, fan_in)); ``kernel()`` gives it
    as a (K, C, R, S) kernel over ``in_shape`` (the pooled, for a Dense flattened, input) with ``stride``
    and ``padding``. ``source_shape`` and ``source_planes`` describe the source's own codes before pooling.
    """

    source: str
    source_shape: tuple[int, ...]
    source_planes: int           # 1 for spikes; activation_bits for a valued source (network input or ReLU)
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    weight_q: np.ndarray
    pool: int
    dense: bool
    stride: tuple[int, int]
    padding: tuple[int, int]
    input_planes: int            # bit planes of the convolution's input: source_planes, widened by pooling
    bn: "TrainBN | None" = None  # tdBN on this projection's current (training by batch statistics)

    def kernel(self) -> np.ndarray:
        """The kernel over ``in_shape``: (K, C, R, S) int64."""
        w = self.weight_q.astype(np.int64)
        return w.reshape(w.shape[0], -1, 1, 1) if self.dense else w

    def reduce_kernel(self, dkernel: np.ndarray) -> np.ndarray:
        """A gradient of :meth:`kernel` in ``weight_q``'s shape."""
        return dkernel.reshape(self.weight_q.shape)

    def _windows(self, x: np.ndarray) -> np.ndarray:
        p = self.pool
        c, h, w = self.source_shape
        return x.reshape(x.shape[:2] + (c, h // p, p, w // p, p))

    def gather(self, x: np.ndarray) -> np.ndarray:
        """The convolution's input (T, Bt, *in_shape) from the source's codes (T, Bt, *source_shape):
        the window sums when pooled (integer, p^2 - 1 adds each), the codes themselves otherwise."""
        if self.pool == 1:
            return x.reshape(x.shape[:2] + self.in_shape)
        return self._windows(x).sum(axis=(4, 6), dtype=np.int64).reshape(x.shape[:2] + self.in_shape)

    def gather_open(self, open_src: np.ndarray) -> np.ndarray:
        """Which pooled inputs (T, Bt, *in_shape) have a source neuron that a gradient can reach."""
        if self.pool == 1:
            return open_src.reshape(open_src.shape[:2] + self.in_shape)
        return self._windows(open_src).any(axis=(4, 6)).reshape(open_src.shape[:2] + self.in_shape)

    def scatter(self, g: np.ndarray) -> np.ndarray:
        """A gradient on the pooled input (T, Bt, *in_shape) spread to every source neuron of its window."""
        if self.pool == 1:
            return g.reshape(g.shape[:2] + tuple(self.source_shape))
        c, h, w = self.source_shape
        p = self.pool
        pooled = g.reshape(g.shape[:2] + (c, h // p, w // p))
        return pooled.repeat(p, axis=3).repeat(p, axis=4)

    @property
    def pool_adds_per_sample_step(self) -> int:
        """Adds that pool one sample-step of the source (p^2 - 1 per pooled value; 0 unpooled)."""
        return 0 if self.pool == 1 else self.in_size * (self.pool ** 2 - 1)

    @property
    def kernel_shape(self) -> tuple[int, int, int, int]:
        """Shape of :meth:`kernel` without building it."""
        k = int(self.weight_q.shape[0])
        if self.dense:
            return (k, self.in_shape[0], 1, 1)
        _, c, r, s = self.weight_q.shape
        return (k, int(c), int(r), int(s))

    @property
    def out_size(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def in_size(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def source_size(self) -> int:
        return int(np.prod(self.source_shape))


@dataclass(eq=False)
class TrainBN:
    """tdBN of one projection's current in the accelerator's formats: ``gamma_q`` (2^-12), ``beta_q``
    (membrane units), the branch factor ``alpha_q`` (2^-12) and eps in membrane units squared; V_th is
    the layer's threshold. Learnt by the WUE with the weights."""

    gamma_q: np.ndarray
    beta_q: np.ndarray
    alpha_q: int
    eps_q: float


@dataclass(eq=False)
class TrainShortcut:
    """An identity shortcut (a residual block's projection without weights): the source's codes, of the
    layer's own shape, added into the layer's current times ``2^shift`` (the source's real units per code
    in the layer's membrane units, a power of two, so the add path shifts and adds; no synapse exists)."""

    source: str
    shape: tuple[int, int, int]  # the layer's out_shape (the source's codes reshaped to it)
    planes: int                  # 1 for spikes; activation_bits for a ReLU source
    shift: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def current(self, x: np.ndarray) -> np.ndarray:
        """The add path's current (T, Bt, *shape) from the source's codes (T, Bt, *source shape)."""
        return x.reshape(x.shape[:2] + self.shape).astype(np.int64) << self.shift

    def backward_sums(self, du: np.ndarray) -> np.ndarray:
        """The shortcut's integer "W^T dL/du": dL/du times its constant ``2^shift`` (a shift)."""
        return np.asarray(du, dtype=np.int64) << self.shift


@dataclass(eq=False)
class TrainLayer:
    """One trainable layer: its neuron in integer formats, its projections (``bias_q`` is the sum of
    the projections' biases, in membrane units, or None) and its identity shortcuts."""

    name: str
    kind: str                    # "lif", "readout" or "relu"
    out_shape: tuple[int, int, int]
    projections: list
    bias_q: np.ndarray | None
    exp: int                     # weight scale 2^-exp (membrane units), shared by the projections
    threshold_q: int
    decay_q: int
    half_window_q: int           # surrogate window half-width in membrane units
    relu_shift: int = 0          # relu: output code = round(u / 2^relu_shift)
    shortcuts: list = field(default_factory=list)

    @property
    def readout(self) -> bool:
        return self.kind == "readout"

    @property
    def relu(self) -> bool:
        return self.kind == "relu"

    @property
    def out_size(self) -> int:
        return int(np.prod(self.out_shape))


def _uniform(value, layer: str, what: str) -> float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0 or not np.all(arr == arr.flat[0]):
        raise UserError(f"layer {layer!r}: {what} differs between neurons; h2learn trains one {what} per layer")
    return float(arr.flat[0])


def _unsupported(layer, why: str) -> UserError:
    return UserError(f"layer {layer.name!r}: {why} cannot be trained on h2learn "
                     f"(supported: LIF or ReLU layers, an LI read-out last, fed by [AvgPool2d] [Flatten] "
                     f"Dense|Conv2d projections and identity shortcuts from inputs or earlier layers)")


def _parse_ops(layer, proj, src_shape):
    """(pool, weighted op, dense?) from a projection's op chain, or a UserError."""
    ops = list(proj.ops)
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
        names = "+".join(type(o).__name__ for o in proj.ops)
        raise _unsupported(layer, f"the projection {names}")
    op = ops[0]
    if isinstance(op, Conv2d) and (op.groups != 1 or tuple(op.dilation) != (1, 1) or len(src_shape) != 3):
        raise _unsupported(layer, "a grouped, dilated or flat-input Conv2d")
    return pool, op, isinstance(op, Dense)


def _kind(layer, last: bool) -> str:
    neuron = layer.neuron
    if isinstance(neuron, LIF):
        return "lif"
    if isinstance(neuron, ReLU):
        return "relu"
    if isinstance(neuron, LI) and last:
        return "readout"
    where = " before the last layer" if isinstance(neuron, LI) else ""
    raise _unsupported(layer, f"a {type(neuron).__name__} neuron{where}")


def _projection_geometry(layer, proj, src_shape, planes: int):
    """(TrainProjection without weights, the op) of one network projection."""
    pool, op, dense = _parse_ops(layer, proj, src_shape)
    pooled_shape = src_shape if pool == 1 else (src_shape[0], src_shape[1] // pool, src_shape[2] // pool)
    if dense:
        if int(np.prod(pooled_shape)) != op.weight.shape[1]:
            raise _unsupported(layer, "a Dense whose fan-in does not match its source")
        in_shape, stride, padding = (int(np.prod(pooled_shape)), 1, 1), (1, 1), (0, 0)
        out_shape = (int(op.weight.shape[0]), 1, 1)
    else:
        in_shape = tuple(int(v) for v in pooled_shape)
        stride, padding = tuple(op.stride), tuple(op.padding)
        out_shape = tuple(int(v) for v in op.output_shape(pooled_shape))
    if int(np.prod(out_shape)) != layer.size:
        raise _unsupported(layer, f"an output shape {out_shape} that differs from the layer's {layer.shape}")
    in_planes = planes if pool == 1 else int(pool * pool * (2 ** planes - 1)).bit_length()
    return TrainProjection(source=proj.source, source_shape=tuple(int(v) for v in src_shape), source_planes=planes,
                           in_shape=in_shape, out_shape=out_shape, weight_q=np.zeros(0), pool=pool, dense=dense,
                           stride=stride, padding=padding, input_planes=in_planes), op


def _bn(layer, row: dict, exp: int, threshold: float) -> TrainBN:
    """The :class:`TrainBN` of a folded tdBN (``metadata["tdbn"]`` row). The folded weights are the
    trained ones times gamma / sigma_running per channel, and normalising by batch statistics undoes a
    channel's scale up to its sign, the sign of gamma: so |gamma| here gives the trainer's output."""
    if not math.isclose(float(row["v_th"]), threshold):
        raise _unsupported(layer, f"a tdBN normalised to V_th {row['v_th']:g} feeding a threshold {threshold:g}")
    return TrainBN(gamma_q=np.rint(np.abs(np.asarray(row["gamma"], dtype=np.float64)) * 2 ** BN_GAMMA_FRAC_BITS
                                   ).astype(np.int64),
                   beta_q=np.rint(np.asarray(row["beta"], dtype=np.float64) * 2.0 ** exp).astype(np.int64),
                   alpha_q=int(round(float(row["alpha"]) * 2 ** BN_ALPHA_FRAC_BITS)),
                   eps_q=float(row["eps"]) * 4.0 ** exp)


def _shortcut(network: Network, layer, out_shape, source: str, per_code: float, planes: int) -> TrainShortcut:
    """The :class:`TrainShortcut` from ``source`` whose codes are worth ``per_code`` membrane units each."""
    if tuple(network.shape_of(source)) != tuple(layer.shape):
        raise _unsupported(layer, f"an identity shortcut from {source!r} of another shape "
                                  f"({tuple(network.shape_of(source))} into {tuple(layer.shape)})")
    shift = math.log2(per_code) if per_code > 0 else -1.0
    if shift != int(shift) or shift < 0:
        raise _unsupported(layer, f"an identity shortcut from {source!r} worth {per_code:g} membrane units per "
                                  f"code (the add path shifts: a power of two >= 1 is needed)")
    return TrainShortcut(source=source, shape=tuple(out_shape), planes=planes, shift=int(shift))


def _relu_scales(network: Network, params: H2LearnParams) -> dict[str, float]:
    """Real units per output code of each ReLU layer (the inference quantiser's calibration)."""
    if not any(isinstance(layer.neuron, ReLU) for layer in network.layers):
        return {}
    precision = Precision(weight_bits=params.weight_bits, activation_bits=params.activation_bits,
                          membrane_bits=params.membrane_bits, decay_frac_bits=params.decay_frac_bits)
    full_range = 2 ** params.activation_bits - 1          # h2learn codes are unsigned, the quantiser's signed
    return {name: scale * precision.qmax_act / full_range for name, scale in calibrate(network, precision).items()}


def build_layers(network: Network, params: H2LearnParams, valued_inputs=(),
                 batch_norm: bool = False) -> list[TrainLayer]:
    """The network as a list of :class:`TrainLayer` (raises a one-line UserError if it cannot train).

    ``valued_inputs``: names of network inputs that carry values in [0, 1] (the others carry spikes).
    ``batch_norm``: the projections whose tdBN was folded (``metadata["tdbn"]``) normalise by batch
    statistics again (training); otherwise they run folded, as inference does."""
    qmax = params.qmax_weight
    value_sigma = 1.0 / (2 ** params.activation_bits - 1)   # valued inputs are codes of [0, 1] (fixed.quantize_input)
    sigma = {name: (value_sigma if name in valued_inputs else 1.0) for name in network.inputs}
    planes = {name: (params.activation_bits if name in valued_inputs else 1) for name in network.inputs}
    relu_scales = _relu_scales(network, params)
    layers: list[TrainLayer] = []
    for index, layer in enumerate(network.layers):
        kind = _kind(layer, index == len(network.layers) - 1)
        if not layer.projections:
            raise _unsupported(layer, "a layer without projections")
        neuron = layer.neuron
        if kind == "relu":
            decay, threshold, gain = 0.0, 0.0, 1.0
        else:
            if kind == "lif" and (neuron.reset != "zero" or _uniform(neuron.v_reset, layer.name, "v_reset") != 0.0):
                raise _unsupported(layer, "a LIF that does not reset to zero")
            decay = _uniform(neuron.decay, layer.name, "decay")
            if (1.0 - decay) * _uniform(neuron.v_leak, layer.name, "v_leak") != 0.0:
                raise _unsupported(layer, f"a {type(neuron).__name__} with a leak potential")
            threshold = 0.0 if kind == "readout" else _uniform(neuron.threshold, layer.name, "threshold")
            gain = _uniform(neuron.gain, layer.name, "gain")
        projections, w_effs, bias, shortcuts = [], [], None, []
        bn_rows = {int(row["projection"]): row for row in network.metadata.get("tdbn", {}).get(layer.name, [])} \
            if batch_norm else {}
        for pi, proj in enumerate(layer.projections):
            if proj.recurrent or proj.source not in sigma:
                raise _unsupported(layer, f"a recurrent projection from {proj.source!r}")
            if not proj.ops:
                shortcuts.append((proj.source, gain * sigma[proj.source]))
                continue
            tp, op = _projection_geometry(layer, proj, tuple(network.shape_of(proj.source)), planes[proj.source])
            projections.append(tp)
            w_effs.append(np.asarray(op.weight, dtype=np.float64) * (gain * sigma[proj.source] / (tp.pool ** 2)))
            if pi in bn_rows:
                if gain != 1.0:
                    raise _unsupported(layer, "a tdBN feeding a neuron with an input gain")
                tp.bn = bn_rows[pi]            # its batch mean removes the folded bias; beta replaces it
            elif op.bias is not None:
                b = np.asarray(op.bias, dtype=np.float64) * gain
                bias = b if bias is None else bias + b
        if not projections:
            raise _unsupported(layer, "a layer fed by identity shortcuts alone")
        peak = max((float(np.max(np.abs(w))) for w in w_effs if w.size), default=0.0)
        if bias is not None and bias.size:
            peak = max(peak, float(np.max(np.abs(bias))) / 2 ** (params.membrane_bits - 2 - params.weight_bits))
        exp = int(math.floor(math.log2(qmax / peak))) if peak > 0 else params.weight_bits
        exp = min(exp, params.membrane_bits - 2 - max(0, math.ceil(math.log2(max(threshold, 1e-12)))))
        for tp, w_eff in zip(projections, w_effs):
            tp.weight_q = np.clip(np.rint(w_eff * 2.0 ** exp), -qmax, qmax).astype(np.int64)
            if tp.bn is not None:
                tp.bn = _bn(layer, tp.bn, exp, threshold)
        relu_shift = 0
        if kind == "relu":
            relu_shift = math.ceil(math.log2(relu_scales[layer.name]) + exp)   # no clipping on the calibration input
            sigma[layer.name] = 2.0 ** (relu_shift - exp)
            planes[layer.name] = params.activation_bits
        else:
            sigma[layer.name], planes[layer.name] = 1.0, 1
        layers.append(TrainLayer(
            name=layer.name, kind=kind, out_shape=projections[0].out_shape, projections=projections,
            bias_q=None if bias is None else np.rint(bias * 2.0 ** exp).astype(np.int64), exp=exp,
            threshold_q=int(round(threshold * 2 ** exp)),
            decay_q=int(round(decay * 2 ** params.decay_frac_bits)),
            half_window_q=int(round(params.surrogate_width / 2 * 2 ** exp)) if kind == "lif" else 0,
            relu_shift=relu_shift,
            shortcuts=[_shortcut(network, layer, projections[0].out_shape, source, scale * 2.0 ** exp, planes[source])
                       for source, scale in shortcuts],
        ))
    if not layers:
        raise UserError(f"network {network.name!r}: no layers to train")
    if network.outputs != [layers[-1].name] or layers[-1].relu:
        raise UserError(f"network {network.name!r}: outputs {network.outputs} must be the last layer "
                        f"{layers[-1].name!r} alone, a LIF or LI read-out, for h2learn training")
    return layers
