"""The reference stepper: the NoC micro-architecture executed one clock cycle at a time.

Plain Python, written to be read against the rules in ``archsim/noc/__init__.py``, for small
configurations only. Its state is the hardware's: flits on each channel's pipeline, each router
input buffer's contents, the credit counter each sender keeps for the buffer it feeds, credits on
their way back, and every output's queue of flits requesting it. Each cycle, in this order:

1. credits arriving this cycle raise their sender's counter;
2. flits leaving a channel's pipeline this cycle are written into the input buffer at its far end
   (a full buffer here is an error: credits must have prevented it) or delivered to the core;
   after ``router_latency_cycles`` each copy requests its output;
3. every output grants its slots of this cycle to its oldest requests, one credit per flit
   (ejection ports need none: the core takes every flit); a flit whose last copy leaves frees its
   buffer slot and sends a credit back, usable ``credit_latency_cycles`` later.

The fast engine (:mod:`archsim.noc.kernel`) must give exactly the same :class:`NocStats`.
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
    depth = config.buffer_flits
    # Arbitration order: oldest packet first (injection cycle, then input index), then flit index.
    order = sorted(range(n_packets), key=lambda p: (int(packets.inject_cycle[p]), p))
    first_gid = {}
    next_gid = 0
    for p in order:
        first_gid[p] = next_gid
        next_gid += int(packets.flits[p])
    outputs = []             # per packet: router -> the channels a copy of its flit takes there
    for p in range(n_packets):
        dsts = {int(d) for d in packets.destinations(p)}
        outs = defaultdict(list)
        for link in multicast_tree(int(packets.src[p]), sorted(dsts), config):
            outs[link // 4].append(link)
        for d in dsts:
            outs[d].append(topo.ejection_channel(d))
        outputs.append(outs)

    # Requests becoming ready (past the router pipeline, or entering the source's injection queue):
    # cycle -> [(gid, packet, flit, channel, buffer)]; buffer = the channel feeding the input
    # buffer that holds the flit, or -1 while it waits in its core's injection queue.
    requests = defaultdict(list)
    for p in range(n_packets):
        for k in range(int(packets.flits[p])):
            requests[int(packets.inject_cycle[p])].append(
                (first_gid[p] + k, p, k, topo.injection_channel(int(packets.src[p])), -1))
    arrivals = defaultdict(list)          # cycle -> [(channel, gid, packet, flit)] leaving the channel
    credit_returns = defaultdict(list)    # cycle -> [channel whose sender gets a credit back]
    credits = np.full(5 * n, depth, dtype=np.int64)      # sender's free slots of each input buffer
    stored = np.zeros(5 * n, dtype=np.int64)             # flits written in each input buffer
    copies_left = {}                                     # (buffer, gid) -> copies still to leave
    waiting = defaultdict(list)     # channel -> sorted [(request cycle, gid, packet, flit, buffer)]

    channel_flits = np.zeros(topo.n_channels, dtype=np.int64)
    channel_stalls = np.zeros(topo.n_channels, dtype=np.int64)
    channel_no_credit = np.zeros(topo.n_channels, dtype=np.int64)
    channel_peak = np.zeros(topo.n_channels, dtype=np.int64)
    buffer_peak = np.zeros(5 * n, dtype=np.int64)
    router_flits = np.zeros(n, dtype=np.int64)
    packet_finish = np.zeros(n_packets, dtype=np.int64)
    hops = interchip = 0
    cycle = min(requests, default=0)
    while requests or waiting or arrivals:
        for channel in credit_returns.pop(cycle, []):
            credits[channel] += 1
        for channel, gid, p, k in arrivals.pop(cycle, []):
            if channel >= 5 * n:                          # ejection port: delivered to the core
                packet_finish[p] = max(packet_finish[p], cycle)
                continue
            router = int(topo.chan_target[channel])
            stored[channel] += 1
            if stored[channel] > depth:
                raise AssertionError(f"NoC reference: input buffer of channel {channel} overflowed")
            router_flits[router] += 1
            copies_left[channel, gid] = len(outputs[p][router])
            for out in outputs[p][router]:
                requests[cycle + config.router_latency_cycles].append((gid, p, k, out, channel))
        for gid, p, k, channel, buffer in requests.pop(cycle, []):
            bisect.insort(waiting[channel], (cycle, gid, p, k, buffer))     # kept in arbitration order
        for channel in sorted(waiting):
            queue = waiting[channel]
            free = slots_in_cycle(cycle, int(topo.chan_rate_num[channel]), int(topo.chan_rate_den[channel]))
            credit = len(queue) if channel >= 5 * n else int(credits[channel])
            granted, waiting[channel] = queue[:min(free, credit)], queue[min(free, credit):]
            left = len(waiting[channel])
            channel_peak[channel] = max(channel_peak[channel], left)
            channel_stalls[channel] += left
            if credit < free:                             # a slot was there, the credit was not
                channel_no_credit[channel] += left
            if not left:
                del waiting[channel]
            for requested, gid, p, k, buffer in granted:
                channel_flits[channel] += 1
                arrivals[cycle + int(topo.chan_latency_cycles[channel])].append((channel, gid, p, k))
                if channel < 5 * n:
                    credits[channel] -= 1
                    buffer_peak[channel] = max(buffer_peak[channel], depth - credits[channel])
                if channel < 4 * n:
                    hops += k == 0
                    interchip += bool(topo.link_interchip[channel])
                if buffer >= 0:
                    copies_left[buffer, gid] -= 1
                    if not copies_left[buffer, gid]:      # last copy out: the slot is free
                        del copies_left[buffer, gid]
                        stored[buffer] -= 1
                        credit_returns[cycle + config.credit_latency_cycles].append(buffer)
        if waiting and not (requests or arrivals or credit_returns) and all(
                channel < 5 * n and credits[channel] == 0 for channel in waiting):
            raise AssertionError("NoC reference: deadlock (every waiting flit lacks a credit)")
        cycle += 1

    return NocStats.from_channel_counts(channel_flits, channel_stalls, channel_no_credit, channel_peak,
                                        buffer_peak, router_flits, packet_finish, hops, interchip,
                                        config.flit_bits)
