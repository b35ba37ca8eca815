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


# Pending requests wait in chunks of CHUNK entries chained per calendar day (few cache misses per
# day, not one per request); an entry's columns are the flit's gid, its tree step and its packet.
CHUNK = 16
GID, STEP, PACKET = range(3)
# The simulation's scalars, kept in one small array so that it can stop to grow storage and resume.
(HOPS, INTERCHIP, CYCLE, LAST_CYCLE, NEXT_PACKET, GATHERED, NEXT_REQUEST, N_REQUESTS, INDEX_BITS,
 FREE_CHUNK, N_FREE_CHUNKS, N_CHUNKS, NEEDED) = range(13)
# What _advance returns: finished, or which storage must grow before it can go on.
DONE, GROW_BATCH, GROW_CALENDAR, GROW_CHUNKS = range(4)


@njit(cache=True)
def run_events(flits, inject_cycle, rank_order, first_gid, root_step, steps, chan_rate_num,
               chan_rate_den, chan_latency, chan_target, link_interchip, router_latency, n_routers):
    """Simulate every flit; returns the per-channel, per-router and per-packet counts.

    ``rank_order`` lists packets oldest first; ``first_gid[p]`` is the rank of packet p's flit 0.
    Returns ``(channel_flits, channel_stalls, channel_peak_waiting, router_flits, packet_finish,
    hops, interchip_flits)``. The work is in :func:`_advance`; this driver only grows its storage when it asks (so that no
    array is reallocated inside the per-request loop, which keeps reference counting out of it).
    """
    n_packets = flits.shape[0]
    n_channels = chan_rate_num.shape[0]
    next_free_slot = np.zeros(n_channels, np.int64)
    channel_flits = np.zeros(n_channels, np.int64)
    channel_stalls = np.zeros(n_channels, np.int64)
    channel_peak = np.zeros(n_channels, np.int64)
    router_flits = np.zeros(n_routers, np.int64)
    packet_finish = np.zeros(n_packets, np.int64)
    if n_packets == 0:
        return channel_flits, channel_stalls, channel_peak, router_flits, packet_finish, 0, 0
    base_cycle = inject_cycle[rank_order[0]]
    state = np.zeros(13, np.int64)
    state[CYCLE] = base_cycle - 1
    state[LAST_CYCLE] = inject_cycle[rank_order[n_packets - 1]]
    state[FREE_CHUNK] = -1
    batch = np.empty((256, 3), np.int64)         # one cycle's requests: gid, step, packet
    keys = np.empty(256, np.int64)               # their arbitration order
    spare = np.empty(256, np.int64)              # scratch space to sort keys
    entries = np.empty((256, CHUNK, 3), np.int32)
    chunk_fill = np.zeros(256, np.int64)
    chunk_next = np.empty(256, np.int64)         # next chunk of the same day, or of the free list
    day_first = np.full(256, -1, np.int64)       # per day (cycle - base_cycle): first chunk,
    day_last = np.full(256, -1, np.int64)        # last chunk,
    day_count = np.zeros(256, np.int64)          # and requests waiting
    while True:
        status = _advance(state, base_cycle, flits, inject_cycle, rank_order, first_gid, root_step,
                          steps, chan_rate_num, chan_rate_den, chan_latency, chan_target,
                          link_interchip, router_latency, n_routers, next_free_slot, channel_flits,
                          channel_stalls, channel_peak, router_flits, packet_finish, batch, keys, spare, entries,
                          chunk_fill, chunk_next, day_first, day_last, day_count)
        if status == DONE:
            break
        if status == GROW_BATCH:
            batch = np.empty((2 * state[NEEDED], 3), np.int64)
            keys = np.empty(2 * state[NEEDED], np.int64)
            spare = np.empty(2 * state[NEEDED], np.int64)
        elif status == GROW_CALENDAR:
            if state[NEEDED] >= MAX_SPAN_CYCLES:
                raise ValueError("NoC: a phase spans more cycles than the kernel's calendar allows")
            days = max(2 * day_first.shape[0], state[NEEDED] + 1)
            day_first = _grown_filled(day_first, days, -1)
            day_last = _grown_filled(day_last, days, -1)
            day_count = _grown_filled(day_count, days, 0)
        else:
            entries = _grown_rows(entries, 2 * entries.shape[0])
            chunk_fill = _grown_filled(chunk_fill, entries.shape[0], 0)
            chunk_next = _grown_filled(chunk_next, entries.shape[0], -1)
    return (channel_flits, channel_stalls, channel_peak, router_flits, packet_finish, state[HOPS],
            state[INTERCHIP])


@njit(cache=True)
def _advance(state, base_cycle, flits, inject_cycle, rank_order, first_gid, root_step, steps,
             chan_rate_num, chan_rate_den, chan_latency, chan_target, link_interchip, router_latency,
             n_routers, next_free_slot, channel_flits, channel_stalls, channel_peak, router_flits,
             packet_finish, batch, keys, spare, entries, chunk_fill, chunk_next, day_first, day_last, day_count):
    """Run the calendar from where ``state`` stands until done (DONE) or until storage must grow
    (GROW_*, with ``state[NEEDED]`` the size needed); no work is lost by stopping.

    Each busy cycle: gather its requests (the flits of packets injected in it, then the requests
    waiting for the day, freeing their chunks), sort them by gid, grant them in that order, and
    queue the requests that follow each grant (one per child step, on the day the flit is ready
    at the next router).
    """
    n_packets = flits.shape[0]
    cycle = state[CYCLE]
    while True:
        if not state[GATHERED]:
            if cycle >= state[LAST_CYCLE]:
                return DONE
            cycle += 1
            day = cycle - base_cycle
            m = day_count[day] if day < day_count.shape[0] else 0
            last_packet = state[NEXT_PACKET]
            while last_packet < n_packets and inject_cycle[rank_order[last_packet]] == cycle:
                m += flits[rank_order[last_packet]]
                last_packet += 1
            if m == 0:
                continue
            if m > batch.shape[0]:
                state[CYCLE] = cycle - 1
                state[NEEDED] = m
                return GROW_BATCH
            n = 0
            for q in range(state[NEXT_PACKET], last_packet):
                p = rank_order[q]
                for flit in range(flits[p]):
                    batch[n, GID] = first_gid[p] + flit
                    batch[n, STEP] = root_step[p]
                    batch[n, PACKET] = p
                    n += 1
            state[NEXT_PACKET] = last_packet
            chunk = day_first[day] if day < day_first.shape[0] else -1
            while chunk >= 0:
                for i in range(chunk_fill[chunk]):
                    batch[n, GID] = entries[chunk, i, GID]
                    batch[n, STEP] = entries[chunk, i, STEP]
                    batch[n, PACKET] = entries[chunk, i, PACKET]
                    n += 1
                following = chunk_next[chunk]
                chunk_next[chunk] = state[FREE_CHUNK]
                state[FREE_CHUNK] = chunk
                state[N_FREE_CHUNKS] += 1
                chunk = following
            # Arbitration order: a key packs the gid above the batch index.
            index_bits = 1
            while (1 << index_bits) < m:
                index_bits += 1
            for j in range(m):
                keys[j] = (batch[j, GID] << index_bits) | j
            _sort_keys(keys, m, spare)
            state[GATHERED] = 1
            state[NEXT_REQUEST] = 0
            state[N_REQUESTS] = m
            state[INDEX_BITS] = index_bits
        m = state[N_REQUESTS]
        mask = (1 << state[INDEX_BITS]) - 1
        for j in range(state[NEXT_REQUEST], m):
            k = keys[j] & mask
            gid = batch[k, GID]
            step = batch[k, STEP]
            p = batch[k, PACKET]
            channel = steps[step, CHANNEL]
            num = chan_rate_num[channel]
            den = chan_rate_den[channel]
            if num == den:                            # one flit per cycle: no division needed
                slot = max(next_free_slot[channel], cycle)
                granted = slot
                waiting = slot - cycle
            else:
                slot = max(next_free_slot[channel], (cycle * num + den - 1) // den)
                granted = slot * den // num
                # Flits left waiting after this cycle's grants: granted slots in later cycles.
                waiting = slot + 1 - ((cycle + 1) * num + den - 1) // den
            arrival = granted + chan_latency[channel]
            ejection = channel >= 5 * n_routers
            ready_day = arrival + router_latency - base_cycle
            if not ejection:
                status = DONE
                if ready_day >= day_first.shape[0]:
                    status = GROW_CALENDAR
                elif state[N_FREE_CHUNKS] + chunk_fill.shape[0] - state[N_CHUNKS] < 5:
                    status = GROW_CHUNKS              # a router has at most 5 outputs
                if status != DONE:
                    state[CYCLE] = cycle
                    state[NEXT_REQUEST] = j
                    state[NEEDED] = ready_day
                    return status
            next_free_slot[channel] = slot + 1
            channel_flits[channel] += 1
            channel_stalls[channel] += granted - cycle
            channel_peak[channel] = max(channel_peak[channel], waiting)
            if ejection:                              # delivered to the core
                packet_finish[p] = max(packet_finish[p], arrival)
                continue
            if channel < 4 * n_routers:
                state[HOPS] += gid == first_gid[p]
                state[INTERCHIP] += link_interchip[channel]
            router_flits[chan_target[channel]] += 1
            state[LAST_CYCLE] = max(state[LAST_CYCLE], ready_day + base_cycle)
            child = steps[step, FIRST_CHILD]
            while child >= 0:
                chunk = day_last[ready_day]
                if chunk < 0 or chunk_fill[chunk] == CHUNK:
                    if state[FREE_CHUNK] >= 0:
                        fresh = state[FREE_CHUNK]
                        state[FREE_CHUNK] = chunk_next[fresh]
                        state[N_FREE_CHUNKS] -= 1
                    else:
                        fresh = state[N_CHUNKS]
                        state[N_CHUNKS] += 1
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
                day_count[ready_day] += 1
                child = steps[child, NEXT_SIBLING]
        state[GATHERED] = 0


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
