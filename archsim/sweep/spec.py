"""The sweep file: a base chip, workloads, axes over chip-config keys, objectives and constraints.

```yaml
name: h2learn-lut                  # optional; default: the file's stem
chip: ../h2learn.yaml              # base chip: a path relative to this file, or a shipped name (h2learn)
workloads:                         # each is swept over every point of the axes
  - {network: vgg-cifar10, mode: train, batch: 1, steps: 4}   # zoo name or NIR file (+ input, mapping)
  - {network: mlp-digits, accuracy: true}  # accuracy: also measure test accuracy (trained zoo networks)
axes:                              # dotted chip-config key -> values
  fe.lut_group: [2, 4, 8]
  technology.node_nm: [45, 28]
  clock_mhz: {range: [100, 401, 100]}          # start, stop (exclusive), step
  workload.prune_density: [1.0, 0.5]   # a workload transform (see WORKLOAD_AXES), not a chip key
  pes:                             # a linked axis: each value sets several keys together
    set:                           # (shown in tables by its first key's value)
      - {components.fe_lut.count: 128, components.be_mac.count: 128}
      - {components.fe_lut.count: 256, components.be_mac.count: 256}
combine: grid                      # grid (every combination) | zip (i-th of each) | random
samples: 10                        # random: points drawn from the grid without replacement...
seed: 0                            # ...with this seed
objectives: [latency_s, energy_pj, {name: area_mm2, goal: min}]   # see objectives.METRICS
constraints: [{metric: area_mm2, max: 50}]
run: {engine: fast, precision: chip, gpu: v100, seed: 0, dt: 1.0e-4}   # gpu: a config file, a shipped name, or null
```
Loading validates the structure against ``archsim/config/schemas/sweep.yaml``, then every axis
against the base chip: a key it does not have, an empty axis, or a value its family schema rejects is
a one-line :class:`UserError` naming the axis.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from archsim.config import Chip, load_chip, read_yaml, validate
from archsim.errors import UserError
from archsim.graph.compress import check_density
from archsim.shipped import chip_names, shipped_chip, shipped_sweep, sweep_names
from archsim.sweep.objectives import METRICS, Constraint, Objective

DEFAULT_OBJECTIVES = ("latency_s", "energy_pj", "area_mm2")
#: axes that transform the workload instead of the chip: ``workload.<name>`` -> its value check
WORKLOAD_AXES = {"workload.prune_density": check_density}
RUN_DEFAULTS = {"engine": "fast", "precision": "chip", "gpu": "v100", "seed": 0, "dt": 1e-4}  # gpu: null = no comparison


@dataclass
class SweepSpec:
    """A validated sweep file (paths resolved to absolute ones)."""

    path: Path
    name: str
    base_chip: Chip
    workloads: list[dict]
    axes: dict[str, list[dict]]  # axis name -> its settings, each {dotted key: value}
    combine: str = "grid"
    samples: int | None = None
    seed: int = 0
    objectives: list[Objective] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    run: dict = field(default_factory=dict)

    def describe(self) -> dict:
        """What the result store keeps about the sweep (JSON-ready)."""
        return {
            "name": self.name,
            "path": str(self.path),
            "chip": str(self.base_chip.path),
            "chip_name": self.base_chip.name,
            "axes": {name: [axis_label(name, s) for s in settings] for name, settings in self.axes.items()},
            "combine": self.combine,
            "objectives": [{"name": o.name, "goal": o.goal} for o in self.objectives],
            "constraints": [{"metric": c.metric, "min": c.min, "max": c.max} for c in self.constraints],
        }


def load_sweep(path: str | Path, *, chip: Chip | None = None) -> SweepSpec:
    """Read and validate a sweep file. ``chip``, when given, is used as the base chip instead of
    loading the file's ``chip:`` (for callers that hold a chip already)."""
    if not Path(path).exists():
        path = shipped_sweep(str(path)) or _no_such_sweep(path)
    path = Path(path).resolve()
    data = read_yaml(path)
    validate(data, "sweep", str(path))
    base = chip or load_chip(_base_chip_path(path, data["chip"]))
    axes = {name: _axis_settings(path, name, spec) for name, spec in data["axes"].items()}
    for name, settings in axes.items():
        _check_axis(path, base, name, settings)
    combine = data.get("combine", "grid")
    _check_combination(path, combine, axes, data.get("samples"))
    run = {**RUN_DEFAULTS, **data.get("run", {})}
    if run["gpu"] is not None and (path.parent / run["gpu"]).is_file():
        run["gpu"] = str(_relative(path, run["gpu"]))  # else a shipped name (v100) the runner resolves
    return SweepSpec(
        path=path,
        name=data.get("name", path.stem),
        base_chip=base,
        workloads=[_workload(path, i, w) for i, w in enumerate(data["workloads"])],
        axes=axes,
        combine=combine,
        samples=data.get("samples"),
        seed=data.get("seed", 0),
        objectives=[_objective(path, i, o) for i, o in enumerate(data.get("objectives", DEFAULT_OBJECTIVES))],
        constraints=[_constraint(path, i, c) for i, c in enumerate(data.get("constraints", []))],
        run=run,
    )


def _no_such_sweep(path) -> Path:
    raise UserError(f"{path}: no such sweep file (a YAML path, or a shipped name: {', '.join(sweep_names())})")


def axis_label(name: str, setting: dict):
    """How a point's value on an axis is shown: the value of a plain axis, else the setting's first value."""
    return setting[name] if name in setting else next(iter(setting.values()))


def _base_chip_path(sweep_path: Path, name: str) -> Path:
    """The sweep's ``chip:``: a path relative to the sweep file, else a shipped chip's name (``tianjic``)."""
    resolved = _relative(sweep_path, name)
    if resolved.exists():
        return resolved
    shipped = shipped_chip(str(name))
    if shipped is None:
        raise UserError(f"{sweep_path}: chip: no such file {name!r} (allowed: a path relative to the sweep file, "
                        f"or a shipped name: {', '.join(chip_names())})")
    return shipped


def _relative(sweep_path: Path, name: str, must_exist: bool = False, key: str = "chip") -> Path:
    """``name`` resolved against the sweep file's folder; ``must_exist`` makes a missing file a UserError."""
    resolved = (sweep_path.parent / name).resolve()
    if must_exist and not resolved.exists():
        raise UserError(f"{sweep_path}: {key}: no such file {name!r} (allowed: a path relative to the sweep file)")
    return resolved


def _axis_settings(path: Path, name: str, spec) -> list[dict]:
    """An axis as a list of settings, each a mapping of dotted keys to values."""
    if isinstance(spec, dict) and "set" in spec:
        settings = spec["set"]
        for setting in settings:
            if not isinstance(setting, dict) or not setting:
                raise UserError(f"{path}: axes.{name}.set: {setting!r} is not allowed (allowed: a mapping of dotted keys to values)")
        return [dict(setting) for setting in settings]
    if isinstance(spec, dict):
        start, stop, *rest = spec["range"]
        step = rest[0] if rest else 1
        if step <= 0:
            raise UserError(f"{path}: axes.{name}: range step {step!r} is not allowed (allowed: > 0)")
        values, value = [], start
        while value < stop:
            values.append(value)
            value += step
        return [{name: v} for v in values]
    return [{name: v} for v in spec]


def _check_axis(path: Path, base: Chip, name: str, settings: list[dict]) -> None:
    if not settings:
        raise UserError(f"{path}: axes.{name}: empty axis (give at least one value)")
    prefix = f"{base.path}: "
    for setting in settings:
        for key in list(setting):
            where = f"axes.{name}" if key == name else f"axes.{name}: {key}"
            if key.startswith("workload."):
                if key not in WORKLOAD_AXES:
                    raise UserError(f"{path}: {where}: no such workload transform (allowed: {', '.join(WORKLOAD_AXES)})")
                WORKLOAD_AXES[key](setting[key], f"{path}: {where}")
                continue
            if key in ("family", "name"):
                raise UserError(f"{path}: {where}: cannot be swept (sweep chip-config parameters instead)")
            try:
                base.get(key)
            except UserError:
                raise UserError(f"{path}: {where}: no such key in {base.path}") from None
        try:
            base.with_overrides(chip_keys(setting))
        except UserError as exc:
            reason = str(exc)[len(prefix):] if str(exc).startswith(prefix) else str(exc)
            shown = setting[name] if list(setting) == [name] else setting
            raise UserError(f"{path}: axes.{name}: value {shown!r} is not allowed by {base.path.name} ({reason})") from None


def chip_keys(setting: dict) -> dict:
    """The chip-config keys of an axis setting (without its ``workload.`` transforms)."""
    return {key: value for key, value in setting.items() if not key.startswith("workload.")}


def _check_combination(path: Path, combine: str, axes: dict, samples: int | None) -> None:
    if combine == "zip" and axes:
        lengths = {key: len(values) for key, values in axes.items()}
        first_key, first_len = next(iter(lengths.items()))
        for key, length in lengths.items():
            if length != first_len:
                raise UserError(
                    f"{path}: axes.{key}: has {length} values but axes.{first_key} has {first_len} (combine: zip needs equal lengths)"
                )
    if combine == "random":
        if samples is None:
            raise UserError(f"{path}: samples: required key is missing (combine: random draws this many points)")
        grid = 1
        for values in axes.values():
            grid *= len(values)
        if samples > grid:
            raise UserError(f"{path}: samples: {samples} is too large (allowed: <= {grid}, the points of the grid)")


def _workload(path: Path, index: int, spec: dict) -> dict:
    key = f"workloads[{index}]"
    network = spec["network"]
    if network.endswith(".nir") or "/" in network:
        network = str(_relative(path, network, must_exist=True, key=f"{key}.network"))
    else:
        _check_zoo_name(path, key, network)
    workload = {
        "network": network,
        "mode": spec.get("mode", "infer"),
        "batch": spec.get("batch"),
        "steps": spec.get("steps"),
        "input_path": str(_relative(path, spec["input"], True, f"{key}.input")) if "input" in spec else None,
        "mapping": str(_relative(path, spec["mapping"], True, f"{key}.mapping")) if "mapping" in spec else None,
    }
    if spec.get("accuracy"):  # only when asked, so the points of older sweep files keep their hashes
        workload["accuracy"] = True
    return workload


def _check_zoo_name(path: Path, key: str, name: str) -> None:
    try:
        from workloads import zoo
    except ImportError:
        return  # the zoo is optional here: the runner reports an unknown name when the point runs
    if name not in zoo.names():
        raise UserError(
            f"{path}: {key}.network: {name!r} is neither a .nir file nor a zoo workload (zoo: {', '.join(zoo.names())})"
        )


def _objective(path: Path, index: int, spec) -> Objective:
    name = spec if isinstance(spec, str) else spec["name"]
    if name not in METRICS:
        raise UserError(f"{path}: objectives[{index}]: {name!r} is not allowed (allowed: {', '.join(METRICS)})")
    goal = METRICS[name].goal if isinstance(spec, str) else spec.get("goal", METRICS[name].goal)
    return Objective(name, goal)


def _constraint(path: Path, index: int, spec: dict) -> Constraint:
    if spec["metric"] not in METRICS:
        raise UserError(
            f"{path}: constraints[{index}].metric: {spec['metric']!r} is not allowed (allowed: {', '.join(METRICS)})"
        )
    return Constraint(spec["metric"], spec.get("min"), spec.get("max"))
