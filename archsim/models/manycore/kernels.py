"""Numba kernels of the fast engine: whole-stage integrate, whole-layer fire, route-phase packets."""
from __future__ import annotations

import numba as nb
import numpy as np


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
                    core_passes, lanes, mac_lanes, setup):
    """Partial currents of every core of a stage and each core's dendrite cycles, in one call.

    Spiking axons are event driven (only non-zero inputs are read); valued axons are MACs over
    every axon. A core of one pass spends ``ceil(k / lanes)`` cycles on an axon with ``k`` synapses
    and reads it once; a folded core (``core_passes`` > 1, ``slot_pass`` = pass of each slot) reads
    the axon once in every pass with synapses into it, ``ceil(k_pass / lanes)`` cycles each
    (:mod:`.passes`). Each core starts with ``setup`` cycles. Arrays are the flat ones of :mod:`.stage`.

    Returns (partial sums per slot, cycles per core, and per core: synaptic_ops, macs, active_macs (the
    MACs of non-zero values: synaptic operations in ANN mode), weight_reads, axon_reads), so that the
    counts can be booked to each core's layer.
    """
    n_cores = axon_ptr.shape[0] - 1
    partial = np.zeros(slot_ptr[n_cores], np.int64)
    cycles = np.full(n_cores, setup, np.int64)
    per_pass = np.zeros(max(1, np.max(core_passes)) if n_cores else 1, np.int64)
    sops = np.zeros(n_cores, np.int64)
    macs = np.zeros(n_cores, np.int64)
    active_macs = np.zeros(n_cores, np.int64)
    reads = np.zeros(n_cores, np.int64)
    axon_reads = np.zeros(n_cores, np.int64)
    for core in range(n_cores):
        base = slot_ptr[core]
        passes = core_passes[core]
        c_total = 0
        for a in range(axon_ptr[core], axon_ptr[core + 1]):
            x = space[axon_source[a]]
            k = syn_ptr[a + 1] - syn_ptr[a]
            if axon_spiking[a]:
                if x == 0:
                    continue
                width = lanes
                sops[core] += k
            else:
                width = mac_lanes
                macs[core] += k
                if x != 0:
                    active_macs[core] += k
            if passes == 1:
                c_total += (k + width - 1) // width
                axon_reads[core] += 1
            else:
                per_pass[:passes] = 0
                for j in range(syn_ptr[a], syn_ptr[a + 1]):
                    per_pass[slot_pass[base + indices[j]]] += 1
                for q in range(passes):
                    if per_pass[q]:
                        c_total += (per_pass[q] + width - 1) // width
                        axon_reads[core] += 1
            for j in range(syn_ptr[a], syn_ptr[a + 1]):
                partial[base + indices[j]] += weights[j] * x
        cycles[core] += c_total
        reads[core] = c_total
    return partial, cycles, sops, macs, active_macs, reads, axon_reads


@nb.njit(cache=True)
def route_packets(outputs, core_ids, spiking, neuron_ptr, neurons, dest_ptr, dest_cores, per_packet,
                  cycles_per_packet, n_cores_total):
    """The route phase's packets, in the order owners send them, as Packets arrays.

    A spiking owner sends one single-flit multicast packet per spiking neuron with receivers; a valued
    owner one per ``per_packet`` neurons (its chunk's receivers, ascending). Each core injects one
    packet every ``cycles_per_packet`` cycles from cycle 0. Returns
    ``(src, dst_ptr, dst, inject_cycle, last_injection)``.
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
        sent = 0
        if spiking[o]:
            for q in range(neuron_ptr[o], neuron_ptr[o + 1]):
                n = neurons[q]
                if outputs[n] == 0 or dest_ptr[n + 1] == dest_ptr[n]:
                    continue
                for d in range(dest_ptr[n], dest_ptr[n + 1]):
                    dst.append(dest_cores[d])
                src.append(core_ids[o])
                inject.append(sent * cycles_per_packet)
                ptr.append(len(dst))
                sent += 1
        else:
            for start in range(neuron_ptr[o], neuron_ptr[o + 1], per_packet):
                m = 0
                for q in range(start, min(start + per_packet, neuron_ptr[o + 1])):
                    n = neurons[q]
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
                inject.append(sent * cycles_per_packet)
                ptr.append(len(dst))
                sent += 1
        last = max(last, sent * cycles_per_packet)
    return (np.array(src, np.int64) if len(src) else np.zeros(0, np.int64), np.array(ptr, np.int64),
            np.array(dst, np.int64) if len(dst) else np.zeros(0, np.int64),
            np.array(inject, np.int64) if len(inject) else np.zeros(0, np.int64), last)
