"""Neuron dynamics of the reference trainer, forward over T steps and backward through time (BPTT).

The forward pass is exactly :class:`archsim.graph.network.LIF` (gain 1, v_leak 0, v_reset 0)::

    reset "zero":      u[t] = decay * v[t-1] + current[t] ;  s[t] = spike(u[t] - threshold) ;
                       v[t] = u[t] * (1 - s[t])
    reset "subtract":  u[t] = decay * u[t-1] + current[t] - threshold * s[t-1] ;
                       s[t] = spike(u[t] - threshold)      (snnTorch's Leaky default; v = u)

(``u`` is STBP's membrane before reset), so that an exported network simulated by
``archsim.graph.functional`` reproduces the trainer.

Backward (STBP, Wu et al. 2018), with ``du_next`` = dL/du[t+1] (0 after the last step):

    reset "zero":      dL/ds[t] = (from the next layer) - decay * du_next * u[t]
                       dL/du[t] = dL/ds[t] * spike'(u[t]) + decay * du_next * (1 - s[t])
    reset "subtract":  dL/ds[t] = (from the next layer) - threshold * du_next
                       dL/du[t] = dL/ds[t] * spike'(u[t]) + decay * du_next

i.e. the exact gradient of the graph in which the step function's derivative is replaced by a
surrogate. :class:`RectangularSurrogate` is the training rule (H2Learn/STBP:
``(1/a) * 1[|u - V| < a/2]``); :class:`SigmoidSpike` replaces the step itself by a sigmoid, which
makes the whole network smooth so that finite differences can check the BPTT code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsim.graph import network as net


@dataclass(frozen=True)
class RectangularSurrogate:
    """Heaviside forward; derivative ``(1/width) * 1[|v - threshold| < width/2]``."""

    width: float = 1.0

    def spike(self, v: np.ndarray, threshold: float) -> np.ndarray:
        return (v > threshold).astype(np.float64)

    def derivative(self, v: np.ndarray, threshold: float) -> np.ndarray:
        return (np.abs(v - threshold) < self.width / 2).astype(np.float64) / self.width

    def in_window(self, v: np.ndarray, threshold: float) -> np.ndarray:
        return np.abs(v - threshold) < self.width / 2


@dataclass(frozen=True)
class SigmoidSpike:
    """A smooth relaxation: ``spike = sigmoid(steepness * (v - threshold))`` with its exact derivative.

    Used to check the BPTT code against finite differences; a network trained with it is not binary.
    """

    steepness: float = 4.0

    def spike(self, v: np.ndarray, threshold: float) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.steepness * (v - threshold)))

    def derivative(self, v: np.ndarray, threshold: float) -> np.ndarray:
        s = self.spike(v, threshold)
        return self.steepness * s * (1.0 - s)

    def in_window(self, v: np.ndarray, threshold: float) -> np.ndarray:
        return np.ones(v.shape, dtype=bool)


@dataclass
class LIFCell:
    """Leaky integrate-and-fire over (T, B, ...) currents; keeps u and s for the backward pass."""

    decay: float = 0.5
    threshold: float = 1.0
    reset: str = "zero"
    spike_fn: RectangularSurrogate | SigmoidSpike = field(default_factory=RectangularSurrogate)
    spiking = True

    def __post_init__(self) -> None:
        if self.reset not in ("zero", "subtract"):
            raise ValueError(f"reset must be 'zero' or 'subtract', not {self.reset!r}")
        self._u: np.ndarray | None = None
        self._s: np.ndarray | None = None

    def forward(self, current: np.ndarray, keep: bool = False) -> np.ndarray:
        u_all = np.empty_like(current)
        s_all = np.empty_like(current)
        v = np.zeros(current.shape[1:])
        s = np.zeros(current.shape[1:])
        for t in range(current.shape[0]):
            v, u_all[t], s = self.step(v, s, current[t])
            s_all[t] = s
        if keep:
            self._u, self._s = u_all, s_all
        return s_all

    def step(self, v: np.ndarray, s: np.ndarray, current: np.ndarray):
        """One step from membrane ``v`` and spikes ``s`` of the previous step: (v, u, s) of this step."""
        v = self.decay * v + current
        if self.reset == "subtract":
            v = v - self.threshold * s
        u = v
        s = self.spike_fn.spike(v, self.threshold)
        if self.reset == "zero":
            v = v * (1.0 - s)
        return v, u, s

    def backward(self, d_spikes: np.ndarray) -> np.ndarray:
        """dL/d(current) given dL/d(spikes), both (T, B, ...); the result is dL/du."""
        u, s = self._u, self._s
        d_u = np.empty_like(d_spikes)
        du_next = np.zeros(d_spikes.shape[1:])
        for t in reversed(range(d_spikes.shape[0])):
            d_u[t] = self.backward_step(d_spikes[t], u[t], s[t], du_next)
            du_next = d_u[t]
        return d_u

    def backward_step(self, d_spikes: np.ndarray, u: np.ndarray, s: np.ndarray, du_next: np.ndarray) -> np.ndarray:
        """dL/du of one step from dL/ds of that step (from outside the cell) and dL/du of the next step."""
        if self.reset == "zero":
            d_s = d_spikes - self.decay * du_next * u
            return d_s * self.spike_fn.derivative(u, self.threshold) + self.decay * du_next * (1.0 - s)
        d_s = d_spikes - self.threshold * du_next
        return d_s * self.spike_fn.derivative(u, self.threshold) + self.decay * du_next

    def window_fraction(self) -> float:
        """Fraction of (step, sample, neuron) whose membrane lay inside the surrogate window."""
        return float(np.mean(self.spike_fn.in_window(self._u, self.threshold)))

    def to_archsim(self) -> net.LIF:
        return net.LIF(decay=np.float64(self.decay), threshold=np.float64(self.threshold), reset=self.reset)


@dataclass
class Readout:
    """Non-spiking leaky integrator (``archsim`` LI; decay 1 is a pure integrator): outputs ``v`` per step.

    The class scores are ``logits = v[T-1] / T``: with decay 1 that is the mean input current over the
    T steps, and the prediction is the argmax of the final membrane.
    """

    decay: float = 1.0
    spiking = False

    def forward(self, current: np.ndarray, keep: bool = False) -> np.ndarray:
        out = np.empty_like(current)
        v = np.zeros(current.shape[1:])
        for t in range(current.shape[0]):
            v = self.decay * v + current[t]
            out[t] = v
        return out

    def backward(self, d_out: np.ndarray) -> np.ndarray:
        d_current = np.empty_like(d_out)
        g = np.zeros(d_out.shape[1:])
        for t in reversed(range(d_out.shape[0])):
            g = self.decay * g + d_out[t]
            d_current[t] = g
        return d_current

    def to_archsim(self) -> net.LI:
        return net.LI(decay=np.float64(self.decay))


@dataclass
class ReLUCell:
    """ANN activation ``max(current, 0)`` per step (hybrid networks' frame branch)."""

    spiking = False

    def __post_init__(self) -> None:
        self._mask: np.ndarray | None = None

    def forward(self, current: np.ndarray, keep: bool = False) -> np.ndarray:
        if keep:
            self._mask = current > 0
        return np.maximum(current, 0.0)

    def backward(self, d_out: np.ndarray) -> np.ndarray:
        return d_out * self._mask

    def to_archsim(self) -> net.ReLU:
        return net.ReLU()
