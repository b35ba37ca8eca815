"""The fast engine: Numba kernels that compute exactly what the reference stepper computes.

:func:`build_trees` lays out every packet's XY multicast tree once (packets on the same route
share one); :func:`run_cycles` then runs the routers' state (input buffers as slot counts, credit
counters, request queues per output, credits and flits in flight) in whole arrays. Exactness: it
executes the reference stepper's three steps per cycle (``archsim/noc/reference.py``) on the
same state, in an order that cannot change any result: within a cycle, one output's grants read
and change only that output's queue and credit counter, and everything a grant causes (a credit
back, a request at the next router) lands in a later cycle (every channel and every credit wire
is at least one cycle long). Speed comes from touching only what changes: a cycle visits the
outputs with waiting flits, not every router; a flit copy costs O(1) per channel it uses, and
an output O(1) per cycle that flits wait for it, except while it lacks a credit: then it is
parked until a credit comes back and its stall cycles are counted in one go (equal by
construction: without a credit it can grant nothing, and the stepper would add the same waiting
count every cycle). Flits waiting at their source are no objects at all: an injection port's
queue is its core's packets in rank order behind a cursor. A cycle in which nothing is active
costs a few array reads, so idle stretches are skipped (nothing can happen in them but credits
arriving, which are applied). In the cycle loop, shared steps are closures (Numba inlines them) and
no helper takes arrays as arguments: such a call costs atomic reference counts each time.

Unlike a grant-time formula (each output's next free slot), this stays exact when buffers fill:
whether a flit can leave depends on credits that come back from downstream later, so the engine
must step the cycles in which flits wait.
"""
from __future__ import annotations

import numpy as np
from numba import njit

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

    Returns ``(root_step[P], tree_steps[P], steps[S, 3])`` (int32 steps): ``tree_steps[p]`` is
    the number of steps (channel uses) of packet p's tree; step ``root_step[p]`` is packet p's
    injection port; the children of a step are the channels a flit copy takes at the router the
    step leads to (tree links, and the ejection port if that router's core is a destination),
    chained through the FIRST_CHILD / NEXT_SIBLING columns (-1 ends a chain).
    """
    n_packets = src.shape[0]
    steps = np.empty((max(16, 4 * n_packets), 3), np.int32)
    root_step = np.empty(n_packets, np.int64)
    tree_steps = np.empty(n_packets, np.int64)
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
            tree_steps[p] = tree_steps[table[entry]]
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
        tree_steps[p] = n_steps - root_step[p]
    return root_step, tree_steps, steps[:n_steps]


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


# Columns of a request (one row = one cache line): its flit's gid, tree step, packet, the buffer
# slot it holds, the cycle it became ready, and its neighbours in the list it is chained into (a
# calendar day: NEXT only; a channel queue: NEXT and PREV).
GID, STEP, PACKET, SLOT, READY, NEXT, PREV = range(7)
REQUEST_COLUMNS = 8
# Columns of a channel: first and last request of its queue, requests waiting.
HEAD, TAIL, LENGTH = range(3)
# Columns of a calendar day (a ring of days, longer than anything is scheduled ahead): first and
# last request becoming ready, their number, first credit arriving.
FIRST, LAST, COUNT, CREDITS = range(4)


@njit(cache=True)
def run_cycles(src, flits, inject_cycle, rank_order, first_gid, root_step, tree_steps, steps, chan_rate_num,
               chan_rate_den, chan_latency, chan_target, link_interchip, router_latency, n_routers,
               buffer_flits, credit_latency):
    """Simulate every flit with input buffers and credits; returns the per-channel, per-buffer,
    per-router and per-packet counts.

    ``rank_order`` lists packets oldest first; ``first_gid[p]`` is the rank of packet p's flit 0.
    Returns ``(channel_flits, channel_stalls, channel_no_credit, channel_peak_waiting,
    buffer_peak, router_flits, packet_finish, hops, interchip_flits)``.

    The state is the reference stepper's, held in arrays. An injection port's queue is its core's
    packets in rank order (arbitration order at the source: every flit of a packet requests the
    port in the packet's injection cycle), read through a cursor, with a count of the flits
    already injected and waiting. Past the source, a pool of *requests* (a flit copy waiting for
    a channel), chained either into the calendar day on which it becomes ready or into its
    channel's queue, which is kept in arbitration order (a request joins at the tail and moves
    forward past the same cycle's younger ones: few, so no sort is needed); a pool of *buffer
    slots* (copies still to leave, the channel that fed the buffer); a credit counter per link and
    injection port; credit returns chained into the day they arrive. A cycle touches only the
    channels with waiting requests and a credit (the active list; those without one are parked);
    a cycle with none costs one calendar read.
    """
    n_packets = flits.shape[0]
    n_channels = chan_rate_num.shape[0]
    n_links = 4 * n_routers
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
    credit = np.full(n_buffered, buffer_flits, np.int64)
    # Each core's packets in rank order (a counting sort): the queue of its injection port, read
    # from cursor[core] (the packet at its head) and sent[core] (that packet's flits gone).
    by_core = np.empty(n_packets, np.int64)
    core_start = np.zeros(n_routers + 1, np.int64)
    for p in range(n_packets):
        core_start[src[p] + 1] += 1
    for r in range(n_routers):
        core_start[r + 1] += core_start[r]
    cursor = core_start[:n_routers].copy()
    for p in rank_order:
        by_core[cursor[src[p]]] = p
        cursor[src[p]] += 1
    cursor[:] = core_start[:n_routers]
    sent = np.zeros(n_routers, np.int64)
    # Storage sized once, so that nothing grows inside the loop. Live requests: at most 5 copies
    # per occupied buffer slot, and one per credit on its way back; a buffer slot is occupied, or
    # its credit on the way back, only while its credit is in use: at most 5N x buffer_flits of
    # them. (And never more than the copies of the whole phase, each making at most one request
    # and one credit.)
    copies = 0
    for p in range(n_packets):
        copies += flits[p] * tree_steps[p]
    held_slots = min(n_buffered * buffer_flits, copies)
    request = np.empty((min(6 * held_slots, 2 * copies) + 1, REQUEST_COLUMNS), np.int64)
    free_request = -1
    n_requests = 0
    slot_left = np.empty(held_slots + 1, np.int64)     # copies still to leave (free slots: next free)
    slot_buffer = np.empty(held_slots + 1, np.int64)   # the channel feeding the buffer
    free_slot = -1
    n_slots = 0
    base_cycle = inject_cycle[rank_order[0]] if n_packets else 0
    horizon = credit_latency + router_latency + 1
    for channel in range(n_channels):
        horizon = max(horizon, chan_latency[channel] + router_latency + 1)
    days = 1
    while days < horizon:
        days *= 2
    ring = days - 1                                # day of a cycle: (cycle - base_cycle) & ring
    calendar = np.full((days, 4), -1, np.int64)
    calendar[:, COUNT] = 0
    queue = np.zeros((n_channels, 3), np.int64)
    queue[:, HEAD] = -1
    queue[:, TAIL] = -1
    active = np.empty(n_channels, np.int64)
    n_active = 0
    # A channel whose flits wait without a credit is parked: off the active list until a credit
    # comes back, its stall cycles counted in one go when a credit or a request arrives (every
    # waiting request stalls every cycle, for want of a credit in each cycle that has a slot).
    parked_since = np.full(n_channels, -1, np.int64)
    n_parked = 0
    pending_requests = 0           # requests in the calendar
    pending_credits = 0            # credits in the calendar
    next_packet = 0
    cycle = base_cycle
    # (Closures, which Numba inlines: a helper taking the arrays as arguments would cost atomic
    # reference counts per call.)
    def settle(channel, cycle):
        """Count a parked channel's stall cycles up to ``cycle`` (excluded), as the grant loop
        would have one cycle at a time: every waiting request stalls every cycle, for want of a
        credit in each cycle that has a slot."""
        start = parked_since[channel]
        if start >= 0 and cycle > start:
            num = chan_rate_num[channel]
            den = chan_rate_den[channel]
            slotted = cycle - start if num >= den else \
                (cycle * num + den - 1) // den - (start * num + den - 1) // den
            channel_stalls[channel] += queue[channel, LENGTH] * (cycle - start)
            channel_no_credit[channel] += queue[channel, LENGTH] * slotted
            parked_since[channel] = cycle

    def joined(channel, count, n_active):
        """``count`` more requests wait for ``channel`` (a parked one's queue is seen by no grant
        loop: its peak is kept here); returns the new length of the active list."""
        waiting = queue[channel, LENGTH]
        queue[channel, LENGTH] = waiting + count
        if parked_since[channel] >= 0:
            channel_peak[channel] = max(channel_peak[channel], waiting + count)
        if waiting == 0:
            active[n_active] = channel
            n_active += 1
        return n_active

    while True:
        day = (cycle - base_cycle) & ring
        arriving = calendar[day, COUNT]
        if (arriving == 0 and n_active == 0 and calendar[day, CREDITS] < 0 and
                (next_packet >= n_packets or inject_cycle[rank_order[next_packet]] != cycle)):
            if next_packet >= n_packets and pending_requests == 0:
                if n_parked == 0:
                    break
                if pending_credits == 0:
                    raise ValueError("NoC: deadlock (every waiting flit lacks a credit)")
            cycle += 1
            continue
        # ---- what reaches a channel this cycle: credits back, the packets injected, the
        # requests past a router; a parked channel's stall cycles are counted before its state
        # changes.
        node = calendar[day, CREDITS]
        while node >= 0:
            channel = request[node, GID]
            settle(channel, cycle)
            credit[channel] += 1
            if parked_since[channel] >= 0:            # its flits may go again this cycle
                parked_since[channel] = -1
                n_parked -= 1
                active[n_active] = channel
                n_active += 1
            following = request[node, NEXT]
            request[node, NEXT] = free_request
            free_request = node
            pending_credits -= 1
            node = following
        calendar[day, CREDITS] = -1
        while next_packet < n_packets and inject_cycle[rank_order[next_packet]] == cycle:
            p = rank_order[next_packet]
            next_packet += 1
            channel = n_links + src[p]
            settle(channel, cycle)
            n_active = joined(channel, flits[p], n_active)
        node = calendar[day, FIRST]
        while node >= 0:
            following = request[node, NEXT]
            channel = steps[request[node, STEP], CHANNEL]
            settle(channel, cycle)
            request[node, READY] = cycle
            if queue[channel, LENGTH] == 0:
                request[node, NEXT] = -1
                request[node, PREV] = -1
                queue[channel, HEAD] = node
                queue[channel, TAIL] = node
            else:                                     # in arbitration order: it passes only the
                gid = request[node, GID]              # same cycle's younger requests
                before = queue[channel, TAIL]
                while before >= 0 and request[before, READY] == cycle and request[before, GID] > gid:
                    before = request[before, PREV]
                after = queue[channel, HEAD] if before < 0 else request[before, NEXT]
                request[node, PREV] = before
                request[node, NEXT] = after
                if before < 0:
                    queue[channel, HEAD] = node
                else:
                    request[before, NEXT] = node
                if after < 0:
                    queue[channel, TAIL] = node
                else:
                    request[after, PREV] = node
            n_active = joined(channel, 1, n_active)
            node = following
        pending_requests -= arriving
        calendar[day, FIRST] = -1
        calendar[day, LAST] = -1
        calendar[day, COUNT] = 0
        # ---- every active channel grants this cycle's slots to its oldest requests
        kept = 0
        for a in range(n_active):
            channel = active[a]
            num = chan_rate_num[channel]
            den = chan_rate_den[channel]
            if num == den:
                free = 1
            else:
                free = ((cycle + 1) * num + den - 1) // den - (cycle * num + den - 1) // den
            waiting = queue[channel, LENGTH]
            have = credit[channel] if channel < n_buffered else waiting
            grants = min(waiting, free, have)
            for g in range(grants):
                if n_links <= channel < n_buffered:       # the head of a core's packets
                    core = channel - n_links
                    p = by_core[cursor[core]]
                    gid = first_gid[p] + sent[core]
                    step = root_step[p]
                    sent[core] += 1
                    if sent[core] == flits[p]:
                        sent[core] = 0
                        cursor[core] += 1
                    held = -1
                else:
                    node = queue[channel, HEAD]
                    queue[channel, HEAD] = request[node, NEXT]
                    gid = request[node, GID]
                    step = request[node, STEP]
                    p = request[node, PACKET]
                    held = request[node, SLOT]
                channel_flits[channel] += 1
                if channel < n_buffered:
                    credit[channel] -= 1
                    buffer_peak[channel] = max(buffer_peak[channel], buffer_flits - credit[channel])
                if held >= 0:
                    slot_left[held] -= 1
                    if slot_left[held] == 0:              # last copy out: the credit goes back,
                        returned_day = (cycle + credit_latency - base_cycle) & ring
                        request[node, GID] = slot_buffer[held]     # carried by the granted request
                        request[node, NEXT] = calendar[returned_day, CREDITS]
                        calendar[returned_day, CREDITS] = node
                        pending_credits += 1
                        slot_left[held] = free_slot
                        free_slot = held
                    else:
                        request[node, NEXT] = free_request
                        free_request = node
                arrival = cycle + chan_latency[channel]
                if channel >= n_buffered:                 # ejection port: delivered to the core
                    packet_finish[p] = max(packet_finish[p], arrival)
                    continue
                ready_day = (arrival + router_latency - base_cycle) & ring
                if channel < n_links:
                    hops += gid == first_gid[p]
                    interchip += link_interchip[channel]
                router_flits[chan_target[channel]] += 1
                if free_slot >= 0:
                    slot = free_slot
                    free_slot = slot_left[slot]
                else:
                    if n_slots == slot_left.shape[0]:
                        raise AssertionError("NoC kernel: buffer slot bound exceeded")
                    slot = n_slots
                    n_slots += 1
                slot_buffer[slot] = channel
                copies = 0
                child = steps[step, FIRST_CHILD]
                while child >= 0:
                    if free_request >= 0:
                        fresh = free_request
                        free_request = request[fresh, NEXT]
                    else:
                        if n_requests == request.shape[0]:
                            raise AssertionError("NoC kernel: request pool bound exceeded")
                        fresh = n_requests
                        n_requests += 1
                    request[fresh, GID] = gid
                    request[fresh, STEP] = child
                    request[fresh, PACKET] = p
                    request[fresh, SLOT] = slot
                    request[fresh, NEXT] = -1
                    if calendar[ready_day, LAST] < 0:
                        calendar[ready_day, FIRST] = fresh
                    else:
                        request[calendar[ready_day, LAST], NEXT] = fresh
                    calendar[ready_day, LAST] = fresh
                    calendar[ready_day, COUNT] += 1
                    copies += 1
                    child = steps[child, NEXT_SIBLING]
                slot_left[slot] = copies
                pending_requests += copies
            left = waiting - grants
            queue[channel, LENGTH] = left
            if left > 0:
                if channel < n_links or channel >= n_buffered:
                    request[queue[channel, HEAD], PREV] = -1
                channel_stalls[channel] += left
                if have < free:                           # a slot was there, the credit was not
                    channel_no_credit[channel] += left
                channel_peak[channel] = max(channel_peak[channel], left)
                if channel < n_buffered and credit[channel] == 0:
                    parked_since[channel] = cycle + 1     # counted up to here; parked until a credit
                    n_parked += 1
                else:
                    active[kept] = channel
                    kept += 1
            else:
                queue[channel, TAIL] = -1
        n_active = kept
        cycle += 1
    return (channel_flits, channel_stalls, channel_no_credit, channel_peak, buffer_peak,
            router_flits, packet_finish, hops, interchip)


@njit(cache=True)
def _grown_rows(array, rows):
    """``array`` with room for ``rows`` rows (the new ones uninitialised)."""
    bigger = np.empty((rows,) + array.shape[1:], array.dtype)
    bigger[:array.shape[0]] = array
    return bigger
