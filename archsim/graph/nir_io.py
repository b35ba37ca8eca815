"""NIR files in and out: NIR graphs <-> archsim's :class:`~archsim.graph.network.Network`.

Import (:func:`read_network`, :func:`from_nir_graph`) fuses each chain of linear NIR nodes (Affine,
Linear, Conv2d, Flatten, AvgPool2d, SumPool2d, Scale) that ends in a neuron node (LIF, IF, CubaLIF,
LI, I, Threshold) into a :class:`Layer` fed by :class:`Projection` s; several edges into one node
sum. A linear chain that ends at an Output node becomes a layer with an ``Identity`` neuron, named
after the Output node. Nested ``NIRGraph`` nodes are inlined (their inner nodes are named
``subgraph.node``; an edge to or from the subgraph itself goes to its Input or from its Output).
An edge that closes a cycle becomes a recurrent projection (it reads the previous step).
Continuous-time neurons are discretised by forward Euler at ``dt`` (formulas in
:mod:`archsim.graph.network`); NIR's ``IF`` and ``I`` (``dv/dt = R I``) follow network.py's convention
``decay = 1, gain = r * dt`` (forward Euler: one step adds ``r * dt * I``).

Export (:func:`write_network`, :func:`to_nir_graph`) writes one NIR node per linear op, named
``LAYER.pP.K`` (projection P, op K), and one neuron node named after the layer. NIR has no ReLU and
no pure linear layer node, so these layers are written as a unit ``nir.Scale`` (``scale = 1``)
carrying node metadata ``{"archsim.activation": "relu"}`` or ``{"archsim.activation": "identity"}``;
other NIR tools read them as identities (a ReLU is then lost to them), archsim reads them back.
A LIF/IF carries its reset, ``{"archsim.reset": "zero"}`` or ``{"archsim.reset": "subtract"}`` (NIR's
LIF resets to ``v_reset``; archsim's "subtract" is snnTorch's, see :class:`~archsim.graph.network.LIF`). A LIF/IF
node without that key resets as the conventions say (``--reset``, ``--from``), to zero (NIR's semantics)
by default. The graph metadata holds ``archsim.network`` (the Network's ``metadata`` as JSON:
quantisation hints, statistics), ``archsim.layer_order``, ``archsim.dt`` and, where projections learn
locally, ``archsim.plasticity`` (their rules, :mod:`archsim.graph.plasticity`). Writing then reading
with the same ``dt`` gives the same Network (to float rounding of ``1 - dt / tau``).

How each framework's files are read (dt, reset, spike rule, discretisation) is its preset in
:mod:`archsim.graph.presets` (``--from``); neuron nodes are read in :mod:`archsim.graph.nir_neurons`, Conv1d and
Delay in :mod:`archsim.graph.nir_linear`. A leading batch dimension of 1 in an Input type that its readers show
to be a batch (:func:`_without_batch_dim`), or in an Output type, is dropped with a note in
``network.metadata["import_notes"]``; the conventions in force are in ``network.metadata["conventions"]``.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from archsim.errors import UserError
from archsim.guard import nir_files as guard_nir
from archsim.guard.json_files import load_json
from archsim.guard.stats_files import check_stats
from archsim.graph import plasticity
from archsim.graph.network import (LI, LIF, AvgPool2d, Conv1d, Conv2d, CubaLI, CubaLIF, Delay, Dense, Flatten,
                                   Identity, Layer, Network, Projection, ReLU, Scale, Shape, SumPool2d, Threshold)
from archsim.graph.nir_compat import make
from archsim.graph.nir_compat import read as nir_read
from archsim.graph.nir_linear import LINEAR_IMPORTERS
from archsim.graph.nir_neurons import (ACTIVATION_KEY, NEURON_TYPES, RESET_KEY, neuron_from_nir, neuron_param_shape,
                                       text, uniform)
from archsim.graph.presets import Conventions, conventions

LINEAR_TYPES = ("Affine", "Linear", "Conv2d", "Flatten", "AvgPool2d", "SumPool2d", "Scale") + tuple(LINEAR_IMPORTERS)
SUPPORTED = ", ".join(("Input", "Output", "NIRGraph") + LINEAR_TYPES + NEURON_TYPES)


# ----------------------------------------------------------------------------------------------
# files
# ----------------------------------------------------------------------------------------------
def read_network(path: str | Path, dt: float | None = None, reset: str | None = None, from_: str | None = None,
                 spikes: str | None = None) -> Network:
    """Read a NIR file into a Network under the conventions of ``from_`` (a framework preset, see
    :mod:`archsim.graph.presets`; None: NIR's own semantics, ``dt = 1e-4`` s).

    An explicit ``dt`` (seconds), ``reset`` ("zero", "subtract" or "subtract_now": how LIF/IF nodes without
    ``archsim.reset`` metadata reset) or ``spikes`` ("single" or "multi") wins over the preset.
    """
    import h5py

    path = Path(path)
    conv = conventions(from_, dt, reset, spikes)
    check_dt(conv.dt)
    if not path.exists():
        raise UserError(f"{path}: no such file (expected a NIR graph written by nir.write)")
    if not h5py.is_hdf5(path):
        raise UserError(f"{path}: not a NIR file (not HDF5; expected a graph written by nir.write)")
    _check_node_types(path)
    guard_nir.check_hdf5(path)
    try:
        graph = nir_read(path)
    except (OSError, KeyError, ValueError, RuntimeError, AssertionError, TypeError, AttributeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, AssertionError) or "Unknown" in detail:
            detail = f"unknown or malformed node ({detail or 'unsupported type'}; supported: {SUPPORTED})"
        raise UserError(f"{path}: cannot read NIR graph: {detail}") from None
    guard_nir.check_graph(graph, str(path), conv.dt)
    network = _from_nir_graph(graph, conv, name=path.stem, source=str(path))
    stats_path = path.with_suffix(".stats.json")
    if "stats" not in network.metadata and stats_path.exists():
        network.metadata["stats"] = check_stats(load_json(stats_path, "stats JSON file"), str(stats_path))
    elif "stats" in network.metadata:
        check_stats(network.metadata["stats"], f"{path}: graph metadata archsim.network.stats")
    return network


def _check_node_types(path: Path) -> None:
    """Name the first node whose type archsim cannot import, before nir.read fails on it less clearly."""
    import h5py

    known = set(("Input", "Output", "NIRGraph") + LINEAR_TYPES + NEURON_TYPES)

    def walk(group, prefix):
        for key, node in group.items():
            if not isinstance(node, h5py.Group) or "type" not in node:
                continue
            type_name = text(node["type"][()])
            if type_name not in known:
                raise UserError(f"{path}: node {prefix}{key} ({type_name}): unsupported NIR node type "
                                f"(supported: {SUPPORTED})")
            if type_name == "NIRGraph" and "nodes" in node:
                walk(node["nodes"], f"{prefix}{key}.")

    try:
        with h5py.File(path, "r") as f:
            if "node" not in f or "nodes" not in f["node"]:
                raise UserError(f"{path}: not a NIR file (no 'node/nodes' group; expected a graph written by nir.write)")
            walk(f["node"]["nodes"], "")
    except (OSError, KeyError, ValueError, RuntimeError, TypeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: cannot read NIR graph: truncated or corrupt HDF5 ({detail})") from None


def write_network(network: Network, path: str | Path) -> None:
    """Write ``network`` as a NIR file (``nir.write``); ``network.metadata["dt"]`` (default 1e-4) sets tau."""
    import nir

    nir.write(str(path), to_nir_graph(network))


# ----------------------------------------------------------------------------------------------
# NIR graph -> Network
# ----------------------------------------------------------------------------------------------
def from_nir_graph(graph, dt: float | None = None, name: str = "network", source: str | None = None,
                   reset: str | None = None, from_: str | None = None, spikes: str | None = None) -> Network:
    """Build a Network from a ``nir.NIRGraph`` (see the module docstring for the rules; ``dt``, ``reset``,
    ``from_`` and ``spikes`` as in :func:`read_network`)."""
    conv = conventions(from_, dt, reset, spikes)
    check_dt(conv.dt)
    return _from_nir_graph(graph, conv, name, source)


def _from_nir_graph(graph, conv: Conventions, name: str, source: str | None) -> Network:
    dt = conv.dt
    where = source or name
    notes: list[str] = []
    nodes, edges = _inline(graph, "")
    meta = _graph_metadata(graph)
    for node_name, kind in (meta.pop("archsim.activations", None) or {}).items():
        if node_name in nodes and not (getattr(nodes[node_name], "metadata", None) or {}).get(ACTIVATION_KEY):
            nodes[node_name].metadata = {ACTIVATION_KEY: kind}     # nir 1.0.4 keeps no metadata on Scale
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise UserError(f"{where}: edge {a} -> {b} names unknown node {end}")
        preds[b].append(a)
        succs[a].append(b)
    kinds = {n: _kind(n, node) for n, node in nodes.items()}
    inputs = {n: _input_shape(n, node) for n, node in nodes.items() if kinds[n] == "input"}
    if not inputs:
        raise UserError(f"{where}: the graph has no Input node (supported: {SUPPORTED})")
    for n in inputs:
        inputs[n] = _without_batch_dim(n, inputs[n], nodes, succs, notes)
    outputs_nodes = [n for n in nodes if kinds[n] == "output"]
    # Layers: neuron nodes, plus Output nodes fed by a linear chain (an Identity layer).
    layer_names = [n for n in nodes if kinds[n] == "neuron"]
    output_of: dict[str, str] = {}
    for out in outputs_nodes:
        if not preds[out]:
            raise UserError(f"{where}: Output node {out} has no incoming edge")
        feeder = _through_pass_throughs(out, nodes, preds)
        if feeder is not None and kinds[feeder] in ("neuron", "input"):
            output_of[out] = feeder
        else:
            layer_names.append(out)
            output_of[out] = out
    order = _layer_order(layer_names, inputs, succs, meta.pop("archsim.layer_order", None))
    position = {n: i for i, n in enumerate(order)}
    shapes: dict[str, Shape] = dict(inputs)
    paths_cache: dict[str, list] = {}
    layers = []
    for lname in order:
        projections = []
        for src, ops in _paths_into(lname, nodes, kinds, preds, paths_cache, where, lname, ()):
            recurrent = src in position and position[src] >= position[lname]
            projections.append((src, ops, recurrent))
        if not projections:
            raise UserError(f"{where}: node {lname} ({type(nodes[lname]).__name__}) has no incoming edge")
        layers.append((lname, projections))
    # Shapes: each layer's from its forward projections (in order), then every projection is built.
    for lname, projections in layers:
        forward = [(src, ops) for src, ops, recurrent in projections if not recurrent]
        if forward:
            shapes[lname] = _chain_shape(forward[0][1], shapes[forward[0][0]], where, dt)[0]
        elif neuron_param_shape(nodes[lname]) is not None:
            shapes[lname] = neuron_param_shape(nodes[lname])
        else:
            raise UserError(f"{where}: node {lname} ({type(nodes[lname]).__name__}) has only recurrent inputs "
                            "and no parameters giving its shape")
    built: list[Layer] = []
    for lname, projections in layers:
        shape = shapes[lname]
        projs = []
        for src, ops, recurrent in projections:
            out_shape, ops = _chain_shape(ops, shapes[src], where, dt)
            if out_shape != shape:
                raise UserError(f"{where}: node {lname} ({type(nodes[lname]).__name__}): shape mismatch: inputs "
                                f"of shapes {shape} and {out_shape} (from {src}) (allowed: equal shapes)")
            projs.append(Projection(source=src, ops=tuple(ops), recurrent=recurrent))
        neuron = neuron_from_nir(lname, nodes[lname], shape, conv, where)
        built.append(Layer(name=lname, shape=shape, projections=tuple(projs), neuron=neuron))
    if conv.spike_lag_steps:
        built = _lag_spikes(built, conv.spike_lag_steps)
    built = plasticity.attach_rules(built, meta.get(plasticity.NIR_KEY), where)
    out_layers = []
    for out in outputs_nodes:
        target = output_of[out]
        if target in inputs:
            raise UserError(f"{where}: Output node {out} is fed directly by Input {target} (nothing to simulate)")
        declared = _declared_output_shape(nodes[out])
        if declared is not None and int(np.prod(declared)) != int(np.prod(shapes[target])):
            raise UserError(f"{where}: node {out} (Output): declared shape {declared} but receives {shapes[target]}")
        if declared is not None and len(declared) == len(shapes[target]) + 1 and declared[0] == 1:
            notes.append(f"Output {out}: type {declared} read as {shapes[target]} (a leading batch dimension of 1 "
                         "dropped)")
        out_layers.append(target)
    metadata = dict(meta.get("archsim.network") or {})
    metadata["dt"] = dt
    metadata["conventions"] = dataclasses.asdict(conv)
    metadata.pop("import_notes", None)          # a re-read file's notes are its own
    if notes:
        metadata["import_notes"] = notes
    if "archsim.dt" in meta:
        metadata["export_dt"] = float(meta["archsim.dt"])
    if source:
        metadata["source"] = source
    return Network(name=str(meta.get("archsim.name", name)), inputs=inputs, layers=built, outputs=out_layers,
                   metadata=metadata)


def _through_pass_throughs(node: str, nodes: dict, preds: dict) -> str | None:
    """The single node feeding ``node`` once subgraph Input/Output pass-throughs are skipped."""
    current = node
    while len(preds[current]) == 1:
        current = preds[current][0]
        if not isinstance(nodes[current], _PassThrough):
            return current
    return None


def check_dt(dt) -> None:
    """Refuse a time step that is not a finite number of seconds > 0 (``--dt``)."""
    if not (isinstance(dt, (int, float, np.floating)) and np.isfinite(dt) and dt > 0):
        raise UserError(f"--dt: {dt} is not allowed (allowed: a time step > 0 in seconds, e.g. 1e-4)")


def _without_batch_dim(name: str, shape: Shape, nodes: dict, succs: dict, notes: list[str]) -> Shape:
    """``shape`` less a leading 1 where the Input's readers show it is a batch dimension (files in the wild
    write the batch their exporter traced with): an Affine/Linear reads a flat vector, a Conv2d ``(C, H, W)``
    and a Conv1d ``(C, L)``, so ``(1, 64)`` before an Affine, ``(1, 2, 34, 34)`` before a Conv2d and
    ``(1, 2, 100)`` before a Conv1d lose their leading 1; ``(1, 34, 34)`` before a Conv2d keeps it."""
    if len(shape) < 2 or shape[0] != 1:
        return shape
    readers = []
    for succ in succs[name]:
        while isinstance(nodes[succ], _PassThrough) and len(succs[succ]) == 1:
            succ = succs[succ][0]
        readers.append(type(nodes[succ]).__name__)
    rank = {"Affine": 1, "Linear": 1, "Conv1d": 2, "Conv2d": 3}
    ranks = {rank.get(r) for r in readers}
    if len(ranks) == 1 and None not in ranks and len(shape) == ranks.pop() + 1:
        notes.append(f"Input {name}: type {shape} read as {shape[1:]} (a leading batch dimension of 1 dropped)")
        return shape[1:]
    return shape


def _lag_spikes(layers: list[Layer], steps: int) -> list[Layer]:
    """Every projection out of a LIF layer delayed by ``steps`` (a framework that reports spikes late)."""
    lif_layers = {layer.name for layer in layers if isinstance(layer.neuron, LIF)}
    out = []
    for layer in layers:
        projs = tuple(Projection(source=p.source, recurrent=p.recurrent, ops=(
            (Delay(steps=np.int64(steps), node=f"{p.source} (spikes a step late)"),) + p.ops
            if p.source in lif_layers else p.ops)) for p in layer.projections)
        out.append(Layer(name=layer.name, shape=layer.shape, projections=projs, neuron=layer.neuron))
    return out


def _inline(graph, prefix: str) -> tuple[dict, list]:
    """Flatten nested NIRGraphs: inner nodes become ``sub.node``; inner Input/Output become pass-through."""
    import nir

    nodes: dict = {}
    edges: list = []
    subgraphs: dict[str, tuple[list[str], list[str]]] = {}
    for key, node in graph.nodes.items():
        full = prefix + str(key)
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges = _inline(node, full + ".")
            for inner_key, inner in inner_nodes.items():
                if isinstance(inner, (nir.Input, nir.Output)) and inner_key.count(".") == full.count(".") + 1:
                    inner_nodes[inner_key] = _PassThrough(inner)
            nodes.update(inner_nodes)
            edges.extend(inner_edges)
            ins = [k for k, n in node.nodes.items() if isinstance(n, nir.Input)]
            outs = [k for k, n in node.nodes.items() if isinstance(n, nir.Output)]
            subgraphs[full] = ([f"{full}.{k}" for k in ins], [f"{full}.{k}" for k in outs])
        else:
            nodes[full] = node

    def resolve(end: str, which: int) -> str:
        full = prefix + str(end)
        if full in subgraphs:
            ends = subgraphs[full][which]
            if len(ends) != 1:
                raise UserError(f"subgraph {full} (NIRGraph) has {len(ends)} {'inputs' if which == 0 else 'outputs'}; "
                                "an edge must name one of them as SUBGRAPH.NODE")
            return ends[0]
        return full

    for a, b in graph.edges:
        edges.append((resolve(a, 1), resolve(b, 0)))
    return nodes, edges


class _PassThrough:
    """An Input or Output inside a subgraph: forwards its input unchanged."""

    def __init__(self, node):
        self.node = node


def _kind(name: str, node) -> str:
    import nir

    if isinstance(node, _PassThrough):
        return "linear"
    if isinstance(node, nir.Input):
        return "input"
    if isinstance(node, nir.Output):
        return "output"
    activation = (getattr(node, "metadata", None) or {}).get(ACTIVATION_KEY)
    if isinstance(node, nir.Scale) and activation is not None:
        if text(activation) not in ("relu", "identity"):
            raise UserError(f"node {name} (Scale): {ACTIVATION_KEY} = {text(activation)!r} "
                            "(allowed: relu, identity)")
        return "neuron"
    type_name = type(node).__name__
    if type_name in LINEAR_TYPES:
        return "linear"
    if type_name in NEURON_TYPES:
        return "neuron"
    raise UserError(f"node {name} ({type_name}): unsupported NIR node type (supported: {SUPPORTED})")


def _input_shape(name: str, node) -> Shape:
    shape = np.asarray(node.input_type.get("input") if isinstance(node.input_type, dict) else node.input_type)
    if shape.ndim != 1 or shape.size == 0 or np.any(shape <= 0):
        raise UserError(f"node {name} (Input): shape {shape.tolist()} (allowed: positive sizes, e.g. [64] or [2, 34, 34])")
    return tuple(int(s) for s in shape)


def _declared_output_shape(node):
    shape = (node.output_type or {}).get("output") if isinstance(node.output_type, dict) else None
    if shape is None:
        return None
    shape = np.asarray(shape)
    if shape.ndim != 1 or shape.size == 0 or np.any(shape <= 0):
        return None
    return tuple(int(s) for s in shape)


def _graph_metadata(graph) -> dict:
    meta = dict(getattr(graph, "metadata", None) or {})
    out = {}
    for key in ("archsim.network", "archsim.layer_order", "archsim.activations", plasticity.NIR_KEY):
        if key in meta:
            try:
                out[key] = json.loads(text(meta[key]))
            except ValueError:
                raise UserError(f"graph metadata {key}: not valid JSON") from None
    for key in ("archsim.name", "archsim.dt"):
        if key in meta:
            out[key] = text(meta[key]) if key == "archsim.name" else float(np.asarray(meta[key]))
    return out


def _layer_order(layer_names, inputs, succs, recorded) -> list[str]:
    """The recorded order when it names exactly these layers, else reverse DFS postorder from the inputs."""
    if recorded is not None and sorted(recorded) == sorted(layer_names):
        return list(recorded)
    seen: set[str] = set()
    post: list[str] = []
    for start in inputs:
        stack = [(start, iter(succs[start]))]
        seen.add(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                post.append(node)
                stack.pop()
            elif child not in seen:
                seen.add(child)
                stack.append((child, iter(succs[child])))
    rank = {n: i for i, n in enumerate(reversed(post))}
    unreachable = [n for n in layer_names if n not in rank]
    return sorted((n for n in layer_names if n in rank), key=rank.get) + unreachable


def _paths_into(target, nodes, kinds, preds, cache, where, layer, visiting) -> list[tuple[str, list]]:
    """(source, [nir linear nodes in order]) for every path of linear nodes ending at ``target``."""
    result = []
    for first, pred in enumerate(preds[target]):
        if kinds[pred] in ("input", "neuron"):
            result.append((pred, []))
        elif kinds[pred] == "output":
            raise UserError(f"{where}: node {pred} (Output) has an outgoing edge to {target}")
        else:
            if pred in visiting:
                raise UserError(f"{where}: node {pred} ({type(nodes[pred]).__name__}) is on a cycle without a "
                                "neuron node (allowed: cycles through a neuron)")
            if pred not in cache:
                cache[pred] = _paths_into(pred, nodes, kinds, preds, cache, where, layer, visiting + (pred,))
            for i, (src, chain) in enumerate(cache[pred]):
                result.append((src, chain + [(pred, nodes[pred], i == 0)]))
    return result


def _pair(value, name, node_name, type_name) -> tuple[int, int]:
    arr = np.atleast_1d(np.asarray(value)).astype(int).ravel()
    if arr.size == 1:
        return int(arr[0]), int(arr[0])
    if arr.size == 2:
        return int(arr[0]), int(arr[1])
    raise UserError(f"node {node_name} ({type_name}): {name} {arr.tolist()} (allowed: one or two integers)")


def _chain_shape(chain, shape: Shape, where: str, dt: float):
    """Turn [(name, nir node, carries_bias)] into archsim ops, checking shapes on the way."""
    ops = []
    for node_name, node, carries_bias in chain:
        type_name = type(node).__name__
        if isinstance(node, _PassThrough):
            continue
        op = _linear_op(node_name, node, shape, carries_bias, where, dt)
        if op is None:
            continue
        if isinstance(op, Dense) and len(shape) > 1:
            ops.append(Flatten())
            shape = (int(np.prod(shape)),)
        _check_op_input(node_name, type_name, op, shape, where)
        ops.append(op)
        shape = op.output_shape(shape)
    return tuple(shape), ops


def _linear_op(node_name, node, shape, carries_bias, where, dt):
    type_name = type(node).__name__
    if type_name in ("Affine", "Linear"):
        weight = np.asarray(node.weight, dtype=np.float64)
        if weight.ndim != 2:
            raise UserError(f"{where}: node {node_name} ({type_name}): weight of shape {weight.shape} (allowed: (out, in))")
        bias = None
        if type_name == "Affine" and carries_bias:
            bias = np.asarray(node.bias, dtype=np.float64).reshape(-1)
            if not np.any(bias):
                bias = None
        return Dense(weight=weight, bias=bias)
    if type_name == "Conv2d":
        weight = np.asarray(node.weight, dtype=np.float64)
        if weight.ndim != 4:
            raise UserError(f"{where}: node {node_name} (Conv2d): weight of shape {weight.shape} "
                            "(allowed: (C_out, C_in/groups, kh, kw))")
        padding = node.padding
        if isinstance(padding, (str, bytes)):
            padding = text(padding)
            if padding == "valid":
                padding = (0, 0)
            elif padding == "same":
                padding = ((weight.shape[2] - 1) // 2 * _pair(node.dilation, "dilation", node_name, type_name)[0],
                           (weight.shape[3] - 1) // 2 * _pair(node.dilation, "dilation", node_name, type_name)[1])
            else:
                raise UserError(f"{where}: node {node_name} (Conv2d): padding {padding!r} (allowed: integers, same, valid)")
        bias = None
        if carries_bias and node.bias is not None:
            bias = np.asarray(node.bias, dtype=np.float64).reshape(-1)
            if not np.any(bias):
                bias = None
        return Conv2d(weight=weight, bias=bias, stride=_pair(node.stride, "stride", node_name, type_name),
                      padding=_pair(padding, "padding", node_name, type_name),
                      dilation=_pair(node.dilation, "dilation", node_name, type_name), groups=int(np.asarray(node.groups)))
    if type_name in LINEAR_IMPORTERS:
        return LINEAR_IMPORTERS[type_name](node_name, node, shape, carries_bias, where, dt)
    if type_name in ("AvgPool2d", "SumPool2d"):
        cls = AvgPool2d if type_name == "AvgPool2d" else SumPool2d
        return cls(kernel=_pair(node.kernel_size, "kernel_size", node_name, type_name),
                   stride=_pair(node.stride, "stride", node_name, type_name),
                   padding=_pair(node.padding, "padding", node_name, type_name))
    if type_name == "Flatten":
        start, end = int(np.asarray(node.start_dim)), int(np.asarray(node.end_dim))
        rank = len(shape)
        s, e = start % rank if rank else 0, end % rank if rank else 0
        if rank <= 1:
            return None
        if (s == 0 and e == rank - 1) or (start == 1 and end == -1):
            return Flatten()
        raise UserError(f"{where}: node {node_name} (Flatten): start_dim {start}, end_dim {end} on shape {shape} "
                        "(allowed: flattening every dimension)")
    if type_name == "Scale":
        scale = uniform(node.scale)
        return Scale(scale=scale)
    raise UserError(f"{where}: node {node_name} ({type_name}): unsupported NIR node type (supported: {SUPPORTED})")


def _check_op_input(node_name, type_name, op, shape, where) -> None:
    bad = None
    if isinstance(op, Dense) and op.weight.shape[1] != shape[0]:
        bad = f"expects {op.weight.shape[1]} inputs"
    elif isinstance(op, Conv2d):
        if len(shape) != 3 or shape[0] != op.weight.shape[1] * op.groups:
            bad = f"expects (C={op.weight.shape[1] * op.groups}, H, W)"
        elif any(s <= 0 for s in op.output_shape(shape)):
            bad = "kernel larger than its padded input"
    elif isinstance(op, (AvgPool2d, SumPool2d)):
        if len(shape) != 3 or any(s <= 0 for s in op.output_shape(shape)):
            bad = "expects (C, H, W) at least as large as its kernel"
    elif isinstance(op, Scale) and np.ndim(op.scale) and np.size(op.scale) != int(np.prod(shape)):
        bad = f"has {np.size(op.scale)} scale factors"
    if bad:
        raise UserError(f"{where}: node {node_name} ({type_name}): shape mismatch: receives {shape} but {bad}")


# ----------------------------------------------------------------------------------------------
# Network -> NIR graph
# ----------------------------------------------------------------------------------------------
def to_nir_graph(network: Network):
    """A ``nir.NIRGraph`` of ``network`` (inverse of :func:`from_nir_graph` at ``metadata["dt"]``)."""
    import nir

    dt = float(network.metadata.get("dt", 1e-4))
    check_dt(dt)
    nodes: dict = {}
    edges: list = []
    for name, shape in network.inputs.items():
        nodes[name] = make(nir.Input, input_type={"input": np.array(shape)})
    for layer in network.layers:
        nodes[layer.name] = _neuron_node(layer, dt)
        for p_index, proj in enumerate(layer.projections):
            shape = network.shape_of(proj.source)
            previous = proj.source
            for k, op in enumerate(proj.ops):
                node_name = f"{layer.name}.p{p_index}.{k}"
                nodes[node_name] = _op_node(op, shape, dt)
                edges.append((previous, node_name))
                previous = node_name
                shape = op.output_shape(shape)
            edges.append((previous, layer.name))
    for out in network.outputs:
        node_name = "output" if len(network.outputs) == 1 else f"output.{out}"
        while node_name in nodes:  # a layer may itself be called "output"
            node_name += "_"
        nodes[node_name] = make(nir.Output, output_type={"output": np.array(network.shape_of(out))})
        edges.append((out, node_name))
    metadata = {"archsim.network": json.dumps(_jsonable(network.metadata), sort_keys=True),
                "archsim.layer_order": json.dumps([layer.name for layer in network.layers]),
                "archsim.name": network.name, "archsim.dt": dt,
                "archsim.activations": json.dumps({layer.name: "relu" if isinstance(layer.neuron, ReLU) else "identity"
                                                   for layer in network.layers
                                                   if isinstance(layer.neuron, (ReLU, Identity))})}
    rules = plasticity.rules_to_json(network)
    if rules:
        metadata[plasticity.NIR_KEY] = json.dumps(rules)
    return make(nir.NIRGraph, nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _full(value, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def _neuron_node(layer: Layer, dt: float):
    import nir

    n, shape = layer.neuron, layer.shape
    f = lambda v: _full(v, shape)  # noqa: E731
    if isinstance(n, LIF):
        meta = {RESET_KEY: n.reset}   # explicit, so that read_network's reset= never overrides it
        if np.all(np.asarray(n.decay) == 1.0) and np.all(np.asarray(n.v_leak) == 0.0):
            return make(nir.IF, r=f(np.asarray(n.gain) / dt), v_threshold=f(n.threshold), v_reset=f(n.v_reset), metadata=meta)
        tau = _tau(n.decay, dt, layer)
        return make(nir.LIF, tau=f(tau), r=f(np.asarray(n.gain) * tau / dt), v_leak=f(n.v_leak),
                       v_threshold=f(n.threshold), v_reset=f(n.v_reset), metadata=meta)
    if isinstance(n, CubaLIF):
        tau_syn, tau_mem = _tau(n.syn_decay, dt, layer), _tau(n.decay, dt, layer)
        return make(nir.CubaLIF, tau_syn=f(tau_syn), tau_mem=f(tau_mem), r=f(np.asarray(n.gain) * tau_mem / dt),
                           v_leak=f(n.v_leak), v_threshold=f(n.threshold), v_reset=f(n.v_reset),
                           w_in=f(np.asarray(n.syn_gain) * tau_syn / dt))
    if isinstance(n, CubaLI):
        if not hasattr(nir, "CubaLI"):
            raise UserError(f"layer {layer.name}: nir {nir.__version__} has no CubaLI node (allowed: nir >= 1.0.5)")
        tau_syn, tau_mem = _tau(n.syn_decay, dt, layer), _tau(n.decay, dt, layer)
        return make(nir.CubaLI, tau_syn=f(tau_syn), tau_mem=f(tau_mem), r=f(np.asarray(n.gain) * tau_mem / dt),
                    v_leak=f(n.v_leak), w_in=f(np.asarray(n.syn_gain) * tau_syn / dt))
    if isinstance(n, LI):
        if np.all(np.asarray(n.decay) == 1.0) and np.all(np.asarray(n.v_leak) == 0.0):
            return make(nir.I, r=f(np.asarray(n.gain) / dt))
        tau = _tau(n.decay, dt, layer)
        return make(nir.LI, tau=f(tau), r=f(np.asarray(n.gain) * tau / dt), v_leak=f(n.v_leak))
    if isinstance(n, Threshold):
        return make(nir.Threshold, threshold=f(n.threshold))
    if isinstance(n, (ReLU, Identity)):
        kind = "relu" if isinstance(n, ReLU) else "identity"
        return make(nir.Scale, scale=np.ones(shape), metadata={ACTIVATION_KEY: kind}, droppable=("metadata",))
    raise UserError(f"layer {layer.name}: neuron {type(n).__name__} cannot be exported "
                    "(allowed: LIF, CubaLIF, CubaLI, LI, Threshold, ReLU, Identity)")


def _tau(decay, dt, layer) -> np.ndarray:
    decay = np.asarray(decay, dtype=np.float64)
    if np.any(decay >= 1.0) or np.any(decay < 0.0):
        raise UserError(f"layer {layer.name}: decay {decay.tolist()} has no NIR time constant "
                        "(allowed: 0 <= decay < 1, or decay == 1 with v_leak == 0 as IF/I)")
    return dt / (1.0 - decay)


def _op_node(op, shape, dt):
    import nir

    if isinstance(op, Dense):
        if op.bias is None:
            return make(nir.Linear, weight=np.asarray(op.weight, dtype=np.float64))
        return make(nir.Affine, weight=np.asarray(op.weight, dtype=np.float64), bias=np.asarray(op.bias, dtype=np.float64))
    if isinstance(op, Conv2d):
        bias = np.zeros(op.weight.shape[0]) if op.bias is None else np.asarray(op.bias, dtype=np.float64)
        return make(nir.Conv2d, input_shape=tuple(shape[1:]), weight=np.asarray(op.weight, dtype=np.float64),
                          stride=op.stride, padding=op.padding, dilation=op.dilation, groups=op.groups, bias=bias)
    if isinstance(op, (AvgPool2d, SumPool2d)):
        cls = nir.AvgPool2d if isinstance(op, AvgPool2d) else nir.SumPool2d
        return make(cls, kernel_size=np.array(op.kernel), stride=np.array(op.stride), padding=np.array(op.padding))
    if isinstance(op, Flatten):
        return make(nir.Flatten, input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
    if isinstance(op, Scale):
        return make(nir.Scale, scale=_full(op.scale, shape))
    if isinstance(op, Conv1d):
        bias = np.zeros(op.weight.shape[0]) if op.bias is None else np.asarray(op.bias, dtype=np.float64)
        return make(nir.Conv1d, input_shape=int(shape[1]), weight=np.asarray(op.weight, dtype=np.float64),
                    stride=op.stride, padding=op.padding, dilation=op.dilation, groups=op.groups, bias=bias)
    if isinstance(op, Delay):                     # whole steps back to seconds at the network's dt
        return make(nir.Delay, delay=_full(np.asarray(op.steps, dtype=np.float64) * dt, shape))
    raise UserError(f"op {type(op).__name__} cannot be exported (allowed: Dense, Conv2d, Conv1d, AvgPool2d, "
                    "SumPool2d, Flatten, Scale, Delay)")


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value
