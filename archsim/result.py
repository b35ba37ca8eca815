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
from archsim.guard.text import key_path, quote

SCHEMA = "archsim.result/1"

REQUIRED_KEYS = (
    "schema", "chip", "workload", "mode", "engine", "steps", "batch", "cycles", "latency_s",
    "throughput_samples_per_s", "energy_pj", "energy_breakdown_pj", "static_energy_pj", "area_mm2",
    "area_breakdown_mm2", "synaptic_ops", "spikes",
)
# Keys that hold one number where present (reports compute with them); null where a run has no such figure.
NUMERIC_KEYS = ("steps", "batch", "cycles", "latency_s", "throughput_samples_per_s", "energy_pj",
                "static_energy_pj", "area_mm2", "synaptic_ops", "spikes")


#: Name endings that say a key holds a quantity in a unit (the project's units-in-names rule).
UNIT_SUFFIXES = ("_pj", "_s", "_mm2", "_bytes", "_w", "_hz", "_nm", "_cycles", "_mhz")
#: Keys holding a grid of numbers over the mesh (per core, or per link and direction), and the mesh size.
GRID_KEYS = ("core_utilisation", "link_flits_grid", "link_flits", "mesh")


def build(trace, cost, gpu=None, gpu_best=None) -> dict:
    """Assemble the result of a chip run (``cost`` from :func:`archsim.cost.evaluate`).

    ``gpu`` is a GPU estimate (``archsim.gpu.estimate``) or its ``to_dict()`` form, or None, at the
    chip's batch; ``gpu_best`` the GPU at the batch that minimises its energy per sample
    (``archsim.gpu.estimate.best_batch``) or its :func:`best_batch_gpu` form, or None.
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
    if "layer_schedule" in (trace.details or {}):     # many-core chips: which step semantics ran
        result["layer_schedule"] = trace.details["layer_schedule"]
    if "learning" in (trace.details or {}):           # on-chip local learning: its phase's cycles and energy
        result["learning"] = learning_cost(trace, cost)
    if gpu is not None:
        result["gpu"] = gpu if isinstance(gpu, dict) else gpu.to_dict()
        result["vs_gpu"] = compare(result, result["gpu"])
    if gpu_best is not None:
        result["gpu_best_batch"] = gpu_best if isinstance(gpu_best, dict) else best_batch_gpu(gpu_best)
        result["vs_gpu_best_batch"] = compare_best_batch(result, result["gpu_best_batch"])
    return result


def learning_cost(trace, cost) -> dict:
    """The learn phase of a many-core run (``trace.details["learning"]``, :mod:`archsim.models.manycore.plasticity`):
    its cycles and dynamic energy in all and per time step, the energy at the run's own price of each action
    (that action's pJ in ``cost.energy_breakdown_pj`` over its count in the trace)."""
    learning = trace.details["learning"]
    energy = sum(count * cost.energy_breakdown_pj[component][action] / trace.actions[component][action]
                 for component, counts in learning["actions"].items() for action, count in counts.items() if count)
    steps = max(int(learning["steps"]), 1)
    return {"cycles": int(learning["cycles"]), "cycles_per_step": learning["cycles"] / steps,
            "synapse_updates_per_step": learning["synapse_updates"] / steps, "energy_pj": energy,
            "energy_per_step_pj": energy / steps, "latency_share": learning["cycles"] / max(trace.cycles, 1),
            "plastic_synapses": learning["plastic_synapses"], "state_bits_per_synapse": learning["state_bits_per_synapse"]}


def better_by(ratio: float | None) -> str | None:
    """``chip better by 23.7x`` / ``GPU better by 4.2x`` for a ratio above 1 when the chip is better."""
    if not ratio:
        return None
    factor, who = (ratio, "chip") if ratio >= 1 else (1 / ratio, "GPU")
    rounded = float(f"{factor:.3g}")
    return f"{who} better by {rounded:,.0f}x" if rounded >= 100 else f"{who} better by {rounded:.3g}x"


def _ratio(numerator, denominator):
    return numerator / denominator if numerator and denominator else None


def compare(chip_result: dict, gpu: dict) -> dict:
    """The chip against the GPU at the same batch.

    ``speedup``, ``energy_saving``, ``area_saving`` are GPU / chip (latency, energy, area: above 1 the
    chip is faster, more frugal or smaller); ``throughput_ratio`` is chip / GPU samples per second;
    ``summary`` says each as "chip better by Nx" or "GPU better by Nx"."""
    gpu_throughput = _ratio(chip_result["batch"], gpu["latency_s"])
    ratios = {"speedup": _ratio(gpu["latency_s"], chip_result["latency_s"]),
              "throughput_ratio": _ratio(chip_result["throughput_samples_per_s"], gpu_throughput),
              "energy_saving": _ratio(gpu["energy_pj"], chip_result["energy_pj"]),
              "area_saving": _ratio(gpu["area_mm2"], chip_result["area_mm2"])}
    return {**ratios, "batch": chip_result["batch"], "summary": verdicts(ratios)}


def verdicts(ratios: dict) -> dict:
    """Each ratio of a ``vs_gpu`` or ``vs_gpu_best_batch`` block in words, by quantity (those present)."""
    return {what: better_by(ratios[key]) for what, key in (
        ("latency", "speedup"), ("throughput", "throughput_ratio"), ("energy", "energy_saving"),
        ("energy per sample", "energy_per_sample_saving"), ("area", "area_saving")) if key in ratios}


def best_batch_gpu(estimate) -> dict:
    """The figures of a GPU estimate at its best batch that a result keeps."""
    return {"name": estimate.name, "batch": estimate.batch, "numerics": estimate.numerics,
            "framework": estimate.framework, "latency_s": estimate.latency_s, "energy_pj": estimate.energy_pj,
            "energy_per_sample_pj": estimate.energy_pj / estimate.batch,
            "throughput_samples_per_s": _ratio(estimate.batch, estimate.latency_s) or 0.0,
            "area_mm2": estimate.area_mm2, "memory_message": estimate.memory_message}


def compare_best_batch(chip_result: dict, gpu_best: dict) -> dict:
    """The chip at its batch against the GPU at the batch that minimises its energy per sample.

    Per sample: ``energy_per_sample_saving`` (GPU / chip pJ per sample) and ``throughput_ratio``
    (chip / GPU samples per second); ``speedup`` compares the latency of one batch of each;
    ``area_saving`` as at the same batch."""
    chip_per_sample = chip_result["energy_pj"] / chip_result["batch"]
    ratios = {"speedup": _ratio(gpu_best["latency_s"], chip_result["latency_s"]),
              "throughput_ratio": _ratio(chip_result["throughput_samples_per_s"], gpu_best["throughput_samples_per_s"]),
              "energy_per_sample_saving": _ratio(gpu_best["energy_per_sample_pj"], chip_per_sample),
              "area_saving": _ratio(gpu_best["area_mm2"], chip_result["area_mm2"])}
    return {**ratios, "gpu_batch": gpu_best["batch"], "summary": verdicts(ratios)}


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
        if value is not None and not _is_number(value):
            raise UserError(f"{where}: {key}: {quote(value)} is not allowed (allowed: a number, or null)")
    _check_figures(data, where)
    return data


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_figures(data: dict, where: str) -> None:
    """Refuse, anywhere in ``data``, a key with a unit in its name (``_pj``, ``_s``, ``_mm2``...) that holds
    anything but numbers (one, or a breakdown of them), and a grid (a list of lists: link loads, core
    maps: :data:`GRID_KEYS`) that is not equal-length rows of numbers: what the report computes and draws with."""
    import numpy as np

    stack = [(data, ())]
    while stack:
        value, keys = stack.pop()
        name = keys[-1] if keys and isinstance(keys[-1], str) else ""
        if name in GRID_KEYS and value is not None:
            try:
                grid = np.asarray(value, dtype=float)
                if not np.isfinite(grid).all() or (grid < 0).any():
                    raise ValueError
            except (TypeError, ValueError, OverflowError):
                raise UserError(f"{where}: {key_path(keys)}: not a grid of numbers (allowed: equal-length rows of "
                                "numbers, as 'archsim run' writes)") from None
            continue
        if name.endswith("sources"):       # where each figure comes from: text keyed by the figures' names
            continue
        if name.endswith(UNIT_SUFFIXES):
            bad = _first_non_number(value, keys)
            if bad is not None:
                raise UserError(f"{where}: {key_path(bad[0])}: {quote(bad[1])} is not allowed (allowed: a number, "
                                "a breakdown of numbers, or null)")
            continue
        if isinstance(value, dict):
            stack.extend((v, keys + (k,)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, keys + (i,)) for i, v in enumerate(value))


def _first_non_number(value, keys):
    """(key path, value) of the first leaf of ``value`` that is not a number or null; None when all are."""
    stack = [(value, keys)]
    while stack:
        value, keys = stack.pop()
        if isinstance(value, dict):
            stack.extend((v, keys + (k,)) for k, v in value.items())
        elif value is not None and not _is_number(value):
            return keys, value
    return None


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


def batch_label(batch: int) -> str:
    """A best batch as shown: said so when it is the search's limit (energy per sample still falling there)."""
    from archsim.gpu.estimate import BATCH_SEARCH_LIMIT

    return f"{batch:,}, the largest searched" if batch >= BATCH_SEARCH_LIMIT else f"{batch:,}"


def gpu_style(gpu: dict) -> str:
    """``fp32, eager framework``: how the GPU computes and how the framework launches its kernels."""
    return f"{gpu.get('numerics', 'numerics not recorded')}, {gpu.get('framework', 'framework not recorded')} framework"
