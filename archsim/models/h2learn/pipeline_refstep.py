"""Reference stepper of the engine pipeline: the rules of :mod:`.pipeline`, one clock at a time.

Plain Python, small configurations only: the executable specification that the SimPy pipeline must
equal in total cycles, busy, DRAM-stall and queue-stall cycles per engine, DRAM busy cycles and the
timeline. Each clock has two halves: first everything that takes no time happens at the clock edge, until
nothing changes (finished chunks free the channel, finished steps and tiles end, tiles are handed over
and taken, steps start and ask for the channel), then the channel is granted by the documented
arbitration, then every engine and the channel advance one cycle.
"""
from __future__ import annotations

from archsim.models.h2learn.pipeline import ENGINES, Schedule, canonical_timeline, chunk_cycles

_RANK = {engine: rank for rank, engine in enumerate(ENGINES)}


class _Job:
    """One engine working through one tile (or the final update): its steps, and where it hands over."""

    def __init__(self, engine, label, steps, inbox=None, outbox=None, after=()):
        self.engine, self.label, self.steps = engine, label, steps
        self.inbox, self.outbox, self.after = inbox, outbox, after


class _Queue:
    """Tiles finished by one engine and not yet taken by the next: at most ``capacity`` of them."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.tiles: list = []


class _Worker:
    """Runs its jobs in order; ``state`` is 'wait' (for its input / the others), 'step', 'handover' or 'done'."""

    def __init__(self, jobs):
        self.jobs = jobs
        self.job = 0
        self.state = "wait" if jobs else "done"
        self.step = 0
        self.compute_left = 0
        self.chunks_left: list[int] = []
        self.tile_start = 0

    @property
    def current(self) -> _Job:
        return self.jobs[self.job]


def pipeline_reference(tiles: list[dict], update_steps: list, pipelined: bool, tiles_in_flight: int,
                       dram_bits_per_cycle: float) -> Schedule:
    """Same arguments and result as :func:`.pipeline.run_pipeline`, stepped one clock at a time."""
    sched = Schedule(0, {e: 0 for e in ENGINES}, {e: 0 for e in ENGINES}, {e: 0 for e in ENGINES})
    n_tiles = len(tiles)
    if pipelined:
        fe_be, be_wue = _Queue(tiles_in_flight), _Queue(tiles_in_flight)
        fe = _Worker([_Job("fe", i, tiles[i]["fe"], outbox=fe_be) for i in range(n_tiles)])
        be = _Worker([_Job("be", i, tiles[i]["be"], inbox=fe_be, outbox=be_wue) for i in range(n_tiles)])
        wue_jobs = [_Job("wue", i, tiles[i]["wue"], inbox=be_wue) for i in range(n_tiles)]
        wue = _Worker(wue_jobs + [_Job("wue", "update", update_steps, after=(fe, be))])
        workers = [fe, be, wue]
    else:
        jobs = [_Job(e, i, tiles[i][e]) for i in range(n_tiles) for e in ENGINES]
        workers = [_Worker(jobs + [_Job("wue", "update", update_steps)])]
    owner, owner_left = None, 0          # the worker holding the DRAM channel, cycles left of its chunk
    waiting: dict = {}                   # worker -> (clock of its request, engine rank)
    now = 0

    def start_step(w: _Worker) -> None:
        step = w.current.steps[w.step]
        w.state, w.compute_left = "step", step.compute_cycles
        w.chunks_left = chunk_cycles(step.dram_bits, dram_bits_per_cycle)
        if w.chunks_left:
            waiting[w] = (now, _RANK[w.current.engine])

    def next_step_or_end_tile(w: _Worker) -> None:
        if w.step < len(w.current.steps):
            start_step(w)
            return
        sched.timeline.append([w.current.engine, w.current.label, w.tile_start, now])
        w.state = "handover" if w.current.outbox is not None else "next"

    def settle(w: _Worker) -> bool:
        """One zero-time change of ``w`` at this clock edge, if any is due."""
        if w.state == "step" and w.compute_left == 0 and not w.chunks_left:
            step = w.current.steps[w.step]
            sched.busy_cycles[w.current.engine] += step.compute_cycles
            w.step += 1
            next_step_or_end_tile(w)
            return True
        if w.state == "handover":
            queue = w.current.outbox
            if len(queue.tiles) < queue.capacity:
                queue.tiles.append(w.current.label)
                w.state = "next"
                return True
            return False
        if w.state == "next":
            w.job += 1
            w.state = "wait" if w.job < len(w.jobs) else "done"
            return True
        if w.state == "wait":
            job = w.current
            if any(other.state != "done" for other in job.after):
                return False
            if job.inbox is not None:
                if not job.inbox.tiles:
                    return False
                taken = job.inbox.tiles.pop(0)
                if taken != job.label:
                    raise RuntimeError(f"{job.engine} took tile {taken} while expecting tile {job.label}")
            w.tile_start, w.step = now, 0
            next_step_or_end_tile(w)
            return True
        return False

    while True:
        if owner is not None and owner_left == 0:       # a chunk ends at this edge: the channel is free
            owner.chunks_left.pop(0)
            if owner.chunks_left:
                waiting[owner] = (now, _RANK[owner.current.engine])
            owner = None
        changed = True
        while changed:
            changed = False
            for w in workers:
                while settle(w):
                    changed = True
        if all(w.state == "done" for w in workers):
            break
        if owner is None and waiting:                   # oldest request first, ties by engine order
            owner = min(waiting, key=waiting.get)
            del waiting[owner]
            owner_left = owner.chunks_left[0]
        for w in workers:                               # one clock
            if w.state == "step":
                if w.compute_left:
                    w.compute_left -= 1
                else:
                    sched.stall_cycles[w.current.engine] += 1
            elif w.state == "handover":
                sched.queue_stall_cycles[w.current.engine] += 1
        if owner is not None:
            owner_left -= 1
            sched.dram_busy_cycles += 1
        now += 1
    sched.cycles = now
    sched.timeline = canonical_timeline(sched.timeline)
    return sched
