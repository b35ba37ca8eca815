"""Synthetic traffic for measuring a mesh as a network engineer does: offered load in, latency and
accepted throughput out.

Every core injects single-flit packets by a Bernoulli process (a flit in each cycle with
probability ``offered_load``) for ``cycles`` cycles; the destination follows the pattern:

- ``uniform``: any core of the board, uniformly (itself included, as in the usual analysis);
- ``transpose``: the core at board (Y, X) for the core at (X, Y) (square boards; the diagonal
  sends to itself);
- ``hotspot``: the board's centre core with probability ``HOTSPOT_FRACTION``, else uniform.

Latency is counted from the cycle a packet is created (source queueing included) to its delivery;
throughput from deliveries inside a measurement window, after a warm-up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.noc.config import NocConfig
from archsim.noc.packets import Packets
from archsim.noc.stats import NocStats
from archsim.noc.topology import board_coords

PATTERNS = ("uniform", "transpose", "hotspot")
# Share of hotspot traffic sent to the centre core. Assumption: a common choice in NoC studies.
HOTSPOT_FRACTION = 0.2


def synthetic_traffic(config: NocConfig, pattern: str, offered_load: float, cycles: int,
                      seed: int = 0) -> Packets:
    """Single-flit packets of ``pattern`` at ``offered_load`` flits per core per cycle."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern {pattern!r}: allowed {', '.join(PATTERNS)}")
    if not 0 < offered_load <= 1:
        raise ValueError("offered_load: flits per core per cycle, in (0, 1]")
    rng = np.random.default_rng(seed)
    n = config.n_cores
    fires = rng.random((cycles, n)) < offered_load
    inject, src = np.nonzero(fires)                  # cycle-major: oldest packets first
    if pattern == "transpose":
        if config.board_x != config.board_y:
            raise ValueError("transpose traffic needs a square board")
        grid = np.empty((config.board_y, config.board_x), np.int64)
        x, y = board_coords(config, np.arange(n))
        grid[y, x] = np.arange(n)
        dst = grid[x[src], y[src]]
    else:
        dst = rng.integers(0, n, len(src))
        if pattern == "hotspot":
            centre = grid_centre(config)
            dst = np.where(rng.random(len(src)) < HOTSPOT_FRACTION, centre, dst)
    return Packets.unicast(src, dst, 1, inject)


def grid_centre(config: NocConfig) -> int:
    """The core at board (board_x // 2, board_y // 2)."""
    x, y = board_coords(config, np.arange(config.n_cores))
    return int(np.flatnonzero((x == config.board_x // 2) & (y == config.board_y // 2))[0])


@dataclass(frozen=True)
class LoadPoint:
    """One point of a load curve: what went in and what came out in the window."""

    offered_load: float
    accepted_load: float          # flits delivered per core per cycle inside the window
    mean_latency_cycles: float    # of the packets created inside the window
    no_credit_fraction: float     # of all in-network and injection stall cycles, the share lacking a credit


def load_point(packets: Packets, stats: NocStats, config: NocConfig, offered_load: float,
               window: tuple[int, int]) -> LoadPoint:
    """Accepted throughput and mean latency of single-flit ``packets`` over ``window`` (cycles)."""
    start, stop = window
    delivered = stats.packet_finish_cycles
    accepted = np.count_nonzero((delivered >= start) & (delivered < stop)) / (config.n_cores * (stop - start))
    created = (packets.inject_cycle >= start) & (packets.inject_cycle < stop)
    latency = float(np.mean(delivered[created] - packets.inject_cycle[created])) if created.any() else 0.0
    stalls = stats.stall_cycles + stats.inject_wait_cycles
    no_credit = stats.stall_no_credit_cycles + stats.inject_no_credit_cycles
    return LoadPoint(offered_load, float(accepted), latency, no_credit / stalls if stalls else 0.0)
