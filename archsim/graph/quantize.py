"""Chip precision: the integer arithmetic every chip model and ``--precision chip`` share.

This module is the single definition of how a float :class:`~archsim.graph.network.Network` becomes
integers. The functional simulator (``archsim.graph.functional``), the many-core chip models and the
trainer's quantised evaluation all consume the :class:`QuantizedNetwork` made here, so their outputs
can be compared bit for bit.

Rules (``P`` is a :class:`Precision`; ``qmax = 2**(P.weight_bits - 1) - 1``):

* Every source has an output scale ``sigma``: 1 for a spiking layer (outputs 0/1), the layer's
  ``out_scale`` for a non-spiking layer, and ``input_scale`` for a network input (from
  ``network.metadata["quant"]["input_scale"][name]``, else ``1 / qmax_act`` for values in [0, 1]).
  Network inputs are quantised as ``x_q = clip(rint(x / sigma), -qmax_act, qmax_act)``.
* Each projection's float operator chain is folded into one integer kernel (``Dense`` matrix or
  ``Conv2d`` kernel, with integer ``SumPool2d``/``Flatten`` steps kept as shape steps):
  ``AvgPool2d`` contributes ``1 / (kh * kw)`` and a scalar ``Scale`` its value to a scalar factor;
  the neuron's ``gain`` (and ``syn_gain`` for CubaLIF) is folded in too. The effective float weight
  is ``w_eff = factor * gain * sigma_source * w``.
* One scale per layer: ``scale = max over its projections of max|w_eff| / qmax`` (or the trainer's
  hint ``metadata["quant"]["weight_scale"][layer]`` when present), so currents of all projections add
  in one integer domain. ``w_q = clip(rint(w_eff / scale), -qmax, qmax)``; biases
  ``b_q = rint(factor * gain * bias / scale)`` (int32).
* Neuron constants in the same unit: ``threshold_q = rint(threshold / scale)``,
  ``v_reset_q = rint(v_reset / scale)``, ``leak_q = rint((1 - decay) * v_leak / scale)``;
  decays as fixed point ``decay_q = rint(decay * 2**P.decay_frac_bits)``.
* Dynamics per step, integers throughout (``>>`` is an arithmetic shift, rounding toward -inf)::

      LIF:      v = ((v * decay_q) >> F) + leak_q + current_q ; v = sat(v)
                s = v > threshold_q ; v = v_reset_q where s (zero)  or  v - threshold_q (subtract)
      CubaLIF:  i = sat(((i * syn_decay_q) >> F) + current_q)
                v = sat(((v * decay_q) >> F) + leak_q + i) ; spike and reset as LIF
      LI:       v = sat(((v * decay_q) >> F) + leak_q + current_q) ; output v (value scale ``scale``)
      Threshold: s = current_q > threshold_q
      ReLU:     y = clip((current_q * M + 2**15) >> 16, 0, qmax_act), M = rint(scale / out_scale * 2**16)
      Identity: y = current_q (value scale ``scale``)

  ``sat`` saturates to ``P.membrane_bits`` two's complement. ``out_scale`` of a ReLU layer is the
  hint ``metadata["quant"]["activation_scale"][layer]`` or, without one, calibrated from the float
  network on its recorded input statistics (see ``calibrate``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Precision:
    """Bit widths of a chip (read from its config's ``precision`` block)."""

    weight_bits: int = 8
    activation_bits: int = 8
    membrane_bits: int = 24
    decay_frac_bits: int = 12
