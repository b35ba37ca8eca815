"""The functional simulator: what a Network computes, step by step, without any hardware timing.

``simulate(network, inputs)`` runs NIR's reference semantics discretised as in
:mod:`archsim.graph.network` (float64). ``simulate(network, inputs, precision)`` runs the integer
arithmetic of :mod:`archsim.graph.quantize`, the functional truth every chip model must reproduce
bit for bit (delays as axon delays, :mod:`archsim.graph.delays`); its outputs are dequantised to floats (spikes stay 0/1) and the raw integers are kept
in ``FunctionalRun.layer_outputs_q``.

Everything is vectorised over the batch: one step of one layer is a few matrix products
(:mod:`archsim.graph.ops`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from archsim.errors import UserError
from archsim.graph.delays import DelayLine
from archsim.graph.network import LI, LIF, CubaLI, CubaLIF, Delay, Identity, Network, ReLU, Threshold
from archsim.graph.ops import apply_ops
from archsim.graph.plasticity import FloatTrace, IntTrace, check_rules
from archsim.graph.quantize import Precision, QuantizedLayer, QuantizedNetwork, quantize
from archsim.graph.schedule import scheduled


@dataclass(eq=False)
class FunctionalRun:
    """Outputs of a functional run; arrays are ``(T, B, *shape)``.

    ``outputs`` holds the network's output layers, ``layer_outputs`` every layer (floats: spikes
    0/1, values dequantised in chip mode), ``layer_outputs_q`` the integers of every layer (chip
    mode only, else empty), ``spike_counts`` the total spikes of each spiking layer, and
    ``quantized`` the :class:`QuantizedNetwork` used (chip mode only).
    """

    outputs: dict[str, np.ndarray]
    layer_outputs: dict[str, np.ndarray]
    spike_counts: dict[str, int]
    layer_outputs_q: dict[str, np.ndarray] = field(default_factory=dict)
    quantized: QuantizedNetwork | None = None
    traces: dict = field(default_factory=dict)   # (layer, projection index) -> final plastic trace (B, out, in)


def simulate(network: Network, inputs: dict[str, np.ndarray], precision: Precision | QuantizedNetwork | None = None,
             schedule: str = "serial") -> FunctionalRun:
    """Run ``network`` on ``inputs[name]`` of shape ``(T, B, *shape)``.

    ``precision=None`` gives float semantics; a :class:`Precision` (or an already quantised network)
    gives the chip's integer semantics. ``schedule`` is the layer schedule (:mod:`archsim.graph.schedule`;
    a quantised network given as ``precision`` carries its own).
    """
    steps, batch = check_inputs(network, inputs)
    network = scheduled(network, schedule)
    if precision is None:
        check_rules(network)
        traces: dict = {}
        outs = _run(network, inputs, steps, batch, _FloatLayer, traces)
        return _finish(network, outs, {}, None, traces)
    qnet = precision if isinstance(precision, QuantizedNetwork) else quantize(network, precision)
    q_inputs = qnet.quantize_inputs(inputs)
    # qnet.network: the network as quantised (per-target delays split into one projection per value)
    traces = {}
    outs_q = _run(qnet.network, q_inputs, steps, batch, lambda layer: _IntLayer(qnet, qnet.layer(layer.name)), traces)
    outs = {}
    for layer in qnet.layers:
        q = outs_q[layer.name]
        outs[layer.name] = q.astype(np.float64) if layer.spiking else q * layer.out_scale
    return _finish(network, outs, outs_q, qnet, traces)


def check_inputs(network: Network, inputs: dict[str, np.ndarray]) -> tuple[int, int]:
    """(T, B) of ``inputs``; a UserError names the input and the expected shape when they do not fit."""
    steps = batch = None
    for name, shape in network.inputs.items():
        if name not in inputs:
            raise UserError(f"input {name}: missing (network inputs: {', '.join(network.inputs)})")
        x = np.asarray(inputs[name])
        if x.ndim != 2 + len(shape) or tuple(x.shape[2:]) != tuple(shape):
            raise UserError(f"input {name}: shape {tuple(x.shape)} (allowed: (T, B, {', '.join(map(str, shape))}))")
        if steps is None:
            steps, batch = x.shape[:2]
        elif (steps, batch) != x.shape[:2]:
            raise UserError(f"input {name}: (T, B) = {x.shape[:2]} differs from the other inputs' {(steps, batch)}")
    if steps is None:
        raise UserError(f"network {network.name}: has no inputs")
    return int(steps), int(batch)


def _run(network, inputs, steps, batch, make_layer, traces: dict) -> dict[str, np.ndarray]:
    """Step all layers in list order; a recurrent projection reads its source's previous step. A plastic
    projection learns from the layer's output after each step; its final traces go into ``traces``."""
    cells = [make_layer(layer) for layer in network.layers]
    outs: dict[str, np.ndarray] = {}
    for cell in cells:
        cell.reset(batch)
    for t in range(steps):
        for cell, layer in zip(cells, network.layers):
            total = cell.zeros((batch, *layer.shape))
            for proj, chain in zip(layer.projections, cell.chains):
                if proj.source in inputs:
                    src = inputs[proj.source][t]
                elif proj.recurrent:
                    previous = outs.get(proj.source)
                    src = previous[t - 1] if previous is not None and t > 0 else \
                        cell.zeros((batch, *network.shape_of(proj.source)))
                else:
                    src = outs[proj.source][t]
                total = total + chain(src).reshape(total.shape)
            y = cell.step(total)
            for chain in cell.chains:
                if isinstance(chain, (FloatTrace, IntTrace)):
                    chain.learn(y)
            if layer.name not in outs:
                outs[layer.name] = np.zeros((steps, batch, *layer.shape), dtype=y.dtype)
            outs[layer.name][t] = y
    for cell, layer in zip(cells, network.layers):
        traces.update({(layer.name, k): chain.trace for k, chain in enumerate(cell.chains)
                       if isinstance(chain, (FloatTrace, IntTrace))})
    return outs


def _finish(network, outs, outs_q, qnet, traces) -> FunctionalRun:
    # a spiking layer's output counts spikes per step: 0/1, or graded counts (multi-spike LIF)
    spikes = {layer.name: int(np.rint(np.sum(outs[layer.name]))) for layer in network.layers if layer.spiking}
    return FunctionalRun(outputs={name: outs[name] for name in network.outputs}, layer_outputs=outs,
                         spike_counts=spikes, layer_outputs_q=outs_q, quantized=qnet, traces=traces)


class _Chain:
    """A projection's ops as a callable on one step's input; each :class:`Delay` keeps its own history,
    so a delay line of ``d`` steps returns what entered it ``d`` calls ago (zeros before that)."""

    def __init__(self, ops):
        self.segments: list[tuple[tuple, Delay | None]] = []
        current: list = []
        for op in ops:
            if isinstance(op, Delay):
                self.segments.append((tuple(current), op))
                current = []
            else:
                current.append(op)
        self.segments.append((tuple(current), None))
        self.history: list[list[np.ndarray]] = [[] for _ in self.segments]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for (ops, delay), history in zip(self.segments, self.history):
            x = apply_ops(ops, x)
            if delay is not None:
                x = self._delayed(x, delay, history)
        return x

    @staticmethod
    def _delayed(x: np.ndarray, delay: Delay, history: list[np.ndarray]) -> np.ndarray:
        steps = np.broadcast_to(np.asarray(delay.steps, dtype=np.int64), x.shape[1:])
        history.append(x)
        del history[:max(0, len(history) - int(steps.max(initial=0)) - 1)]
        out = np.zeros_like(x)
        for d in np.unique(steps):
            if d < len(history):
                mask = steps == d
                out[:, mask] = history[-1 - d][:, mask]
        return out


class _FloatLayer:
    """One layer's float state and step (network.py semantics)."""

    def __init__(self, layer):
        self.layer = layer
        self.neuron = layer.neuron

    def reset(self, batch):
        shape = (batch, *self.layer.shape)
        self.v = np.zeros(shape)
        self.i = np.zeros(shape)
        self.s = np.zeros(shape)
        self.chains = [_Chain(p.ops) if p.plasticity is None else FloatTrace(p, batch) for p in self.layer.projections]

    @staticmethod
    def zeros(shape):
        return np.zeros(shape)

    def step(self, current):
        n = self.neuron
        if isinstance(n, LIF):
            self.v = n.decay * self.v + (1 - n.decay) * n.v_leak + n.gain * current
            if n.reset == "subtract":
                self.v = self.v - self.s * n.threshold
            self.s = _fire(n, self.v)
            if n.reset == "zero":
                self.v = np.where(self.s > 0, n.v_reset, self.v)
            elif n.reset == "subtract_now":
                self.v = self.v - self.s * n.threshold
            if n.v_min is not None:
                self.v = np.maximum(self.v, n.v_min)
            return self.s.copy()
        if isinstance(n, CubaLIF):
            self.i = n.syn_decay * self.i + n.syn_gain * current
            self.v = n.decay * self.v + (1 - n.decay) * n.v_leak + n.gain * self.i
            s = self.v > n.threshold
            self.v = np.where(s, n.v_reset, self.v)
            return s.astype(np.float64)
        if isinstance(n, LI):
            self.v = n.decay * self.v + (1 - n.decay) * n.v_leak + n.gain * current
            return self.v.copy()
        if isinstance(n, CubaLI):
            self.i = n.syn_decay * self.i + n.syn_gain * current
            self.v = n.decay * self.v + (1 - n.decay) * n.v_leak + n.gain * self.i
            return self.v.copy()
        if isinstance(n, Threshold):
            return (current > n.threshold).astype(np.float64)
        if isinstance(n, ReLU):
            return np.maximum(current, 0.0)
        if isinstance(n, Identity):
            return np.asarray(current, dtype=np.float64)
        raise UserError(f"layer {self.layer.name}: neuron {type(n).__name__} cannot be simulated")


def _fire(n: LIF, v: np.ndarray) -> np.ndarray:
    """A LIF's spikes from its membrane: 0/1 (``v > threshold``, or ``>=``), or graded counts."""
    if n.multi_spike:
        return np.where(v > 0, np.trunc(v / n.threshold), 0.0)
    return (v >= n.threshold if n.fire_at_threshold else v > n.threshold).astype(np.float64)


def _int_chain(proj, batch: int):
    """A quantised projection as a callable: the source read through its delay line (axon delays,
    :mod:`archsim.graph.delays`, the same ring the chip program uses), then the integer ops; a plastic
    projection's own trace (:mod:`archsim.graph.plasticity`)."""
    if proj.plasticity is not None:
        return IntTrace(proj, batch)
    if proj.delay is None:
        return functools.partial(apply_ops, proj.ops)
    line = DelayLine(proj.delay, (batch, len(proj.delay)))

    def chain(x):
        return apply_ops(proj.ops, line(x.reshape(batch, -1)).reshape(x.shape))
    return chain


class _IntLayer:
    """One layer's integer state and step (quantize.py rules)."""

    def __init__(self, qnet: QuantizedNetwork, q: QuantizedLayer):
        self.q = q
        self.frac = qnet.precision.decay_frac_bits
        self.lo, self.hi = qnet.membrane_min, qnet.membrane_max
        self.qmax_act = qnet.qmax_act

    def reset(self, batch):
        shape = (batch, *self.q.shape)
        self.v = np.zeros(shape, dtype=np.int64)
        self.i = np.zeros(shape, dtype=np.int64)
        self.s = np.zeros(shape, dtype=bool)
        self.chains = [_int_chain(proj, batch) for proj in self.q.projections]

    @staticmethod
    def zeros(shape):
        return np.zeros(shape, dtype=np.int64)

    def _decayed(self, x, decay_q):
        return (x * decay_q) >> self.frac

    def step(self, current):
        q, kind = self.q, self.q.kind
        if kind in ("lif", "cubalif"):
            if kind == "cubalif":
                self.i = np.clip(self._decayed(self.i, q.syn_decay_q) + current, self.lo, self.hi)
                current = self.i
            if q.reset == "subtract":
                current = current - np.where(self.s, q.threshold_q, 0)
            self.v = np.clip(self._decayed(self.v, q.decay_q) + q.leak_q + current, self.lo, self.hi)
            self.s = self.v > q.threshold_q
            if q.reset != "subtract":
                self.v = np.where(self.s, q.v_reset_q, self.v).astype(np.int64)
            return self.s.astype(np.int64)
        if kind == "li":
            self.v = np.clip(self._decayed(self.v, q.decay_q) + q.leak_q + current, self.lo, self.hi)
            return self.v.copy()
        if kind == "threshold":
            return (current > q.threshold_q).astype(np.int64)
        if kind == "relu":
            y = (current * q.relu_multiplier + (1 << (q.relu_shift - 1))) >> q.relu_shift
            return np.clip(y, 0, self.qmax_act)
        return current
