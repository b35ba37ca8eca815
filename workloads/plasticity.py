"""Global-local learning in the trainer: BPTT through a local Hebbian rule (Wu et al., Nat. Commun. 2022).

A plastic stage is a :class:`PlasticDense` op (the global weight ``W`` and the per-synapse coefficients
``alpha``, both trained by back-propagation; ``eta`` and the trace ``decay`` fixed) feeding a
:class:`HebbianLIF` cell, which runs the synapses and the neurons step by step because the synapses
now have state: the rule of :mod:`archsim.graph.plasticity`::

    c[t]   = (W + P[t]) s_pre[t]                 (per sample: P has shape (B, out, in), P[0] = 0)
    s[t]   = LIF(c[t])                           (workloads.neurons.LIFCell.step)
    P[t+1] = decay * P[t] + eta * alpha * (s[t] s_pre[t]^T)

Backward through time, with ``G = dL/dP[t+1]`` (0 after the last step) and ``A = eta * alpha``::

    dL/ds[t]     += sum_j G_ij A_ij s_pre_j[t]          (the trace is driven by the post spikes ...)
    dL/ds_pre[t] += sum_i G_ij A_ij s_i[t] + (W + P[t])^T dc[t]   (... and by the pre spikes)
    dL/dA        += G * (s[t] s_pre[t]^T)
    dc[t]         = LIFCell.backward_step(dL/ds[t], ...)
    dL/dW        += dc[t] s_pre[t]^T ;  G <- decay * G + dc[t] s_pre[t]^T   (now dL/dP[t])

summed over the batch. :meth:`HebbianLIF.quantized_traces` is the trainer's own integer form of the
rule as the chip runs it (the format of :mod:`archsim.graph.plasticity`), used to check that the
functional simulator's integer traces are the trainer's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsim.graph import network as net
from archsim.graph.plasticity import COEF_BITS, MAX_FRAC_BITS, TRACE_BITS, Plasticity
from workloads.layers import Op
from workloads.neurons import LIFCell


class PlasticDense(Op):
    """The synapses of a plastic stage: ``weight`` and ``alpha`` (out, in); the product is the cell's."""

    def __init__(self, weight: np.ndarray, eta: float, decay: float):
        super().__init__()
        self.params["weight"] = np.asarray(weight, dtype=np.float64)
        self.params["alpha"] = np.zeros_like(self.params["weight"])     # the rule starts switched off
        self.eta, self.decay = float(eta), float(decay)
        self.zero_grad()

    def output_shape(self, input_shape) -> tuple[int, ...]:
        return (self.params["weight"].shape[0],)

    def fan_in(self) -> int:
        return int(self.params["weight"].shape[1])

    def forward(self, x: np.ndarray, keep: bool = False) -> np.ndarray:
        return x                               # the pre spikes go on to the cell, which multiplies step by step

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy

    def coefficient(self) -> np.ndarray:
        return self.eta * self.params["alpha"]

    def to_archsim(self) -> net.Dense:
        return net.Dense(weight=self.params["weight"].copy())

    def to_plasticity(self) -> Plasticity:
        return Plasticity(alpha=self.params["alpha"].copy(), eta=self.eta, decay=self.decay)


@dataclass
class HebbianLIF:
    """A LIF stage whose input is the pre spikes of a :class:`PlasticDense` (``bind`` it): see the module."""

    lif: LIFCell = field(default_factory=LIFCell)
    op: PlasticDense | None = None
    spiking = True

    def bind(self, op: PlasticDense) -> "HebbianLIF":
        self.op = op
        return self

    def forward(self, pre: np.ndarray, keep: bool = False) -> np.ndarray:
        w, coef, decay = self.op.params["weight"], self.op.coefficient(), self.op.decay
        steps, batch = pre.shape[:2]
        trace = np.zeros((batch, *w.shape))
        v = np.zeros((batch, w.shape[0]))
        s = np.zeros((batch, w.shape[0]))
        spikes, us, traces = np.empty((steps, batch, w.shape[0])), [], []
        for t in range(steps):
            current = np.einsum("boi,bi->bo", w + trace, pre[t])
            v, u, s = self.lif.step(v, s, current)
            spikes[t] = s
            if keep:
                us.append(u)
                traces.append(trace)
            trace = decay * trace + coef * (s[:, :, None] * pre[t][:, None, :])
        self.final_trace = trace
        if keep:
            self._pre, self._u, self._s, self._traces = pre, np.stack(us), spikes, traces
        return spikes

    def backward(self, d_spikes: np.ndarray) -> np.ndarray:
        """dL/d(pre spikes) (T, B, in); accumulates the op's weight and alpha gradients."""
        op = self.op
        w, coef, decay = op.params["weight"], op.coefficient(), op.decay
        pre, u, s = self._pre, self._u, self._s
        g = np.zeros((pre.shape[1], *w.shape))
        du_next = np.zeros(d_spikes.shape[1:])
        d_pre = np.zeros_like(pre)
        d_coef = np.zeros_like(w)
        self.d_membrane = np.empty_like(d_spikes)
        for t in reversed(range(pre.shape[0])):
            ga = g * coef
            d_s = d_spikes[t] + np.einsum("boi,bi->bo", ga, pre[t])
            d_pre[t] += np.einsum("boi,bo->bi", ga, s[t])
            d_coef += np.einsum("boi,bo,bi->oi", g, s[t], pre[t])
            dc = self.lif.backward_step(d_s, u[t], s[t], du_next)
            du_next = dc
            self.d_membrane[t] = dc
            op.grads["weight"] += dc.T @ pre[t]
            d_pre[t] += np.einsum("boi,bo->bi", w + self._traces[t], dc)
            g = decay * g + dc[:, :, None] * pre[t][:, None, :]
        op.grads["alpha"] += op.eta * d_coef
        return d_pre

    def window_fraction(self) -> float:
        return float(np.mean(self.lif.spike_fn.in_window(self._u, self.lif.threshold)))

    def to_archsim(self) -> net.LIF:
        return self.lif.to_archsim()

    def quantized_rule(self, weight_scale: float, weight_bits: int, decay_frac_bits: int):
        """The integer rule the trainer exports at ``weight_scale``: (w_q, k_q, decay_q, trace fraction bits)."""
        qmax = 2 ** (weight_bits - 1) - 1
        w_q = np.clip(np.rint(self.op.params["weight"] / weight_scale), -qmax, qmax).astype(np.int64)
        limit = 2 ** (COEF_BITS - 1) - 1
        coef = self.op.coefficient() / weight_scale
        frac = MAX_FRAC_BITS
        while frac > 0 and np.abs(coef[w_q != 0]).max(initial=0.0) * 2 ** frac >= limit + 0.5:
            frac -= 1
        k_q = np.clip(np.rint(coef * 2 ** frac), -limit, limit)
        k_q = np.where(w_q != 0, k_q, 0).astype(np.int64)
        return w_q, k_q, int(np.rint(self.op.decay * 2 ** decay_frac_bits)), frac

    @staticmethod
    def quantized_traces(pre: np.ndarray, post: np.ndarray, k_q: np.ndarray, decay_q: int, decay_frac_bits: int):
        """The integer traces (B, out, in) after spike trains ``pre`` (T, B, in) and ``post`` (T, B, out)."""
        lo, hi = -2 ** (TRACE_BITS - 1), 2 ** (TRACE_BITS - 1) - 1
        trace = np.zeros((pre.shape[1], *k_q.shape), dtype=np.int64)
        for t in range(pre.shape[0]):
            hebb = post[t].astype(np.int64)[:, :, None] * pre[t].astype(np.int64)[:, None, :]
            trace = np.minimum(np.maximum(((trace * decay_q) >> decay_frac_bits) + k_q * hebb, lo), hi)
        return trace


def without_rules(network: net.Network) -> net.Network:
    """``network`` with every local rule removed (the same object when it has none)."""
    import dataclasses

    if not any(p.plasticity is not None for layer in network.layers for p in layer.projections):
        return network
    layers = [dataclasses.replace(layer, projections=tuple(dataclasses.replace(p, plasticity=None)
                                                           for p in layer.projections)) for layer in network.layers]
    return dataclasses.replace(network, layers=layers)
