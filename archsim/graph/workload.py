"""Workload: a network plus the input it runs on (and labels, when it trains).

Inputs come from a ``.npy`` file (:func:`load_inputs`) or are made up deterministically
(:func:`synthetic_inputs`): Bernoulli spikes at the rate recorded for each input in
``network.metadata["stats"]["input_rate"][name]`` (default :data:`DEFAULT_INPUT_RATE`), or uniform
values in [0, 1) for inputs marked ``network.metadata["input_kind"][name] == "values"``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archsim.errors import UserError
from archsim.graph.network import Network

#: Spike probability per input element and step when the network records none (assumption).
DEFAULT_INPUT_RATE = 0.2
#: Time steps when neither the caller nor ``network.metadata["steps"]`` says.
DEFAULT_STEPS = 8


@dataclass(eq=False)
class Workload:
    """What a chip runs: ``inputs[name]`` has shape ``(steps, batch, *input_shape)``.

    Spiking inputs hold 0/1; valued inputs (ANN frames, direct encoding) hold floats.
    ``labels`` (shape ``(batch,)``, class indices) are present when ``mode == "train"``.
    """

    name: str
    network: Network
    inputs: dict[str, np.ndarray]
    steps: int
    batch: int
    mode: str = "infer"
    labels: np.ndarray | None = None


def input_rate(network: Network, name: str) -> float:
    """Recorded spike rate of input ``name`` (``metadata["stats"]["input_rate"]``), else the default."""
    rates = ((network.metadata.get("stats") or {}).get("input_rate") or {})
    rate = rates.get(name, DEFAULT_INPUT_RATE) if isinstance(rates, dict) else rates
    return float(np.clip(float(rate), 0.0, 1.0))


def synthetic_inputs(network: Network, steps: int, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic inputs ``(steps, batch, *shape)``: spikes at the recorded rate, or values in [0, 1)."""
    from archsim.graph.quantize import input_is_valued

    rng = np.random.default_rng(seed)
    inputs = {}
    for name, shape in network.inputs.items():
        draw = rng.random((steps, batch, *shape))
        if input_is_valued(network, name):
            inputs[name] = draw
        else:
            inputs[name] = (draw < input_rate(network, name)).astype(np.float64)
    return inputs


def load_inputs(path: str | Path, network: Network, steps: int | None = None) -> dict[str, np.ndarray]:
    """A ``.npy`` of shape ``(T, *shape)`` (batch 1) or ``(T, B, *shape)`` for the network's one input.

    ``steps`` keeps the first ``steps`` steps (it may not exceed the file's T).
    """
    if len(network.inputs) != 1:
        raise UserError(f"{path}: network {network.name} has {len(network.inputs)} inputs "
                        f"({', '.join(network.inputs)}); --input takes one array (allowed: one-input networks)")
    name, shape = next(iter(network.inputs.items()))
    expected = f"(T, {', '.join(map(str, shape))}) or (T, B, {', '.join(map(str, shape))})"
    from archsim.guard.npy_files import load_npy

    x = load_npy(path, f"shape {expected}")
    shape = tuple(shape)
    if 0 in x.shape:
        raise UserError(f"{path}: shape {tuple(x.shape)} is empty (allowed: {expected} with T, B >= 1)")
    if x.ndim == 1 + len(shape) and tuple(x.shape[1:]) == shape:
        x = x[:, None]
    elif not (x.ndim == 2 + len(shape) and tuple(x.shape[2:]) == shape):
        raise UserError(f"{path}: shape {tuple(x.shape)} does not fit input {name} (allowed: {expected})")
    if not np.issubdtype(x.dtype, np.number) and x.dtype != bool:
        raise UserError(f"{path}: dtype {x.dtype} (allowed: numbers or booleans)")
    if np.iscomplexobj(x):
        raise UserError(f"{path}: dtype {x.dtype} (allowed: real numbers or booleans)")
    if not np.isfinite(x).all():
        raise UserError(f"{path}: {int(np.size(x) - np.isfinite(x).sum())} values are NaN or infinite "
                        "(allowed: finite numbers)")
    if steps is not None:
        if steps > x.shape[0]:
            raise UserError(f"--steps: {steps} exceeds the {x.shape[0]} steps in {path} (allowed: 1..{x.shape[0]})")
        x = x[:steps]
    return {name: np.asarray(x, dtype=np.float64)}


def make_workload(network: Network, *, input_path: str | Path | None = None, steps: int | None = None,
                  batch: int | None = None, mode: str = "infer", seed: int = 0,
                  labels: np.ndarray | None = None) -> Workload:
    """The Workload of one run: inputs from ``input_path`` or synthetic, labels for training.

    ``steps`` defaults to ``network.metadata["steps"]`` (else 8), ``batch`` to 1; with a file, its
    T and B rule (``batch`` must then match). In ``"train"`` mode without ``labels``, labels are drawn
    uniformly over the output size with ``seed``.
    """
    if mode not in ("infer", "train"):
        raise UserError(f"--mode: {mode!r} is not allowed (allowed: infer, train)")
    if input_path is not None:
        inputs = load_inputs(input_path, network, steps)
        x = next(iter(inputs.values()))
        if batch is not None and batch != x.shape[1]:
            raise UserError(f"--batch: {batch} differs from the batch {x.shape[1]} in {input_path} "
                            "(allowed: leave it out, or the file's batch)")
        steps, batch = int(x.shape[0]), int(x.shape[1])
    else:
        steps = int(steps if steps is not None else network.metadata.get("steps", DEFAULT_STEPS))
        batch = int(batch if batch is not None else 1)
        inputs = synthetic_inputs(network, steps, batch, seed=seed)
    if mode == "train" and labels is None:
        classes = int(np.prod(network.shape_of(network.outputs[0])))
        labels = np.random.default_rng(seed + 1).integers(0, classes, size=batch)
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (batch,):
            raise UserError(f"labels: shape {labels.shape} (allowed: ({batch},), one class index per sample)")
    return Workload(name=network.name, network=network, inputs=inputs, steps=steps, batch=batch, mode=mode,
                    labels=labels)
