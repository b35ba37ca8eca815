"""Run validation cases through :func:`archsim.api.run`; one row per case (runs shared by cases)."""
from __future__ import annotations

import json

from archsim import api
from archsim.validate.cases import Case


def _read(result: dict, quantity: str) -> float | None:
    """The value of ``quantity`` (a RESULT key, dotted for nested keys) in ``result``."""
    value = result
    for key in quantity.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return None if value is None else float(value)


def run_case_rows(cases: list[Case], log=print) -> list[dict]:
    """One row per case: published, predicted, relative error, within tolerance, role, source, note."""
    results: dict[str, dict] = {}
    rows = []
    for case in cases:
        key = json.dumps([case.chip, case.workload, case.options], sort_keys=True, default=str)
        if key not in results:
            log(f"validate: {case.name}: running {case.workload} on {case.chip}")
            results[key] = api.run(case.workload, case.chip, **case.options)
        predicted = _read(results[key], case.quantity)
        error = None if predicted is None else (predicted - case.published) / case.published
        rows.append({
            "name": case.name, "quantity": case.quantity, "published": case.published,
            "predicted": predicted, "error": error, "tolerance": case.tolerance,
            "within_tolerance": error is not None and abs(error) <= case.tolerance + 1e-12,
            "role": case.role, "source": case.source, "chip": case.chip, "workload": case.workload,
            "note": case.note,
        })
    return rows


def run_cases(cases: list[Case], quick: bool = False, log=print) -> list[dict]:
    """Rows of ``cases`` (only the quick ones when ``quick``)."""
    return run_case_rows([c for c in cases if c.quick or not quick], log=log)
