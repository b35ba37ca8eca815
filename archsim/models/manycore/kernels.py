"""Numba kernels of the fast engine: the core pipeline's recurrence, whole-stage integrate, whole-layer
fire, route-phase packets."""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def line_item(n, start, bank, service, depths, d_prev, s_hist, pop_ptr, port_free, bank_cycles, bank_stage,
              stalls, high, row, extra=0, extra_stage=-1):
    """Item ``n`` through a core's line of stages (:mod:`.pipeline`), exactly; its exit cycle.

    The recurrence of a tandem line with finite FIFOs and blocking after service, in the clocking of
    :func:`.pipeline.run_line`. With ``S_j(n)`` the cycle stage ``j`` starts item ``n``, ``D_j(n)`` the
    cycle it hands it on, ``s_j`` its service, ``B_j`` the depth of the FIFO behind stage ``j``:

        S_j(n) = max(D_{j-1}(n), D_j(n-1), P_b(n))      D_{-1}(n) = start; P_b(n): port of the item's
                                                        bank free (bank stage only), = S of the bank's
                                                        previous read + bank_cycles
        D_j(n) = max(S_j(n) + s_j, S_{j+1}(n - B_j) + 1)   (last stage: S_j(n) + s_j)

    The ``+ 1``: a slot freed in cycle t is seen by the stage before in cycle t + 1. Full-FIFO stall
    cycles are ``D_j(n) - S_j(n) - s_j``, busy-port ones ``P_b(n) - max(D_{j-1}(n), D_j(n-1))`` when
    positive (``stalls[row, 0]``, ``stalls[row, 1]``; ``high[row]`` the high-water marks). A FIFO's occupancy at the end of cycle ``D_{j-1}(n)`` is
    ``n + 1`` minus the items already taken out of it (``S_j(m) <= D_{j-1}(n)``, counted with
    ``pop_ptr``); occupancy only rises at a push, so the maximum over pushes is the high-water mark.
    ``s_hist[j]`` keeps the last ``R >= max(B) + 2`` start cycles of stage ``j`` (a ring, R a power of 2).
    Stage ``extra_stage`` works ``extra`` more cycles on this item (``s_j + extra``: a per-event cost).
    """
    n_stages = service.shape[0]
    mask = s_hist.shape[1] - 1
    t_in = start
    for j in range(n_stages):
        t = max(t_in, d_prev[j])
        if j == bank_stage and bank >= 0:
            free = port_free[bank]
            if free > t:
                stalls[row, 1] += free - t
                t = free
            port_free[bank] = t + bank_cycles
        s_hist[j, n & mask] = t
        if j > 0:
            p = pop_ptr[j - 1]
            while p <= n and s_hist[j, p & mask] <= t_in:
                p += 1
            pop_ptr[j - 1] = p
            if n + 1 - p > high[row, j - 1]:
                high[row, j - 1] = n + 1 - p
        done = t + service[j]
        if j == extra_stage:
            done += extra
        out = done
        if j < n_stages - 1:
            m = n - depths[j]
            if m >= 0 and s_hist[j + 1, m & mask] + 1 > out:
                out = s_hist[j + 1, m & mask] + 1
            stalls[row, 0] += out - done
        d_prev[j] = out
        t_in = out
    return t_in


@nb.njit(cache=True)
def line_state(n_stages, depths, n_banks):
    """Fresh state of one line for :func:`line_item`: (d_prev, s_hist, pop_ptr, port_free)."""
    ring = 1
    while ring < (np.max(depths) if depths.shape[0] else 0) + 2:
        ring *= 2
    return (np.zeros(n_stages, np.int64), np.zeros((n_stages, ring), np.int64),
            np.zeros(n_stages - 1, np.int64), np.zeros(n_banks, np.int64))


@nb.njit(cache=True)
def fire_lines(groups, start, service, depths, stalls, high, group_extra):
    """Each owner core's fire line (``groups[k]`` neuron groups, no bank): exit cycles per owner.

    ``group_extra`` (all owners' groups in order): the write-back's extra cycles on each group (spike
    out). ``stalls[k]`` (full FIFO, busy port) and ``high[k]`` (per FIFO) are filled per owner.
    """
    finish = np.full(groups.shape[0], start, np.int64)
    g = 0
    last = service.shape[0] - 1
    for k in range(groups.shape[0]):
        d_prev, s_hist, pop_ptr, port_free = line_state(service.shape[0], depths, 1)
        for n in range(groups[k]):
            finish[k] = line_item(n, start, -1, service, depths, d_prev, s_hist, pop_ptr, port_free, 1, -1,
                                  stalls, high, k, group_extra[g], last)
            g += 1
    return finish


@nb.njit(cache=True)
def arrival_lines(owner, arrival, n_owners, service, depths):
    """Lines whose items arrive over time: item ``n`` of owner ``owner[n]`` enters at ``arrival[n]``
    (items of an owner in ascending arrival). Returns each owner's exit cycle (0 without items)."""
    finish = np.zeros(n_owners, np.int64)
    n_stages = service.shape[0]
    d_prev = np.zeros((n_owners, n_stages), np.int64)
    count = np.zeros(n_owners, np.int64)
    stalls = np.zeros((n_owners, 2), np.int64)
    high = np.zeros((n_owners, max(n_stages - 1, 1)), np.int64)
    _, s_hist, pop_ptr, port_free = line_state(n_stages, depths, 1)
    hist = np.zeros((n_owners, n_stages, s_hist.shape[1]), np.int64)
    ptr = np.zeros((n_owners, max(n_stages - 1, 1)), np.int64)
    for n in range(owner.shape[0]):
        k = owner[n]
        finish[k] = line_item(count[k], arrival[n], -1, service, depths, d_prev[k], hist[k], ptr[k], port_free, 1,
                              -1, stalls, high, k)
        count[k] += 1
    return finish


@nb.njit(cache=True)
def fire_layer(kind, current, v, i_syn, s_prev, decay_q, syn_decay_q, leak_q, threshold_q, v_reset_q, subtract,
               relu_m, relu_shift, qmax_act, frac, lo, hi):
    """One step of ``current.shape[0]`` neurons (quantize.py rules); updates v / i_syn / s_prev in place.

    ``s_prev`` holds each neuron's spike of the previous step (what a subtract reset takes off now).
    """
    n = current.shape[0]
    out = np.zeros(n, np.int64)
    for k in range(n):
        c = current[k]
        if kind == 0 or kind == 1:
            if kind == 1:
                s = ((i_syn[k] * syn_decay_q[k]) >> frac) + c
                i_syn[k] = min(max(s, lo), hi)
                c = i_syn[k]
            if subtract and s_prev[k]:
                c = c - threshold_q[k]
            m = ((v[k] * decay_q[k]) >> frac) + leak_q[k] + c
            m = min(max(m, lo), hi)
            if m > threshold_q[k]:
                out[k] = 1
                if not subtract:
                    m = v_reset_q[k]
            v[k] = m
            s_prev[k] = out[k]
        elif kind == 2:
            m = ((v[k] * decay_q[k]) >> frac) + leak_q[k] + c
            v[k] = min(max(m, lo), hi)
            out[k] = v[k]
        elif kind == 3:
            out[k] = 1 if c > threshold_q[k] else 0
        elif kind == 4:
            y = (c * relu_m + (1 << (relu_shift - 1))) >> relu_shift
            out[k] = min(max(y, 0), qmax_act)
        else:
            out[k] = c
    return out


@nb.njit(cache=True)
def integrate_stage(space, axon_ptr, axon_source, axon_spiking, syn_ptr, indices, weights, slot_ptr, slot_pass,
                    core_passes, lanes, mac_lanes, setup, service, depths, n_banks, bank_cycles, axon_in_cycles):
    """Partial currents of every core of a stage and each core's integrate cycles, in one call.

    Spiking axons are event driven (only non-zero inputs are read); valued axons are MACs over
    every axon. A core streams, pass after pass (``core_passes``, ``slot_pass`` = pass of each slot,
    :mod:`.passes`) and axon after axon within a pass, the *words* of each axon's synapses into that
    pass: ``ceil(k_pass / width)`` words of up to ``width`` synapses (``lanes``, or ``mac_lanes`` for a
    valued axon), each read once from the axon buffer per pass. Every word goes through the core's
    integrate line (:func:`line_item`: axon front end, synapse read from bank ``(axon + word) % n_banks``,
    dendrite) from cycle ``setup``; the front end spends ``axon_in_cycles`` more on an axon's first word
    of a pass (the message in: reading the axon entry). Arrays are the flat ones of :mod:`.stage`.

    Returns (partial sums per slot, cycles per core, and per core: synaptic_ops, macs, active_macs (the
    MACs of non-zero values: synaptic operations in ANN mode), weight_reads, axon_reads, stalls [full
    FIFO, busy port], FIFO high-water marks [axon, synapse]).
    """
    n_cores = axon_ptr.shape[0] - 1
    partial = np.zeros(slot_ptr[n_cores], np.int64)
    cycles = np.full(n_cores, setup, np.int64)
    max_passes = max(1, np.max(core_passes)) if n_cores else 1
    sops = np.zeros(n_cores, np.int64)
    macs = np.zeros(n_cores, np.int64)
    active_macs = np.zeros(n_cores, np.int64)
    reads = np.zeros(n_cores, np.int64)
    axon_reads = np.zeros(n_cores, np.int64)
    stalls = np.zeros((n_cores, 2), np.int64)
    high = np.zeros((n_cores, 2), np.int64)
    max_axons = 0
    for core in range(n_cores):
        max_axons = max(max_axons, axon_ptr[core + 1] - axon_ptr[core])
    per_pass = np.zeros((max_passes, max_axons), np.int64)     # synapses of each axon in each pass
    for core in range(n_cores):
        base = slot_ptr[core]
        passes = core_passes[core]
        first = axon_ptr[core]
        d_prev, s_hist, pop_ptr, port_free = line_state(service.shape[0], depths, n_banks)
        n = 0
        finish = setup
        for a in range(first, axon_ptr[core + 1]):
            x = space[axon_source[a]]
            k = syn_ptr[a + 1] - syn_ptr[a]
            if axon_spiking[a]:
                if x == 0:
                    continue
                sops[core] += k
            else:
                macs[core] += k
                if x != 0:
                    active_macs[core] += k
            if passes == 1:
                per_pass[0, a - first] = k
                for j in range(syn_ptr[a], syn_ptr[a + 1]):
                    partial[base + indices[j]] += weights[j] * x
            else:
                for j in range(syn_ptr[a], syn_ptr[a + 1]):
                    slot = base + indices[j]
                    per_pass[slot_pass[slot], a - first] += 1
                    partial[slot] += weights[j] * x
        for q in range(passes):
            for a in range(first, axon_ptr[core + 1]):
                k = per_pass[q, a - first]
                if k == 0:
                    continue
                per_pass[q, a - first] = 0
                width = lanes if axon_spiking[a] else mac_lanes
                words = (k + width - 1) // width
                axon_reads[core] += 1
                reads[core] += words
                for w in range(words):
                    finish = line_item(n, setup, (a - first + w) % n_banks, service, depths, d_prev, s_hist,
                                       pop_ptr, port_free, bank_cycles, 1, stalls, high, core,
                                       axon_in_cycles if w == 0 else 0, 0)
                    n += 1
        cycles[core] = finish
    return partial, cycles, sops, macs, active_macs, reads, axon_reads, stalls, high


@nb.njit(cache=True)
def route_packets(outputs, core_ids, spiking, neuron_ptr, neurons, dest_ptr, dest_cores, per_packet,
                  cycles_per_packet, n_cores_total, ready, message_out_cycles=0):
    """The route phase's packets, in the order owners send them, as Packets arrays.

    A spiking owner sends one single-flit multicast packet per spiking neuron with receivers; a valued
    owner one per ``per_packet`` neurons (its chunk's receivers, ascending). Each core injects its
    packets one after another from cycle 0, a packet not before ``ready`` (per stage output: the cycle it
    is produced; zeros when every output is there at the phase start): a packet holds the router
    ``cycles_per_packet`` cycles plus ``message_out_cycles`` per receiving core (the message out to each
    destination) before the next one is injected. Returns ``(src, dst_ptr, dst, inject_cycle,
    last_injection)`` (``last_injection``: when the last router is free).
    """
    n_owners = core_ids.shape[0]
    src = []
    inject = []
    ptr = [0]
    dst = []
    last = 0
    seen = np.full(n_cores_total, -1, np.int64)
    chunk_dst = np.empty(n_cores_total, np.int64)
    for o in range(n_owners):
        free = 0                            # the first cycle the core's router can inject again
        if spiking[o]:
            for q in range(neuron_ptr[o], neuron_ptr[o + 1]):
                n = neurons[q]
                if outputs[n] == 0 or dest_ptr[n + 1] == dest_ptr[n]:
                    continue
                for d in range(dest_ptr[n], dest_ptr[n + 1]):
                    dst.append(dest_cores[d])
                src.append(core_ids[o])
                free = max(free, ready[n])
                inject.append(free)
                free += cycles_per_packet + message_out_cycles * (dest_ptr[n + 1] - dest_ptr[n])
                ptr.append(len(dst))
        else:
            for start in range(neuron_ptr[o], neuron_ptr[o + 1], per_packet):
                m = 0
                produced = 0
                for q in range(start, min(start + per_packet, neuron_ptr[o + 1])):
                    n = neurons[q]
                    produced = max(produced, ready[n])
                    for d in range(dest_ptr[n], dest_ptr[n + 1]):
                        c = dest_cores[d]
                        if seen[c] < 0:
                            seen[c] = 1
                            chunk_dst[m] = c
                            m += 1
                if m == 0:
                    continue
                chosen = np.sort(chunk_dst[:m])
                for i in range(m):
                    dst.append(chosen[i])
                    seen[chosen[i]] = -1
                src.append(core_ids[o])
                free = max(free, produced)
                inject.append(free)
                free += cycles_per_packet + message_out_cycles * m
                ptr.append(len(dst))
        last = max(last, free)
    return (np.array(src, np.int64) if len(src) else np.zeros(0, np.int64), np.array(ptr, np.int64),
            np.array(dst, np.int64) if len(dst) else np.zeros(0, np.int64),
            np.array(inject, np.int64) if len(inject) else np.zeros(0, np.int64), last)
