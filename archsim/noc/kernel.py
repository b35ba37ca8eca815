"""The fast engine: Numba kernels that compute exactly what the reference stepper computes.

The stepper visits every cycle and every waiting flit; this kernel touches each flit once per
channel it uses. The insight that makes this exact: with first-come first-served arbitration and
unbounded input buffers (``archsim/noc/__init__.py``, rules 2-5), a channel's grant to a request
depends only on the requests to that channel that come before it in arbitration order, and when
requests are taken in that order the slots already granted at or after the current cycle form one
contiguous run. So each channel keeps only its next free slot, and a request made in cycle ``c`` is
granted slot ``max(next free slot, first slot at or after c)`` the moment it is taken.

Requests are taken in the stepper's order: cycle by cycle (a calendar of per-cycle request lists;
a grant always leads to requests in later cycles, since every channel is at least one cycle long),
and within a cycle by flit rank ``gid`` (flits numbered packet by packet, oldest packet first;
each cycle's requests are sorted by it). A packet's flits all request its injection port in its
injection cycle. Work is O(flit-hops) plus a sort of each busy cycle's requests; an idle cycle
costs one array read. Pending requests are stored in fixed-size chunks chained per cycle, so
reading a cycle's requests touches few cache lines.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Cycles one phase may span (calendar length); beyond it the kernel refuses rather than allocate.
MAX_SPAN_CYCLES = 1 << 28
# Flits one phase may hold (gids are packed above a batch index into one int64 sort key).
MAX_FLITS = 1 << 31


# Columns of a tree step (one channel use of a flit copy): its channel, first child, next sibling.
CHANNEL, FIRST_CHILD, NEXT_SIBLING = range(3)


@njit(cache=True)
def build_trees(src, dst_ptr, dst, router_x, router_y, link_target, n_routers):
    """The XY multicast tree of every packet as steps (channel uses of one flit).

    Returns ``(root_step[P], steps[S, 3])`` (int32 steps): step ``root_step[p]`` is packet p's
    injection port; the children of a step are the channels a flit copy takes at the router the
    step leads to (tree links, and the ejection port if that router's core is a destination),
    chained through the FIRST_CHILD / NEXT_SIBLING columns (-1 ends a chain).
    """
    n_packets = src.shape[0]
    steps = np.empty((max(16, 4 * n_packets), 3), np.int32)
    root_step = np.empty(n_packets, np.int64)
    in_tree = np.full(n_routers, -1, np.int64)      # packet whose tree already reaches the router
    ejects = np.full(n_routers, -1, np.int64)       # packet already ejecting at the router
    step_at = np.empty(n_routers, np.int64)         # the step that reaches the router
    n_steps = 0
    for p in range(n_packets):
        if n_steps + 1 > steps.shape[0]:
            steps = _grown_rows(steps, 2 * steps.shape[0])
        root_step[p] = n_steps
        steps[n_steps, CHANNEL] = 4 * n_routers + src[p]
        steps[n_steps, FIRST_CHILD] = -1
        steps[n_steps, NEXT_SIBLING] = -1
        in_tree[src[p]] = p
        step_at[src[p]] = n_steps
        n_steps += 1
        for d_index in range(dst_ptr[p], dst_ptr[p + 1]):
            if n_steps + 2 * (n_routers + 1) > steps.shape[0]:
                steps = _grown_rows(steps, 2 * steps.shape[0] + 2 * (n_routers + 1))
            d = dst[d_index]
            here = src[p]
            while here != d:
                if router_x[here] < router_x[d]:
                    link = 4 * here
                elif router_x[here] > router_x[d]:
                    link = 4 * here + 1
                elif router_y[here] < router_y[d]:
                    link = 4 * here + 2
                else:
                    link = 4 * here + 3
                there = link_target[link]
                if in_tree[there] != p:
                    in_tree[there] = p
                    step_at[there] = n_steps
                    _add_child(steps, n_steps, link, step_at[here])
                    n_steps += 1
                here = there
            if ejects[d] != p:
                ejects[d] = p
                _add_child(steps, n_steps, 5 * n_routers + d, step_at[d])
                n_steps += 1
    return root_step, steps[:n_steps]


@njit(cache=True)
def _add_child(steps, step, channel, parent):
    steps[step, CHANNEL] = channel
    steps[step, FIRST_CHILD] = -1
    steps[step, NEXT_SIBLING] = steps[parent, FIRST_CHILD]
    steps[parent, FIRST_CHILD] = step


# Pending requests wait in chunks of CHUNK entries chained per calendar day (few cache misses per
# day, not one per request); an entry's columns are the flit's gid, its tree step and its packet.
CHUNK = 16
GID, STEP, PACKET = range(3)


@njit(cache=True)
def run_events(flits, inject_cycle, rank_order, first_gid, root_step, steps, chan_rate_num,
               chan_rate_den, chan_latency, chan_target, link_interchip, router_latency, n_routers):
    """Simulate every flit; returns the per-channel, per-router and per-packet counts.

    ``rank_order`` lists packets oldest first; ``first_gid[p]`` is the rank of packet p's flit 0.
    Returns ``(channel_flits, channel_stalls, router_flits, packet_finish, hops, interchip_flits)``.
    """
    n_packets = flits.shape[0]
    n_channels = chan_rate_num.shape[0]
    next_free_slot = np.zeros(n_channels, np.int64)
    channel_flits = np.zeros(n_channels, np.int64)
    channel_stalls = np.zeros(n_channels, np.int64)
    router_flits = np.zeros(n_routers, np.int64)
    packet_finish = np.zeros(n_packets, np.int64)
    hops = 0
    interchip = 0
    if n_packets == 0:
        return channel_flits, channel_stalls, router_flits, packet_finish, hops, interchip
    entries = np.empty((1024, CHUNK, 3), np.int32)
    chunk_fill = np.zeros(1024, np.int64)
    chunk_next = np.empty(1024, np.int64)        # next chunk of the same day, or of the free list
    n_chunks = 0                                 # chunks ever used
    free_chunk = -1
    n_free_chunks = 0
    base_cycle = inject_cycle[rank_order[0]]
    day_first = np.full(1024, -1, np.int64)      # day = cycle - base_cycle
    day_last = np.full(1024, -1, np.int64)
    last_cycle = inject_cycle[rank_order[n_packets - 1]]
    next_packet = 0                              # next packet (in rank order) to inject
    batch = np.empty((1024, 3), np.int64)        # this cycle's requests: gid, step, packet
    keys = np.empty(1024, np.int64)
    cycle = base_cycle - 1
    while cycle < last_cycle:
        cycle += 1
        day = cycle - base_cycle
        m = 0
        # Every flit of a packet requests its injection port in the packet's injection cycle.
        while next_packet < n_packets and inject_cycle[rank_order[next_packet]] == cycle:
            p = rank_order[next_packet]
            next_packet += 1
            if m + flits[p] > batch.shape[0]:
                batch = _grown_rows(batch, 2 * (m + flits[p]))
                keys = np.empty(batch.shape[0], np.int64)
            for flit in range(flits[p]):
                batch[m, GID] = first_gid[p] + flit
                batch[m, STEP] = root_step[p]
                batch[m, PACKET] = p
                m += 1
        chunk = day_first[day] if day < day_first.shape[0] else -1
        while chunk >= 0:
            if m + CHUNK > batch.shape[0]:
                batch = _grown_rows(batch, 2 * (m + CHUNK))
                keys = np.empty(batch.shape[0], np.int64)
            for i in range(chunk_fill[chunk]):
                batch[m, GID] = entries[chunk, i, GID]
                batch[m, STEP] = entries[chunk, i, STEP]
                batch[m, PACKET] = entries[chunk, i, PACKET]
                m += 1
            following = chunk_next[chunk]
            chunk_next[chunk] = free_chunk
            free_chunk = chunk
            n_free_chunks += 1
            chunk = following
        if m == 0:
            continue
        # Arbitration order within the cycle: by gid (keys pack gid above the batch index).
        index_bits = 1
        while (1 << index_bits) < m:
            index_bits += 1
        for j in range(m):
            keys[j] = (batch[j, GID] << index_bits) | j
        keys[:m].sort()
        for j in range(m):
            k = keys[j] & ((1 << index_bits) - 1)
            gid = batch[k, GID]
            step = batch[k, STEP]
            p = batch[k, PACKET]
            channel = steps[step, CHANNEL]
            num = chan_rate_num[channel]
            den = chan_rate_den[channel]
            slot = max(next_free_slot[channel], (cycle * num + den - 1) // den)
            next_free_slot[channel] = slot + 1
            granted = slot * den // num
            channel_flits[channel] += 1
            channel_stalls[channel] += granted - cycle
            arrival = granted + chan_latency[channel]
            if channel >= 5 * n_routers:          # ejection port: delivered to the core
                packet_finish[p] = max(packet_finish[p], arrival)
                continue
            if channel < 4 * n_routers:
                hops += gid == first_gid[p]
                interchip += link_interchip[channel]
            router_flits[chan_target[channel]] += 1
            ready = arrival + router_latency
            last_cycle = max(last_cycle, ready)
            ready_day = ready - base_cycle
            if ready_day >= day_first.shape[0]:
                if ready_day >= MAX_SPAN_CYCLES:
                    raise ValueError("NoC: a phase spans more cycles than the kernel's calendar allows")
                days = max(2 * day_first.shape[0], ready_day + 1)
                day_first = _grown_filled(day_first, days)
                day_last = _grown_filled(day_last, days)
            if n_free_chunks + entries.shape[0] - n_chunks < 5:    # a router has at most 5 outputs
                entries = _grown_rows(entries, 2 * entries.shape[0])
                chunk_fill = _grown_filled(chunk_fill, entries.shape[0])
                chunk_next = _grown_filled(chunk_next, entries.shape[0])
            child = steps[step, FIRST_CHILD]
            while child >= 0:
                chunk = day_last[ready_day]
                if chunk < 0 or chunk_fill[chunk] == CHUNK:
                    if free_chunk >= 0:
                        fresh = free_chunk
                        free_chunk = chunk_next[fresh]
                        n_free_chunks -= 1
                    else:
                        fresh = n_chunks
                        n_chunks += 1
                    chunk_fill[fresh] = 0
                    chunk_next[fresh] = -1
                    if chunk < 0:
                        day_first[ready_day] = fresh
                    else:
                        chunk_next[chunk] = fresh
                    day_last[ready_day] = fresh
                    chunk = fresh
                i = chunk_fill[chunk]
                entries[chunk, i, GID] = gid
                entries[chunk, i, STEP] = child
                entries[chunk, i, PACKET] = p
                chunk_fill[chunk] = i + 1
                child = steps[child, NEXT_SIBLING]
    return channel_flits, channel_stalls, router_flits, packet_finish, hops, interchip


@njit(cache=True)
def _grown_filled(array, length):
    """``array`` extended to ``length`` entries with -1."""
    longer = np.full(length, -1, array.dtype)
    longer[:array.shape[0]] = array
    return longer


@njit(cache=True)
def _grown_rows(array, rows):
    """``array`` with room for ``rows`` rows (the new ones uninitialised)."""
    bigger = np.empty((rows,) + array.shape[1:], array.dtype)
    bigger[:array.shape[0]] = array
    return bigger
