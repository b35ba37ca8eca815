"""Run validation cases through :func:`archsim.api.execute` and compare with the published figures."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from archsim.errors import UserError
from archsim.validate.cases import CASES, Case, RunSpec, case_names, full_core_network


def select(only: list[str] | None) -> list[Case]:
    """The cases named in ``only`` (all when empty); an unknown name is a UserError naming the allowed ones."""
    if not only:
        return list(CASES)
    unknown = [name for name in only if name not in case_names()]
    if unknown:
        raise UserError(f"--only: {', '.join(unknown)} not a validation case (allowed: {', '.join(case_names())})")
    return [case for case in CASES if case.name in only]


def _network(spec: RunSpec):
    from workloads import zoo

    return full_core_network() if spec.network == "full-core" else zoo.build(spec.network)


def execute_spec(spec: RunSpec, folder: Path) -> dict:
    """The RESULT dict of one RunSpec, through the ordinary api."""
    from archsim.api import execute, resolve_chip

    chip = resolve_chip(spec.chip)
    if spec.overrides:
        chip = chip.with_overrides(dict(spec.overrides))
    network = _network(spec)
    options = dict(spec.options)
    if spec.input_ones:
        path = folder / f"{spec.network}-ones.npy"
        np.save(path, np.ones((1, 1, *network.inputs[next(iter(network.inputs))]), dtype=np.float32))
        options["input_path"] = str(path)
    return execute(network, chip, **options).result


def row(case: Case, predicted: float | None, status: str, seconds: float) -> dict:
    """One case's entry of validation.json."""
    error = None if predicted is None else (predicted - case.published) / case.published
    within = None if error is None else bool(abs(error) <= case.tolerance + 1e-12)
    return {"name": case.name, "chip": case.chip, "workload": case.workload, "quantity": case.quantity,
            "unit": case.unit, "published": case.published, "predicted": predicted, "error": error,
            "tolerance": case.tolerance, "within_tolerance": within, "role": case.role, "source": case.source,
            "note": case.note, "status": status, "run_s": round(seconds, 2)}


def run_cases(cases: list[Case], quick: bool = False, log: Callable[[str], None] | None = None) -> list[dict]:
    """A row per case; ``quick`` skips cases whose run is slow (status ``skipped``). Runs shared by cases run once."""
    log = log or (lambda message: None)
    results: dict[RunSpec, tuple[dict, float]] = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            if quick and case.run.slow:
                rows.append(row(case, None, "skipped", 0.0))
                continue
            if case.run not in results:
                log(f"running {case.run.network} on {case.run.chip}")
                start = time.perf_counter()
                results[case.run] = (execute_spec(case.run, Path(tmp)), time.perf_counter() - start)
            result, seconds = results[case.run]
            rows.append(row(case, float(case.measure(result)), "ran", seconds))
    return rows
