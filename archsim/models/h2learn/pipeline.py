"""The engine pipeline as SimPy processes: FE, BE and WUE over tiles, bounded hand-over queues, one DRAM.

Each engine works through its (tile, layer) steps in order; a step lasts until both its compute cycles
and its DRAM transfer are done (double-buffered: transfer overlaps compute). The DRAM channel is one
SimPy resource that the engines share, each transfer split into ``DRAM_CHUNKS`` requests so that engines
interleave on it. FE hands a finished tile to BE, BE to WUE, through queues of ``tiles_in_flight`` tiles
(an engine that finds the queue full waits: a buffer stall). With ``pipeline: false`` the engines run one
after another, tile by tile. After the last tile the WUE applies the update to every layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import simpy

ENGINES = ("fe", "be", "wue")
DRAM_CHUNKS = 8


@dataclass
class Step:
    """One engine's work on one layer of one tile: compute cycles and DRAM bits moved."""

    layer: str
    compute_cycles: int
    dram_bits: int


@dataclass
class Schedule:
    cycles: int
    busy_cycles: dict = field(default_factory=dict)       # engine -> compute cycles
    stall_cycles: dict = field(default_factory=dict)      # engine -> cycles waiting on DRAM
    queue_stall_cycles: dict = field(default_factory=dict)  # engine -> cycles blocked on a full queue
    dram_busy_cycles: int = 0
    timeline: list = field(default_factory=list)          # [engine, tile, start, end]


def run_pipeline(tiles: list[dict], update_steps: list[Step], pipelined: bool, tiles_in_flight: int,
                 dram_bits_per_cycle: float) -> Schedule:
    """``tiles[i][engine]`` is the list of :class:`Step` of that engine on tile i."""
    env = simpy.Environment()
    dram = simpy.Resource(env, capacity=1)
    sched = Schedule(0, {e: 0 for e in ENGINES}, {e: 0 for e in ENGINES}, {e: 0 for e in ENGINES})

    def transfer(bits):
        chunk = math.ceil(bits / DRAM_CHUNKS)
        left = bits
        while left > 0:
            part = min(chunk, left)
            left -= part
            with dram.request() as req:
                yield req
                cycles = math.ceil(part / dram_bits_per_cycle)
                sched.dram_busy_cycles += cycles
                yield env.timeout(cycles)

    def do_step(engine, step):
        start = env.now
        compute = env.timeout(step.compute_cycles)
        if step.dram_bits:
            yield env.all_of([compute, env.process(transfer(step.dram_bits))])
        else:
            yield compute
        sched.busy_cycles[engine] += step.compute_cycles
        sched.stall_cycles[engine] += env.now - start - step.compute_cycles

    def run_tile(engine, index):
        start = env.now
        for step in tiles[index][engine]:
            yield from do_step(engine, step)
        sched.timeline.append([engine, index, start, env.now])

    def handover(engine, queue, index):
        start = env.now
        yield queue.put(index)
        sched.queue_stall_cycles[engine] += env.now - start

    def engine_proc(engine, inbox, outbox):
        for index in range(len(tiles)):
            if inbox is not None:
                yield inbox.get()
            yield from run_tile(engine, index)
            if outbox is not None:
                yield from handover(engine, outbox, index)

    def sequential():
        for index in range(len(tiles)):
            for engine in ENGINES:
                yield from run_tile(engine, index)

    def whole():
        if pipelined:
            fe_be = simpy.Store(env, capacity=tiles_in_flight)
            be_wue = simpy.Store(env, capacity=tiles_in_flight)
            procs = [env.process(engine_proc("fe", None, fe_be)), env.process(engine_proc("be", fe_be, be_wue)),
                     env.process(engine_proc("wue", be_wue, None))]
            yield env.all_of(procs)
        else:
            yield env.process(sequential())
        start = env.now
        for step in update_steps:
            yield from do_step("wue", step)
        sched.timeline.append(["wue", "update", start, env.now])

    env.process(whole())
    env.run()
    sched.cycles = int(env.now)
    return sched
