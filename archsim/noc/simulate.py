"""simulate(): one phase's packets through the NoC, with the engine of the caller's choice."""
from __future__ import annotations

import numpy as np

from archsim.noc.config import NocConfig
from archsim.noc.kernel import build_trees, run_cycles
from archsim.noc.packets import Packets
from archsim.noc.reference import simulate_reference
from archsim.noc.stats import NocStats
from archsim.noc.topology import topology

ENGINES = ("fast", "reference")


def simulate(packets: Packets, config: NocConfig, engine: str = "fast") -> NocStats:
    """Deliver every flit of ``packets`` (cycles relative to the phase start) and count what happened.

    ``engine="fast"`` runs the Numba event kernel, ``"reference"`` the cycle-by-cycle stepper;
    both return equal :class:`NocStats`.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}: allowed {', '.join(ENGINES)}")
    packets.check_cores(config)
    if engine == "reference":
        return simulate_reference(packets, config)
    return simulate_fast(packets, config)


def simulate_fast(packets: Packets, config: NocConfig) -> NocStats:
    topo = topology(config)
    n = topo.n_routers
    order = np.argsort(packets.inject_cycle, kind="stable")     # oldest packet first, then input order
    first_gid = np.empty(len(packets), dtype=np.int64)
    first_gid[order] = np.cumsum(packets.flits[order]) - packets.flits[order]
    root_step, tree_steps, steps = build_trees(
        packets.src, packets.dst_ptr, packets.dst, order, topo.router_x, topo.router_y,
        topo.link_target, n)
    counts = run_cycles(
        packets.src, packets.flits, packets.inject_cycle, order, first_gid, root_step, tree_steps, steps, topo.chan_rate_num,
        topo.chan_rate_den, topo.chan_latency_cycles, topo.chan_target, topo.link_interchip,
        config.router_latency_cycles, n, config.buffer_flits, config.credit_latency_cycles)
    return NocStats.from_channel_counts(*counts, config.flit_bits)
