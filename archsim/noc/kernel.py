"""The fast engine: Numba kernels that compute exactly what the reference stepper computes.

:func:`build_trees` lays out every packet's XY multicast tree once (packets on the same route
share one); :func:`run_cycles` then runs the routers' state (input buffers as slot counts, credit
counters, request queues per output, credits and flits in flight) in whole arrays. Exactness: it
executes the reference stepper's three steps per cycle (``archsim/noc/reference.py``) on the
same state, in an order that cannot change any result: within a cycle, one output's grants read
and change only that output's queue and credit counter, and everything a grant causes (a credit
back, a request at the next router) lands in a later cycle (every channel and every credit wire
is at least one cycle long). Speed comes from touching only what changes: a cycle visits the
outputs with waiting flits, not every router; a flit copy costs O(1) per channel it uses, plus
its share of sorting one cycle's new requests by age; a cycle in which nothing waits costs one
array read, so idle stretches are skipped (equal by construction: nothing can happen in them but
credits arriving, which are applied).

Unlike a grant-time formula (each output's next free slot), this stays exact when buffers fill:
whether a flit can leave depends on credits that come back from downstream later, so the engine
must step the cycles in which flits wait.
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
def build_trees(src, dst_ptr, dst, rank_order, router_x, router_y, link_target, n_routers):
    """The XY multicast tree of every packet as steps (channel uses of one flit).

    Trees are laid out in ``rank_order`` (oldest packet first), so that packets in flight at the
    same time have their steps close together in memory. Packets with the same source and the same
    destination list share one tree (a hash table finds them: a chip's spikes repeat a few routing
    table entries); the engine only reads trees, and a flit's path and counts depend on its tree
    alone, so sharing changes no result.

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
    table_size = 1
    while table_size < 2 * n_packets:
        table_size *= 2
    table = np.full(table_size, -1, np.int64)       # hash table of packets whose tree was built
    n_steps = 0
    for p in rank_order:
        entry = _route_hash(src, dst_ptr, dst, p) & (table_size - 1)
        while table[entry] >= 0 and not _same_route(src, dst_ptr, dst, p, table[entry]):
            entry = (entry + 1) & (table_size - 1)
        if table[entry] >= 0:
            root_step[p] = root_step[table[entry]]
            continue
        table[entry] = p
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
def _route_hash(src, dst_ptr, dst, p):
    """A hash of packet p's source and destination list (int64 arithmetic wraps)."""
    h = src[p] * 0x5851F42D4C957F2D + 1
    for k in range(dst_ptr[p], dst_ptr[p + 1]):
        h = (h ^ dst[k]) * 0x100000001B3
        h ^= h >> 29
    return h


@njit(cache=True)
def _same_route(src, dst_ptr, dst, p, q):
    """Packets p and q have the same source and the same destination list."""
    if src[p] != src[q] or dst_ptr[p + 1] - dst_ptr[p] != dst_ptr[q + 1] - dst_ptr[q]:
        return False
    offset = dst_ptr[q] - dst_ptr[p]
    for k in range(dst_ptr[p], dst_ptr[p + 1]):
        if dst[k] != dst[k + offset]:
            return False
    return True


@njit(cache=True)
def _add_child(steps, step, channel, parent):
    steps[step, CHANNEL] = channel
    steps[step, FIRST_CHILD] = -1
    steps[step, NEXT_SIBLING] = steps[parent, FIRST_CHILD]
    steps[parent, FIRST_CHILD] = step


# The simulation's storage grows by doubling when it fills (rarely: it is sized from the phase).
MIN_NODES = 1024


@njit(cache=True)
def run_cycles(flits, inject_cycle, rank_order, first_gid, root_step, steps, chan_rate_num,
               chan_rate_den, chan_latency, chan_target, link_interchip, router_latency, n_routers,
               buffer_flits, credit_latency):
    """Simulate every flit with input buffers and credits; returns the per-channel, per-buffer,
    per-router and per-packet counts.

    ``rank_order`` lists packets oldest first; ``first_gid[p]`` is the rank of packet p's flit 0.
    Returns ``(channel_flits, channel_stalls, channel_no_credit, channel_peak_waiting,
    buffer_peak, router_flits, packet_finish, hops, interchip_flits)``.

    The state is the reference stepper's, held in arrays: a pool of *requests* (a flit copy
    waiting for a channel: gid, tree step, packet, the buffer slot it holds), chained either into
    the calendar day on which it becomes ready or into its channel's queue (oldest first); a pool
    of *buffer slots* (copies still to leave, the channel that fed the buffer); a credit counter
    per link and injection port; credit returns chained into the day they arrive. A cycle touches
    only the channels with waiting requests (the active list); a cycle with none costs one
    calendar read (credits arriving in it are applied, nothing else can happen in it).
    """
    n_packets = flits.shape[0]
    n_channels = chan_rate_num.shape[0]
    n_buffered = 5 * n_routers                  # links and injection ports carry credits
    channel_flits = np.zeros(n_channels, np.int64)
    channel_stalls = np.zeros(n_channels, np.int64)
    channel_no_credit = np.zeros(n_channels, np.int64)
    channel_peak = np.zeros(n_channels, np.int64)
    buffer_peak = np.zeros(n_buffered, np.int64)
    router_flits = np.zeros(n_routers, np.int64)
    packet_finish = np.zeros(n_packets, np.int64)
    hops = 0
    interchip = 0
    if n_packets == 0:
        return (channel_flits, channel_stalls, channel_no_credit, channel_peak, buffer_peak,
                router_flits, packet_finish, hops, interchip)
    credit = np.full(n_buffered, buffer_flits, np.int64)
    # request pool
    size = MIN_NODES
    node_gid = np.empty(size, np.int64)
    node_step = np.empty(size, np.int64)
    node_packet = np.empty(size, np.int64)
    node_slot = np.empty(size, np.int64)
    node_next = np.empty(size, np.int64)
    free_node = -1
    n_nodes = 0
    # buffer-slot pool
    slot_size = MIN_NODES
    slot_left = np.empty(slot_size, np.int64)
    slot_buffer = np.empty(slot_size, np.int64)
    free_slot = -1
    n_slots = 0
    # calendar (day = cycle - base_cycle): ready requests and arriving credits
    base_cycle = inject_cycle[rank_order[0]]
    days = 256
    day_head = np.full(days, -1, np.int64)
    day_tail = np.full(days, -1, np.int64)
    day_count = np.zeros(days, np.int64)
    credit_head = np.full(days, -1, np.int64)
    # channel queues and the active list
    queue_head = np.full(n_channels, -1, np.int64)
    queue_tail = np.full(n_channels, -1, np.int64)
    queue_len = np.zeros(n_channels, np.int64)
    active = np.empty(n_channels, np.int64)
    n_active = 0
    batch = np.empty(256, np.int64)
    keys = np.empty(256, np.int64)
    spare = np.empty(256, np.int64)
    pending_requests = 0           # requests in the calendar
    pending_credits = 0            # credits in the calendar
    next_packet = 0
    cycle = base_cycle
    while True:
        day = cycle - base_cycle
        if day < days:
            node = credit_head[day]
            while node >= 0:
                credit[node_gid[node]] += 1
                following = node_next[node]
                node_next[node] = free_node
                free_node = node
                pending_credits -= 1
                node = following
            credit_head[day] = -1
        # ---- gather this cycle's new requests: injected flits, then those ready after a router
        m = day_count[day] if day < days else 0
        last_packet = next_packet
        while last_packet < n_packets and inject_cycle[rank_order[last_packet]] == cycle:
            m += flits[rank_order[last_packet]]
            last_packet += 1
        if m == 0 and n_active == 0:
            if last_packet >= n_packets and pending_requests == 0:
                break
            cycle += 1
            continue
        if m > batch.shape[0]:
            batch = np.empty(2 * m, np.int64)
            keys = np.empty(2 * m, np.int64)
            spare = np.empty(2 * m, np.int64)
        n = 0
        for q in range(next_packet, last_packet):
            p = rank_order[q]
            for flit in range(flits[p]):
                if free_node < 0 and n_nodes == size:
                    size *= 2
                    node_gid = _grown_rows(node_gid, size)
                    node_step = _grown_rows(node_step, size)
                    node_packet = _grown_rows(node_packet, size)
                    node_slot = _grown_rows(node_slot, size)
                    node_next = _grown_rows(node_next, size)
                if free_node >= 0:
                    node = free_node
                    free_node = node_next[node]
                else:
                    node = n_nodes
                    n_nodes += 1
                node_gid[node] = first_gid[p] + flit
                node_step[node] = root_step[p]
                node_packet[node] = p
                node_slot[node] = -1
                batch[n] = node
                n += 1
        next_packet = last_packet
        if day < days:
            node = day_head[day]
            while node >= 0:
                batch[n] = node
                n += 1
                node = node_next[node]
            pending_requests -= day_count[day]
            day_head[day] = -1
            day_tail[day] = -1
            day_count[day] = 0
        if m > 0:
            index_bits = 1
            while (1 << index_bits) < m:
                index_bits += 1
            for j in range(m):
                keys[j] = (node_gid[batch[j]] << index_bits) | j
            _sort_keys(keys, m, spare)
            mask = (1 << index_bits) - 1
            for j in range(m):                       # join the channel queues, oldest first
                node = batch[keys[j] & mask]
                channel = steps[node_step[node], CHANNEL]
                node_next[node] = -1
                if queue_len[channel] == 0:
                    queue_head[channel] = node
                    active[n_active] = channel
                    n_active += 1
                else:
                    node_next[queue_tail[channel]] = node
                queue_tail[channel] = node
                queue_len[channel] += 1
        # ---- every active channel grants this cycle's slots to its oldest requests
        kept = 0
        blocked = 0
        for a in range(n_active):
            channel = active[a]
            num = chan_rate_num[channel]
            den = chan_rate_den[channel]
            if num == den:
                free = 1
            else:
                free = ((cycle + 1) * num + den - 1) // den - (cycle * num + den - 1) // den
            waiting = queue_len[channel]
            have = credit[channel] if channel < n_buffered else waiting
            grants = min(waiting, free, have)
            blocked += have == 0
            for g in range(grants):
                node = queue_head[channel]
                queue_head[channel] = node_next[node]
                gid = node_gid[node]
                step = node_step[node]
                p = node_packet[node]
                held = node_slot[node]
                channel_flits[channel] += 1
                if channel < n_buffered:
                    credit[channel] -= 1
                    buffer_peak[channel] = max(buffer_peak[channel], buffer_flits - credit[channel])
                returned_day = -1
                if held >= 0:
                    slot_left[held] -= 1
                    if slot_left[held] == 0:              # last copy out: the credit goes back
                        returned_day = cycle + credit_latency - base_cycle
                        node_gid[node] = slot_buffer[held]
                        slot_left[held] = free_slot
                        free_slot = held
                arrival = cycle + chan_latency[channel]
                ready_day = arrival + router_latency - base_cycle
                grow_to = max(returned_day, ready_day)
                if grow_to >= days:
                    if grow_to >= MAX_SPAN_CYCLES:
                        raise ValueError("NoC: a phase spans more cycles than the kernel's calendar allows")
                    days = max(2 * days, grow_to + 1)
                    day_head = _grown_filled(day_head, days, -1)
                    day_tail = _grown_filled(day_tail, days, -1)
                    day_count = _grown_filled(day_count, days, 0)
                    credit_head = _grown_filled(credit_head, days, -1)
                if returned_day >= 0:                     # the granted request becomes the credit
                    node_next[node] = credit_head[returned_day]
                    credit_head[returned_day] = node
                    pending_credits += 1
                else:
                    node_next[node] = free_node
                    free_node = node
                if channel >= n_buffered:                 # ejection port: delivered to the core
                    packet_finish[p] = max(packet_finish[p], arrival)
                    continue
                if channel < 4 * n_routers:
                    hops += gid == first_gid[p]
                    interchip += link_interchip[channel]
                router_flits[chan_target[channel]] += 1
                if free_slot < 0 and n_slots == slot_size:
                    slot_size *= 2
                    slot_left = _grown_rows(slot_left, slot_size)
                    slot_buffer = _grown_rows(slot_buffer, slot_size)
                if free_slot >= 0:
                    slot = free_slot
                    free_slot = slot_left[slot]
                else:
                    slot = n_slots
                    n_slots += 1
                slot_buffer[slot] = channel
                copies = 0
                child = steps[step, FIRST_CHILD]
                while child >= 0:
                    if free_node < 0 and n_nodes == size:
                        size *= 2
                        node_gid = _grown_rows(node_gid, size)
                        node_step = _grown_rows(node_step, size)
                        node_packet = _grown_rows(node_packet, size)
                        node_slot = _grown_rows(node_slot, size)
                        node_next = _grown_rows(node_next, size)
                    if free_node >= 0:
                        fresh = free_node
                        free_node = node_next[fresh]
                    else:
                        fresh = n_nodes
                        n_nodes += 1
                    node_gid[fresh] = gid
                    node_step[fresh] = child
                    node_packet[fresh] = p
                    node_slot[fresh] = slot
                    node_next[fresh] = -1
                    if day_tail[ready_day] < 0:
                        day_head[ready_day] = fresh
                    else:
                        node_next[day_tail[ready_day]] = fresh
                    day_tail[ready_day] = fresh
                    day_count[ready_day] += 1
                    copies += 1
                    child = steps[child, NEXT_SIBLING]
                slot_left[slot] = copies
                pending_requests += copies
            left = waiting - grants
            queue_len[channel] = left
            channel_stalls[channel] += left
            if have < free:                               # a slot was there, the credit was not
                channel_no_credit[channel] += left
            channel_peak[channel] = max(channel_peak[channel], left)
            if left > 0:
                active[kept] = channel
                kept += 1
        n_active = kept
        if (n_active > 0 and blocked == n_active and pending_requests == 0 and pending_credits == 0
                and next_packet >= n_packets):
            raise ValueError("NoC: deadlock (every waiting flit lacks a credit)")
        cycle += 1
    return (channel_flits, channel_stalls, channel_no_credit, channel_peak, buffer_peak,
            router_flits, packet_finish, hops, interchip)


@njit(cache=True)
def _sort_keys(keys, m, spare):
    """Sort ``keys[:m]`` in place (``spare``: scratch space of ``m`` entries). A cycle's requests
    are runs already in order (new packets' flits; the flits each earlier cycle's grants queued
    for it, granted in order), so: nothing to do for one run, insertion for a few keys, else
    merge the runs pairwise (the work grows with the log of the number of runs, not of keys)."""
    runs = 1
    for j in range(1, m):
        runs += keys[j] < keys[j - 1]
    if runs == 1:
        return
    if m <= 32:
        for j in range(1, m):
            key = keys[j]
            i = j - 1
            while i >= 0 and keys[i] > key:
                keys[i + 1] = keys[i]
                i -= 1
            keys[i + 1] = key
        return
    source, target = keys, spare
    while runs > 1:
        runs = 0
        a = 0
        while a < m:
            middle = a + 1
            while middle < m and source[middle] >= source[middle - 1]:
                middle += 1
            stop = middle
            if stop < m:
                stop += 1
                while stop < m and source[stop] >= source[stop - 1]:
                    stop += 1
            i, j, out = a, middle, a
            while i < middle and j < stop:
                if source[i] <= source[j]:
                    target[out] = source[i]
                    i += 1
                else:
                    target[out] = source[j]
                    j += 1
                out += 1
            while i < middle:
                target[out] = source[i]
                i += 1
                out += 1
            while j < stop:
                target[out] = source[j]
                j += 1
                out += 1
            runs += 1
            a = stop
        source, target = target, source
    if source is not keys:
        keys[:m] = source[:m]


@njit(cache=True)
def _grown_filled(array, length, fill):
    """``array`` extended to ``length`` entries with ``fill``."""
    longer = np.full(length, fill, array.dtype)
    longer[:array.shape[0]] = array
    return longer


@njit(cache=True)
def _grown_rows(array, rows):
    """``array`` with room for ``rows`` rows (the new ones uninitialised)."""
    bigger = np.empty((rows,) + array.shape[1:], array.dtype)
    bigger[:array.shape[0]] = array
    return bigger
