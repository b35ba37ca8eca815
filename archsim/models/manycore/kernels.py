"""Numba kernels of the fast engine: whole-core integrate and whole-layer fire over arrays."""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def integrate_core(x_axons, spiking, indptr, indices, weights, n_neurons, lanes, mac_lanes, setup):
    """Partial currents of one core and its dendrite cost.

    Spiking axons are event driven (only non-zero inputs are read); valued axons are MACs over
    every axon. An axon with ``k`` synapses occupies ``ceil(k / lanes)`` cycles.
    Returns (partial, cycles, synaptic_ops, macs, weight_reads, axon_reads).
    """
    partial = np.zeros(n_neurons, np.int64)
    cycles = setup
    sops = 0
    macs = 0
    reads = 0
    axon_reads = 0
    for a in range(x_axons.shape[0]):
        x = x_axons[a]
        k = indptr[a + 1] - indptr[a]
        if spiking[a]:
            if x == 0:
                continue
            c = (k + lanes - 1) // lanes
            sops += k
        else:
            c = (k + mac_lanes - 1) // mac_lanes
            macs += k
        cycles += c
        reads += c
        axon_reads += 1
        for j in range(indptr[a], indptr[a + 1]):
            partial[indices[j]] += weights[j] * x
    return partial, cycles, sops, macs, reads, axon_reads


@nb.njit(cache=True)
def fire_layer(kind, current, v, i_syn, decay_q, syn_decay_q, leak_q, threshold_q, v_reset_q, subtract,
               relu_m, relu_shift, qmax_act, frac, lo, hi):
    """One step of ``current.shape[0]`` neurons (quantize.py rules); updates v / i_syn in place."""
    n = current.shape[0]
    out = np.zeros(n, np.int64)
    for k in range(n):
        c = current[k]
        if kind == 0 or kind == 1:
            if kind == 1:
                s = ((i_syn[k] * syn_decay_q[k]) >> frac) + c
                i_syn[k] = min(max(s, lo), hi)
                c = i_syn[k]
            m = ((v[k] * decay_q[k]) >> frac) + leak_q[k] + c
            m = min(max(m, lo), hi)
            if m > threshold_q[k]:
                out[k] = 1
                m = m - threshold_q[k] if subtract else v_reset_q[k]
            v[k] = m
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
