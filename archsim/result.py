"""Result: a Trace, its cost and the GPU comparison, as the versioned ``archsim.result/1`` JSON.

Reports and sweeps read only these dictionaries. Keys listed in ``REQUIRED_KEYS`` are the public
interface; ``trace`` (the full Trace) is kept so that a stored result can be re-costed.
``energy_by_layer_pj`` (layer -> dynamic pJ, plus ``shared`` for actions no layer owns; ``{}`` when
the model does not count per layer) is recomputed with the rest of the cost on re-costing.
"""
from __future__ import annotations

import json
from pathlib import Path

from archsim.atomic import write_text_atomically
from archsim.errors import UserError

SCHEMA = "archsim.result/1"

REQUIRED_KEYS = (
    "schema", "chip", "workload", "mode", "engine", "steps", "batch", "cycles", "latency_s",
    "throughput_samples_per_s", "energy_pj", "energy_breakdown_pj", "static_energy_pj", "area_mm2",
    "area_breakdown_mm2", "synaptic_ops", "spikes",
)
# Keys that hold one number where present (reports compute with them); null where a run has no such figure.
NUMERIC_KEYS = ("steps", "batch", "cycles", "latency_s", "throughput_samples_per_s", "energy_pj",
                "static_energy_pj", "area_mm2", "synaptic_ops", "spikes")


def build(trace, cost, gpu=None) -> dict:
    """Assemble the result of a chip run (``cost`` from :func:`archsim.cost.evaluate`).

    ``gpu`` is a GPU estimate (``archsim.gpu.estimate``) or its ``to_dict()`` form, or None.
    """
    latency_s = trace.latency_s
    result = {
        "schema": SCHEMA,
        "chip": trace.chip,
        "family": trace.family,
        "workload": trace.workload,
        "mode": trace.mode,
        "engine": trace.engine,
        "steps": trace.steps,
        "batch": trace.batch,
        "cycles": int(trace.cycles),
        "clock_hz": trace.clock_hz,
        "latency_s": latency_s,
        "throughput_samples_per_s": trace.batch / latency_s if latency_s > 0 else 0.0,
        "energy_pj": cost.energy_pj,
        "energy_breakdown_pj": cost.energy_breakdown_pj,
        "static_energy_pj": cost.static_energy_pj,
        "energy_by_layer_pj": cost.energy_by_layer_pj,
        "area_mm2": cost.area_mm2,
        "area_breakdown_mm2": cost.area_breakdown_mm2,
        "cost_sources": cost.sources,
        "synaptic_ops": int(trace.synaptic_ops),
        "spikes": int(trace.spikes),
        "energy_per_synaptic_op_pj": cost.energy_pj / trace.synaptic_ops if trace.synaptic_ops else None,
        "trace": trace.to_dict(),
    }
    if gpu is not None:
        result["gpu"] = gpu if isinstance(gpu, dict) else gpu.to_dict()
        result["vs_gpu"] = compare(result, result["gpu"])
    return result


def compare(chip_result: dict, gpu: dict) -> dict:
    """Ratios GPU / chip: above 1 means the chip is faster, more frugal or smaller."""

    def ratio(key):
        return gpu[key] / chip_result[key] if chip_result[key] else None

    return {"speedup": ratio("latency_s"), "energy_saving": ratio("energy_pj"), "area_saving": ratio("area_mm2")}


def write(result: dict, path: str | Path) -> None:
    """Write ``result`` as indented JSON, atomically (the old file or the new one, never half)."""
    write_text_atomically(path, to_json(result) + "\n")


def to_json(result: dict, indent: int = 1) -> str:
    """The JSON text of a result with NumPy values made plain.

    Keys keep the order the models wrote them in (layers in network order, engines in pipeline
    order), which reports rely on; that order is deterministic, so equal results give equal bytes.
    """
    return json.dumps(result, indent=indent, default=jsonable)


def read(path: str | Path) -> dict:
    """Load a RESULT.json; :class:`UserError` naming ``path`` when it is unreadable or not ``archsim.result/1``."""
    from archsim.guard.json_files import load_json

    return check(load_json(path, f"RESULT.json (schema {SCHEMA})"), str(path))


def check(data, where: str) -> dict:
    """``data`` (a parsed result, from ``where``: a file or a store row) when it is an ``archsim.result/1``
    object with names where names go and numbers (or null) where numbers go; else a UserError."""
    from archsim.guard.text import quote

    if not isinstance(data, dict):
        raise UserError(f"{where}: not a result: a JSON {type(data).__name__} (allowed: an object with "
                        f"schema {SCHEMA})")
    if data.get("schema") != SCHEMA:
        raise UserError(f"{where}: schema: {quote(data.get('schema'))} is not allowed (allowed: {SCHEMA})")
    if not isinstance(data.get("workload"), str) or not isinstance(data.get("chip"), (str, type(None))):
        raise UserError(f"{where}: workload, chip: {quote(data.get('workload'))}, {quote(data.get('chip'))} are not "
                        "allowed (allowed: names, chip null for a functional run; a result written by 'archsim run')")
    for key in NUMERIC_KEYS:
        value = data.get(key)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise UserError(f"{where}: {key}: {quote(value)} is not allowed (allowed: a number, or null)")
    return data


def jsonable(value):
    """``json.dumps``'s ``default=``: NumPy integers, floats and arrays as plain Python values."""
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
