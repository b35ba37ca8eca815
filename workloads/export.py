"""From a trained :class:`~workloads.model.Model` to an archsim Network, quantisation hints and files.

* :func:`to_network` builds the ``archsim.graph.network.Network`` with copies of the weights; its
  float simulation (``archsim.graph.functional.simulate``) is the trainer's own forward pass.
* :func:`tdbn_metadata` names the folded tdBN ops (``metadata["tdbn"]``: projection, alpha, V_th, eps,
  gamma, beta), so a training accelerator can normalise by batch statistics again.
* :func:`quant_hints` chooses one weight scale per layer (``metadata["quant"]``, read by
  ``archsim.graph.quantize``): the peak effective weight over ``qmax`` as quantize would, then, for a
  spiking layer, enlarged just enough that ``threshold / scale`` is a whole number, so the integer
  threshold is exact and no weight clips. Inputs of the digits (pixels k/16) get ``input_scale``
  1/16, which makes their integers exact too.
* :func:`quantized_readout` runs the integer chip semantics through
  ``archsim.graph.functional.simulate(network, inputs, precision)``.
* :func:`write` writes ``NET.nir`` (``archsim.graph.nir_io.write_network``) and ``NET.stats.json``
  beside it, each through a temporary file and an atomic rename.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from archsim.atomic import write_atomically, write_text_atomically
from archsim.graph import network as net
from archsim.graph.quantize import Precision, input_is_valued
from workloads.layers import TdBN
from workloads.model import Model
from workloads.neurons import LIFCell


def to_network(model: Model, metadata: dict | None = None) -> net.Network:
    """The archsim Network of ``model`` (weights copied); ``metadata`` is attached as given."""
    layers = []
    for stage in model.stages:
        projections = tuple(net.Projection(source=p.source, ops=archsim_ops(p.ops), plasticity=_rule(p.ops))
                            for p in stage.projections)
        layers.append(net.Layer(name=stage.name, shape=tuple(stage.shape), projections=projections,
                                neuron=stage.cell.to_archsim()))
    meta = {"steps": model.steps, "input_kind": dict(model.input_kind)}
    bn = tdbn_metadata(model)
    if bn:
        meta["tdbn"] = bn
    meta.update(metadata or {})
    return net.Network(name=model.name, inputs=dict(model.inputs), layers=layers, outputs=[model.output],
                       metadata=meta)


def _rule(ops):
    """The local rule of a trainer path (:mod:`workloads.plasticity`), or None for static synapses."""
    return next((op.to_plasticity() for op in ops if hasattr(op, "to_plasticity")), None)


def tdbn_metadata(model: Model) -> dict:
    """``metadata["tdbn"]``: per stage, the projections whose tdBN was folded, with what a training
    accelerator needs to normalise by batch statistics again (index, alpha, v_th, eps, gamma, beta)."""
    out = {}
    for stage in model.stages:
        rows = [{"projection": i, "alpha": op.alpha, "v_th": op.v_th, "eps": op.eps,
                 "gamma": [float(v) for v in op.params["gamma"]], "beta": [float(v) for v in op.params["beta"]]}
                for i, p in enumerate(stage.projections) for op in p.ops if isinstance(op, TdBN)]
        if rows:
            out[stage.name] = rows
    return out


def archsim_ops(ops) -> tuple:
    """The archsim ops of a trainer path; a tdBN op is folded into the convolution or dense op before it
    (inference uses its running statistics, so it is affine: :meth:`workloads.layers.TdBN.fold`)."""
    out: list = []
    for op in ops:
        if isinstance(op, TdBN):
            if not out or not isinstance(out[-1], (net.Conv2d, net.Dense)):
                raise ValueError("a tdBN op must follow a convolution or dense op to be folded")
            out[-1] = op.fold(out[-1])
        else:
            out.append(op.to_archsim())
    return tuple(out)


def _scalar_factor(ops) -> float:
    """Product of the scalar factors quantize folds out of a chain (average pools, scalar scales)."""
    factor = 1.0
    for op in ops:
        if isinstance(op, net.AvgPool2d):
            factor /= op.kernel[0] * op.kernel[1]
        elif isinstance(op, net.Scale) and np.ndim(op.scale) == 0:
            factor *= float(op.scale)
    return factor


def quant_hints(network: net.Network, model: Model, weight_bits: int = 8,
                input_scale: dict[str, float] | None = None) -> dict:
    """``metadata["quant"]``: weight_scale per layer, input_scale per input, weight_bits.

    Layers fed by a non-spiking layer (whose output scale quantize calibrates) or by a valued input
    without an ``input_scale`` (quantize's default applies) get no hint.
    """
    qmax = Precision(weight_bits=weight_bits).qmax
    input_scale = dict(input_scale or {})
    sigma = {name: input_scale.get(name, 1.0) for name in network.inputs
             if name in input_scale or not input_is_valued(network, name)}
    cells = {stage.name: stage.cell for stage in model.stages}
    weight_scale = {}
    for layer in network.layers:
        if any(p.source not in sigma for p in layer.projections):
            if layer.spiking:
                sigma[layer.name] = 1.0
            continue
        peak = 0.0
        for p in layer.projections:
            weights = [np.max(np.abs(op.weight)) for op in p.ops if isinstance(op, (net.Dense, net.Conv2d))]
            if weights:
                peak = max(peak, float(max(weights)) * abs(_scalar_factor(p.ops)) * sigma[p.source])
        if peak > 0:
            scale = peak / qmax
            cell = getattr(cells[layer.name], "lif", cells[layer.name])    # a plastic stage's own LIF
            if isinstance(cell, LIFCell) and cell.threshold / scale >= 1:
                scale = cell.threshold / math.floor(cell.threshold / scale)
            weight_scale[layer.name] = scale
        if layer.spiking:
            sigma[layer.name] = 1.0
    hints = {"weight_scale": weight_scale, "weight_bits": int(weight_bits)}
    if input_scale:
        hints["input_scale"] = input_scale
    return hints


def quantized_readout(network: net.Network, batches, precision: Precision) -> np.ndarray:
    """The output layer's dequantised values (T, N, ...) over input batches, in chip integer semantics."""
    from archsim.graph.functional import simulate
    from archsim.graph.quantize import quantize

    qnet = quantize(network, precision)
    name = next(iter(network.inputs))
    out = network.outputs[0]
    return np.concatenate([simulate(network, {name: seq}, precision=qnet).outputs[out] for seq in batches], axis=1)


def float_readout(network: net.Network, batches) -> np.ndarray:
    """The output layer's values (T, N, ...) over input batches, in float semantics."""
    from archsim.graph.functional import simulate

    name = next(iter(network.inputs))
    out = network.outputs[0]
    return np.concatenate([simulate(network, {name: seq}).outputs[out] for seq in batches], axis=1)


def stats_path(nir_path: str | Path) -> Path:
    """``NET.stats.json`` beside ``NET.nir``."""
    return Path(nir_path).with_suffix(".stats.json")


def write(network: net.Network, stats: dict, path: str | Path) -> Path:
    """Write ``path`` (NIR) and the stats JSON beside it; returns the stats path."""
    from archsim.graph.nir_io import write_network

    path = Path(path)
    write_atomically(path, lambda tmp: write_network(network, tmp))
    side = stats_path(path)
    write_text_atomically(side, json.dumps(stats, indent=1, sort_keys=True) + "\n")
    return side
