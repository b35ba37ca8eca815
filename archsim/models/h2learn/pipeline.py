"""The engine pipeline as SimPy processes: FE, BE and WUE over tiles, bounded hand-over queues, one DRAM.

The rules (the reference stepper :mod:`.pipeline_refstep` follows them one clock at a time; times are
whole clock cycles, everything that takes no time happens at a clock edge):

* **Steps.** Each engine works through its (tile, layer) :class:`Step` s in order. A step starts its
  ``compute_cycles`` and its DRAM transfer at the same edge (double-buffered: transfer overlaps compute)
  and ends at the edge where both are done; the next step starts at that edge. Cycles after the compute
  is done and before the transfer is are the engine's DRAM stall (``stall_cycles``).
* **DRAM channel.** One channel shared by the engines. A step's ``dram_bits`` go as ``DRAM_CHUNKS``
  chunks of ceil(bits / ``DRAM_CHUNKS``) bits, the last shorter (:func:`chunk_cycles`), one after
  another; a chunk holds the channel for ceil(chunk bits / ``dram_bits_per_cycle``) whole cycles and asks
  for it again at the edge where the previous chunk ends. Arbitration: whenever the channel is free at an
  edge (after everything else due at that edge has happened), it goes to the oldest request, ties in
  engine order FE, BE, WUE. So concurrent transfers interleave chunk by chunk.
* **Queues.** ``pipeline: true``: FE hands a finished tile to BE, BE to WUE, through a queue of
  ``tiles_in_flight`` tiles. A tile enters the queue at the edge where its producer finishes it, if the
  queue holds fewer than ``tiles_in_flight`` tiles; otherwise the producer waits (``queue_stall_cycles``)
  and starts nothing until a slot frees. A tile leaves the queue at the edge where its consumer starts
  it; an engine starts tile i at the first edge where it has finished tile i - 1 (and handed it over) and
  tile i is in its input queue. Waiting for input is idle time, not a stall.
* **Pipeline off** (``pipeline: false``): the engines run one after another, tile by tile (FE, BE, WUE of
  tile 0, then of tile 1, ...), with no queues.
* **Update.** After every engine has finished its last tile the WUE runs ``update_steps`` (the passes of
  layers whose weight-gradient accumulators are blocked, then the weight update of every layer),
  timeline row ``[wue, "update", start, end]``.

Results: total cycles, compute (``busy_cycles``), DRAM-stall and queue-stall cycles per engine, channel
busy cycles and the timeline ``[engine, tile, start, end]`` in :func:`canonical_timeline` order.
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


def chunk_cycles(bits: int, dram_bits_per_cycle: float) -> list[int]:
    """Channel cycles of each chunk of a ``bits`` transfer: ``DRAM_CHUNKS`` chunks of ceil(bits / DRAM_CHUNKS)
    bits (the last one shorter, fewer chunks when rounding leaves nothing), each holding the channel for
    ceil(chunk bits / ``dram_bits_per_cycle``) whole cycles."""
    chunk = -(-int(bits) // DRAM_CHUNKS)
    parts = [min(chunk, bits - start) for start in range(0, int(bits), chunk)] if bits > 0 else []
    return [math.ceil(part / dram_bits_per_cycle) for part in parts]


def canonical_timeline(timeline: list) -> list:
    """Timeline rows ``[engine, tile, start, end]`` in one order: by start, end, engine, tile (update last)."""
    rank = {engine: i for i, engine in enumerate(ENGINES)}
    return sorted(timeline, key=lambda row: (row[2], row[3], rank[row[0]], row[1] == "update",
                                             row[1] if row[1] != "update" else 0))


class _EndOfEdge(simpy.events.Event):
    """Fires at the current clock edge after every other event of that edge (priority below NORMAL);
    triggered at creation as SimPy's own Timeout is."""

    def __init__(self, env: simpy.Environment):
        super().__init__(env)
        self._ok, self._value = True, None
        env.schedule(self, priority=simpy.events.NORMAL + 1)


class DramChannel:
    """The one DRAM channel: grants whole chunks, the oldest request first, ties in ``ENGINES`` order.

    A SimPy resource would grant in the order processes happen to run within one clock; here the grant at
    clock t waits (an event of lower priority than every other) until all that happens at t is done, so
    every request made at t takes part."""

    def __init__(self, env: simpy.Environment, sched: Schedule):
        self.env, self.sched = env, sched
        self.waiting: list = []            # (request clock, engine rank, grant event, chunk cycles)
        self.wakeup = env.event()
        env.process(self._arbiter())

    def chunk(self, engine: str, cycles: int):
        """An event that fires when ``engine``'s chunk of ``cycles`` has been through the channel."""
        done = self.env.event()
        self.waiting.append((self.env.now, ENGINES.index(engine), done, cycles))
        if not self.wakeup.triggered:
            self.wakeup.succeed()
        return done

    def _arbiter(self):
        while True:
            if not self.waiting:
                self.wakeup = self.env.event()
                yield self.wakeup
            yield _EndOfEdge(self.env)
            grant = min(self.waiting, key=lambda item: item[:2])
            self.waiting.remove(grant)
            self.sched.dram_busy_cycles += grant[3]
            yield self.env.timeout(grant[3])
            grant[2].succeed()


def run_pipeline(tiles: list[dict], update_steps: list[Step], pipelined: bool, tiles_in_flight: int,
                 dram_bits_per_cycle: float) -> Schedule:
    """``tiles[i][engine]`` is the list of :class:`Step` of that engine on tile i."""
    env = simpy.Environment()
    sched = Schedule(0, {e: 0 for e in ENGINES}, {e: 0 for e in ENGINES}, {e: 0 for e in ENGINES})
    dram = DramChannel(env, sched)

    def transfer(engine, bits):
        for cycles in chunk_cycles(bits, dram_bits_per_cycle):
            yield dram.chunk(engine, cycles)

    def do_step(engine, step):
        start = env.now
        compute = env.timeout(step.compute_cycles)
        if step.dram_bits:
            yield env.all_of([compute, env.process(transfer(engine, step.dram_bits))])
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

    env.run(until=env.process(whole()))
    sched.cycles = int(env.now)
    sched.timeline = canonical_timeline(sched.timeline)
    return sched
