"""The fast engine: Numba kernels that compute exactly what the reference stepper computes.

The stepper visits every cycle and every waiting flit; this kernel touches each flit once per
channel it uses. The insight that makes this exact: with first-come first-served arbitration and
unbounded input buffers (``archsim/noc/__init__.py``, rules 2-5), a channel's grant to a request
depends only on the requests to that channel that come before it in arbitration order, and when
requests are taken in that order the slots already granted at or after the current cycle form one
contiguous run. So each channel keeps only its next free slot, and a request made in cycle ``c`` is
granted slot ``max(next free slot, first slot at or after c)`` the moment it is taken.

Requests are taken in the stepper's order: cycle by cycle (a calendar of per-cycle event lists;
a grant always leads to requests in later cycles, since every channel is at least one cycle long),
and within a cycle by flit rank ``gid`` (flits numbered packet by packet, oldest packet first).
Injection ports serve only their own core's flits, which all request at their packet's injection
cycle, so their grants are computed up front, packet by packet in rank order. Work is
O(flit-hops + cycles spanned) plus a small sort per busy cycle; idle cycles cost one array read.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Cycles one phase may span (calendar length); beyond it the kernel refuses rather than allocate.
MAX_SPAN_CYCLES = 1 << 28


@njit(cache=True)
def build_trees(src, dst_ptr, dst, router_x, router_y, link_target, n_routers):
    """The XY multicast tree of every packet as steps (channel uses of one flit).

    Returns ``(root_step[P], step_channel[S], first_child[S], next_sibling[S])``: step 0 of a
    packet is its injection port; the children of a step are the channels a flit copy takes at
    the router the step leads to (tree links, and the ejection port if that router's core is a
    destination), chained through ``first_child``/``next_sibling`` (-1 ends a chain).
    """
    n_packets = src.shape[0]
    capacity = max(16, 4 * n_packets)
    step_channel = np.empty(capacity, np.int64)
    first_child = np.empty(capacity, np.int64)
    next_sibling = np.empty(capacity, np.int64)
    root_step = np.empty(n_packets, np.int64)
    in_tree = np.full(n_routers, -1, np.int64)      # packet whose tree already reaches the router
    ejects = np.full(n_routers, -1, np.int64)       # packet already ejecting at the router
    step_at = np.empty(n_routers, np.int64)         # the step that reaches the router
    n_steps = 0
    for p in range(n_packets):
        for d_index in range(dst_ptr[p] - 1, dst_ptr[p + 1]):
            # d_index == dst_ptr[p] - 1 creates the root (injection) step.
            if n_steps + 2 * (n_routers + 1) > capacity:
                capacity = 2 * capacity + 4 * n_routers
                step_channel = _grown(step_channel, capacity)
                first_child = _grown(first_child, capacity)
                next_sibling = _grown(next_sibling, capacity)
            if d_index < dst_ptr[p]:
                s = src[p]
                root_step[p] = n_steps
                step_channel[n_steps] = 4 * n_routers + s
                first_child[n_steps] = -1
                next_sibling[n_steps] = -1
                in_tree[s] = p
                step_at[s] = n_steps
                n_steps += 1
                continue
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
                    _add_child(n_steps, link, step_at[here], step_channel, first_child, next_sibling)
                    n_steps += 1
                here = there
            if ejects[d] != p:
                ejects[d] = p
                _add_child(n_steps, 5 * n_routers + d, step_at[d], step_channel, first_child, next_sibling)
                n_steps += 1
    return root_step, step_channel[:n_steps], first_child[:n_steps], next_sibling[:n_steps]


@njit(cache=True)
def _grown(array, capacity):
    bigger = np.empty(capacity, array.dtype)
    bigger[:array.shape[0]] = array
    return bigger


@njit(cache=True)
def _add_child(step, channel, parent, step_channel, first_child, next_sibling):
    step_channel[step] = channel
    first_child[step] = -1
    next_sibling[step] = first_child[parent]
    first_child[parent] = step


# Columns of the event pool (one row per pending request of a flit copy) and of a cycle's batch.
GID, STEP, PACKET, NEXT = range(4)


@njit(cache=True)
def run_events(flits, inject_cycle, rank_order, first_gid, root_step, step_channel, first_child,
               next_sibling, chan_rate_num, chan_rate_den, chan_latency, chan_target, link_interchip,
               router_latency, n_routers):
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
    # Pending requests live in ``pool`` rows; ``pool[:, NEXT]`` chains the rows of one calendar
    # day (``calendar[cycle - base_cycle]`` is the first) and, separately, the free rows.
    pool = np.empty((1024, 4), np.int64)
    n_used = 0
    free = -1
    n_free = 0
    base_cycle = inject_cycle[rank_order[0]]
    calendar = np.full(1024, -1, np.int64)
    last_cycle = inject_cycle[rank_order[n_packets - 1]]
    next_packet = 0                                # next packet (in rank order) to inject
    batch = np.empty((1024, 3), np.int64)          # this cycle's requests: gid, step, packet
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
            for flit in range(flits[p]):
                batch[m, GID] = first_gid[p] + flit
                batch[m, STEP] = root_step[p]
                batch[m, PACKET] = p
                m += 1
        row = calendar[day] if day < calendar.shape[0] else -1
        while row >= 0:
            if m == batch.shape[0]:
                batch = _grown_rows(batch, 2 * m)
            batch[m, GID] = pool[row, GID]
            batch[m, STEP] = pool[row, STEP]
            batch[m, PACKET] = pool[row, PACKET]
            m += 1
            following = pool[row, NEXT]
            pool[row, NEXT] = free
            free = row
            n_free += 1
            row = following
        if m == 0:
            continue
        order = np.argsort(batch[:m, GID]) if m > 1 else np.zeros(1, np.int64)
        for j in range(m):
            gid = batch[order[j], GID]
            step = batch[order[j], STEP]
            p = batch[order[j], PACKET]
            channel = step_channel[step]
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
            if ready_day >= calendar.shape[0]:
                if ready_day >= MAX_SPAN_CYCLES:
                    raise ValueError("NoC: a phase spans more cycles than the kernel's calendar allows")
                longer = np.full(max(2 * calendar.shape[0], ready_day + 1), -1, np.int64)
                longer[:calendar.shape[0]] = calendar
                calendar = longer
            if n_free + pool.shape[0] - n_used < 5:   # a router has at most 5 outputs
                pool = _grown_rows(pool, 2 * pool.shape[0])
            child = first_child[step]
            while child >= 0:
                if free >= 0:
                    row = free
                    free = pool[row, NEXT]
                    n_free -= 1
                else:
                    row = n_used
                    n_used += 1
                pool[row, GID] = gid
                pool[row, STEP] = child
                pool[row, PACKET] = p
                pool[row, NEXT] = calendar[ready_day]
                calendar[ready_day] = row
                child = next_sibling[child]
    return channel_flits, channel_stalls, router_flits, packet_finish, hops, interchip


@njit(cache=True)
def _grown_rows(array, rows):
    bigger = np.empty((rows, array.shape[1]), array.dtype)
    bigger[:array.shape[0]] = array
    return bigger
