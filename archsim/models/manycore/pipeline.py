"""A core's pipeline: stages in series with FIFOs of configured depth between them, clock by clock.

This is the reference engine's executable specification of a core (docs/core.md has the table of
stages, queues and sizes). A phase's work on one core is a list of *items* that flow through a
line of stages (integrate: synapse words through axon front end -> synapse read -> dendrite;
merge: words of received partial sums through the owner's adder; fire: neuron groups through
neuron-state read -> soma -> neuron-state write-back). The rules:

- A stage holds at most one item. It works on it ``service`` cycles; then, at the start of a later
  cycle, it hands it into the FIFO in front of the next stage if that FIFO has a free slot, else
  it keeps it and stalls (a *full FIFO* stall cycle); the last stage hands its item out freely.
- A stage that holds nothing takes the head of its input (the phase's item queue for the first
  stage, else the FIFO in front of it) in the same cycle, so an item can go from one stage to the
  next with no cycle spent in the FIFO.
- The stage that reads the synapse memory (``bank_stage``) also needs its item's bank: a bank has
  one port, and a read holds it ``bank_cycles`` cycles from the cycle it starts; while the port is
  held by an earlier read, the stage waits (a *busy port* stall cycle).
- Within a cycle the stages act in order, first to last: a FIFO slot the next stage frees in cycle
  ``t`` is seen by the stage before it in cycle ``t + 1`` (a registered full flag).
- A FIFO's occupancy is counted at the end of every cycle; its high-water mark is the largest.
- The merge line's items (words of partial sums from other cores) enter its queue when their NoC
  packet has arrived (``arrivals``), not all at ``start``.
- Per-event costs that depend on the item: stage ``extra_stage`` works ``service + extra[n]`` cycles on
  item ``n`` (integrate: the axon front end's message-in cycles on an axon's first word; fire: the
  write-back's spike-out cycles per spike of the group).

The fast engine computes the same line with the recurrence of :func:`.kernels.line_item`.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass
class LineResult:
    finish: int             # cycle at which the last item leaves the last stage (``start`` without items)
    full_fifo: int          # stall cycles: a finished item waited for a slot in the next FIFO
    busy_port: int          # stall cycles: an item waited for its bank's port
    high_water: list        # per FIFO, the most items it held at the end of a cycle
    pushes: list            # per FIFO, items written into it
    pops: list              # per FIFO, items read out of it


def run_line(banks: list[int], start: int, service: tuple, depths: tuple, bank_stage: int = -1,
             n_banks: int = 1, bank_cycles: int = 1, arrivals: list[int] | None = None,
             extra: list[int] | None = None, extra_stage: int = -1) -> LineResult:
    """Clock the items (``banks[n]``: the bank item ``n`` reads, -1 none) through the line from ``start``;
    with ``arrivals`` (ascending), item ``n`` enters the first stage's queue at cycle ``arrivals[n]``;
    with ``extra``, stage ``extra_stage`` spends ``extra[n]`` more cycles on item ``n``."""
    n_stages = len(service)
    source = deque(range(len(banks)))
    fifos = [deque() for _ in range(n_stages - 1)]
    held = [None] * n_stages                 # (item, cycle its work is done)
    port_free = [0] * n_banks                # first cycle at which each bank's port is free again
    high = [0] * (n_stages - 1)
    pushes, pops = [0] * (n_stages - 1), [0] * (n_stages - 1)
    full = busy = 0
    left = len(banks)
    finish = start
    cycle = start
    while left:
        for j in range(n_stages):
            if held[j] is not None and held[j][1] <= cycle:
                if j == n_stages - 1:
                    held[j] = None
                    left -= 1
                    finish = cycle
                elif len(fifos[j]) < depths[j]:
                    fifos[j].append(held[j][0])
                    pushes[j] += 1
                    held[j] = None
                else:
                    full += 1
            if held[j] is None:
                queue = source if j == 0 else fifos[j - 1]
                if queue and (j > 0 or arrivals is None or arrivals[queue[0]] <= cycle):
                    item = queue[0]
                    bank = banks[item] if j == bank_stage else -1
                    if bank >= 0 and port_free[bank] > cycle:
                        busy += 1
                        continue
                    queue.popleft()
                    if j > 0:
                        pops[j - 1] += 1
                    if bank >= 0:
                        port_free[bank] = cycle + bank_cycles
                    more = extra[item] if extra is not None and j == extra_stage else 0
                    held[j] = (item, cycle + service[j] + more)
        for f, fifo in enumerate(fifos):
            high[f] = max(high[f], len(fifo))
        cycle += 1
    return LineResult(finish, full, busy, high, pushes, pops)


def count_fifo_traffic(counts: dict, core: int, fifos: tuple, line: LineResult) -> None:
    """Book the clocked line's pushes and pops of each of its FIFOs (``<fifo>_push`` / ``_pop``) to ``core``."""
    for f, fifo in enumerate(fifos):
        counts[f"{fifo}_push"][core], counts[f"{fifo}_pop"][core] = line.pushes[f], line.pops[f]


def items_through(fifos: tuple, items):
    """The fast engine's FIFO traffic: every item of a line passes each of its FIFOs once, pushed
    and popped (no bypass, docs/core.md), so each FIFO's pushes and pops are the line's items."""
    return {f"{fifo}_{action}": items for fifo in fifos for action in ("push", "pop")}
