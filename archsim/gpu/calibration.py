"""Calibration files: efficiencies measured on a real GPU by ``bench/gpu_measure.py``.

A GPU config may name one (``calibration: ../../bench/calibration/v100.json``, relative to the config).
The file (JSON, schema ``archsim.gpu_calibration/1``) records where and when it was measured (date,
GPU, driver, CUDA and torch versions), the microbenchmarks, the end-to-end workload times, and the
``efficiencies`` they imply, as dotted config keys that replace the config's defaults:

* ``efficiency.gemm_max``: large-GEMM throughput / the config's GEMM peak;
* ``efficiency.memory_max``: large streaming-kernel bandwidth / the config's bandwidth;
* ``runtime.kernel_launch_s``: time per tiny kernel in the framework's eager loop.

Only measurements from a CUDA device are accepted: a CPU run of the script is an example, not a GPU.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from archsim.errors import UserError
from archsim.gpu.spec import CALIBRATABLE

SCHEMA = "archsim.gpu_calibration/1"
PROVENANCE_KEYS = ("date", "device_name", "driver", "cuda", "torch")


@dataclass(frozen=True)
class Calibration:
    """A loaded calibration: ``overrides`` maps dotted config keys to measured values."""

    path: Path
    device_name: str
    date: str
    overrides: dict
    provenance: dict = field(default_factory=dict)
    workloads: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.path} ({self.device_name}, {self.date})"


def load_calibration(path: str | Path) -> Calibration:
    """Read and check a calibration file; mistakes are one-line UserErrors naming the key."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise UserError(f"{path}: schema: {found!r} is not allowed (allowed: {SCHEMA})")
    if data.get("device_type") != "cuda":
        raise UserError(f"{path}: device_type: {data.get('device_type')!r} is not allowed (allowed: cuda; "
                        "a CPU run is not a GPU calibration)")
    for key in PROVENANCE_KEYS:
        if not isinstance(data.get(key), str) or not data[key]:
            raise UserError(f"{path}: {key}: required key is missing")
    efficiencies = data.get("efficiencies")
    if not isinstance(efficiencies, dict):
        raise UserError(f"{path}: efficiencies: required key is missing")
    for key, value in efficiencies.items():
        if key not in CALIBRATABLE:
            raise UserError(f"{path}: efficiencies.{key}: unknown key (allowed: {', '.join(CALIBRATABLE)})")
        upper = float("inf") if key.startswith("runtime.") else 1.0
        if not isinstance(value, (int, float)) or not 0 < value <= upper:
            allowed = "> 0" if upper == float("inf") else "in (0, 1]"
            raise UserError(f"{path}: efficiencies.{key}: {value!r} is not allowed (allowed: {allowed})")
    return Calibration(path=path, device_name=data["device_name"], date=data["date"],
                       overrides={k: float(v) for k, v in efficiencies.items()},
                       provenance={k: data[k] for k in PROVENANCE_KEYS},
                       workloads=list(data.get("workloads", [])))
