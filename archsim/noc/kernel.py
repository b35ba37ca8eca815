"""The fast engine: Numba kernels that compute exactly what the reference stepper computes.

Instead of stepping every cycle, the kernel processes channel requests as events in the same
global order the stepper grants them: by (request cycle, flit arbitration rank), from a binary heap.
Each channel keeps only the index of its next free slot, which is exact for first-come
first-served arbitration with unbounded input buffers (see ``archsim/noc/__init__.py``): when
requests are taken in arbitration order, the slots already granted at or after the current cycle
form one contiguous run, so a request is granted ``max(next free slot, first slot at or after its
request cycle)``. Work is O(flit-hops x log(flits in flight)), independent of idle cycles.

Heap entries are (key, step, packet) with ``key = request_cycle << 32 | gid``: ``gid`` is the
flit's arbitration rank (flits numbered packet by packet, oldest packet first) and ``step`` the
position of the flit copy in its packet's multicast tree.
"""
from __future__ import annotations

import numpy as np
from numba import njit

GID_BITS = 32
GID_MASK = (1 << GID_BITS) - 1
MAX_CYCLE = (1 << (63 - GID_BITS)) - 1


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


@njit(cache=True)
def _before(key_a, step_a, key_b, step_b):
    return key_a < key_b or (key_a == key_b and step_a < step_b)


@njit(cache=True)
def _heap_push(keys, steps, owners, size, key, step, owner):
    """Insert at position ``size`` (capacity checked by the caller) and sift up."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if not _before(key, step, keys[parent], steps[parent]):
            break
        keys[i] = keys[parent]
        steps[i] = steps[parent]
        owners[i] = owners[parent]
        i = parent
    keys[i] = key
    steps[i] = step
    owners[i] = owner


@njit(cache=True)
def _heap_pop_root(keys, steps, owners, size):
    """Remove the root of a heap of ``size`` entries (the caller has read it)."""
    size -= 1
    key, step, owner = keys[size], steps[size], owners[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and _before(keys[child + 1], steps[child + 1], keys[child], steps[child]):
            child += 1
        if not _before(keys[child], steps[child], key, step):
            break
        keys[i] = keys[child]
        steps[i] = steps[child]
        owners[i] = owners[child]
        i = child
    keys[i] = key
    steps[i] = step
    owners[i] = owner


@njit(cache=True)
def run_events(flits, inject_cycle, first_gid, root_step, step_channel, first_child, next_sibling,
               chan_rate_num, chan_rate_den, chan_latency, chan_target, link_interchip,
               router_latency, n_routers):
    """Simulate every flit; returns the per-channel, per-router and per-packet counts.

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
    capacity = max(64, 2 * n_packets)
    keys = np.empty(capacity, np.int64)
    steps = np.empty(capacity, np.int64)
    owners = np.empty(capacity, np.int64)
    size = 0
    for p in range(n_packets):      # flit 0 of every packet; flit k+1 is queued when k is granted
        if inject_cycle[p] > MAX_CYCLE:
            raise ValueError("NoC: cycle count beyond the kernel's range")
        _heap_push(keys, steps, owners, size, (inject_cycle[p] << GID_BITS) | first_gid[p], root_step[p], p)
        size += 1
    eject_base = 5 * n_routers
    while size > 0:
        key, step, p = keys[0], steps[0], owners[0]
        _heap_pop_root(keys, steps, owners, size)
        size -= 1
        requested = key >> GID_BITS
        flit = (key & GID_MASK) - first_gid[p]
        channel = step_channel[step]
        num = chan_rate_num[channel]
        den = chan_rate_den[channel]
        slot = max(next_free_slot[channel], (requested * num + den - 1) // den)
        next_free_slot[channel] = slot + 1
        granted = slot * den // num
        channel_flits[channel] += 1
        channel_stalls[channel] += granted - requested
        arrival = granted + chan_latency[channel]
        # Room for this flit's children (at most 4 links and an ejection port) and its next flit.
        if size + 6 > capacity:
            capacity = 2 * capacity
            keys = _grown(keys, capacity)
            steps = _grown(steps, capacity)
            owners = _grown(owners, capacity)
        if step == root_step[p] and flit + 1 < flits[p]:
            _heap_push(keys, steps, owners, size, key + 1, step, p)
            size += 1
        if channel >= eject_base:
            if arrival > packet_finish[p]:
                packet_finish[p] = arrival
            continue
        if channel < 4 * n_routers:
            if flit == 0:
                hops += 1
            if link_interchip[channel]:
                interchip += 1
        router_flits[chan_target[channel]] += 1
        ready = arrival + router_latency
        if ready > MAX_CYCLE:
            raise ValueError("NoC: cycle count beyond the kernel's range")
        child_key = (ready << GID_BITS) | (key & GID_MASK)
        child = first_child[step]
        while child >= 0:
            _heap_push(keys, steps, owners, size, child_key, child, p)
            size += 1
            child = next_sibling[child]
    return channel_flits, channel_stalls, router_flits, packet_finish, hops, interchip
