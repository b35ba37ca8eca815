"""Running a sweep: schedule its points on an executor and store each outcome as it arrives.

Points that share a simulation (same ``sim_hash``: they differ only in technology or energy-table
keys) are simulated once; the others re-cost that Trace with their own chip. A stored successful
point of the same simulation (from an earlier run, or another sweep in the same store) is re-costed
the same way. Which point of a group is simulated depends on the points' order only, never on which
executor finished first, so every executor fills the store with the same rows.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from tqdm import tqdm

from archsim.errors import UserError
from archsim.sweep.evaluate import recost_point, simulate_point
from archsim.sweep.executors import make_executor
from archsim.sweep.points import Point, expand_points
from archsim.sweep.spec import SweepSpec
from archsim.sweep.store import ResultStore


@dataclass
class SweepRun:
    """What one ``run_sweep`` call did."""

    points: int
    already_done: int
    simulated: int = 0
    recosted: int = 0
    failed: int = 0
    wall_s: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def evaluated(self) -> int:
        return self.simulated + self.recosted + self.failed

    @property
    def points_per_minute(self) -> float:
        return 60.0 * self.evaluated / self.wall_s if self.wall_s > 0 else 0.0


def _train_for_accuracy(spec: SweepSpec) -> None:
    """Train (once, here) the zoo networks whose accuracy the sweep measures, so that parallel workers
    find them cached instead of each training its own copy."""
    from workloads import zoo

    for workload in spec.workloads:
        if workload.get("accuracy"):
            zoo.ensure_trained(workload["network"])


def run_sweep(spec: SweepSpec, store: ResultStore, *, workers: int | None = None, scheduler: str | None = None,
              executor=None, resume: bool = False, run_fn=None, recost_fn=None, progress: bool = True,
              recost: bool = True) -> SweepRun:
    """Evaluate every point of ``spec`` not yet stored as ``ok``, writing each outcome to ``store``.

    ``executor`` (anything with ``submit``/``completed``/``close``) wins over ``workers``/``scheduler``.
    ``run_fn``/``recost_fn`` replace :func:`archsim.runner.run`/``recost`` (they must be picklable
    for process and Dask executors: module-level functions are).
    """
    points = expand_points(spec)
    if run_fn is None:
        _train_for_accuracy(spec)
    statuses = store.statuses()
    finished = sum(statuses.get(p.hash) in ("ok", "failed") for p in points)
    if finished and not resume:
        raise UserError(
            f"{store.path}: already holds {finished} finished points of this sweep; "
            "pass --resume to run only the missing or failed ones, or --store to start another store"
        )
    store.set_meta("sweep", spec.describe())
    store.register(spec.name, points)
    todo = [p for p in points if statuses.get(p.hash) != "ok"]
    report = SweepRun(points=len(points), already_done=len(points) - len(todo))
    if not todo:
        return report

    scheduler_state = _Schedule(spec, store, todo, run_fn, recost_fn, recost)
    executor = executor or make_executor(workers, scheduler)
    start = time.perf_counter()
    bar = tqdm(total=len(todo), disable=not progress, unit="pt", desc=spec.name, dynamic_ncols=True)
    try:
        for group in scheduler_state.groups:
            scheduler_state.start(group, executor)
        for outcome in executor.completed():
            store.record(outcome)
            _count(report, outcome)
            bar.update(1)
            bar.set_postfix(failed=report.failed, recosted=report.recosted, refresh=False)
            scheduler_state.finished(outcome, executor)
    finally:
        bar.close()
        executor.close()
        report.wall_s = time.perf_counter() - start
    return report


def _count(report: SweepRun, outcome: dict) -> None:
    if outcome["status"] != "ok":
        report.failed += 1
        report.failures.append(f"{outcome['hash'][:12]}: {outcome['error'].splitlines()[0]}")
    elif outcome["how"] == "recosted":
        report.recosted += 1
    else:
        report.simulated += 1


class _Schedule:
    """Which points wait on which simulation, and what to submit when one finishes."""

    def __init__(self, spec: SweepSpec, store: ResultStore, todo: list[Point], run_fn, recost_fn, recost: bool):
        self.spec, self.store, self.run_fn, self.recost_fn, self.recost = spec, store, run_fn, recost_fn, recost
        self.group_of = {p.hash: p.sim_hash if recost else p.hash for p in todo}
        self.queues: dict[str, deque[Point]] = {}
        for point in todo:
            self.queues.setdefault(self.group_of[point.hash], deque()).append(point)
        self.groups = list(self.queues)

    def start(self, sim_hash: str, executor) -> None:
        """Re-cost the whole group from a stored simulation, or simulate its first point."""
        queue = self.queues[sim_hash]
        stored = self.store.simulated_result(sim_hash) if self.recost else None
        if stored is not None:
            while queue:
                self._submit_recost(queue.popleft(), *stored, executor)
        elif queue:
            point = queue.popleft()
            executor.submit(simulate_point, point.hash, self.spec.base_chip, point.overrides, point.workload,
                            self.spec.run, self.run_fn)

    def finished(self, outcome: dict, executor) -> None:
        if outcome["how"] == "simulated":
            # success: the rest of the group re-costs it; failure: the next point tries to simulate
            self.start(self.group_of[outcome["hash"]], executor)

    def _submit_recost(self, point: Point, source_hash: str, source_result: str, executor) -> None:
        executor.submit(recost_point, point.hash, self.spec.base_chip, point.overrides, source_hash, source_result,
                        self.recost_fn)
