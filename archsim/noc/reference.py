"""The reference stepper: the NoC micro-architecture executed one clock cycle at a time.

Plain Python, written to be read against the rules in ``archsim/noc/__init__.py``, for small
configurations only. Every cycle, every channel with waiting flits grants its slots of that cycle
to the waiting flits in arbitration order; a granted flit reaches the far end of the channel
``latency`` cycles later and, after the router's pipeline, requests its next channel(s). The fast
engine (:mod:`archsim.noc.kernel`) must give exactly the same :class:`NocStats`.
"""
from __future__ import annotations

import bisect
from collections import defaultdict

import numpy as np

from archsim.noc.config import NocConfig
from archsim.noc.packets import Packets
from archsim.noc.stats import NocStats
from archsim.noc.topology import multicast_tree, topology


def slots_in_cycle(cycle: int, rate_num: int, rate_den: int) -> int:
    """Flits a channel of rate_num/rate_den flits per cycle may start in ``cycle``:
    ceil((cycle + 1) * rate) - ceil(cycle * rate)."""
    def ceil_div(a: int, b: int) -> int:
        return -(-a // b)

    return ceil_div((cycle + 1) * rate_num, rate_den) - ceil_div(cycle * rate_num, rate_den)


def simulate_reference(packets: Packets, config: NocConfig) -> NocStats:
    """Step the NoC cycle by cycle until every flit of ``packets`` is delivered."""
    topo = topology(config)
    n = topo.n_routers
    n_packets = len(packets)
    # Arbitration order: oldest packet first (injection cycle, then input index), then flit index.
    order = sorted(range(n_packets), key=lambda p: (int(packets.inject_cycle[p]), p))
    first_gid = {}
    next_gid = 0
    for p in order:
        first_gid[p] = next_gid
        next_gid += int(packets.flits[p])
    tree_out = []            # per packet: router -> tree links leaving it
    destinations = []        # per packet: set of destination cores
    for p in range(n_packets):
        dsts = {int(d) for d in packets.destinations(p)}
        outs = defaultdict(list)
        for link in multicast_tree(int(packets.src[p]), sorted(dsts), config):
            outs[link // 4].append(link)
        tree_out.append(outs)
        destinations.append(dsts)

    requests = defaultdict(list)     # cycle -> [(gid, packet, flit, channel)] requesting that cycle
    for p in range(n_packets):
        for k in range(int(packets.flits[p])):
            requests[int(packets.inject_cycle[p])].append(
                (first_gid[p] + k, p, k, topo.injection_channel(int(packets.src[p]))))

    channel_flits = np.zeros(topo.n_channels, dtype=np.int64)
    channel_stalls = np.zeros(topo.n_channels, dtype=np.int64)
    channel_peak = np.zeros(topo.n_channels, dtype=np.int64)
    router_flits = np.zeros(n, dtype=np.int64)
    packet_finish = np.zeros(n_packets, dtype=np.int64)
    hops = interchip = 0
    waiting = defaultdict(list)      # channel -> sorted [(request cycle, gid, packet, flit)]
    cycle = min(requests, default=0)
    while requests or waiting:
        for gid, p, k, channel in requests.pop(cycle, []):
            bisect.insort(waiting[channel], (cycle, gid, p, k))     # kept in arbitration order
        for channel in sorted(waiting):
            queue = waiting[channel]
            free = slots_in_cycle(cycle, int(topo.chan_rate_num[channel]), int(topo.chan_rate_den[channel]))
            granted, waiting[channel] = queue[:free], queue[free:]
            channel_peak[channel] = max(channel_peak[channel], len(waiting[channel]))
            if not waiting[channel]:
                del waiting[channel]
            for requested, gid, p, k in granted:
                channel_flits[channel] += 1
                channel_stalls[channel] += cycle - requested
                arrival = cycle + int(topo.chan_latency_cycles[channel])
                if channel >= 5 * n:                       # ejection port: delivered to the core
                    packet_finish[p] = max(packet_finish[p], arrival)
                    continue
                if channel < 4 * n:
                    hops += k == 0
                    interchip += bool(topo.link_interchip[channel])
                router = int(topo.chan_target[channel])
                router_flits[router] += 1
                ready = arrival + config.router_latency_cycles
                for link in tree_out[p][router]:
                    requests[ready].append((gid, p, k, link))
                if router in destinations[p]:
                    requests[ready].append((gid, p, k, topo.ejection_channel(router)))
        cycle += 1

    return NocStats.from_channel_counts(channel_flits, channel_stalls, channel_peak, router_flits,
                                        packet_finish, hops, interchip, config.flit_bits)
