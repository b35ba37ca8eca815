"""Spike and backward-sparsity statistics that travel with a network (``metadata["stats"]``).

Keys (read by ``archsim info``, the synthetic-input generator and the chip models):

* ``spike_rates``: {spiking layer: [fraction of its neurons spiking at step t, for t < T]},
* ``input_rate``: {input: spike rate (spiking input) or mean value (valued input)},
* ``window_fraction``: {spiking layer: fraction of (step, sample, neuron) with the membrane inside the
  surrogate window during training},
* ``zero_grad_fraction``: {spiking layer: fraction of exactly zero dL/du during training}.

A trained network gets measured values (:func:`measured`); an untrained shape gets
:func:`synthetic` ones, whose numbers are assumptions stated below.
"""
from __future__ import annotations

from archsim.graph.network import Network

#: assumption: spike rate of the first spiking layer of an untrained shape; deeper spiking layers fire
#: SYNTHETIC_RATE_RATIO times as often as the one before, never below SYNTHETIC_MIN_RATE. The trained
#: digits networks measure 0.05-0.2 per step, and deep SNNs report rates falling with depth.
SYNTHETIC_FIRST_RATE = 0.15
SYNTHETIC_RATE_RATIO = 0.8
SYNTHETIC_MIN_RATE = 0.02
#: assumption: backward sparsity of an untrained shape, of the order measured on conv-digits
#: (window fraction 0.25-0.29, zero dL/du 0.65-0.73 in the last epoch).
SYNTHETIC_WINDOW_FRACTION = 0.25
SYNTHETIC_ZERO_GRAD_FRACTION = 0.7


def synthetic(network: Network, steps: int, input_rate: dict[str, float]) -> dict:
    """Documented synthetic statistics for every spiking layer of ``network`` (flat over the steps)."""
    rates, window, zero = {}, {}, {}
    rate = SYNTHETIC_FIRST_RATE
    for layer in network.layers:
        if not layer.spiking:
            continue
        rates[layer.name] = [rate] * steps
        window[layer.name] = SYNTHETIC_WINDOW_FRACTION
        zero[layer.name] = SYNTHETIC_ZERO_GRAD_FRACTION
        rate = max(SYNTHETIC_MIN_RATE, round(rate * SYNTHETIC_RATE_RATIO, 6))
    return {"spike_rates": rates, "input_rate": dict(input_rate), "window_fraction": window,
            "zero_grad_fraction": zero, "synthetic": True}


def measured(spike_rates: dict[str, list[float]], input_rate: dict[str, float], window_fraction: dict[str, float],
             zero_grad_fraction: dict[str, float]) -> dict:
    """The same keys, from a trained network's test-set run and its last training epoch."""
    return {"spike_rates": spike_rates, "input_rate": input_rate, "window_fraction": window_fraction,
            "zero_grad_fraction": zero_grad_fraction, "synthetic": False}
