"""Run validation cases through :func:`archsim.api.execute` and compare with the published figures."""
from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from archsim.errors import UserError
from archsim.validate.cases import CASES, Case, PeerRun, RunSpec, case_names
from archsim.validate.networks import build_input, build_network


def select(only: list[str] | None) -> list[Case]:
    """The cases named in ``only`` (all when empty); an unknown name is a UserError naming the allowed ones."""
    if not only:
        return list(CASES)
    unknown = [name for name in only if name not in case_names()]
    if unknown:
        raise UserError(f"--only: {', '.join(unknown)} not a validation case (allowed: {', '.join(case_names())})")
    return [case for case in CASES if case.name in only]


def execute_spec(spec: RunSpec, folder: Path):
    """The :class:`archsim.runner.RunOutcome` of one RunSpec, through the ordinary api."""
    from archsim.api import execute, resolve_chip

    chip = None
    if spec.chip is not None:
        chip = resolve_chip(spec.chip)
        if spec.overrides:
            chip = chip.with_overrides(dict(spec.overrides))
    network = build_network(spec.network)
    options = dict(spec.options)
    if spec.input:
        if isinstance(network, str):
            from archsim.api import load_network

            network = load_network(network, dt=options.pop("dt", None))
        path = folder / f"{spec.network}-{spec.input}.npy"
        np.save(path, build_input(spec.input, network))
        options["input_path"] = str(path)
    return execute(network, chip, **options)


def skip_reason(case: Case, quick: bool) -> str:
    """Why the case does not run (empty: it runs): slow or needing an optional package under ``--quick``, or
    needing a package that is not installed."""
    if quick and case.run.slow:
        return "slow: not run with --quick"
    if case.requires and quick:
        return f"needs the optional package {case.requires}: not run with --quick"
    if case.requires and importlib.util.find_spec(case.requires) is None:
        return f"needs the optional package {case.requires} (pip install {case.requires}), not installed"
    return ""


def row(case: Case, predicted: float | None, status: str, seconds: float, published: float | None = None,
        reason: str = "") -> dict:
    """One case's entry of validation.json (``published``: the peer's figure for a peer case)."""
    published = case.published if published is None else published
    error = None if predicted is None or published is None else (predicted - published) / published
    within = None if error is None else bool(abs(error) <= case.tolerance + 1e-12)
    return {"name": case.name, "chip": case.chip, "workload": case.workload, "quantity": case.quantity,
            "unit": case.unit, "published": published, "predicted": predicted, "error": error,
            "tolerance": case.tolerance, "within_tolerance": within, "role": case.role,
            "reference": case.reference, "source": case.source, "note": case.note, "status": status,
            "skip_reason": reason, "run_s": round(seconds, 2)}


def run_cases(cases: list[Case], quick: bool = False, log: Callable[[str], None] | None = None) -> list[dict]:
    """A row per case; skipped cases (:func:`skip_reason`) get status ``skipped``, one log line per reason.
    Runs shared by cases, and peer runs, run once."""
    log = log or (lambda message: None)
    results: dict[RunSpec, tuple[object, float]] = {}
    peers: dict[PeerRun, dict] = {}
    logged: set[str] = set()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            reason = skip_reason(case, quick)
            if reason:
                if reason not in logged and not reason.startswith("slow"):
                    log(f"skipped {', '.join(c.name for c in cases if skip_reason(c, quick) == reason)}: {reason}")
                    logged.add(reason)
                rows.append(row(case, None, "skipped", 0.0, reason=reason))
                continue
            if case.run not in results:
                log(f"running {case.run.network} on {case.run.chip or 'no chip (float)'}")
                start = time.perf_counter()
                results[case.run] = (execute_spec(case.run, Path(tmp)), time.perf_counter() - start)
            outcome, seconds = results[case.run]
            if case.peer is not None and case.peer not in peers:
                log(f"running {case.peer.name} on the peer ({case.peer.requires})")
                peers[case.peer] = case.peer.execute()
            published = case.peer_measure(peers[case.peer]) if case.peer is not None else None
            value = case.measure(outcome.outputs) if case.from_outputs else case.measure(outcome.result)
            rows.append(row(case, float(value), "ran", seconds, published))
    return rows
