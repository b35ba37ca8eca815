"""The model zoo: named workloads, as trainable digits networks or as shapes for performance studies.

``names()`` lists them; ``build(name, seed)`` gives the untrained shape (seeded random weights scaled
layer by layer by :mod:`workloads.calibrate` so that every spiking layer fires at a trained network's
rate on the synthetic input; those rates are its ``spike_rates``, the backward statistics stay the
assumptions of :mod:`workloads.stats`); ``load(name)`` the trained graph when one is cached,
else ``build(name)``; ``train(name, epochs, seed, out)`` trains (digits workloads), exports and
returns ``(Network, stats)``.

Cache: a default-recipe training run (``epochs=None``) stores its graph as
``<cache>/<name>-seed<k>.nir`` (plus ``.stats.json``), where ``<cache>`` is ``$ARCHSIM_CACHE/zoo``
when that variable is set, else ``~/.cache/archsim/zoo``. ``load`` reads the seed-0 entry; delete the
folder to forget it.

Workloads (all LIF layers: ``v = decay * v + I; s = v > threshold; v = 0 where s``):

* ``mlp-digits``: 64-128-10 on the 8x8 UCI digits, direct input (pixel / 16 at each of T = 8 steps),
  LIF decay 0.5, threshold 1, integrator read-out.
* ``conv-digits``: conv3x3 16 - pool2 - conv3x3 32 - pool2 - FC 64 - 10 on the digits, T = 8.
* ``c2sp-digits``: ``conv-digits`` with its two 3x3 convolutions replaced by 2x2 C2sp convolutions
  (Wu et al., NeurIPS 2019: even-sized kernels, the four channel groups padded towards the four corners;
  :class:`workloads.layers.EvenConv2d`): 4/9 of the convolution weights.
* ``resnet-digits``: a residual SNN with threshold-dependent batch norm (tdBN; Zheng et al., AAAI 2021):
  conv3x3 16 - tdBN stem, a basic block of 16 channels (identity shortcut) and one of 32 (stride 2,
  1x1 conv shortcut), pool2, FC 64 - 10, T = 8; tdBN is folded into the weights and biases at export.
* ``resnet19-cifar10``: the ResNet-19 of Zheng et al. 2021 (Table 1's CIFAR-10 network): conv3x3 128,
  basic blocks 3 x 128, 3 x 256 (first stride 2), 2 x 512 (first stride 2), average pool, FC 256 - 10,
  T = 4 (the paper reports T = 2, 4 and 6). LIF decay 0.5 and threshold 0.5 are assumptions.
* ``vgg-cifar10``: the CIFAR-10 network of H2Learn's group's GPU BPTT library
  (``liangling76/snn_gpu_training_bptt``): conv3x3 128-128-128(s2)-256-256-256(s2)-512-512-512(s2),
  FC 8192-1024-512-10, T = 6, input 3x32x32 values, LIF decay 0.25 and threshold 0.25 (surrogate
  width 1, i.e. half-width 0.5).
* ``dvs-gesture``: a DVS128-Gesture-class network (11 classes; Amir et al., CVPR 2017). Input: events
  as 2 polarity channels at 64x64 (the 128x128 sensor pooled 2x2), T = 16. Shape after the conv nets
  used on that set (e.g. Fang et al., ICCV 2021: 3x3 convolutions with pooling, then FC), scaled down
  as an assumption: conv3x3 32 @64 - pool2 - conv 64 @32 - pool2 - conv 128 @16 - pool2 - conv 128 @8
  - pool2 - FC 2048-256 - 11; LIF decay 0.5, threshold 1.
* ``hybrid-tracker``: DashNet (Yang et al., "DashNet: A Hybrid Artificial and Spiking Neural Network for
  High-speed Object Tracking", arXiv 1909.12942) as far as its stored text describes it. What the paper
  gives (abstract; the ar5iv / arXiv-vanity copies read here hold only the abstract and the opening
  of the introduction): an SNN on event spikes and an ANN on frames in one model, a temporal
  complementary filter (TCF) and an attention module to process the ANNs' synchronous activations
  with the SNNs' event-driven spikes together, and 2,083 FPS "on neuromorphic chips" (the authors'
  Tianjic). What it does not give there, so every one of these is an assumption: input resolution
  (1x64x64 frames, 2x64x64 polarity events), layer counts, kernels and channels, time steps (T = 8
  per frame), the TCF's and the attention's equations, the neuron constants, and how the 2,083 FPS
  was counted. The zoo's shape: SNN ``snn1``-``snn2`` (conv3x3 s2, 16 and 32 channels, LIF) on events;
  ANN ``ann1``-``ann2`` (conv3x3 s2, 16 and 32 channels, ReLU) on frames; ``attention``: a spatial
  map (1x16x16, ReLU) of the SNN's features (1x1 conv); ``fuse`` (32x16x16, LIF): the ANN features
  (3x3 conv) plus the attention map broadcast to every channel (1x1 conv); ``tcf``: the response map
  (1x16x16) as a leaky integrator (decay :data:`TCF_DECAY`) of the fused response and the SNN's own
  response (1x1 convs), read once per frame. Differences from an exact DashNet, forced by the
  network IR (sums of linear projections into a neuron): the attention is additive (a map added to
  the ANN features), not a product gating them; the TCF is one linear low-pass filter over both
  responses, with the mixing as learnable projection weights; and the ANN branch runs at every SNN
  step (the IR has no slower rate; DashNet's ratio of frame rate to event steps is not given), so a
  frame here costs T ANN passes, an upper bound on the ANN's share.
* ``gll-digits``: global-local learning (Wu et al., Nat. Commun. 2022): 64-128-64-10 on the digits,
  T = 8, the 128 -> 64 projection plastic (:mod:`workloads.plasticity`): BPTT learns its weights and
  its per-synapse Hebbian coefficients, and the trace runs during inference, on the chip in a learn
  phase. ``eta`` 1 and the trace decay :data:`GLL_TRACE_DECAY` are assumptions (the paper's values are
  not in the sources read here). Its stats give the accuracy with the rule switched off too.
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from archsim.errors import UserError
from archsim.graph.network import Network
from archsim.graph.quantize import Precision
from archsim.graph.workload import synthetic_inputs
from workloads import calibrate, export, stats as stats_mod
from workloads.encoding import INPUT_KIND
from workloads.model import Builder, Model
from workloads.neurons import LIFCell, ReLUCell, Readout, RectangularSurrogate
from workloads.plasticity import HebbianLIF, without_rules
from workloads.trainer import (TrainConfig, accuracy, encoded_batches, predict, single_threaded_blas,
                               train as run_training)

DIGITS_INPUT_SCALE = 1.0 / 16  # pixels are k/16, so the 8-bit input integers are the raw pixels
WEIGHT_BITS = 8
#: assumption: synthetic input statistics of the untrained shapes (mean value of frames in [0, 1];
#: event density per pixel, polarity channel and step of a DVS stream).
FRAME_MEAN = 0.45
EVENT_RATE = 0.05
#: samples of synthetic input an untrained shape is calibrated on (seed 0: the input ``archsim run`` draws)
CALIBRATION_BATCH = 1


@dataclass(frozen=True)
class Entry:
    """One zoo workload: how to build its model, and (when trainable) its training recipe."""

    name: str
    summary: str
    make: Callable[[np.random.Generator], Model]
    input_rate: dict[str, float]
    trainable: bool = False
    config: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=0))
    input_scale: dict[str, float] = field(default_factory=dict)


def _digits_lif() -> LIFCell:
    return LIFCell(decay=0.5, threshold=1.0, reset="zero", spike_fn=RectangularSurrogate(width=1.0))


#: assumption: the plastic trace's decay per step in ``gll-digits`` (the zoo LIF's 0.5 would forget a
#: coincidence within two steps; 0.75 keeps about four of the eight steps).
GLL_TRACE_DECAY = 0.75


def _gll_digits(rng: np.random.Generator) -> Model:
    b = Builder("gll-digits", {"input": (64,)}, steps=8, rng=rng, input_kind={"input": "values"})
    b.stage("hidden", _digits_lif(), ("input", [("dense", 128)]), init_gain=3.0)
    cell = HebbianLIF(_digits_lif())
    b.stage("plastic", cell, ("hidden", [("plastic", 64, 1.0, GLL_TRACE_DECAY)]), init_gain=3.0)
    cell.bind(b.model.stages[-1].projections[0].ops[0])
    b.stage("readout", Readout(), ("plastic", [("dense", 10, True)]))
    return b.model


def _mlp_digits(rng: np.random.Generator) -> Model:
    b = Builder("mlp-digits", {"input": (64,)}, steps=8, rng=rng, input_kind={"input": "values"})
    b.stage("hidden", _digits_lif(), ("input", [("dense", 128)]), init_gain=3.0)
    b.stage("readout", Readout(), ("hidden", [("dense", 10, True)]))
    return b.model


def _conv_digits(rng: np.random.Generator) -> Model:
    b = Builder("conv-digits", {"input": (1, 8, 8)}, steps=8, rng=rng, input_kind={"input": "values"})
    b.stage("conv1", _digits_lif(), ("input", [("conv", 16, 3, 1, 1)]), init_gain=3.0)
    b.stage("conv2", _digits_lif(), ("conv1", [("pool", 2), ("conv", 32, 3, 1, 1)]), init_gain=3.0)
    b.stage("fc", _digits_lif(), ("conv2", [("pool", 2), ("flatten",), ("dense", 64)]), init_gain=3.0)
    b.stage("readout", Readout(), ("fc", [("dense", 10, True)]))
    return b.model


def _c2sp_digits(rng: np.random.Generator) -> Model:
    b = Builder("c2sp-digits", {"input": (1, 8, 8)}, steps=8, rng=rng, input_kind={"input": "values"})
    b.stage("conv1", _digits_lif(), ("input", [("c2sp", 16, 1)]), init_gain=3.0)
    b.stage("conv2", _digits_lif(), ("conv1", [("pool", 2), ("c2sp", 32, 1)]), init_gain=3.0)
    b.stage("fc", _digits_lif(), ("conv2", [("pool", 2), ("flatten",), ("dense", 64)]), init_gain=3.0)
    b.stage("readout", Readout(), ("fc", [("dense", 10, True)]))
    return b.model


HALF_SQRT2 = 1.0 / np.sqrt(2.0)  # tdBN's alpha on the two branches a residual block adds (Zheng et al. 2021)


def _residual_block(b: Builder, name: str, source: str, channels: int, stride: int, cell_of) -> str:
    """A tdBN basic block (Zheng et al. 2021, Fig. 3): conv-tdBN-LIF, conv-tdBN(alpha = 1/sqrt 2) added to
    the shortcut (identity, or a strided 1x1 conv-tdBN(1/sqrt 2) where the shape changes), then LIF."""
    b.stage(f"{name}a", cell_of(), (source, [("conv", channels, 3, stride, 1), ("tdbn",)]), init_gain=3.0)
    same = b.shape(source)[0] == channels and stride == 1
    shortcut = [] if same else [("conv", channels, 1, stride, 0), ("tdbn", HALF_SQRT2)]
    b.stage(f"{name}b", cell_of(), (f"{name}a", [("conv", channels, 3, 1, 1), ("tdbn", HALF_SQRT2)]),
            (source, shortcut), init_gain=3.0)
    return f"{name}b"


def _resnet_digits(rng: np.random.Generator) -> Model:
    b = Builder("resnet-digits", {"input": (1, 8, 8)}, steps=8, rng=rng, input_kind={"input": "values"})
    b.stage("stem", _digits_lif(), ("input", [("conv", 16, 3, 1, 1), ("tdbn",)]), init_gain=3.0)
    out = _residual_block(b, "block1", "stem", 16, 1, _digits_lif)
    out = _residual_block(b, "block2", out, 32, 2, _digits_lif)
    b.stage("fc", _digits_lif(), (out, [("pool", 2), ("flatten",), ("dense", 64)]), init_gain=3.0)
    b.stage("readout", Readout(), ("fc", [("dense", 10, True)]))
    return b.model


def _resnet19_cifar10(rng: np.random.Generator) -> Model:
    lif = lambda: LIFCell(decay=0.5, threshold=0.5, spike_fn=RectangularSurrogate(width=1.0))  # noqa: E731
    b = Builder("resnet19-cifar10", {"input": (3, 32, 32)}, steps=4, rng=rng, input_kind={"input": "values"})
    b.stage("stem", lif(), ("input", [("conv", 128, 3, 1, 1), ("tdbn",)]), init_gain=3.0)
    out = "stem"
    for index, (channels, stride) in enumerate([(128, 1)] * 3 + [(256, 2)] + [(256, 1)] * 2 + [(512, 2), (512, 1)]):
        out = _residual_block(b, f"block{index + 1}", out, channels, stride, lif)
    b.stage("fc", lif(), (out, [("pool", 8), ("flatten",), ("dense", 256)]), init_gain=3.0)
    b.stage("readout", Readout(), ("fc", [("dense", 10, True)]))
    return b.model


def _vgg_cifar10(rng: np.random.Generator) -> Model:
    b = Builder("vgg-cifar10", {"input": (3, 32, 32)}, steps=6, rng=rng, input_kind={"input": "values"})
    cell = lambda: LIFCell(decay=0.25, threshold=0.25, spike_fn=RectangularSurrogate(width=1.0))  # noqa: E731
    source = "input"
    plan = [(128, 1), (128, 1), (128, 2), (256, 1), (256, 1), (256, 2), (512, 1), (512, 1), (512, 2)]
    for i, (channels, stride) in enumerate(plan, start=1):
        b.stage(f"conv{i}", cell(), (source, [("conv", channels, 3, stride, 1)]))
        source = f"conv{i}"
    b.stage("fc1", cell(), (source, [("flatten",), ("dense", 1024)]))
    b.stage("fc2", cell(), ("fc1", [("dense", 512)]))
    b.stage("readout", Readout(), ("fc2", [("dense", 10, True)]))
    return b.model


def _dvs_gesture(rng: np.random.Generator) -> Model:
    b = Builder("dvs-gesture", {"events": (2, 64, 64)}, steps=16, rng=rng, input_kind={"events": "spikes"})
    b.stage("conv1", _digits_lif(), ("events", [("conv", 32, 3, 1, 1)]))
    b.stage("conv2", _digits_lif(), ("conv1", [("pool", 2), ("conv", 64, 3, 1, 1)]))
    b.stage("conv3", _digits_lif(), ("conv2", [("pool", 2), ("conv", 128, 3, 1, 1)]))
    b.stage("conv4", _digits_lif(), ("conv3", [("pool", 2), ("conv", 128, 3, 1, 1)]))
    b.stage("fc", _digits_lif(), ("conv4", [("pool", 2), ("flatten",), ("dense", 256)]))
    b.stage("readout", Readout(), ("fc", [("dense", 11, True)]))
    return b.model


#: assumption: decay of the temporal complementary filter's leaky integrator (DashNet's filter
#: coefficients are not in the stored text; 0.5 is the zoo's LIF decay, one step's half-life).
TCF_DECAY = 0.5


def _hybrid_tracker(rng: np.random.Generator) -> Model:
    """DashNet's three parts (Yang et al. 2019): SNN on events, ANN on frames, attention and TCF fusion."""
    b = Builder("hybrid-tracker", {"frames": (1, 64, 64), "events": (2, 64, 64)}, steps=8, rng=rng,
                input_kind={"frames": "values", "events": "spikes"})
    relu_gain = float(np.sqrt(2.0))  # He initialisation for the ANN stages
    b.stage("snn1", _digits_lif(), ("events", [("conv", 16, 3, 2, 1)]))
    b.stage("snn2", _digits_lif(), ("snn1", [("conv", 32, 3, 2, 1)]))
    b.stage("ann1", ReLUCell(), ("frames", [("conv", 16, 3, 2, 1, True)]), init_gain=relu_gain)
    b.stage("ann2", ReLUCell(), ("ann1", [("conv", 32, 3, 2, 1, True)]), init_gain=relu_gain)
    b.stage("attention", ReLUCell(), ("snn2", [("conv", 1, 1, 1, 0, True)]), init_gain=relu_gain)
    b.stage("fuse", _digits_lif(), ("ann2", [("conv", 32, 3, 1, 1)]), ("attention", [("conv", 32, 1, 1, 0)]))
    b.stage("tcf", Readout(decay=TCF_DECAY), ("fuse", [("conv", 1, 1, 1, 0, True)]),
            ("snn2", [("conv", 1, 1, 1, 0)]))
    return b.model


_DIGITS_RECIPE = dict(batch_size=32, learning_rate=3e-3, encoding="direct")
ZOO: dict[str, Entry] = {e.name: e for e in [
    Entry("mlp-digits", "64-128-10 LIF MLP, 8x8 digits, T=8 (trainable)", _mlp_digits, {"input": 0.3},
          trainable=True, config=TrainConfig(epochs=15, **_DIGITS_RECIPE), input_scale={"input": DIGITS_INPUT_SCALE}),
    Entry("conv-digits", "conv 16-32, FC 64-10 LIF net, 8x8 digits, T=8 (trainable)", _conv_digits, {"input": 0.3},
          trainable=True, config=TrainConfig(epochs=20, **_DIGITS_RECIPE), input_scale={"input": DIGITS_INPUT_SCALE}),
    Entry("c2sp-digits", "conv-digits with 2x2 C2sp kernels (even-sized, symmetric padding), T=8 (trainable)",
          _c2sp_digits, {"input": 0.3}, trainable=True, config=TrainConfig(epochs=20, **_DIGITS_RECIPE),
          input_scale={"input": DIGITS_INPUT_SCALE}),
    Entry("resnet-digits", "residual tdBN SNN: stem, 2 basic blocks (16, 32 ch), FC 64-10, T=8 (trainable)",
          _resnet_digits, {"input": 0.3}, trainable=True, config=TrainConfig(epochs=10, **_DIGITS_RECIPE),
          input_scale={"input": DIGITS_INPUT_SCALE}),
    Entry("gll-digits", "64-128-64-10 LIF MLP, the 128->64 synapses plastic (global-local learning), T=8 "
          "(trainable)", _gll_digits, {"input": 0.3}, trainable=True, config=TrainConfig(epochs=15, **_DIGITS_RECIPE),
          input_scale={"input": DIGITS_INPUT_SCALE}),
    Entry("resnet19-cifar10", "tdBN ResNet-19 shape (Zheng et al. 2021), 3x32x32, T=4", _resnet19_cifar10,
          {"input": FRAME_MEAN}),
    Entry("vgg-cifar10", "H2Learn-group VGG-style CIFAR-10 shape, 3x32x32, T=6", _vgg_cifar10,
          {"input": FRAME_MEAN}),
    Entry("dvs-gesture", "DVS-gesture-class conv net, 2x64x64 events, 11 classes, T=16", _dvs_gesture,
          {"events": EVENT_RATE}),
    Entry("hybrid-tracker", "DashNet shape: SNN(events) + ANN(frames), attention fusion, TCF read-out, T=8",
          _hybrid_tracker, {"frames": FRAME_MEAN, "events": EVENT_RATE}),
]}


def names() -> list[str]:
    """Zoo workload names, in a fixed order."""
    return list(ZOO)


def entry(name: str) -> Entry:
    """The zoo entry ``name``, or a one-line UserError listing the names."""
    if name not in ZOO:
        raise UserError(f"{name}: not a zoo workload (allowed: {', '.join(names())})")
    return ZOO[name]


def cache_dir() -> Path:
    """Where trained zoo graphs are cached: ``$ARCHSIM_CACHE/zoo`` or ``~/.cache/archsim/zoo``."""
    root = os.environ.get("ARCHSIM_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "archsim") / "zoo"


def cache_path(name: str, seed: int = 0) -> Path:
    """Where the trained graph of ``name`` (seed ``seed``) is cached."""
    return cache_dir() / f"{name}-seed{seed}.nir"


def make_model(name: str, seed: int = 0) -> Model:
    """The untrained trainer model of ``name`` (weights drawn from a generator seeded by ``seed``)."""
    return entry(name).make(np.random.default_rng([seed, 0]))


def _export(name: str, model: Model, stats: dict, extra: dict, input_scale: dict[str, float]) -> Network:
    network = export.to_network(model, {"zoo": name, "stats": stats, **extra})
    network.metadata["quant"] = export.quant_hints(network, model, WEIGHT_BITS, input_scale)
    return network


def build(name: str, seed: int = 0, steps: int | None = None) -> Network:
    """The untrained shape of ``name``, its weights calibrated to trained spike rates (``workloads.calibrate``).

    The calibration runs on the synthetic input of ``steps`` steps (default: the shape's T); the spike
    rates it reaches are the network's recorded statistics, with the note :func:`untrained_notice` prints.
    """
    e = entry(name)
    result = _calibration(name, seed, steps)
    model = _model_with_steps(name, seed, steps)
    calibrate.apply(model, result.gains)
    stats = stats_mod.synthetic(export.to_network(model), model.steps, e.input_rate)
    stats["spike_rates"].update(result.step_rates)
    stats["calibration"] = {"targets": result.targets, "rates": result.rates, "gains": result.gains,
                            "source": calibrate.RATE_SOURCE}
    return _export(name, model, stats, {"trained": False, "seed": seed}, e.input_scale)


def _model_with_steps(name: str, seed: int, steps: int | None) -> Model:
    model = make_model(name, seed)
    if steps is not None:
        model.steps = int(steps)
    return model


@functools.lru_cache(maxsize=16)
def _calibration(name: str, seed: int, steps: int | None) -> calibrate.Calibration:
    """The calibration of a shape on its synthetic input (computed once per process: it is deterministic)."""
    model = _model_with_steps(name, seed, steps)
    shape = export.to_network(model, {"stats": {"input_rate": dict(entry(name).input_rate)}})
    return calibrate.calibrate(model, synthetic_inputs(shape, model.steps, CALIBRATION_BATCH, seed=0))


def untrained_notice(network: Network) -> str | None:
    """One line saying that ``network`` is a calibrated untrained zoo shape, or None when it is not one."""
    calibration = (network.metadata.get("stats") or {}).get("calibration")
    if network.metadata.get("trained", True) or not calibration:
        return None
    return (f"{network.metadata.get('zoo', network.name)}: untrained shape, weights calibrated layer by layer "
            f"to the spike rates of {calibration['source']}; per layer: "
            + ", ".join(f"{layer} {rate:.3f}" for layer, rate in calibration["rates"].items()))


def load(name: str) -> Network:
    """The cached trained graph of ``name`` (seed 0) when there is one, else :func:`build`."""
    path = cache_path(name)
    if entry(name).trainable and path.exists():
        from archsim.graph.nir_io import read_network

        return read_network(path)
    return build(name)


def _digits(shape: tuple[int, ...]):
    """The shipped digits (train x, y, test x, y), each sample shaped as the network's input ``shape``."""
    from workloads.data import load_digits

    train_split, test_split = load_digits()
    reshape = lambda x: x.reshape(x.shape[0], *shape)  # noqa: E731
    return reshape(train_split.x), train_split.y, reshape(test_split.x), test_split.y


def train(name: str, epochs: int | None = None, seed: int = 0, out: str | Path | None = None,
          log: Callable[[str], None] | None = None) -> tuple[Network, dict]:
    """Train ``name`` (``epochs=None``: its recipe; 0: export the untrained shape) and export it.

    Writes ``out`` and its ``.stats.json`` when ``out`` is given; a default-recipe run is also cached.
    Returns the Network (float weights, quantisation hints and statistics in its metadata) and the
    stats dictionary written beside the NIR file.
    """
    e = entry(name)
    if epochs is not None and epochs < 0:
        raise UserError(f"--epochs: {epochs} is not allowed (allowed: >= 0; 0 exports the untrained shape)")
    if epochs and not e.trainable:
        trainable = ", ".join(n for n in names() if ZOO[n].trainable)
        raise UserError(f"{name}: an untrained shape for performance studies, no data to train on "
                        f"(use --epochs 0; trainable: {trainable})")
    n_epochs = e.config.epochs if epochs is None else epochs
    if n_epochs == 0:
        network = build(name, seed)
        stats = {"workload": name, "seed": seed, "epochs": 0, "steps": network.metadata["steps"], "trained": False,
                 **network.metadata["stats"]}
    else:
        with single_threaded_blas():
            network, stats = _train_digits(name, n_epochs, seed, log)
        if epochs is None:
            export.write(network, stats, cache_path(name, seed))
    if out is not None:
        export.write(network, stats, out)
    return network, stats


def _train_digits(name: str, epochs: int, seed: int, log) -> tuple[Network, dict]:
    e = entry(name)
    config = TrainConfig(epochs=epochs, batch_size=e.config.batch_size, learning_rate=e.config.learning_rate,
                         encoding=e.config.encoding, seed=seed)
    model = make_model(name, seed)
    input_name = next(iter(model.inputs))
    model.input_kind = {input_name: INPUT_KIND[config.encoding]}
    input_scale = e.input_scale if config.encoding == "direct" else {}
    train_x, train_y, test_x, test_y = _digits(next(iter(model.inputs.values())))
    started = time.perf_counter()
    result = run_training(model, train_x, train_y, test_x, test_y, config, log=log)
    float_run = predict(model, test_x, config.encoding, seed)
    stats = stats_mod.measured(float_run.spike_rates(), {input_name: float_run.input_mean},
                               result.window_fraction, result.zero_grad_fraction)
    network = _export(name, model, stats, {"trained": True, "seed": seed, "encoding": config.encoding},
                      input_scale)
    precision = Precision(weight_bits=WEIGHT_BITS)
    q_readout = export.quantized_readout(network, encoded_batches(test_x, model.steps, config.encoding, seed),
                                         precision)
    float_acc, quant_acc = accuracy(float_run.readout, test_y), accuracy(q_readout, test_y)
    local_off = {}
    if without_rules(network) is not network:      # the same weights with the local rule switched off
        static = without_rules(network)
        batches = lambda: encoded_batches(test_x, model.steps, config.encoding, seed)  # noqa: E731
        local_off = {"accuracy_without_local_rule": {
            "float": accuracy(export.float_readout(static, batches()), test_y),
            "quantized": accuracy(export.quantized_readout(static, batches(), precision), test_y)}}
    summary = {"workload": name, "seed": seed, "epochs": epochs, "steps": model.steps, "trained": True,
               "encoding": config.encoding, "batch_size": config.batch_size,
               "learning_rate": config.learning_rate, "parameters": model.parameter_count(),
               "accuracy": {"float": float_acc, "quantized": quant_acc}, "weight_bits": WEIGHT_BITS,
               "train_time_s": result.train_time_s, "total_time_s": time.perf_counter() - started,
               "test_samples": int(test_y.size), "history": result.history, **local_off}
    network.metadata["accuracy"] = summary["accuracy"]
    return network, {**summary, **stats}


def labelled_accuracy(network: Network, precision: Precision | None) -> dict:
    """Classification accuracy of ``network`` on its zoo workload's shipped test split.

    ``precision`` None runs in float, else in the chip's integer semantics at that precision (what the
    chip computes). Only a trained digits network has a labelled shipped test set; anything else is a
    one-line UserError. Returns ``{"value", "samples", "precision", "data"}``.
    """
    name = network.metadata.get("zoo")
    if name not in ZOO or not ZOO[name].trainable or not network.metadata.get("trained", False):
        trainable = ", ".join(n for n in names() if ZOO[n].trainable)
        raise UserError(f"{network.name}: accuracy needs a trained zoo network with a shipped test set "
                        f"(allowed: {trainable})")
    _, _, test_x, test_y = _digits(tuple(next(iter(network.inputs.values()))))
    encoding = network.metadata.get("encoding", ZOO[name].config.encoding)
    batches = encoded_batches(test_x, int(network.metadata["steps"]), encoding, int(network.metadata.get("seed", 0)))
    if precision is None:
        readout, label = export.float_readout(network, batches), "float"
    else:
        readout, label = export.quantized_readout(network, batches, precision), f"int{precision.weight_bits}"
    return {"value": accuracy(readout, test_y), "samples": int(test_y.size), "precision": label,
            "data": "UCI 8x8 digits, shipped test split"}


def ensure_trained(name: str, log: Callable[[str], None] | None = None) -> None:
    """Train and cache the default recipe of zoo workload ``name`` when it is trainable and not cached."""
    if name in ZOO and ZOO[name].trainable and not cache_path(name).exists():
        if log:
            log(f"training {name} ({ZOO[name].config.epochs} epochs, cached in {cache_dir()})")
        train(name, log=None)
