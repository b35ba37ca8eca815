"""archsim's internal network: named layers joined by projections, in discrete time.

A NIR graph is a continuous-time description of many small nodes (Affine, LIF, ...). archsim works
on a coarser, discrete-time view that hardware maps naturally:

* a :class:`Layer` is a population of neurons of one kind (its ``neuron`` model) and one output shape;
* its input current is the sum, over its :class:`Projection` s, of a chain of linear operators
  (:class:`Dense`, :class:`Conv2d`, :class:`Conv1d`, :class:`AvgPool2d`, :class:`SumPool2d`,
  :class:`Flatten`, :class:`Scale`, :class:`Delay`) applied to the output of a source (a network input
  or another layer);
* a :class:`Network` lists its inputs, its layers in topological order and its outputs.

Time semantics (one step ``t``), shared by the functional simulator, every chip model and the trainer
(the ``serial`` layer schedule; :mod:`archsim.graph.schedule` rewrites a network for ``pipelined``):

1. layers are evaluated in list order; a projection reads its source's output of the *same* step
   when the source comes earlier in the list (or is an input), and of the *previous* step
   (zero at ``t = 0``) when it is recurrent (``Projection.recurrent``: the source is this layer or a
   later one);
2. ``current = sum_p ops_p(source_p)`` (a ``Dense`` bias or ``Conv2d`` bias is part of its op);
3. the neuron model turns ``current`` into the layer's output (see each neuron class).

Shapes never include time or batch: ``(features,)`` or ``(channels, height, width)``.
The NIR import (``archsim.graph.nir_io``) builds these objects with forward-Euler discretisation at
a step ``dt``; nothing here knows about hardware.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np

Shape = tuple[int, ...]


# ----------------------------------------------------------------------------------------------
# Linear operators (the synapses)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Dense:
    """``y = weight @ x + bias`` over a flat input; ``weight`` has shape (out, in): a NumPy array, or a
    SciPy sparse matrix for a sparse layer (only its stored entries exist; nothing densifies it)."""

    weight: np.ndarray
    bias: np.ndarray | None = None

    def output_shape(self, input_shape: Shape) -> Shape:
        return (int(self.weight.shape[0]),)


@dataclass(frozen=True, eq=False)
class Conv2d:
    """2-D cross-correlation as in PyTorch/NIR; ``weight`` is (C_out, C_in / groups, kh, kw)."""

    weight: np.ndarray
    bias: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def output_shape(self, input_shape: Shape) -> Shape:
        _, h, w = input_shape
        kh, kw = self.weight.shape[2:]
        oh = (h + 2 * self.padding[0] - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        ow = (w + 2 * self.padding[1] - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        return (int(self.weight.shape[0]), int(oh), int(ow))


@dataclass(frozen=True, eq=False)
class _Pool2d:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)

    def output_shape(self, input_shape: Shape) -> Shape:
        c, h, w = input_shape
        oh = (h + 2 * self.padding[0] - self.kernel[0]) // self.stride[0] + 1
        ow = (w + 2 * self.padding[1] - self.kernel[1]) // self.stride[1] + 1
        return (int(c), int(oh), int(ow))


@dataclass(frozen=True, eq=False)
class AvgPool2d(_Pool2d):
    """Mean over each window (zero padding counts in the divisor, as NIR and PyTorch's default)."""


@dataclass(frozen=True, eq=False)
class SumPool2d(_Pool2d):
    """Sum over each window."""


@dataclass(frozen=True, eq=False)
class Flatten:
    """Reshape to one dimension (row-major, C then H then W)."""

    def output_shape(self, input_shape: Shape) -> Shape:
        return (int(np.prod(input_shape)),)


@dataclass(frozen=True, eq=False)
class Scale:
    """Element-wise multiplication by ``scale`` (a scalar or an array of the input's shape)."""

    scale: np.ndarray

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


@dataclass(frozen=True, eq=False)
class Conv1d:
    """1-D cross-correlation as in PyTorch/NIR over ``(C, L)``; ``weight`` is (C_out, C_in / groups, k)."""

    weight: np.ndarray
    bias: np.ndarray | None = None
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1

    def output_shape(self, input_shape: Shape) -> Shape:
        length = input_shape[1]
        k = self.weight.shape[2]
        out = (length + 2 * self.padding - self.dilation * (k - 1) - 1) // self.stride + 1
        return (int(self.weight.shape[0]), int(out))


@dataclass(frozen=True, eq=False)
class Delay:
    """Each element arrives ``steps`` time steps late (a scalar or one per element; zeros before the first
    arrival). Linear and time-invariant, so it may stand anywhere in a projection's chain. ``node`` is the
    name of the NIR node it came from (for messages; empty when built in code)."""

    steps: np.ndarray
    node: str = ""

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)


LinearOp = Union[Dense, Conv2d, Conv1d, AvgPool2d, SumPool2d, Flatten, Scale, Delay]


# ----------------------------------------------------------------------------------------------
# Neuron models (discrete time; parameters are scalars or arrays of the layer's shape)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LIF:
    """Leaky integrate-and-fire; spikes are 0/1.

    Per step (``s_prev``: this layer's spikes of the previous step, 0 at the first step)::

        reset == "zero":      v = decay * v + (1 - decay) * v_leak + gain * current
                              s = v > threshold ;  v = v_reset where s
        reset == "subtract":  v = decay * v + (1 - decay) * v_leak + gain * current - threshold * s_prev
                              s = v > threshold     (v is left as it is after the spike)

    "zero" is NIR's LIF (reset right after the spike). "subtract" is snnTorch's ``Leaky`` default
    (``reset_mechanism="subtract"``, ``reset_delay=True``): the threshold is taken off on the next
    step, after the decay, so a spike costs ``threshold`` and not ``decay * threshold``.
    "subtract_now" is Sinabs' and Rockpool's ``MembraneSubtract``: the spikes' worth of threshold is
    taken off in the step that fired (``v = v - s * threshold``), so the next decay acts on it.

    Two more rules for frameworks that fire differently (both default to NIR's):

    * ``fire_at_threshold``: ``s = v >= threshold`` instead of ``v > threshold`` (Sinabs, Rockpool);
    * ``multi_spike``: ``s = trunc(v / threshold)`` where ``v > 0`` (Sinabs' ``MultiSpike``, Rockpool's
      ``StepPWL``): a graded count of spikes in one step, with a subtractive reset of ``s * threshold``;
      it fires where ``v >= threshold`` whatever ``fire_at_threshold`` says.

    ``v_min`` (None: unbounded) floors the membrane after the reset, as Sinabs' ``min_v_mem`` does.

    NIR's ``LIF`` (tau, r, v_leak, v_threshold, v_reset) discretised by forward Euler at ``dt`` gives
    ``decay = 1 - dt / tau`` and ``gain = r * dt / tau``; NIR's ``IF`` (``dv/dt = R I``) is ``decay = 1``,
    ``gain = r * dt``. With snnTorch's export convention (dt = 1e-4, tau = dt / (1 - beta), r = tau / dt)
    this is ``v = beta * v + current``.
    """

    decay: np.ndarray
    threshold: np.ndarray
    gain: np.ndarray = field(default_factory=lambda: np.float64(1.0))
    v_leak: np.ndarray = field(default_factory=lambda: np.float64(0.0))
    v_reset: np.ndarray = field(default_factory=lambda: np.float64(0.0))
    reset: str = "zero"
    fire_at_threshold: bool = False
    multi_spike: bool = False
    v_min: np.ndarray | None = None

    spiking = True


@dataclass(frozen=True, eq=False)
class CubaLIF:
    """Current-based LIF: a synaptic current state feeds the membrane. Per step::

        i = syn_decay * i + syn_gain * current
        v = decay * v + (1 - decay) * v_leak + gain * i
        s = v > threshold;  v = v_reset where s

    From NIR's ``CubaLIF``: ``syn_decay = 1 - dt / tau_syn``, ``syn_gain = w_in * dt / tau_syn``,
    ``decay = 1 - dt / tau_mem``, ``gain = r * dt / tau_mem``.
    """

    syn_decay: np.ndarray
    decay: np.ndarray
    threshold: np.ndarray
    syn_gain: np.ndarray = field(default_factory=lambda: np.float64(1.0))
    gain: np.ndarray = field(default_factory=lambda: np.float64(1.0))
    v_leak: np.ndarray = field(default_factory=lambda: np.float64(0.0))
    v_reset: np.ndarray = field(default_factory=lambda: np.float64(0.0))

    spiking = True


@dataclass(frozen=True, eq=False)
class LI:
    """Leaky integrator without spikes (a read-out); the output is the membrane ``v``::

        v = decay * v + (1 - decay) * v_leak + gain * current

    NIR's ``LI`` gives ``decay = 1 - dt / tau``, ``gain = r * dt / tau``; NIR's ``I`` (integrator,
    ``dv/dt = R I``) is ``decay = 1``, ``gain = r * dt``.
    """

    decay: np.ndarray
    gain: np.ndarray = field(default_factory=lambda: np.float64(1.0))
    v_leak: np.ndarray = field(default_factory=lambda: np.float64(0.0))

    spiking = False


@dataclass(frozen=True, eq=False)
class CubaLI:
    """Current-based leaky integrator without spikes (NIR ``CubaLI``); the output is the membrane::

        i = syn_decay * i + syn_gain * current
        v = decay * v + (1 - decay) * v_leak + gain * i

    discretised from NIR's ``tau_syn``, ``tau_mem``, ``r``, ``w_in`` and ``v_leak`` as :class:`CubaLIF`.
    """

    syn_decay: np.ndarray
    decay: np.ndarray
    syn_gain: np.ndarray = field(default_factory=lambda: np.float64(1.0))
    gain: np.ndarray = field(default_factory=lambda: np.float64(1.0))
    v_leak: np.ndarray = field(default_factory=lambda: np.float64(0.0))

    spiking = False


@dataclass(frozen=True, eq=False)
class Threshold:
    """Stateless spike: ``s = current > threshold`` (NIR ``Threshold``)."""

    threshold: np.ndarray

    spiking = True


@dataclass(frozen=True, eq=False)
class ReLU:
    """ANN activation: ``y = max(current, 0)``. Layers with it run in ANN mode on hybrid chips."""

    spiking = False


@dataclass(frozen=True, eq=False)
class Identity:
    """No neuron: the output is the current itself (a linear layer, e.g. an ANN read-out)."""

    spiking = False


Neuron = Union[LIF, CubaLIF, LI, CubaLI, Threshold, ReLU, Identity]


# ----------------------------------------------------------------------------------------------
# The graph
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from ``source`` (an input or layer name) into a layer: ``ops`` applied in order;
    ``plasticity`` (None: static synapses) is a local learning rule (:mod:`archsim.graph.plasticity`)."""

    source: str
    ops: tuple[LinearOp, ...]
    recurrent: bool = False
    plasticity: "Plasticity | None" = None


@dataclass(frozen=True, eq=False)
class Layer:
    """A population of ``neuron`` cells of output shape ``shape`` fed by ``projections``."""

    name: str
    shape: Shape
    projections: tuple[Projection, ...]
    neuron: Neuron

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def spiking(self) -> bool:
        return bool(self.neuron.spiking)


@dataclass(eq=False)
class Network:
    """Inputs, layers in topological order, and the names of the output layers.

    ``metadata`` carries what travels with a network but is not structure: the quantisation hints
    written by the trainer (``quant``: per-layer weight scales and bits, ``input_scale``), recorded
    statistics (``stats``: per-layer spike rates, backward sparsity), the source file and ``dt``.
    """

    name: str
    inputs: dict[str, Shape]
    layers: list[Layer]
    outputs: list[str]
    metadata: dict = field(default_factory=dict)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def shape_of(self, name: str) -> Shape:
        """Output shape of an input or a layer."""
        if name in self.inputs:
            return tuple(self.inputs[name])
        return self.layer(name).shape

    @property
    def neuron_count(self) -> int:
        return sum(layer.size for layer in self.layers)
