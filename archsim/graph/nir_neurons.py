"""NIR neuron nodes -> archsim neuron models, one importer per node type with its NIR semantics.

NIR (https://neuroir.org, nir 1.0.4 to 1.0.8) writes neurons as ODEs in continuous time; archsim steps
them at ``dt`` under the :class:`~archsim.graph.presets.Conventions` in force (NIR's own by default:
forward Euler, reset to ``v_reset`` right after a spike, ``v > v_threshold``):

* ``LIF`` (tau, r, v_leak, v_threshold, v_reset): ``tau dv/dt = (v_leak - v) + r I``;
  decay ``1 - dt/tau`` (or ``exp(-dt/tau)``), input gain ``r dt / tau`` (or the preset's rule).
* ``IF`` (r, v_threshold, v_reset): ``dv/dt = r I``; decay 1, gain ``r dt`` (or 1).
* ``CubaLIF`` (tau_syn, tau_mem, r, v_leak, v_threshold, v_reset, w_in):
  ``tau_syn di/dt = -i + w_in I``, ``tau_mem dv/dt = (v_leak - v) + r i``; forward Euler.
* ``CubaLI`` (tau_syn, tau_mem, r, v_leak, w_in; nir >= 1.0.5): CubaLIF without a threshold.
* ``LI`` (tau, r, v_leak): ``tau dv/dt = (v_leak - v) + r I``; ``I`` (r): ``dv/dt = r I``.
* ``Threshold`` (threshold): ``s = I > threshold``, no state.
* a unit ``Scale`` with ``archsim.activation`` metadata: archsim's own ReLU or identity layer.

A LIF/IF node's ``archsim.reset`` metadata (archsim's own files) wins over the conventions' reset and spike
rules: such a file says exactly what it is.
"""
from __future__ import annotations

import numpy as np

from archsim.errors import UserError
from archsim.graph.network import LI, LIF, CubaLI, CubaLIF, Identity, ReLU, Shape, Threshold
from archsim.graph.presets import RESETS, Conventions

ACTIVATION_KEY = "archsim.activation"
RESET_KEY = "archsim.reset"
NEURON_TYPES = ("LIF", "IF", "CubaLIF", "CubaLI", "LI", "I", "Threshold")


def text(value) -> str:
    """A NIR string attribute as ``str`` (HDF5 gives bytes or 0-d arrays)."""
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return text(value.item())
    return str(value)


def uniform(a) -> np.ndarray:
    """0-d when every element is equal (so scalar parameters stay scalars), else the array."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim and a.size and np.all(a == a.flat[0]):
        return np.float64(a.flat[0])
    return a


def neuron_param_shape(node) -> Shape | None:
    """The shape a neuron node's parameters give, for a layer fed only recurrently."""
    for attr in ("tau", "tau_mem", "r", "threshold", "v_threshold", "scale"):
        value = getattr(node, attr, None)
        if value is not None and np.ndim(value):
            return tuple(int(s) for s in np.shape(value))
    return None


def neuron_from_nir(node_name: str, node, shape: Shape, conv: Conventions, where: str):
    """The archsim neuron of NIR node ``node`` (a layer of ``shape``) under conventions ``conv``."""
    type_name = type(node).__name__
    meta = getattr(node, "metadata", None) or {}
    if type_name == "Scale":
        return ReLU() if text(meta.get(ACTIVATION_KEY)) == "relu" else Identity()
    if type_name == "Output":
        return Identity()
    importer = _IMPORTERS.get(type_name)
    if importer is None:
        raise UserError(f"{where}: node {node_name} ({type_name}): unsupported NIR node type")
    return importer(_Params(node_name, type_name, node, shape, where), conv, meta)


class _Params:
    """Reads one node's parameters: one value or one per neuron, checked against the layer's shape."""

    def __init__(self, node_name, type_name, node, shape, where):
        self.node_name, self.type_name, self.node, self.shape, self.where = node_name, type_name, node, shape, where

    def __call__(self, attr, default=None):
        value = getattr(self.node, attr, None)
        if value is None:
            if default is None:
                raise UserError(f"{self.where}: node {self.node_name} ({self.type_name}): missing parameter {attr}")
            value = default
        a = np.asarray(value, dtype=np.float64)
        if a.ndim and a.size != 1:
            if a.size != int(np.prod(self.shape)):
                raise UserError(f"{self.where}: node {self.node_name} ({self.type_name}): shape mismatch: {attr} has "
                                f"shape {a.shape} but the layer receives {self.shape} "
                                "(allowed: one value or one per neuron)")
            a = a.reshape(self.shape)
        return uniform(a)

    def positive(self, attr):
        value = self(attr)
        if np.any(np.asarray(value) <= 0):
            raise UserError(f"{self.where}: node {self.node_name} ({self.type_name}): {attr} must be > 0")
        return value


def _decay(tau, conv: Conventions):
    return uniform(np.exp(-conv.dt / tau) if conv.decay == "exp" else 1.0 - conv.dt / tau)


def _spike_rules(p: _Params, conv: Conventions, meta: dict) -> dict:
    """Reset and spike rules: the node's ``archsim.reset`` metadata, else the conventions'."""
    if RESET_KEY in meta:
        reset = text(meta[RESET_KEY])
        if reset not in ("zero", "subtract"):
            raise UserError(f"{p.where}: node {p.node_name} ({p.type_name}): {RESET_KEY} = {reset!r} "
                            "(allowed: zero, subtract)")
        return {"reset": reset}
    multi = conv.spikes == "multi"
    if multi and conv.reset == "zero":
        raise UserError(f"{p.where}: node {p.node_name} ({p.type_name}): --spikes multi needs a subtractive reset "
                        f"(allowed: --reset {' or '.join(r for r in RESETS if r != 'zero')})")
    return {"reset": conv.reset, "fire_at_threshold": conv.fire_at_threshold, "multi_spike": multi}


def _lif(p: _Params, conv: Conventions, meta: dict):
    """NIR ``LIF``: ``tau dv/dt = (v_leak - v) + r I``, spike at ``v_threshold``, reset to ``v_reset``."""
    tau = p.positive("tau")
    decay = _decay(tau, conv)
    gain = {"r_dt_tau": lambda: p("r") * conv.dt / tau, "dt_tau": lambda: conv.dt / tau,
            "one": lambda: np.float64(1.0), "r_zoh": lambda: p("r") * (1.0 - np.exp(-conv.dt / tau))}[conv.lif_gain]()
    return LIF(decay=decay, threshold=p("v_threshold"), gain=uniform(gain), v_leak=p("v_leak", 0.0),
               v_reset=p("v_reset", 0.0), **_spike_rules(p, conv, meta))


def _if(p: _Params, conv: Conventions, meta: dict):
    """NIR ``IF``: ``dv/dt = r I``, spike at ``v_threshold``, reset to ``v_reset``."""
    gain = p("r") * conv.dt if conv.if_gain == "r_dt" else np.float64(1.0)
    threshold = p("v_threshold")
    rules = _spike_rules(p, conv, meta)
    v_min = uniform(-np.asarray(threshold)) if conv.v_min == "minus_threshold" and RESET_KEY not in meta else None
    return LIF(decay=np.float64(1.0), threshold=threshold, gain=uniform(gain), v_reset=p("v_reset", 0.0),
               v_min=v_min, **rules)


def _cuba(p: _Params, conv: Conventions) -> dict:
    tau_syn, tau_mem = p.positive("tau_syn"), p.positive("tau_mem")
    return dict(syn_decay=uniform(1.0 - conv.dt / tau_syn), decay=uniform(1.0 - conv.dt / tau_mem),
                syn_gain=uniform(p("w_in", 1.0) * conv.dt / tau_syn), gain=uniform(p("r") * conv.dt / tau_mem),
                v_leak=p("v_leak", 0.0))


def _cubalif(p: _Params, conv: Conventions, meta: dict):
    """NIR ``CubaLIF``: a synaptic current ``i`` (``tau_syn``, ``w_in``) feeds a LIF membrane (``tau_mem``, ``r``)."""
    return CubaLIF(threshold=p("v_threshold"), v_reset=p("v_reset", 0.0), **_cuba(p, conv))


def _cubali(p: _Params, conv: Conventions, meta: dict):
    """NIR ``CubaLI``: CubaLIF's two states without a threshold; the output is the membrane."""
    return CubaLI(**_cuba(p, conv))


def _li(p: _Params, conv: Conventions, meta: dict):
    """NIR ``LI``: ``tau dv/dt = (v_leak - v) + r I``, the output is ``v``."""
    tau = p.positive("tau")
    return LI(decay=uniform(1.0 - conv.dt / tau), gain=uniform(p("r") * conv.dt / tau), v_leak=p("v_leak", 0.0))


def _i(p: _Params, conv: Conventions, meta: dict):
    """NIR ``I``: ``dv/dt = r I``, the output is ``v``."""
    return LI(decay=np.float64(1.0), gain=p("r") * conv.dt)


def _threshold(p: _Params, conv: Conventions, meta: dict):
    """NIR ``Threshold``: ``s = I > threshold``, no state."""
    return Threshold(threshold=p("threshold"))


_IMPORTERS = {"LIF": _lif, "IF": _if, "CubaLIF": _cubalif, "CubaLI": _cubali, "LI": _li, "I": _i,
              "Threshold": _threshold}
