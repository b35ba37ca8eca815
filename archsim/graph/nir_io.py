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
node without that key resets as ``read_network(..., reset=)`` says (``--reset zero|subtract`` on the
command line), to zero (NIR's semantics) by default. The graph metadata holds ``archsim.network`` (the Network's ``metadata`` as JSON:
quantisation hints, statistics), ``archsim.layer_order`` and ``archsim.dt``. Writing then reading
with the same ``dt`` gives the same Network (to float rounding of ``1 - dt / tau``).

Exporter conventions (give ``--dt`` the value the exporter implies):

=============  ==========  =========================================================================
exporter       dt          how its discrete neuron maps to NIR
=============  ==========  =========================================================================
snnTorch       1e-4 s      ``Leaky(beta)``: LIF with ``tau = dt / (1 - beta)``, ``r = tau / dt``,
                           ``v_reset = 0``, so ``v = beta * v + I``; ``Synaptic(alpha, beta)``:
                           CubaLIF with ``tau_syn = dt / (1 - alpha)``, ``tau_mem = dt / (1 - beta)``,
                           ``w_in = tau_syn / dt``, so ``i = alpha * i + I``, ``v = beta * v + i``.
                           The file carries no reset mechanism (no metadata; snnTorch 1.0.0), so
                           say it: Leaky with ``reset_mechanism="zero"`` runs exactly as in
                           snnTorch by default (or ``--reset zero``); Leaky's default "subtract"
                           (``v = beta * v + I - threshold * s_prev``) runs exactly with
                           ``--reset subtract`` (without it, as reset to zero, as snnTorch's own
                           ``import_from_nir`` reads it). Synaptic's "zero" (snnTorch: ``v = 0`` on
                           the step after a spike, that step's input dropped) runs as NIR's
                           CubaLIF (``v = 0`` right after the spike, then ``v = i``); ``--reset``
                           does not apply to CubaLIF. tests/test_nir_interop.py checks all of it.
Norse          1e-3 s      LIF ``tau = 1 / tau_mem_inv`` in seconds; Norse steps at its default
                           ``dt = 0.001``, which forward Euler here reproduces.
SpikingJelly   1e-4 s      ``nir_exchange`` maps nodes with ``dt = 1e-4`` by default (its
                           ``_NodeMapper(dt=1e-4)``): LIFNode ``tau`` (in steps) becomes
                           ``tau * dt`` seconds.
archsim        as written  ``archsim.dt`` in the graph metadata records the dt used at export.
=============  ==========  =========================================================================
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from archsim.errors import UserError
from archsim.guard import nir_files as guard_nir
from archsim.guard.json_files import load_json
from archsim.graph.network import (LI, LIF, AvgPool2d, Conv2d, CubaLIF, Dense, Flatten, Identity, Layer,
                                   Network, Projection, ReLU, Scale, Shape, SumPool2d, Threshold)

LINEAR_TYPES = ("Affine", "Linear", "Conv2d", "Flatten", "AvgPool2d", "SumPool2d", "Scale")
NEURON_TYPES = ("LIF", "IF", "CubaLIF", "LI", "I", "Threshold")
SUPPORTED = ", ".join(("Input", "Output", "NIRGraph") + LINEAR_TYPES + NEURON_TYPES)
ACTIVATION_KEY = "archsim.activation"
RESET_KEY = "archsim.reset"


# ----------------------------------------------------------------------------------------------
# files
# ----------------------------------------------------------------------------------------------
def read_network(path: str | Path, dt: float = 1e-4, reset: str | None = None) -> Network:
    """Read a NIR file into a Network, discretised at ``dt`` seconds.

    ``reset`` ("zero" or "subtract") says how LIF/IF nodes without ``archsim.reset`` metadata reset,
    for files whose exporter cannot say (snnTorch); None keeps NIR's semantics (reset to ``v_reset``).
    """
    import h5py
    import nir

    path = Path(path)
    check_dt(dt)
    check_reset(reset)
    if not path.exists():
        raise UserError(f"{path}: no such file (expected a NIR graph written by nir.write)")
    if not h5py.is_hdf5(path):
        raise UserError(f"{path}: not a NIR file (not HDF5; expected a graph written by nir.write)")
    _check_node_types(path)
    guard_nir.check_hdf5(path)
    try:
        graph = nir.read(path, type_check=False)
    except (OSError, KeyError, ValueError, AssertionError, TypeError, AttributeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, AssertionError) or "Unknown" in detail:
            detail = f"unknown or malformed node ({detail or 'unsupported type'}; supported: {SUPPORTED})"
        raise UserError(f"{path}: cannot read NIR graph: {detail}") from None
    guard_nir.check_graph(graph, str(path), dt)
    network = from_nir_graph(graph, dt=dt, name=path.stem, source=str(path), reset=reset)
    stats_path = path.with_suffix(".stats.json")
    if "stats" not in network.metadata and stats_path.exists():
        stats = load_json(stats_path, "stats JSON file")
        if not isinstance(stats, dict):
            raise UserError(f"{stats_path}: a JSON {type(stats).__name__} (allowed: an object, as 'archsim train' writes)")
        network.metadata["stats"] = stats
    return network


def _check_node_types(path: Path) -> None:
    """Name the first node whose type archsim cannot import, before nir.read fails on it less clearly."""
    import h5py

    known = set(("Input", "Output", "NIRGraph") + LINEAR_TYPES + NEURON_TYPES)

    def walk(group, prefix):
        for key, node in group.items():
            if not isinstance(node, h5py.Group) or "type" not in node:
                continue
            type_name = _text(node["type"][()])
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
    except (OSError, KeyError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: cannot read NIR graph: truncated or corrupt HDF5 ({detail})") from None


def write_network(network: Network, path: str | Path) -> None:
    """Write ``network`` as a NIR file (``nir.write``); ``network.metadata["dt"]`` (default 1e-4) sets tau."""
    import nir

    nir.write(str(path), to_nir_graph(network))


# ----------------------------------------------------------------------------------------------
# NIR graph -> Network
# ----------------------------------------------------------------------------------------------
def from_nir_graph(graph, dt: float = 1e-4, name: str = "network", source: str | None = None,
                   reset: str | None = None) -> Network:
    """Build a Network from a ``nir.NIRGraph`` (see the module docstring for the rules; ``reset`` as in
    :func:`read_network`)."""
    check_dt(dt)
    check_reset(reset)
    where = source or name
    nodes, edges = _inline(graph, "")
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
    meta = _graph_metadata(graph)
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
            shapes[lname] = _chain_shape(forward[0][1], shapes[forward[0][0]], where)[0]
        elif _neuron_param_shape(nodes[lname]) is not None:
            shapes[lname] = _neuron_param_shape(nodes[lname])
        else:
            raise UserError(f"{where}: node {lname} ({type(nodes[lname]).__name__}) has only recurrent inputs "
                            "and no parameters giving its shape")
    built: list[Layer] = []
    for lname, projections in layers:
        shape = shapes[lname]
        projs = []
        for src, ops, recurrent in projections:
            out_shape, ops = _chain_shape(ops, shapes[src], where)
            if out_shape != shape:
                raise UserError(f"{where}: node {lname} ({type(nodes[lname]).__name__}): shape mismatch: inputs "
                                f"of shapes {shape} and {out_shape} (from {src}) (allowed: equal shapes)")
            projs.append(Projection(source=src, ops=tuple(ops), recurrent=recurrent))
        neuron = _neuron(lname, nodes[lname], shape, dt, where, reset or "zero")
        built.append(Layer(name=lname, shape=shape, projections=tuple(projs), neuron=neuron))
    out_layers = []
    for out in outputs_nodes:
        target = output_of[out]
        if target in inputs:
            raise UserError(f"{where}: Output node {out} is fed directly by Input {target} (nothing to simulate)")
        declared = _declared_output_shape(nodes[out])
        if declared is not None and int(np.prod(declared)) != int(np.prod(shapes[target])):
            raise UserError(f"{where}: node {out} (Output): declared shape {declared} but receives {shapes[target]}")
        out_layers.append(target)
    metadata = dict(meta.get("archsim.network") or {})
    metadata["dt"] = dt
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


def check_reset(reset) -> None:
    """Refuse a reset for plain NIR LIF nodes other than None, "zero" or "subtract" (``--reset``)."""
    if reset not in (None, "zero", "subtract"):
        raise UserError(f"--reset: {reset!r} is not allowed (allowed: zero, subtract)")


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
        if _text(activation) not in ("relu", "identity"):
            raise UserError(f"node {name} (Scale): {ACTIVATION_KEY} = {_text(activation)!r} "
                            "(allowed: relu, identity)")
        return "neuron"
    type_name = type(node).__name__
    if type_name in LINEAR_TYPES:
        return "linear"
    if type_name in NEURON_TYPES:
        return "neuron"
    raise UserError(f"node {name} ({type_name}): unsupported NIR node type (supported: {SUPPORTED})")


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return _text(value.item())
    return str(value)


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
    for key in ("archsim.network", "archsim.layer_order"):
        if key in meta:
            try:
                out[key] = json.loads(_text(meta[key]))
            except ValueError:
                raise UserError(f"graph metadata {key}: not valid JSON") from None
    for key in ("archsim.name", "archsim.dt"):
        if key in meta:
            out[key] = _text(meta[key]) if key == "archsim.name" else float(np.asarray(meta[key]))
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


def _uniform(a) -> np.ndarray:
    """0-d when every element is equal (so scalar parameters stay scalars), else the array."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim and a.size and np.all(a == a.flat[0]):
        return np.float64(a.flat[0])
    return a


def _chain_shape(chain, shape: Shape, where: str):
    """Turn [(name, nir node, carries_bias)] into archsim ops, checking shapes on the way."""
    ops = []
    for node_name, node, carries_bias in chain:
        type_name = type(node).__name__
        if isinstance(node, _PassThrough):
            continue
        op = _linear_op(node_name, node, shape, carries_bias, where)
        if op is None:
            continue
        if isinstance(op, Dense) and len(shape) > 1:
            ops.append(Flatten())
            shape = (int(np.prod(shape)),)
        _check_op_input(node_name, type_name, op, shape, where)
        ops.append(op)
        shape = op.output_shape(shape)
    return tuple(shape), ops


def _linear_op(node_name, node, shape, carries_bias, where):
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
            padding = _text(padding)
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
        scale = _uniform(node.scale)
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


def _neuron_param_shape(node) -> Shape | None:
    for attr in ("tau", "tau_mem", "r", "threshold", "v_threshold", "scale"):
        value = getattr(node, attr, None)
        if value is not None and np.ndim(value):
            return tuple(int(s) for s in np.shape(value))
    return None


def _param(node_name, type_name, node, attr, shape, where, default=None):
    value = getattr(node, attr, None)
    if value is None:
        if default is None:
            raise UserError(f"{where}: node {node_name} ({type_name}): missing parameter {attr}")
        value = default
    a = np.asarray(value, dtype=np.float64)
    if a.ndim and a.size != 1:
        if a.size != int(np.prod(shape)):
            raise UserError(f"{where}: node {node_name} ({type_name}): shape mismatch: {attr} has shape {a.shape} "
                            f"but the layer receives {shape} (allowed: one value or one per neuron)")
        a = a.reshape(shape)
    return _uniform(a)


def _neuron(node_name, node, shape, dt, where, default_reset="zero"):
    type_name = type(node).__name__
    p = lambda attr, default=None: _param(node_name, type_name, node, attr, shape, where, default)  # noqa: E731
    meta = getattr(node, "metadata", None) or {}
    if type_name == "Scale":
        return ReLU() if _text(meta.get(ACTIVATION_KEY)) == "relu" else Identity()
    if type_name == "Output":
        return Identity()
    if type_name in ("LIF", "IF"):
        reset = _text(meta.get(RESET_KEY, default_reset))
        if reset not in ("zero", "subtract"):
            raise UserError(f"{where}: node {node_name} ({type_name}): {RESET_KEY} = {reset!r} (allowed: zero, subtract)")
        if type_name == "LIF":
            tau = _positive(p("tau"), node_name, type_name, "tau", where)
            decay, gain, v_leak = 1.0 - dt / tau, p("r") * dt / tau, p("v_leak", 0.0)
        else:
            decay, gain, v_leak = np.float64(1.0), p("r") * dt, np.float64(0.0)
        return LIF(decay=_uniform(decay), threshold=p("v_threshold"), gain=_uniform(gain), v_leak=v_leak,
                   v_reset=p("v_reset", 0.0), reset=reset)
    if type_name == "CubaLIF":
        tau_syn = _positive(p("tau_syn"), node_name, type_name, "tau_syn", where)
        tau_mem = _positive(p("tau_mem"), node_name, type_name, "tau_mem", where)
        return CubaLIF(syn_decay=_uniform(1.0 - dt / tau_syn), decay=_uniform(1.0 - dt / tau_mem),
                       threshold=p("v_threshold"), syn_gain=_uniform(p("w_in", 1.0) * dt / tau_syn),
                       gain=_uniform(p("r") * dt / tau_mem), v_leak=p("v_leak", 0.0), v_reset=p("v_reset", 0.0))
    if type_name == "LI":
        tau = _positive(p("tau"), node_name, type_name, "tau", where)
        return LI(decay=_uniform(1.0 - dt / tau), gain=_uniform(p("r") * dt / tau), v_leak=p("v_leak", 0.0))
    if type_name == "I":
        return LI(decay=np.float64(1.0), gain=p("r") * dt)
    if type_name == "Threshold":
        return Threshold(threshold=p("threshold"))
    raise UserError(f"{where}: node {node_name} ({type_name}): unsupported NIR node type (supported: {SUPPORTED})")


def _positive(value, node_name, type_name, attr, where):
    if np.any(np.asarray(value) <= 0):
        raise UserError(f"{where}: node {node_name} ({type_name}): {attr} must be > 0")
    return value


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
        nodes[name] = nir.Input(input_type={"input": np.array(shape)})
    for layer in network.layers:
        nodes[layer.name] = _neuron_node(layer, dt)
        for p_index, proj in enumerate(layer.projections):
            shape = network.shape_of(proj.source)
            previous = proj.source
            for k, op in enumerate(proj.ops):
                node_name = f"{layer.name}.p{p_index}.{k}"
                nodes[node_name] = _op_node(op, shape)
                edges.append((previous, node_name))
                previous = node_name
                shape = op.output_shape(shape)
            edges.append((previous, layer.name))
    for out in network.outputs:
        node_name = "output" if len(network.outputs) == 1 else f"output.{out}"
        while node_name in nodes:  # a layer may itself be called "output"
            node_name += "_"
        nodes[node_name] = nir.Output(output_type={"output": np.array(network.shape_of(out))})
        edges.append((out, node_name))
    metadata = {"archsim.network": json.dumps(_jsonable(network.metadata), sort_keys=True),
                "archsim.layer_order": json.dumps([layer.name for layer in network.layers]),
                "archsim.name": network.name, "archsim.dt": dt}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _full(value, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def _neuron_node(layer: Layer, dt: float):
    import nir

    n, shape = layer.neuron, layer.shape
    f = lambda v: _full(v, shape)  # noqa: E731
    if isinstance(n, LIF):
        meta = {RESET_KEY: n.reset}   # explicit, so that read_network's reset= never overrides it
        if np.all(np.asarray(n.decay) == 1.0) and np.all(np.asarray(n.v_leak) == 0.0):
            return nir.IF(r=f(np.asarray(n.gain) / dt), v_threshold=f(n.threshold), v_reset=f(n.v_reset), metadata=meta)
        tau = _tau(n.decay, dt, layer)
        return nir.LIF(tau=f(tau), r=f(np.asarray(n.gain) * tau / dt), v_leak=f(n.v_leak),
                       v_threshold=f(n.threshold), v_reset=f(n.v_reset), metadata=meta)
    if isinstance(n, CubaLIF):
        tau_syn, tau_mem = _tau(n.syn_decay, dt, layer), _tau(n.decay, dt, layer)
        return nir.CubaLIF(tau_syn=f(tau_syn), tau_mem=f(tau_mem), r=f(np.asarray(n.gain) * tau_mem / dt),
                           v_leak=f(n.v_leak), v_threshold=f(n.threshold), v_reset=f(n.v_reset),
                           w_in=f(np.asarray(n.syn_gain) * tau_syn / dt))
    if isinstance(n, LI):
        if np.all(np.asarray(n.decay) == 1.0) and np.all(np.asarray(n.v_leak) == 0.0):
            return nir.I(r=f(np.asarray(n.gain) / dt))
        tau = _tau(n.decay, dt, layer)
        return nir.LI(tau=f(tau), r=f(np.asarray(n.gain) * tau / dt), v_leak=f(n.v_leak))
    if isinstance(n, Threshold):
        return nir.Threshold(threshold=f(n.threshold))
    if isinstance(n, (ReLU, Identity)):
        kind = "relu" if isinstance(n, ReLU) else "identity"
        return nir.Scale(scale=np.ones(shape), metadata={ACTIVATION_KEY: kind})
    raise UserError(f"layer {layer.name}: neuron {type(n).__name__} cannot be exported "
                    "(allowed: LIF, CubaLIF, LI, Threshold, ReLU, Identity)")


def _tau(decay, dt, layer) -> np.ndarray:
    decay = np.asarray(decay, dtype=np.float64)
    if np.any(decay >= 1.0) or np.any(decay < 0.0):
        raise UserError(f"layer {layer.name}: decay {decay.tolist()} has no NIR time constant "
                        "(allowed: 0 <= decay < 1, or decay == 1 with v_leak == 0 as IF/I)")
    return dt / (1.0 - decay)


def _op_node(op, shape):
    import nir

    if isinstance(op, Dense):
        if op.bias is None:
            return nir.Linear(weight=np.asarray(op.weight, dtype=np.float64))
        return nir.Affine(weight=np.asarray(op.weight, dtype=np.float64), bias=np.asarray(op.bias, dtype=np.float64))
    if isinstance(op, Conv2d):
        bias = np.zeros(op.weight.shape[0]) if op.bias is None else np.asarray(op.bias, dtype=np.float64)
        return nir.Conv2d(input_shape=tuple(shape[1:]), weight=np.asarray(op.weight, dtype=np.float64),
                          stride=op.stride, padding=op.padding, dilation=op.dilation, groups=op.groups, bias=bias)
    if isinstance(op, (AvgPool2d, SumPool2d)):
        cls = nir.AvgPool2d if isinstance(op, AvgPool2d) else nir.SumPool2d
        return cls(kernel_size=np.array(op.kernel), stride=np.array(op.stride), padding=np.array(op.padding))
    if isinstance(op, Flatten):
        return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
    if isinstance(op, Scale):
        return nir.Scale(scale=_full(op.scale, shape))
    raise UserError(f"op {type(op).__name__} cannot be exported (allowed: Dense, Conv2d, AvgPool2d, SumPool2d, "
                    "Flatten, Scale)")


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
