"""NIR files checked in two passes: the HDF5 structure before ``nir.read``, the values after it.

Before reading (:func:`check_hdf5`): every dataset's size from its shape (a compressed dataset can
stand for far more memory than the file holds), its dtype (numbers, booleans and text only) and its
rank, and the nesting of groups. After reading (:func:`check_graph`): the graph has an Output node;
no parameter is NaN; infinity only where it is a legal limit: an infinite time constant (``tau``,
``tau_mem``, ``tau_syn``) is a neuron that does not leak. snnTorch writes ``Leaky(beta=1)`` as
``tau = dt / (1 - beta) = inf`` and ``r = tau / dt = inf``; such an element is read in that limit,
``r / tau = 1 / dt`` (the exporter's dt is the ``--dt`` given), i.e. ``v = v + I`` with no leak: its
``tau`` becomes ``dt * 2**60`` and its ``r`` ``2**60``, which forward Euler turns into decay 1.0 and
gain 1.0 exactly. An infinite ``r`` with a finite ``tau`` is refused. Integer parameters (strides,
kernels, padding, groups) must be small non-negative integers and the number of linear paths the
importer will enumerate is counted before it does.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from archsim.errors import UserError
from archsim.guard.text import quote

#: Most elements in all datasets of one NIR file together (2**31 float64: 16 GiB; the memory
#: estimate of the run refuses far less on a small machine). Assumption.
NIR_MAX_ELEMENTS = 2**31
#: Highest rank of any dataset (Conv2d weights are 4-d). Assumption.
NIR_MAX_RANK = 6
#: Deepest nesting of groups (nodes in nested NIRGraphs). Assumption.
NIR_MAX_GROUP_DEPTH = 32
#: Most nodes, and most distinct chains of linear nodes into the layers, in one graph (assumption:
#: the zoo's largest graph has under 100 of each; the importer's work grows with the chains).
NIR_MAX_NODES = 100_000
NIR_MAX_LINEAR_PATHS = 100_000
#: Longest chain of linear nodes between two layers (the importer follows it recursively). Assumption.
NIR_MAX_CHAIN = 200
#: Largest stride, kernel, padding, dilation or group count. Assumption.
NIR_MAX_INTEGER = 2**20
#: Parameters that may be +inf: time constants (an infinite one is a neuron without leak).
TIME_CONSTANTS = ("tau", "tau_mem", "tau_syn")
#: Gain of each time constant (together infinite: the snnTorch beta = 1 limit).
GAIN_OF = {"tau": "r", "tau_mem": "r", "tau_syn": "w_in"}
INTEGER_PARAMETERS = {"stride": 1, "kernel_size": 1, "dilation": 1, "groups": 1, "padding": 0}
#: Parameters that are one integer each, never an array.
SCALAR_PARAMETERS = ("groups", "start_dim", "end_dim")
#: Graph metadata archsim writes and reads back, and what each must hold: text, a time step in
#: seconds, or JSON text of an object or a list.
GRAPH_METADATA = {"archsim.name": "text", "archsim.dt": "seconds", "archsim.network": dict,
                  "archsim.layer_order": list, "archsim.activations": dict}
#: The finite stand-in of an infinite time constant, in units of dt (2**60: 1 - 2**-60 == 1.0).
_NON_LEAKY_SCALE = 2.0**60


def check_hdf5(path: str | Path) -> None:
    """Refuse a NIR file whose datasets would not fit, are of odd types or rank, or nest absurdly."""
    import h5py

    path = Path(path)
    total = 0

    def visit(name, obj):
        nonlocal total
        if name.count("/") > NIR_MAX_GROUP_DEPTH:
            raise UserError(f"{path}: {name[:60]}: groups nested more than {NIR_MAX_GROUP_DEPTH} deep "
                            f"(allowed: at most {NIR_MAX_GROUP_DEPTH})")
        if not isinstance(obj, h5py.Dataset):
            return None
        shape = obj.shape or ()
        if shape is None or len(shape) > NIR_MAX_RANK:
            raise UserError(f"{path}: {name[:60]}: a dataset of rank {len(shape or ())} (allowed: at most {NIR_MAX_RANK})")
        kind = obj.dtype.kind
        if kind not in "biufSO" or obj.dtype.names is not None:
            raise UserError(f"{path}: {name[:60]}: dtype {str(obj.dtype)[:30]} (allowed: numbers, booleans, text)")
        total += int(np.prod(shape, dtype=object)) if shape else 1
        if total > NIR_MAX_ELEMENTS:
            raise UserError(f"{path}: datasets hold more than {NIR_MAX_ELEMENTS:,} elements (at {name[:60]}; "
                            "allowed: at most that many)")
        return None

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except (OSError, KeyError, ValueError, RuntimeError, TypeError) as exc:
        detail = " ".join(str(exc).split())[:100] or type(exc).__name__
        raise UserError(f"{path}: cannot read NIR graph: truncated or corrupt HDF5 ({detail})") from None


def check_graph(graph, where: str, dt: float) -> None:
    """Check a ``nir.NIRGraph`` read from ``where``; rewrite snnTorch's infinite ``tau``/``r`` pairs (module docstring)."""
    import nir

    _check_graph_metadata(where, graph)
    if not any(isinstance(node, nir.Output) for node in graph.nodes.values()):
        raise UserError(f"{where}: the graph has no Output node (allowed: a graph with at least one Output node "
                        "fed by a layer)")
    count = 0
    stack = [("", graph, 0)]
    while stack:
        prefix, g, depth = stack.pop()
        if depth > NIR_MAX_GROUP_DEPTH:
            raise UserError(f"{where}: subgraph {prefix[:60]} nested more than {NIR_MAX_GROUP_DEPTH} deep")
        for key, node in g.nodes.items():
            count += 1
            if count > NIR_MAX_NODES:
                raise UserError(f"{where}: more than {NIR_MAX_NODES:,} nodes (allowed: at most that many)")
            name = f"{prefix}{key}"
            if isinstance(node, nir.NIRGraph):
                stack.append((name + ".", node, depth + 1))
                continue
            _check_node(where, name, node, dt)
    _check_paths(where, graph)


def _check_node(where: str, name: str, node, dt: float) -> None:
    type_name = type(node).__name__
    fields = {f.name: getattr(node, f.name, None) for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else {}
    for attr in ("input_type", "output_type"):
        _check_port_shapes(where, name, type_name, attr, fields.get(attr))
    if not isinstance(fields.get("metadata") or {}, dict):
        raise UserError(f"{where}: node {name} ({type_name}): metadata is a {type(fields['metadata']).__name__} "
                        "(allowed: a group of named values)")
    for attr, value in fields.items():
        if attr in ("metadata", "input_type", "output_type") or value is None:
            continue
        label = f"{where}: node {name} ({type_name}): {attr}"
        if attr == "padding" and isinstance(_text_or_none(value), str):
            continue                                       # "same" / "valid": the importer names a bad one
        array = _numeric(value)
        if array is None:
            raise UserError(f"{label}: {quote(_text_or_none(value) or value)} (allowed: numbers)")
        if attr in SCALAR_PARAMETERS and array.size != 1:
            raise UserError(f"{label}: an array of shape {array.shape} (allowed: one integer)")
        if np.isnan(array).any():
            raise UserError(f"{label}: NaN at index {_first(np.isnan(array))} (allowed: finite numbers)")
        infinite = np.isinf(array)
        if infinite.any():
            if attr not in TIME_CONSTANTS and attr not in GAIN_OF.values():
                raise UserError(f"{label}: {array[infinite].flat[0]!r} at index {_first(infinite)} "
                                "(allowed: finite numbers)")
            if attr in TIME_CONSTANTS and (array[infinite] < 0).any():
                raise UserError(f"{label}: -inf at index {_first(infinite & (array < 0))} (allowed: > 0; "
                                "+inf for a neuron without leak)")
        if attr in INTEGER_PARAMETERS:
            low = INTEGER_PARAMETERS[attr]
            if (array < low).any() or (array > NIR_MAX_INTEGER).any() or (array != np.round(array)).any():
                raise UserError(f"{label}: {quote(array.tolist())} (allowed: integers {low}..{NIR_MAX_INTEGER})")
    for tau_name, gain_name in GAIN_OF.items():
        if tau_name in fields or gain_name in fields:
            _non_leaky_limit(where, name, type_name, node, tau_name, gain_name, dt)
    _check_shapes(where, name, type_name, node)


def _check_graph_metadata(where: str, graph) -> None:
    """The graph-level ``archsim.*`` metadata archsim writes: each of the type its reader expects."""
    import json

    meta = getattr(graph, "metadata", None) or {}
    if not isinstance(meta, dict):
        raise UserError(f"{where}: graph metadata is a {type(meta).__name__} (allowed: a group of named values)")
    for key, kind in GRAPH_METADATA.items():
        if key not in meta:
            continue
        label = f"{where}: graph metadata {key}"
        value = _text_or_none(meta[key])
        if kind == "text":
            if value is None:
                raise UserError(f"{label}: {quote(meta[key])} (allowed: text)")
            continue
        if kind == "seconds":
            number = _numeric(meta[key])
            if number is None or number.size != 1 or not np.isfinite(number).all() or float(number.flat[0]) <= 0:
                raise UserError(f"{label}: {quote(value if value is not None else meta[key])} "
                                "(allowed: one finite time step > 0, seconds)")
            continue
        try:
            parsed = json.loads(value, parse_constant=lambda c: float("nan")) if value is not None else None
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, kind):
            raise UserError(f"{label}: {quote(value if value is not None else meta[key])} (allowed: JSON text "
                            f"of a{'n object' if kind is dict else ' list'}, as archsim writes)")
        if key == "archsim.layer_order" and not all(isinstance(v, str) for v in parsed):
            raise UserError(f"{label}: {quote(value)} (allowed: a JSON list of node names)")
        if key == "archsim.activations" and not all(isinstance(v, str) for v in parsed.values()):
            raise UserError(f"{label}: {quote(value)} (allowed: a JSON object of node name to activation name)")


def _check_port_shapes(where, name, type_name, attr, ports) -> None:
    """``input_type`` / ``output_type``: each port's shape numbers in one list, or left out (None); which
    sizes a node allows is the importer's to say."""
    if ports is None:
        return
    if not isinstance(ports, dict):
        raise UserError(f"{where}: node {name} ({type_name}): {attr} is a {type(ports).__name__} "
                        "(allowed: named port shapes)")
    for port, shape in ports.items():
        if shape is None:
            continue
        array = _numeric(shape)
        if array is None or array.ndim > 1 or (array.size and not np.isfinite(array).all()):
            raise UserError(f"{where}: node {name} ({type_name}): {attr}.{port}: {quote(_text_or_none(shape) or shape)} "
                            "(allowed: a list of positive integer sizes, e.g. [64] or [2, 34, 34])")


def _text_or_none(value) -> str | None:
    """``value`` as text when HDF5 gave text (bytes, str or a 0-d array of either), else None."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _non_leaky_limit(where, name, type_name, node, tau_name, gain_name, dt) -> None:
    """An infinite gain is legal only beside an infinite time constant; rewrite those pairs finitely."""
    gain = _numeric(getattr(node, gain_name, None))
    if gain is None or not np.isinf(gain).any():
        return
    tau = _numeric(getattr(node, tau_name, None))
    if tau is None:
        raise UserError(f"{where}: node {name} ({type_name}): {gain_name}: inf (allowed: finite numbers)")
    tau_b, gain_b = np.broadcast_arrays(tau, gain) if tau.shape != gain.shape else (tau, gain)
    if (np.isinf(gain_b) & np.isfinite(tau_b)).any() or (gain_b < 0).any() and np.isinf(gain_b).any():
        bad = _first(np.isinf(gain_b) & (np.isfinite(tau_b) | (gain_b < 0)))
        raise UserError(f"{where}: node {name} ({type_name}): {gain_name}: inf at index {bad} with a finite "
                        f"{tau_name} (allowed: finite, or inf together with an infinite {tau_name})")
    both = np.isinf(gain_b) & np.isinf(tau_b)
    new_tau, new_gain = np.array(tau_b, dtype=np.float64), np.array(gain_b, dtype=np.float64)
    new_tau[both] = dt * _NON_LEAKY_SCALE
    new_gain[both] = _NON_LEAKY_SCALE
    setattr(node, tau_name, new_tau)
    setattr(node, gain_name, new_gain)


def _check_shapes(where, name, type_name, node) -> None:
    """Weights of a sane rank; nothing of size zero where the importer divides or indexes by it."""
    weight = getattr(node, "weight", None)
    if weight is not None:
        w = np.asarray(weight)
        if w.size == 0 or any(s <= 0 for s in w.shape):
            raise UserError(f"{where}: node {name} ({type_name}): weight of shape {w.shape} (allowed: non-empty)")


def _check_paths(where: str, graph) -> None:
    """Count the chains of nodes the importer enumerates (paths through linear nodes), refusing a blow-up."""
    import nir

    nodes = {str(k): n for k, n in graph.nodes.items()}
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    for edge in graph.edges:
        if len(edge) == 2 and str(edge[0]) in nodes and str(edge[1]) in nodes:
            preds[str(edge[1])].append(str(edge[0]))
    stops = (nir.Input,) + tuple(getattr(nir, t) for t in ("LIF", "IF", "CubaLIF", "LI", "I", "Threshold"))
    paths: dict[str, int] = {}
    length: dict[str, int] = {}
    for start in nodes:
        stack = [(start, False)]
        visiting: set[str] = set()
        while stack:
            key, done = stack.pop()
            if key in paths:
                continue
            if done:
                visiting.discard(key)
                stop = isinstance(nodes[key], stops)
                paths[key] = 1 if stop else max(1, sum(paths.get(p, 1) for p in preds[key]))
                length[key] = 0 if stop else 1 + max((length.get(p, 0) for p in preds[key]), default=0)
                if length[key] > NIR_MAX_CHAIN:
                    raise UserError(f"{where}: node {key[:60]} ends a chain of more than {NIR_MAX_CHAIN} linear nodes "
                                    "(allowed: at most that many between two neuron layers)")
                if paths[key] > NIR_MAX_LINEAR_PATHS:
                    raise UserError(f"{where}: node {key[:60]} is reached by more than {NIR_MAX_LINEAR_PATHS:,} "
                                    "chains of linear nodes (allowed: at most that many)")
                continue
            if key in visiting:
                continue          # a cycle: the importer names it
            visiting.add(key)
            stack.append((key, True))
            if not isinstance(nodes[key], stops):
                stack.extend((p, False) for p in preds[key] if p not in paths and p not in visiting)


def _numeric(value) -> np.ndarray | None:
    """``value`` as a float array when it holds numbers (not text, not objects), else None."""
    try:
        array = np.asarray(value)
    except Exception:
        return None
    if array.dtype.kind in "biuf":
        return array.astype(np.float64, copy=False)
    return None


def _first(mask: np.ndarray) -> tuple[int, ...] | int:
    index = tuple(int(i) for i in np.argwhere(np.atleast_1d(mask))[0])
    return index[0] if len(index) == 1 else index
