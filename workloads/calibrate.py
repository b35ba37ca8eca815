"""Live untrained shapes: weights scaled layer by layer so every spiking layer fires at a trained rate.

A zoo shape with seeded random weights (``workloads.model.Builder``) is nearly silent past its first
layer: its currents are zero-mean and too small to reach threshold, so a chip model would cost an
idle network. :func:`calibrate` walks the stages in order on the network's synthetic input (the very
input ``archsim run`` draws without ``--input``: :func:`archsim.graph.workload.synthetic_inputs`,
seed 0), and for each LIF stage scales the weights (and biases) of all its projections by one factor,
found by bisection on a log scale, so that the stage's mean spike rate over (step, sample, neuron)
equals its target; the next stage is then fed the calibrated spikes. Thresholds, decays and the
random weight pattern stay as the shape defines them; ReLU and read-out stages are left alone.

Target rates (:data:`TRAINED_RATES`) are measured, not chosen: the per-layer mean spike rates of
the zoo's ``conv-digits`` as trained here (default recipe, seed 0, 20 epochs; its test-set run, the
``spike_rates`` of ``conv-digits-seed0.stats.json``). It is the trained network of the same family as
the shapes (LIF decay 0.5 / threshold 1 with zero reset, conv3x3 - avg-pool stacks then a dense
layer, BPTT with a rectangular surrogate). A stage fed directly by a network input gets the rate of
its first conv layer (on events, that rate per unit of input: :data:`TRAINED_INPUT_MEAN`), a deeper
conv stage that of its second, a dense stage that of its dense layer.
Using the same rates for ``vgg-cifar10`` (LIF decay 0.25, threshold 0.25) is an assumption.

Everything is float64 NumPy on a fixed input, so a calibration is deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workloads.layers import Dense
from workloads.model import Model, Stage, stage_current

#: mean spike rate per step of the trained conv-digits layers (``archsim train conv-digits``, seed 0,
#: default recipe, float test accuracy 97.5%; means over its 359 test samples and 8 steps): conv1 0.284
#: (fed by the input), conv2 0.263 (a deeper conv), fc 0.369 (dense).
TRAINED_RATES = {"first": 0.284, "conv": 0.263, "dense": 0.369}
#: mean value of the trained conv-digits input (pixels / 16, its test set). A first stage on spikes
#: cannot fire where no event arrives, so it fires in proportion to its input: it targets
#: ``TRAINED_RATES["first"] / TRAINED_INPUT_MEAN`` spikes per input event (0.93 times the event rate);
#: a first stage on values (frames, pixels) targets ``TRAINED_RATES["first"]``.
TRAINED_INPUT_MEAN = 0.304
RATE_SOURCE = "trained conv-digits, seed 0 (workloads/calibrate.py)"
#: bisection over log2 of the weight gain: the bracket and the number of halvings (2^-40 relative).
LOG2_GAIN_RANGE = (-24.0, 24.0)
BISECTION_STEPS = 40


@dataclass(frozen=True)
class Calibration:
    """The outcome: per spiking stage its weight gain, target and achieved rates (per step, too)."""

    gains: dict[str, float]
    targets: dict[str, float]
    rates: dict[str, float]
    step_rates: dict[str, list[float]]


def target_rate(model: Model, stage: Stage, values: dict[str, np.ndarray]) -> float:
    """The trained rate a spiking stage is calibrated to (module docstring: first / conv / dense)."""
    fed = [path.source for path in stage.projections if path.source in model.inputs]
    if fed:
        spiking = [name for name in fed if model.input_kind.get(name) == "spikes"]
        if not spiking:
            return TRAINED_RATES["first"]
        input_mean = float(np.mean([values[name].mean() for name in spiking]))
        return TRAINED_RATES["first"] / TRAINED_INPUT_MEAN * input_mean
    dense = any(isinstance(op, Dense) for path in stage.projections for op in path.ops)
    return TRAINED_RATES["dense" if dense else "conv"]


def calibrate(model: Model, inputs: dict[str, np.ndarray]) -> Calibration:
    """Scale ``model``'s spiking stages in place to their target rates on ``inputs`` ((T, B, *shape))."""
    values = dict(inputs)
    gains, targets, rates, step_rates = {}, {}, {}, {}
    for stage in model.stages:
        current = stage_current(stage, values)
        if stage.cell.spiking:
            target = target_rate(model, stage, values)
            gain = _gain_for_rate(stage, current, target)
            _scale(stage, gain)
            current = current * gain
            gains[stage.name], targets[stage.name] = gain, target
        values[stage.name] = stage.cell.forward(current)
        if stage.name in gains:
            spikes = values[stage.name]
            rates[stage.name] = float(spikes.mean())
            step_rates[stage.name] = [float(r) for r in spikes.reshape(spikes.shape[0], -1).mean(axis=1)]
    return Calibration(gains=gains, targets=targets, rates=rates, step_rates=step_rates)


def _gain_for_rate(stage: Stage, current: np.ndarray, target: float) -> float:
    """The weight gain at which the stage's mean spike rate crosses ``target`` (bisection on log2)."""
    low, high = LOG2_GAIN_RANGE
    if _rate(stage, current, 2.0 ** high) < target:
        raise ValueError(f"stage {stage.name}: cannot reach spike rate {target} (its input is silent)")
    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        if _rate(stage, current, 2.0 ** middle) < target:
            low = middle
        else:
            high = middle
    return float(2.0 ** high)


def _rate(stage: Stage, current: np.ndarray, gain: float) -> float:
    return float(stage.cell.forward(current * gain).mean())


def apply(model: Model, gains: dict[str, float]) -> None:
    """Scale the stages named in ``gains`` of a fresh copy of the shape as :func:`calibrate` did."""
    for stage in model.stages:
        if stage.name in gains:
            _scale(stage, gains[stage.name])


def _scale(stage: Stage, gain: float) -> None:
    """Multiply the last weighted op of each projection (weight and bias) by ``gain``; an identity
    projection (a residual shortcut) carries its source unscaled."""
    for path in stage.projections:
        weighted = [op for op in path.ops if "weight" in op.params]
        if not weighted:
            continue
        op = weighted[-1]
        for key in ("weight", "bias"):
            if key in op.params:
                op.params[key] = op.params[key] * gain
