"""A trainable spiking network: stages in the shape of ``archsim.graph.network`` layers.

A :class:`Stage` is one archsim ``Layer``: the sum of its projections' op chains (``workloads.layers``)
feeds a cell (``workloads.neurons``). Stages run in list order; a projection reads an input or an
earlier stage at the same step (feed-forward only: the trainer has no recurrent projections), so each
stage can be evaluated for all T steps at once before the next one starts.

:class:`Builder` assembles a model from short op specs with deterministic, seeded initialisation:

* ``("dense", out)`` / ``("dense", out, True)`` (with bias),
* ``("conv", out_channels, kernel, stride, padding)`` (append ``True`` for a bias),
* ``("pool", kernel)`` (average pool, stride = kernel), ``("flatten",)``,
* ``("plastic", out, eta, decay)``: synapses with a local Hebbian rule (:mod:`workloads.plasticity`; the
  stage's cell is a :class:`~workloads.plasticity.HebbianLIF` bound to this op).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workloads.layers import AvgPool2d, Conv2d, Dense, EvenConv2d, Flatten, Op, TdBN
from workloads.neurons import LIFCell, ReLUCell, Readout
from workloads.plasticity import HebbianLIF, PlasticDense

Shape = tuple[int, ...]
Cell = LIFCell | Readout | ReLUCell | HebbianLIF


@dataclass
class Path:
    """A projection: ``ops`` applied in order to the output of ``source``."""

    source: str
    ops: list[Op]


@dataclass
class Stage:
    """A layer: ``cell(sum of projections)``, output shape ``shape``."""

    name: str
    projections: list[Path]
    cell: Cell
    shape: Shape = ()


@dataclass
class Model:
    """Inputs (name -> shape), stages in topological order; the last stage is the read-out."""

    name: str
    inputs: dict[str, Shape]
    stages: list[Stage]
    steps: int
    input_kind: dict[str, str] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stages[-1].name

    def ops(self) -> list[Op]:
        return [op for stage in self.stages for path in stage.projections for op in path.ops]

    def zero_grad(self) -> None:
        for op in self.ops():
            op.zero_grad()

    def parameter_count(self) -> int:
        return sum(int(p.size) for op in self.ops() for p in op.params.values())

    def forward(self, inputs: dict[str, np.ndarray], keep: bool = False) -> dict[str, np.ndarray]:
        """Outputs (T, B, *shape) of every input and stage; ``keep`` stores what backward needs."""
        values = dict(inputs)
        for stage in self.stages:
            values[stage.name] = stage.cell.forward(stage_current(stage, values, keep=keep), keep=keep)
        return values

    def backward(self, d_output: np.ndarray) -> dict[str, np.ndarray]:
        """Accumulate parameter gradients from dL/d(read-out output); returns dL/du per spiking stage."""
        grads = {self.output: d_output}
        d_membrane = {}
        for stage in reversed(self.stages):
            d_current = stage.cell.backward(grads.pop(stage.name))
            if stage.cell.spiking:      # a plastic cell returns dL/d(pre spikes) and keeps its dL/du
                d_membrane[stage.name] = getattr(stage.cell, "d_membrane", d_current)
            t, b = d_current.shape[:2]
            for path in stage.projections:
                d = d_current.reshape(t * b, *d_current.shape[2:])
                for op in reversed(path.ops):
                    d = op.backward(d)
                if path.source in self.inputs:
                    continue
                d = d.reshape(t, b, *d.shape[1:])
                grads[path.source] = grads[path.source] + d if path.source in grads else d
        return d_membrane


class Builder:
    """Builds a :class:`Model` stage by stage, inferring shapes and drawing weights from ``rng``.

    Weights are normal with standard deviation ``init_gain / sqrt(fan_in)`` (scaled per cell kind
    by the caller through ``init_gain``); biases start at zero.
    """

    def __init__(self, name: str, inputs: dict[str, Shape], steps: int, rng: np.random.Generator,
                 input_kind: dict[str, str] | None = None):
        self.model = Model(name=name, inputs={k: tuple(v) for k, v in inputs.items()}, stages=[], steps=steps,
                           input_kind=dict(input_kind or {}))
        self.rng = rng
        self._shapes: dict[str, Shape] = dict(self.model.inputs)

    def stage(self, name: str, cell: Cell, *projections: tuple[str, list[tuple]], init_gain: float = 1.0) -> Shape:
        """Add a stage fed by ``(source, [op spec, ...])`` projections; returns its output shape."""
        paths, shape = [], None
        for source, specs in projections:
            ops, out = self._chain(source, specs, init_gain)
            for op in ops:
                if isinstance(op, TdBN):  # tdBN normalises to the threshold of the layer it feeds
                    op.v_th = float(getattr(cell, "threshold", 1.0))
            if shape is not None and out != shape:
                raise ValueError(f"stage {name}: projections disagree on shape ({shape} vs {out})")
            paths.append(Path(source=source, ops=ops))
            shape = out
        self.model.stages.append(Stage(name=name, projections=paths, cell=cell, shape=shape))
        self._shapes[name] = shape
        return shape

    def shape(self, name: str) -> Shape:
        """Output shape of an input or of a stage built so far."""
        return self._shapes[name]

    def _chain(self, source: str, specs: list[tuple], init_gain: float) -> tuple[list[Op], Shape]:
        shape = self._shapes[source]
        ops = []
        for spec in specs:
            op = self._op(spec, shape, init_gain)
            shape = tuple(int(d) for d in op.output_shape(shape))
            ops.append(op)
        return ops, shape

    def _op(self, spec: tuple, shape: Shape, init_gain: float) -> Op:
        kind, *args = spec
        if kind == "dense":
            out, bias = args[0], (args[1] if len(args) > 1 else False)
            fan_in = int(np.prod(shape))
            w = self.rng.standard_normal((out, fan_in)) * (init_gain / np.sqrt(fan_in))
            return Dense(w, np.zeros(out) if bias else None)
        if kind == "conv":
            out, k, stride, pad = args[:4]
            bias = args[4] if len(args) > 4 else False
            fan_in = shape[0] * k * k
            w = self.rng.standard_normal((out, shape[0], k, k)) * (init_gain / np.sqrt(fan_in))
            return Conv2d(w, np.zeros(out) if bias else None, stride=(stride, stride), padding=(pad, pad))
        if kind in ("c2sp", "c4sp"):  # even kernel with symmetric padding: ("c2sp", out, stride[, bias])
            k = 2 if kind == "c2sp" else 4
            out, stride = args[:2]
            bias = args[2] if len(args) > 2 else False
            w = self.rng.standard_normal((out, shape[0], k, k)) * (init_gain / np.sqrt(shape[0] * k * k))
            return EvenConv2d(w, np.zeros(out) if bias else None, stride=(stride, stride))
        if kind == "tdbn":  # ("tdbn"[, alpha]): threshold-dependent batch norm over the channels
            return TdBN(shape[0], alpha=args[0] if args else 1.0)
        if kind == "plastic":
            out, eta, decay = args
            fan_in = int(np.prod(shape))
            return PlasticDense(self.rng.standard_normal((out, fan_in)) * (init_gain / np.sqrt(fan_in)), eta, decay)
        if kind == "pool":
            return AvgPool2d(kernel=(args[0], args[0]))
        if kind == "flatten":
            return Flatten()
        raise ValueError(f"unknown op spec {spec!r} (allowed: dense, conv, c2sp, c4sp, tdbn, pool, flatten, plastic)")


def stage_current(stage, values: dict[str, np.ndarray], keep: bool = False) -> np.ndarray:
    """The summed input current (T, B, *shape) of ``stage``, given its sources' outputs in ``values``;
    ``keep`` makes each op store what its backward needs."""
    current = None
    for path in stage.projections:
        x = values[path.source]
        t, b = x.shape[:2]
        y = x.reshape(t * b, *x.shape[2:])
        for op in path.ops:
            y = op.forward(y, keep=keep)
        y = y.reshape(t, b, *y.shape[1:])
        current = y if current is None else current + y
    return current
