"""The points of a sweep, their content hashes, and which of their keys only change the cost.

A point is one workload on the base chip with some dotted keys overridden. Its ``hash`` covers
everything its result depends on (the base chip's full parameters, the overrides, the workload with
the contents of its files, the run options), so a store recognises a point again across runs.
Its ``sim_hash`` leaves out the cost-only overrides: points sharing a ``sim_hash`` share one
simulation and differ only in how its Trace is costed.
"""
from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from archsim.result import jsonable
from archsim.sweep.spec import SweepSpec, axis_label, chip_keys

# Keys that change energy and area but never the simulation (the Accelergy split): technology
# tables and the per-component energy/area/leakage entries that the cost step reads.
COST_ONLY_PATTERNS = (
    "technology",
    "technology.*",
    "components.*.energy_pj",
    "components.*.energy_pj.*",
    "components.*.area_mm2",
    "components.*.leakage_mw",
    "components.*.pj_per_bit",
    "components.*.source",
)


def is_cost_only(key: str) -> bool:
    """Whether a dotted chip-config key only feeds the cost step (technology or energy tables)."""
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in COST_ONLY_PATTERNS)


@dataclass(frozen=True)
class Point:
    """One run of a sweep. ``config`` is what the store keeps and the report shows."""

    index: int
    workload: dict
    overrides: dict  # every dotted key this point sets
    axes: dict  # axis name -> the value shown for it
    hash: str
    sim_hash: str

    @property
    def config(self) -> dict:
        return {"workload": self.workload, "overrides": self.overrides, "axes": self.axes}


def expand_points(spec: SweepSpec) -> list[Point]:
    """Every point of the sweep, in a fixed order: workloads outermost, then the axis combinations.
    A ``workload.<name>`` axis value goes into the point's workload (``<name>``), never into the chip."""
    combos = _combinations(spec)
    points = []
    for workload in spec.workloads:
        for combo in combos:
            overrides = {key: value for setting in combo.values() for key, value in chip_keys(setting).items()}
            transforms = {key.removeprefix("workload."): value for setting in combo.values()
                          for key, value in setting.items() if key.startswith("workload.")}
            labels = {name: axis_label(name, setting) for name, setting in combo.items()}
            points.append(_point(spec, len(points), {**workload, **transforms}, overrides, labels))
    return points


def _combinations(spec: SweepSpec) -> list[dict]:
    """Each combination as {axis name: setting}."""
    names = list(spec.axes)
    if not names:
        return [{}]
    if spec.combine == "zip":
        return [dict(zip(names, settings)) for settings in zip(*spec.axes.values())]
    grid = [dict(zip(names, settings)) for settings in itertools.product(*spec.axes.values())]
    if spec.combine == "random":
        chosen = sorted(random.Random(spec.seed).sample(range(len(grid)), spec.samples))
        return [grid[i] for i in chosen]
    return grid


def _point(spec: SweepSpec, index: int, workload: dict, overrides: dict, labels: dict) -> Point:
    inputs = {
        "chip": spec.base_chip.params,
        "workload": workload,
        "files": {k: file_digest(workload[k]) for k in ("network", "input_path", "mapping") if _is_file(workload[k])},
        "run": spec.run,
        "gpu_file": file_digest(spec.run["gpu"]) if _is_file(spec.run.get("gpu")) else None,
    }
    sim_overrides = {k: v for k, v in overrides.items() if not is_cost_only(k)}
    return Point(
        index=index,
        workload=workload,
        overrides=overrides,
        axes=labels,
        hash=digest({**inputs, "overrides": overrides}),
        sim_hash=digest({**inputs, "overrides": sim_overrides, "kind": "simulation"}),
    )


def _is_file(value) -> bool:
    return isinstance(value, str) and Path(value).is_file()


def canonical_json(value) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text (NumPy values as plain ones)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=jsonable)


def digest(value) -> str:
    """sha256 of the canonical JSON of ``value``: the key a store row is found by."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


@lru_cache(maxsize=64)
def file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
