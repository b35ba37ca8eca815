"""Evaluating one sweep point: simulate it, or re-cost a stored Trace of an equal simulation.

These functions run wherever the executor puts them (this process, a worker process, a Dask worker),
so they take plain picklable arguments and return a plain ``outcome`` dict for the store:
``hash, status ("ok" | "failed"), how ("simulated" | "recosted"), recosted_from, error, started_at,
elapsed_s, worker, result`` (the RESULT as canonical JSON text, so every executor stores the same bytes).

The point evaluator is injectable: ``run_fn(network_spec, chip, **run_options) -> RESULT dict`` and
``recost_fn(result, chip) -> RESULT dict``; by default :func:`archsim.runner.run` and
:func:`archsim.runner.recost`. Exceptions become failed outcomes; ``KeyboardInterrupt`` and
``SystemExit`` are not caught, so an interrupted sweep stops (and ``--resume`` picks it up).
"""
from __future__ import annotations

import json
import os
import socket
import time
import traceback

from archsim.config import Chip
from archsim.sweep.points import canonical_json


def default_run(network_spec, chip, **options) -> dict:
    """The real point evaluator (imported lazily: only workers that simulate need the models)."""
    from archsim.runner import run

    return run(network_spec, chip, **options)


def default_recost(result: dict, chip) -> dict:
    """The real re-cost (:func:`archsim.runner.recost`): a stored result's Trace costed with ``chip``."""
    from archsim.runner import recost

    return recost(result, chip)


def run_options(workload: dict, run: dict) -> dict:
    """Keyword arguments of ``archsim.runner.run`` for a workload of the sweep and its ``run`` block."""
    return {
        "mode": workload["mode"],
        "steps": workload["steps"],
        "batch": workload["batch"],
        "input_path": workload["input_path"],
        "mapping": workload["mapping"],
        "prune_density": workload.get("prune_density"),
        "accuracy": workload.get("accuracy", False),
        **{k: run[k] for k in ("engine", "precision", "gpu", "seed", "dt")},
    }


def simulate_point(point_hash: str, base_chip: Chip, overrides: dict, workload: dict, run: dict, run_fn=None) -> dict:
    """Simulate one point; never raises for an error of the point itself."""
    run_fn = run_fn or default_run

    def work():
        chip = base_chip.with_overrides(overrides)
        options = run_options(workload, run)
        if options["mapping"] is not None:
            from archsim.mapping import Mapping

            options["mapping"] = Mapping.load(options["mapping"])
        return run_fn(workload["network"], chip, **options)

    return _timed(point_hash, "simulated", None, work)


def recost_point(point_hash: str, base_chip: Chip, overrides: dict, source_hash: str, source_result: str,
                 recost_fn=None) -> dict:
    """Cost the stored result ``source_result`` (JSON text) again with this point's chip."""
    recost_fn = recost_fn or default_recost

    def work():
        chip = base_chip.with_overrides(overrides)
        return recost_fn(json.loads(source_result), chip)

    return _timed(point_hash, "recosted", source_hash, work)


def _timed(point_hash: str, how: str, recosted_from: str | None, work) -> dict:
    started_at = time.time()
    start = time.perf_counter()
    outcome = {"hash": point_hash, "how": how, "recosted_from": recosted_from, "started_at": started_at,
               "worker": f"{socket.gethostname()}:{os.getpid()}", "error": None, "result": None}
    try:
        result = work()
        outcome["result"] = canonical_json(result)
        outcome["status"] = "ok"
    except Exception as exc:  # a failing point is recorded and the sweep goes on
        tail = "".join(traceback.format_exception(exc)[-4:])
        outcome["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())}\n{tail}"
        outcome["status"] = "failed"
    outcome["elapsed_s"] = time.perf_counter() - start
    return outcome

