"""What a network is, in numbers: layers, shapes, neurons, synapses, parameters, spike rates.

``synapses`` counts connections with a non-zero weight: a dense matrix's non-zeros, a convolution's
non-zero taps counted at every output position where they meet a real (unpadded) input, a pool's
window taps likewise, an element-wise scale's non-zero factors. ``parameters`` counts stored numbers
(weights and biases; a convolution's kernel once).
"""
from __future__ import annotations

import numpy as np

from archsim.graph.network import AvgPool2d, Conv1d, Conv2d, Delay, Dense, Network, Scale, SumPool2d
from archsim.graph.ops import apply_ops


def summary(network: Network) -> dict:
    """A plain dict: ``name``, ``inputs``, ``outputs``, ``layers`` (list of per-layer dicts) and totals."""
    rates = _layer_rates(network)
    layers = []
    for layer in network.layers:
        synapses = sum(_projection_synapses(proj.ops, network.shape_of(proj.source)) for proj in layer.projections)
        params = sum(_op_parameters(op) for proj in layer.projections for op in proj.ops)
        layers.append({
            "name": layer.name, "shape": list(layer.shape), "neuron": type(layer.neuron).__name__,
            "mode": "snn" if layer.spiking else "ann", "neurons": layer.size, "synapses": int(synapses),
            "parameters": int(params),
            "sources": [p.source + (" (recurrent)" if p.recurrent else "") + (" (plastic)" if p.plasticity else "")
                        for p in layer.projections],
            "ops": [[type(op).__name__ for op in p.ops] for p in layer.projections],
            "spike_rate": rates.get(layer.name),
        })
    modes = {entry["mode"] for entry in layers}
    return {
        "name": network.name,
        "inputs": {name: list(shape) for name, shape in network.inputs.items()},
        "outputs": list(network.outputs),
        "mode": "hybrid" if len(modes) > 1 else (modes.pop() if modes else "snn"),
        "layers": layers,
        "neurons": sum(entry["neurons"] for entry in layers),
        "synapses": sum(entry["synapses"] for entry in layers),
        "parameters": sum(entry["parameters"] for entry in layers),
        "dt": network.metadata.get("dt"),
        "steps": network.metadata.get("steps"),
    }


def format_summary(info: dict) -> str:
    """A readable table of :func:`summary`."""
    head = (f"{info['name']}: {info['mode']} network, inputs "
            + ", ".join(f"{k} {tuple(v)}" for k, v in info["inputs"].items())
            + f", outputs {', '.join(info['outputs'])}")
    if info.get("dt"):
        head += f", dt {info['dt']:g} s"
    columns = ("layer", "neuron", "mode", "shape", "neurons", "synapses", "params", "rate", "from")
    rows = [columns]
    for entry in info["layers"]:
        rate = entry["spike_rate"]
        rows.append((entry["name"], entry["neuron"], entry["mode"], "x".join(map(str, entry["shape"])),
                     f"{entry['neurons']:,}", f"{entry['synapses']:,}", f"{entry['parameters']:,}",
                     "-" if rate is None else f"{rate:.3f}", ", ".join(entry["sources"])))
    rows.append(("total", "", "", "", f"{info['neurons']:,}", f"{info['synapses']:,}", f"{info['parameters']:,}", "", ""))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(columns))]
    numeric = {4, 5, 6, 7}
    lines = [head]
    for k, row in enumerate(rows):
        cells = [str(c).rjust(w) if i in numeric else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _layer_rates(network: Network) -> dict[str, float]:
    """Mean spike rate per layer from ``metadata["stats"]`` (``layer_rate`` or ``spike_rates``)."""
    stats = network.metadata.get("stats") or {}
    found = stats.get("layer_rate") or stats.get("spike_rates") or stats.get("layer_rates") or {}
    rates = {}
    if isinstance(found, dict):
        for name, value in found.items():
            try:
                rates[name] = float(np.mean(np.asarray(value, dtype=np.float64)))
            except (TypeError, ValueError):
                continue
    return rates


def _projection_synapses(ops, shape) -> int:
    """Non-zero connections of one projection, counted by pushing ones through |w| != 0 (module docstring)."""
    counted = 0
    x = np.ones((1, *shape))
    for op in ops:
        if isinstance(op, Delay):                # a delay holds no synapse and keeps the shape
            continue
        if isinstance(op, (Dense, Conv2d, Conv1d, Scale, AvgPool2d, SumPool2d)):
            mask = _nonzero_mask(op)
            counted += int(np.rint(apply_ops((mask,), (x != 0).astype(np.float64)).sum()))
        x = apply_ops((op,), x)
    return counted


def _nonzero_mask(op):
    if isinstance(op, Dense):
        return Dense(weight=(np.asarray(op.weight) != 0).astype(np.float64))
    if isinstance(op, Conv2d):
        return Conv2d(weight=(np.asarray(op.weight) != 0).astype(np.float64), stride=op.stride,
                      padding=op.padding, dilation=op.dilation, groups=op.groups)
    if isinstance(op, Conv1d):
        return Conv1d(weight=(np.asarray(op.weight) != 0).astype(np.float64), stride=op.stride,
                      padding=op.padding, dilation=op.dilation, groups=op.groups)
    if isinstance(op, Scale):
        return Scale(scale=(np.asarray(op.scale) != 0).astype(np.float64))
    return SumPool2d(kernel=op.kernel, stride=op.stride, padding=op.padding)


def _op_parameters(op) -> int:
    if isinstance(op, (Dense, Conv2d, Conv1d)):
        return int(np.size(op.weight)) + (0 if op.bias is None else int(np.size(op.bias)))
    if isinstance(op, Scale):
        return int(np.size(op.scale))
    return 0
