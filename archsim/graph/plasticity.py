"""Local plasticity on a projection: a Hebbian trace added to the globally trained weight.

The hybrid (global-local) plasticity of Wu et al., "Brain-inspired global-local learning incorporated
with neuromorphic computing", Nat. Commun. 13, 65 (2022): a weight trained by error back-propagation (the
global part) plus a correlation-driven local part whose per-synapse coefficients are meta-learned by the
same back-propagation through the local updates. The sources we hold describe the rule in words only;
the discrete form below is the usual one of differentiable Hebbian plasticity (a decaying trace driven by
pre x post coincidences, Miconi et al., ICML 2018) and is our assumption::

    w_ij(t)   = w_ij + P_ij(t)                                 (used by step t's integration)
    P_ij(t+1) = decay * P_ij(t) + eta * alpha_ij * post_i(t) * pre_j(t),   P_ij(0) = 0

``pre`` is the spikes the synapses deliver at step ``t`` (the source's of that step, or of the step
before for a recurrent projection, as under the pipelined layer schedule), ``post`` the layer's spikes
of the same step (after its neurons fired), so the update runs after ``fire``. The trace starts at zero for every sample (one sample
is one episode). ``alpha`` has the ``Dense`` weight's shape (out, in); ``eta`` and ``decay`` are scalars.

Integer form (chip precision; ``F`` is the chip's ``decay_frac_bits``, ``s`` the layer's weight scale
of :mod:`archsim.graph.quantize`, ``w_q`` the integer weight); the widths are fixed here (assumption)::

    c       = eta * alpha * gain * sigma / s          (the coefficient in integer weight units)
    f       = the largest f in 0..MAX_FRAC_BITS with rint(max|c| * 2**f) <= 2**(COEF_BITS-1) - 1
              (max over the synapses that exist; one per projection, a power-of-two scale)
    k_q     = clip(rint(c * 2**f), +-(2**(COEF_BITS-1) - 1)) where w_q != 0, else 0
              (plasticity changes existing synapses only: a weight the quantiser leaves at zero is no
              synapse on any chip)
    decay_q = rint(decay * 2**F)
    P_q     = sat_TRACE_BITS(((P_q * decay_q) >> F) + k_q * post * pre)     (arithmetic shift)
    w_eff   = clip(w_q + (P_q >> f), -qmax, qmax)                            (the weight integration reads)

so the trace holds weight units with ``f`` fraction bits in a ``TRACE_BITS`` signed word, its
coefficient as fine as ``COEF_BITS`` allow for the projection's largest one (as a weight scale is chosen
from the largest weight), and the clip keeps the effective weight in the chip's weight cell. A plastic
projection is one ``Dense`` (optionally after a ``Flatten``) from a spiking source into a spiking layer
(:func:`check_plastic` says so in one line).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from archsim.errors import UserError
from archsim.graph.network import Dense, Flatten

#: Signed bits of the integer trace ``P_q`` (assumption: 16) and the most fraction bits it may have.
TRACE_BITS = 16
MAX_FRAC_BITS = 8
#: Signed bits of the integer coefficient ``k_q = eta * alpha`` in trace units (assumption: 8 bits).
COEF_BITS = 8


@dataclass(frozen=True, eq=False)
class Plasticity:
    """A projection's local rule (module docstring): per-synapse ``alpha`` (out, in), scalars ``eta``, ``decay``."""

    alpha: np.ndarray
    eta: float = 1.0
    decay: float = 1.0

    def coefficient(self) -> np.ndarray:
        """``eta * alpha``: the trace's increment per coincidence, in float weight units."""
        return self.eta * np.asarray(self.alpha, dtype=np.float64)

    def to_json(self) -> dict:
        return {"alpha": np.asarray(self.alpha, dtype=np.float64).tolist(), "eta": float(self.eta),
                "decay": float(self.decay)}

    @classmethod
    def from_json(cls, block: dict, where: str) -> "Plasticity":
        try:
            return cls(alpha=np.asarray(block["alpha"], dtype=np.float64), eta=float(block["eta"]),
                       decay=float(block["decay"]))
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{where}: a plasticity block needs alpha (a matrix), eta and decay (numbers)") from None


@dataclass(frozen=True, eq=False)
class QuantizedPlasticity:
    """The integer rule of one projection: ``k_q`` (out, in) int64 (0 where ``w_q`` is 0), ``decay_q`` (at the
    chip's ``frac_bits``), the trace's fraction bits ``trace_frac_bits`` and the weight cell's ``qmax``."""

    k_q: np.ndarray
    decay_q: int
    frac_bits: int
    trace_frac_bits: int
    qmax: int


def plastic_dense(ops) -> Dense:
    """The ``Dense`` op of a plastic projection's chain (``(Dense,)`` or ``(Flatten, Dense)``)."""
    return ops[-1]


def check_plastic(network, layer, proj) -> None:
    """Refuse, in one line, a plastic projection the rule is not defined for (module docstring)."""
    where = f"layer {layer.name}: plastic projection from {proj.source}"
    kinds = tuple(type(op) for op in proj.ops)
    if kinds not in ((Dense,), (Flatten, Dense)) or sp.issparse(proj.ops[-1].weight):
        raise UserError(f"{where}: ops {[k.__name__ for k in kinds]} (allowed: one dense Dense, after a Flatten or not)")
    if np.shape(proj.plasticity.alpha) != np.shape(proj.ops[-1].weight):
        raise UserError(f"{where}: alpha of shape {np.shape(proj.plasticity.alpha)} (allowed: the weight's "
                        f"{np.shape(proj.ops[-1].weight)})")
    from archsim.graph.quantize import input_is_valued

    spiking = (not input_is_valued(network, proj.source)) if proj.source in network.inputs \
        else network.layer(proj.source).spiking
    if not spiking or not layer.spiking:
        raise UserError(f"{where}: needs a spiking source into a spiking layer (allowed: spikes on both sides "
                        "of the synapse)")


def check_rules(network) -> None:
    """:func:`check_plastic` for every plastic projection of ``network``."""
    for layer, _, proj in plastic_projections(network):
        check_plastic(network, layer, proj)


def quantize_plasticity(rule: Plasticity, w_q: np.ndarray, multiplier: float, precision) -> QuantizedPlasticity:
    """The integer rule for a projection whose integer weights are ``w_q`` = rint(w * ``multiplier``)."""
    limit = 2 ** (COEF_BITS - 1) - 1
    exists = np.asarray(w_q) != 0
    c = rule.coefficient() * multiplier
    peak = float(np.max(np.abs(c[exists]), initial=0.0))
    frac = next((f for f in range(MAX_FRAC_BITS, 0, -1) if np.rint(peak * 2 ** f) <= limit), 0)
    k = np.clip(np.rint(c * 2 ** frac), -limit, limit).astype(np.int64)
    k[~exists] = 0
    return QuantizedPlasticity(k_q=k, decay_q=int(np.rint(rule.decay * 2 ** precision.decay_frac_bits)),
                               frac_bits=int(precision.decay_frac_bits), trace_frac_bits=frac, qmax=int(precision.qmax))


def trace_update_int(p_q: np.ndarray, coincidences: np.ndarray, k_q: np.ndarray, decay_q: int, frac_bits: int):
    """One integer trace update: ``sat(((P * decay_q) >> F) + k_q * coincidences)`` (module docstring)."""
    lo, hi = -(2 ** (TRACE_BITS - 1)), 2 ** (TRACE_BITS - 1) - 1
    return np.clip(((p_q * decay_q) >> frac_bits) + k_q * coincidences, lo, hi)


def effective_weight_int(w_q: np.ndarray, p_q: np.ndarray, trace_frac_bits, qmax: int) -> np.ndarray:
    """The weight integration reads: ``clip(w_q + (P_q >> trace_frac_bits), -qmax, qmax)``."""
    return np.clip(np.asarray(w_q, dtype=np.int64) + (p_q >> trace_frac_bits), -qmax, qmax)


def state_bits_per_synapse(weight_bits: int) -> int:
    """Bits a core keeps per plastic synapse beside its weight cell: the global weight, trace, coefficient."""
    return int(weight_bits) + TRACE_BITS + COEF_BITS


def plastic_projections(network):
    """(layer, projection index, projection) of every plastic projection, network order."""
    return [(layer, i, proj) for layer in network.layers for i, proj in enumerate(layer.projections)
            if getattr(proj, "plasticity", None) is not None]


class FloatTrace:
    """A plastic projection in the float functional simulator: a callable on one step's source output,
    and :meth:`learn` with the layer's spikes of that step (module docstring)."""

    def __init__(self, proj, batch: int):
        dense = plastic_dense(proj.ops)
        self.weight = np.asarray(dense.weight, dtype=np.float64)
        self.bias = None if dense.bias is None else np.asarray(dense.bias, dtype=np.float64)
        self.coef = proj.plasticity.coefficient()
        self.decay = float(proj.plasticity.decay)
        self.trace = np.zeros((batch, *self.weight.shape))
        self.pre = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.pre = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        y = np.einsum("boi,bi->bo", self.weight + self.trace, self.pre)
        return y if self.bias is None else y + self.bias

    def learn(self, post: np.ndarray) -> None:
        post = np.asarray(post, dtype=np.float64).reshape(len(post), -1)
        self.trace = self.decay * self.trace + self.coef * (post[:, :, None] * self.pre[:, None, :])


class IntTrace:
    """A plastic projection in the integer functional simulator (the chip's arithmetic, module docstring)."""

    def __init__(self, qproj, batch: int):
        dense = plastic_dense(qproj.ops)
        rule = qproj.plasticity
        self.w_q = np.asarray(dense.weight, dtype=np.int64)
        self.bias = None if dense.bias is None else np.asarray(dense.bias, dtype=np.int64)
        self.rule = rule
        self.trace = np.zeros((batch, *self.w_q.shape), dtype=np.int64)
        self.pre = None

    def weights(self) -> np.ndarray:
        """The effective integer weights (B, out, in) integration reads at this step."""
        return effective_weight_int(self.w_q, self.trace, self.rule.trace_frac_bits, self.rule.qmax)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.pre = np.asarray(x, dtype=np.int64).reshape(len(x), -1)
        y = np.einsum("boi,bi->bo", self.weights(), self.pre)
        return y if self.bias is None else y + self.bias

    def learn(self, post: np.ndarray) -> None:
        post = np.asarray(post, dtype=np.int64).reshape(len(post), -1)
        self.trace = trace_update_int(self.trace, post[:, :, None] * self.pre[:, None, :], self.rule.k_q,
                                      self.rule.decay_q, self.rule.frac_bits)


#: The NIR graph metadata key that carries the local rules (NIR has no node for them).
NIR_KEY = "archsim.plasticity"


def rules_to_json(network) -> dict:
    """The local rules of ``network`` as JSON: {layer: {source: rule}} (one plastic projection per source)."""
    out: dict = {}
    for layer, _, proj in plastic_projections(network):
        out.setdefault(layer.name, {})[proj.source] = proj.plasticity.to_json()
    return out


def attach_rules(layers: list, rules: dict, where: str) -> list:
    """``layers`` with the rules of :func:`rules_to_json` set on their projections (read back from a file)."""
    import dataclasses

    if not rules:
        return layers
    if not isinstance(rules, dict) or not all(isinstance(v, dict) for v in rules.values()):
        raise UserError(f"{where}: graph metadata {NIR_KEY}: not a mapping of layer -> source -> rule")
    by_name = {layer.name: layer for layer in layers}
    for name, per_source in rules.items():
        if name not in by_name:
            raise UserError(f"{where}: graph metadata {NIR_KEY}: layer {name!r} is not a layer of the graph")
        layer = by_name[name]
        sources = [p.source for p in layer.projections]
        for source in per_source:
            if source not in sources:
                raise UserError(f"{where}: graph metadata {NIR_KEY}: layer {name} has no projection from {source!r} "
                                f"(allowed: {', '.join(sources)})")
        projections = tuple(dataclasses.replace(p, plasticity=Plasticity.from_json(per_source[p.source], where))
                            if p.source in per_source else p for p in layer.projections)
        by_name[name] = dataclasses.replace(layer, projections=projections)
    return [by_name[layer.name] for layer in layers]
