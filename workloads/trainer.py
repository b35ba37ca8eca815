"""The reference trainer: STBP/BPTT with a rectangular surrogate, softmax cross-entropy and Adam.

One training step: encode a mini-batch over T steps (``workloads.encoding``), run the model forward
keeping membranes and spikes, take the read-out's class scores ``logits = v[T-1] / T``
(``workloads.neurons.Readout``), back-propagate softmax cross-entropy through time
(``Model.backward``), and update every parameter with Adam. Everything random (initialisation is the
caller's; shuffling and rate-encoding spikes here) comes from generators seeded by ``seed``, and the
arithmetic is float64 NumPy, so the same seed gives the same weights, byte for byte.

While training, the backward sparsity the H2Learn model cares about is measured on the last epoch:
per spiking stage, the fraction of (step, sample, neuron) whose membrane lies inside the surrogate
window, and the fraction of exactly zero dL/du.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from workloads.encoding import encode
from workloads.model import Model


def single_threaded_blas():
    """A context in which BLAS runs on one thread (``threadpoolctl``, when installed).

    The trainer's matrices are small: extra BLAS threads cost more in synchronisation than they save,
    and on a busy machine they spin against other processes (15x slower measured on 2 shared cores).
    Without threadpoolctl this is a no-op and BLAS keeps its default thread count.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (defaults are the zoo's digits settings)."""

    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 3e-3
    #: the learning rate follows a cosine from ``learning_rate`` down to this fraction of it
    final_lr_fraction: float = 0.05
    encoding: str = "direct"
    seed: int = 0


@dataclass
class TrainResult:
    """What a run measured: per-epoch history, final test accuracy, time, backward sparsity."""

    history: list[dict] = field(default_factory=list)
    test_accuracy: float = float("nan")
    train_time_s: float = 0.0
    window_fraction: dict[str, float] = field(default_factory=dict)
    zero_grad_fraction: dict[str, float] = field(default_factory=dict)


class Adam:
    """Adam (Kingma & Ba 2015) over every parameter of ``model``; updates in place."""

    def __init__(self, model: Model, learning_rate: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        self.ops = model.ops()
        self.lr, self.beta1, self.beta2, self.eps = learning_rate, beta1, beta2, eps
        self.m = [{k: np.zeros_like(v) for k, v in op.params.items()} for op in self.ops]
        self.v = [{k: np.zeros_like(v) for k, v in op.params.items()} for op in self.ops]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        c1, c2 = 1 - self.beta1 ** self.t, 1 - self.beta2 ** self.t
        for op, m, v in zip(self.ops, self.m, self.v):
            for k, p in op.params.items():
                g = op.grads[k]
                m[k] = self.beta1 * m[k] + (1 - self.beta1) * g
                v[k] = self.beta2 * v[k] + (1 - self.beta2) * g * g
                p -= self.lr * (m[k] / c1) / (np.sqrt(v[k] / c2) + self.eps)


def logits_of(readout: np.ndarray) -> np.ndarray:
    """Class scores from the read-out's (T, B, classes) membrane: its last step over T."""
    return readout[-1] / readout.shape[0]


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient with respect to ``logits``."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = labels.shape[0]
    loss = -float(log_p[np.arange(n), labels].mean())
    d = np.exp(log_p)
    d[np.arange(n), labels] -= 1.0
    return loss, d / n


def loss_and_gradients(model: Model, inputs: dict[str, np.ndarray], labels: np.ndarray):
    """Forward, loss, backward: returns (loss, outputs of every stage, dL/du per spiking stage)."""
    model.zero_grad()
    values = model.forward(inputs, keep=True)
    readout = values[model.output]
    loss, d_logits = cross_entropy(logits_of(readout), labels)
    d_readout = np.zeros_like(readout)
    d_readout[-1] = d_logits / readout.shape[0]
    return loss, values, model.backward(d_readout)


def _input_name(model: Model) -> str:
    if len(model.inputs) != 1:
        raise ValueError(f"{model.name}: the trainer feeds one input, the model has {sorted(model.inputs)}")
    return next(iter(model.inputs))


@dataclass
class Prediction:
    """Read-out (T, N, classes) of every sample, spikes per stage per step, mean input value."""

    readout: np.ndarray
    spike_counts: dict[str, np.ndarray]
    neurons: dict[str, int]
    samples: int
    input_mean: float

    def spike_rates(self) -> dict[str, list[float]]:
        """Per spiking stage and step: spikes / (samples * neurons)."""
        return {k: [float(c) / (self.samples * self.neurons[k]) for c in counts]
                for k, counts in self.spike_counts.items()}


def encoded_batches(x: np.ndarray, steps: int, encoding: str, seed: int = 0, batch_size: int = 256):
    """Evaluation inputs (steps, b, *shape) in order; rate spikes come from a generator seeded by ``seed``."""
    rng = np.random.default_rng([seed, 2])
    for start in range(0, x.shape[0], batch_size):
        yield encode(x[start:start + batch_size], steps, encoding, rng)


def predict(model: Model, x: np.ndarray, encoding: str, seed: int = 0, batch_size: int = 256) -> Prediction:
    """Run ``model`` on every sample of ``x`` (rate spikes drawn from a generator seeded by ``seed``)."""
    name = _input_name(model)
    readouts, counts = [], {}
    input_sum = 0.0
    for seq in encoded_batches(x, model.steps, encoding, seed, batch_size):
        input_sum += float(seq.sum())
        values = model.forward({name: seq})
        readouts.append(values[model.output])
        for stage in model.stages:
            if stage.cell.spiking:
                per_step = values[stage.name].reshape(model.steps, -1).sum(axis=1)
                counts[stage.name] = counts.get(stage.name, 0) + per_step
    neurons = {stage.name: int(np.prod(stage.shape)) for stage in model.stages}
    input_mean = input_sum / (model.steps * x[0].size * x.shape[0])
    return Prediction(readout=np.concatenate(readouts, axis=1), spike_counts=counts, neurons=neurons,
                      samples=x.shape[0], input_mean=input_mean)


def accuracy(readout: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose final read-out membrane is largest at the true class."""
    return float(np.mean(np.argmax(readout[-1], axis=1) == labels))


def train(model: Model, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
          config: TrainConfig, log: Callable[[str], None] | None = None) -> TrainResult:
    """Train ``model`` in place; evaluates on the test set after every epoch."""
    with single_threaded_blas():
        return _train(model, train_x, train_y, test_x, test_y, config, log)


def cosine_learning_rate(config: TrainConfig, epoch: int) -> float:
    """Learning rate of ``epoch``: a cosine from ``learning_rate`` to ``final_lr_fraction`` of it."""
    progress = epoch / max(1, config.epochs - 1)
    cosine = 0.5 * (1 + np.cos(np.pi * progress))
    return config.learning_rate * (config.final_lr_fraction + (1 - config.final_lr_fraction) * cosine)


class SparsityMeter:
    """Backward sparsity per spiking stage, summed over training steps (see the module docstring)."""

    def __init__(self) -> None:
        self.window: dict[str, float] = {}
        self.zero: dict[str, int] = {}
        self.count: dict[str, int] = {}

    def add(self, model: Model, d_membrane: dict[str, np.ndarray]) -> None:
        for stage in model.stages:
            if stage.cell.spiking:
                d_u = d_membrane[stage.name]
                self.window[stage.name] = self.window.get(stage.name, 0.0) + stage.cell.window_fraction() * d_u.size
                self.zero[stage.name] = self.zero.get(stage.name, 0) + int(np.count_nonzero(d_u == 0))
                self.count[stage.name] = self.count.get(stage.name, 0) + d_u.size

    def window_fraction(self) -> dict[str, float]:
        return {k: self.window[k] / n for k, n in self.count.items()}

    def zero_grad_fraction(self) -> dict[str, float]:
        return {k: self.zero[k] / n for k, n in self.count.items()}


def _train(model, train_x, train_y, test_x, test_y, config, log) -> TrainResult:
    rng = np.random.default_rng([config.seed, 1])
    name = _input_name(model)
    optimizer = Adam(model, config.learning_rate)
    result = TrainResult()
    started = time.perf_counter()
    for epoch in range(config.epochs):
        optimizer.lr = cosine_learning_rate(config, epoch)
        order = rng.permutation(train_x.shape[0])
        loss_sum, correct = 0.0, 0
        meter = SparsityMeter() if epoch == config.epochs - 1 else None
        for start in range(0, order.size, config.batch_size):
            idx = order[start:start + config.batch_size]
            seq = encode(train_x[idx], model.steps, config.encoding, rng)
            loss, values, d_membrane = loss_and_gradients(model, {name: seq}, train_y[idx])
            optimizer.step()
            loss_sum += loss * idx.size
            correct += int(np.sum(np.argmax(values[model.output][-1], axis=1) == train_y[idx]))
            if meter is not None:
                meter.add(model, d_membrane)
        test_out = predict(model, test_x, config.encoding, config.seed).readout
        entry = {"epoch": epoch + 1, "loss": loss_sum / order.size, "train_accuracy": correct / order.size,
                 "test_accuracy": accuracy(test_out, test_y), "elapsed_s": time.perf_counter() - started}
        result.history.append(entry)
        if log:
            log(f"epoch {entry['epoch']:3d}/{config.epochs}  loss {entry['loss']:.4f}  "
                f"train {100 * entry['train_accuracy']:.2f}%  test {100 * entry['test_accuracy']:.2f}%  "
                f"({entry['elapsed_s']:.1f} s)")
        if meter is not None:
            result.window_fraction = meter.window_fraction()
            result.zero_grad_fraction = meter.zero_grad_fraction()
    result.train_time_s = time.perf_counter() - started
    if result.history:
        result.test_accuracy = result.history[-1]["test_accuracy"]
    return result
