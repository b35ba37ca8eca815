"""Numba kernels that count each engine's work on the real data of one tile and layer.

All layers are binary-input convolutions (see :mod:`.layers`), so every count below is a sum over
(sample-step ``n``, output position, kernel tap) of an output-side count times an input-side count;
:func:`tap_pair_sum` does that sum once for all engines:

* FE, LUT on:  reads  = K * sum tap_pair(1, nonzero k-groups over input channels)
* FE, LUT off: adds   = K * sum tap_pair(1, input spikes over channels)
* BE, sparse:  MACs   = sum tap_pair(non-zero dL/du over K, open windows over C of the layer below)
* WUE, LUT on: reads  = sum tap_pair(non-zero dL/du histories over K, non-zero spike histories over C)

The per-position sums (:func:`tap_sums`) are also each output-side entry's work, which
:func:`busiest_pe_sum` deals out to the PEs block by block (the busiest PE sets a block's time).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def tap_pair_sum(out_w, in_c, kh, kw, sh, sw, ph, pw):
    """sum over n, e, f, r, s of out_w[n, e, f] * in_c[n, e*sh + r - ph, f*sw + s - pw] (in-bounds taps)."""
    n_, e_, f_ = out_w.shape
    h_, w_ = in_c.shape[1], in_c.shape[2]
    total = 0
    for n in range(n_):
        for e in range(e_):
            for f in range(f_):
                ow = out_w[n, e, f]
                if ow == 0:
                    continue
                acc = 0
                for r in range(kh):
                    h = e * sh + r - ph
                    if h < 0 or h >= h_:
                        continue
                    for s in range(kw):
                        w = f * sw + s - pw
                        if w < 0 or w >= w_:
                            continue
                        acc += in_c[n, h, w]
                total += ow * acc
    return total


@njit(cache=True)
def tap_sums(in_c, e_, f_, kh, kw, sh, sw, ph, pw):
    """Per (n, e, f): sum over the in-bounds taps (r, s) of in_c[n, e*sh + r - ph, f*sw + s - pw]
    (the work of one output-side item at that position; :func:`tap_pair_sum` weighted by its count)."""
    n_ = in_c.shape[0]
    h_, w_ = in_c.shape[1], in_c.shape[2]
    out = np.zeros((n_, e_, f_), dtype=np.int64)
    for n in range(n_):
        for e in range(e_):
            for f in range(f_):
                acc = 0
                for r in range(kh):
                    h = e * sh + r - ph
                    if h < 0 or h >= h_:
                        continue
                    for s in range(kw):
                        w = f * sw + s - pw
                        if 0 <= w < w_:
                            acc += in_c[n, h, w]
                out[n, e, f] = acc
    return out


@njit(cache=True)
def busiest_pe_sum(base, per_pos, keep, k_, compact, pes):
    """Cycles of ``pes`` PEs taking work entries in (a, k, e, f) order, one entry per PE, each block of
    ``pes`` consecutive entries waiting for its busiest PE: the sum over blocks of the largest entry.

    Entry (a, k, e, f) has work base[a] + per_pos[a, e, f] (the same for every k); with ``compact`` only
    the entries with keep[a, k, e, f] are taken (the others are skipped, not given a PE)."""
    a_, e_, f_ = per_pos.shape
    total = 0
    block_max = 0
    filled = 0
    for a in range(a_):
        for k in range(k_):
            for e in range(e_):
                for f in range(f_):
                    if compact and not keep[a, k, e, f]:
                        continue
                    w = base[a] + per_pos[a, e, f]
                    if w > block_max:
                        block_max = w
                    filled += 1
                    if filled == pes:
                        total += block_max
                        block_max = 0
                        filled = 0
    if filled:
        total += block_max
    return total


@njit(cache=True)
def nonzero_groups(x, group, planes):
    """Per (n, h, w): how many k-groups of consecutive channels have a non-zero bit pattern, over bit planes."""
    n_, c_, h_, w_ = x.shape
    out = np.zeros((n_, h_, w_), dtype=np.int64)
    for n in range(n_):
        for g0 in range(0, c_, group):
            g1 = min(g0 + group, c_)
            for h in range(h_):
                for w in range(w_):
                    for p in range(planes):
                        for c in range(g0, g1):
                            if (x[n, c, h, w] >> p) & 1:
                                out[n, h, w] += 1
                                break
    return out


@njit(cache=True)
def set_bits(x, planes):
    """Per (n, h, w): set bits over channels and bit planes (the spikes a plain accumulator adds)."""
    n_, c_, h_, w_ = x.shape
    out = np.zeros((n_, h_, w_), dtype=np.int64)
    for n in range(n_):
        for c in range(c_):
            for h in range(h_):
                for w in range(w_):
                    v = x[n, c, h, w]
                    for p in range(planes):
                        out[n, h, w] += (v >> p) & 1
    return out


@njit(cache=True)
def nonzero_count(a):
    """Per (n, h, w): non-zero entries over axis 1 of a (N, C, H, W) array."""
    n_, c_, h_, w_ = a.shape
    out = np.zeros((n_, h_, w_), dtype=np.int64)
    for n in range(n_):
        for c in range(c_):
            for h in range(h_):
                for w in range(w_):
                    if a[n, c, h, w] != 0:
                        out[n, h, w] += 1
    return out


@njit(cache=True)
def history_counts(a, t0, t1, planes):
    """Per (b, h, w): channels (x bit planes) whose values over steps t0..t1-1 are not all zero.

    ``a`` is (T, B, C, H, W); with planes > 1 each bit plane of an input code is its own history.
    """
    _, b_, c_, h_, w_ = a.shape
    out = np.zeros((b_, h_, w_), dtype=np.int64)
    for b in range(b_):
        for c in range(c_):
            for h in range(h_):
                for w in range(w_):
                    for p in range(planes):
                        for t in range(t0, t1):
                            v = a[t, b, c, h, w]
                            bit = ((v >> p) & 1) if planes > 1 else (1 if v != 0 else 0)
                            if bit:
                                out[b, h, w] += 1
                                break
    return out


@njit(cache=True)
def gather_columns(x, rows, out, e_, f_, kh, kw, sh, sw, ph, pw):
    """im2col for selected patch rows: out[i] (C*R*S) = the padded inputs (N, C, H, W) under patch rows[i]
    (flat over N, E, F); the inverse of :func:`scatter_columns`."""
    c_, h_, w_ = x.shape[1], x.shape[2], x.shape[3]
    for i in range(rows.shape[0]):
        row = rows[i]
        n = row // (e_ * f_)
        rest = row % (e_ * f_)
        e = rest // f_
        f = rest % f_
        col = 0
        for c in range(c_):
            for r in range(kh):
                h = e * sh + r - ph
                for s in range(kw):
                    w = f * sw + s - pw
                    out[i, col] = x[n, c, h, w] if 0 <= h < h_ and 0 <= w < w_ else 0
                    col += 1
    return out


@njit(cache=True)
def scatter_columns(cols, rows, n_, c_, h_, w_, e_, f_, kh, kw, sh, sw, ph, pw):
    """col2im for selected patch rows: add cols[i] (C*R*S, integer-valued floats) of patch rows[i]
    (flat over N, E, F) back onto integer inputs (N, C, H, W)."""
    out = np.zeros((n_, c_, h_, w_), dtype=np.int64)
    for i in range(rows.shape[0]):
        row = rows[i]
        n = row // (e_ * f_)
        rest = row % (e_ * f_)
        e = rest // f_
        f = rest % f_
        col = 0
        for c in range(c_):
            for r in range(kh):
                h = e * sh + r - ph
                for s in range(kw):
                    w = f * sw + s - pw
                    if 0 <= h < h_ and 0 <= w < w_:
                        out[n, c, h, w] += np.int64(np.rint(cols[i, col]))
                    col += 1
    return out
