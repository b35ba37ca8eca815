"""Reference steppers: each engine in plain Python, one work item per PE per clock, on small shapes.

The executable specification of :mod:`.engines` (same micro-architecture, read there; synaptic steppers
take one projection, neuron steppers a layer): tables are really
built entry by entry, really read with the input's bit pattern, MACs really skipped. Evenly spread work
(table builds of the FE, neuron lanes, the index generator) advances a PE array one clock each time all
its PEs have taken an item; synaptic work goes as whole entries, one per PE, a block of PEs lasting as
long as its busiest PE (:func:`blocks_of_pes`). They return the engine's work *and* its
arithmetic results, which must equal the fast path's (:mod:`.datapath`) bit for bit.
"""
from __future__ import annotations

import numpy as np

from archsim.models.h2learn import engines, fixed
from archsim.models.h2learn.engines import EngineWork


class PeArray:
    """``width`` PEs that each take one item per clock; :meth:`drain` ends a phase."""

    def __init__(self, width: int):
        self.width = width
        self.cycles = 0
        self._busy = 0

    def issue(self) -> None:
        self._busy += 1
        if self._busy == self.width:
            self.cycles += 1
            self._busy = 0

    def drain(self) -> None:
        if self._busy:
            self.cycles += 1
            self._busy = 0


def blocks_of_pes(entry_work: list, pes: int) -> int:
    """Clocks of ``pes`` PEs that take the entries in order, one per PE and ``pes`` per block, each doing its
    entry's items one per clock, a block ending when all its PEs are done."""
    cycles = 0
    for b0 in range(0, len(entry_work), pes):
        block = [PeArray(1) for _ in entry_work[b0:b0 + pes]]
        for pe, count in zip(block, entry_work[b0:b0 + pes]):
            for _ in range(count):
                pe.issue()
        cycles += max(pe.cycles for pe in block)
    return cycles


def _taps(layer, e, f):
    """(r, s, h, w) of the in-bounds kernel taps of output position (e, f)."""
    _, _, r_, s_ = layer.kernel_shape
    sh, sw = layer.stride
    ph, pw = layer.padding
    _, h_, w_ = layer.in_shape
    for r in range(r_):
        h = e * sh + r - ph
        if 0 <= h < h_:
            for s in range(s_):
                w = f * sw + s - pw
                if 0 <= w < w_:
                    yield r, s, h, w


def _build_table(values) -> tuple[list[int], int]:
    """All 2^k subset sums of ``values``, each from a smaller one plus one value; and the adds used."""
    table = [0] * (1 << len(values))
    adds = 0
    for pattern in range(1, len(table)):
        low = pattern & -pattern
        rest = pattern ^ low
        table[pattern] = table[rest] + values[low.bit_length() - 1]
        adds += rest != 0
    return table, adds


def fe_reference(layer, x: np.ndarray, lut: bool, params):
    """FE synaptic phase of one projection ``layer`` on its source's codes x (T, Bt, *in_shape):
    (work, integer currents (T, Bt, K, E, F))."""
    steps, batch = x.shape[:2]
    n_ = steps * batch
    x4 = x.reshape((n_,) + layer.in_shape).astype(np.int64)
    w = layer.kernel()
    k_, c_, r_, s_ = w.shape
    _, e_, f_ = layer.out_shape
    planes = layer.input_planes
    work = EngineWork()
    pe = PeArray(params.fe_pes)
    cur = np.zeros((n_, k_, e_, f_), dtype=np.int64)
    items = np.zeros((n_, k_, e_, f_), dtype=np.int64)     # LUT reads or adds of each output neuron-step
    sops = 0
    passes = 1
    build_cycles = 0
    if lut:
        g_ = params.fe_group
        groups = [list(range(c0, min(c0 + g_, c_))) for c0 in range(0, c_, g_)]
        tables = {}
        for k in range(k_):
            for r in range(r_):
                for s in range(s_):
                    for gi, chans in enumerate(groups):
                        vals = [int(w[k, c, r, s]) for c in chans] + [0] * (g_ - len(chans))
                        table, adds = _build_table(vals)
                        tables[k, r, s, gi] = table
                        work.add("fe_adder", "add", adds)
                        work.add("fe_lut", "write", len(table))
                        for _ in table:
                            pe.issue()
        pe.drain()
        passes = engines.ceil_div(len(tables) * 2 ** g_, params.fe_pes * params.fe_lut_entries)
        build_cycles = pe.cycles
        for n in range(n_):
            for e in range(e_):
                for f in range(f_):
                    for r, s, h, wc in _taps(layer, e, f):
                        for gi, chans in enumerate(groups):
                            for p in range(planes):
                                pattern = sum(((int(x4[n, c, h, wc]) >> p) & 1) << i for i, c in enumerate(chans))
                                if not pattern:
                                    continue
                                for k in range(k_):
                                    cur[n, k, e, f] += tables[k, r, s, gi][pattern] << p
                                    work.add("fe_lut", "read", 1)
                                    work.add("fe_adder", "add", 1)
                                    items[n, k, e, f] += 1
    else:
        for n in range(n_):
            for e in range(e_):
                for f in range(f_):
                    for r, s, h, wc in _taps(layer, e, f):
                        for c in range(c_):
                            for p in range(planes):
                                if (int(x4[n, c, h, wc]) >> p) & 1:
                                    for k in range(k_):
                                        cur[n, k, e, f] += int(w[k, c, r, s]) << p
                                        work.add("fe_adder", "add", 1)
                                        items[n, k, e, f] += 1
    for n in range(n_):            # synaptic_ops: existing synapses (non-zero weights) a non-zero input reaches
        for e in range(e_):
            for f in range(f_):
                for r, s, h, wc in _taps(layer, e, f):
                    for c in range(c_):
                        if x4[n, c, h, wc] != 0:
                            sops += sum(1 for k in range(k_) if w[k, c, r, s] != 0)
    work.stats["synaptic_ops"] = sops
    if lut:
        work.stats.update(lut_tables=len(tables), lut_reads=work.actions.get("fe_lut", {}).get("read", 0),
                          lut_passes=passes)
    # output-stationary: one output neuron-step per PE, in (n, k, e, f) order, after the table build
    work.cycles = build_cycles + engines.book_blocks(work, blocks_of_pes([int(v) for v in items.flat], params.fe_pes),
                                                     int(items.sum()), params.fe_pes)
    engines.fe_buffers(work, layer, n_, passes, params)
    return work, cur.reshape((steps, batch, k_, e_, f_))


def fe_neuron_reference(layer, cur: np.ndarray, params):
    """FE neuron lanes on the summed currents (T, Bt, K, E, F): (work, membrane u, output s)."""
    if layer.bias_q is not None:
        cur = cur + layer.bias_q[None, None, :, None, None]
    steps, batch = cur.shape[:2]
    u = np.zeros(cur.shape, dtype=np.int64)
    s_out = np.zeros(cur.shape, dtype=fixed.output_dtype(layer))
    lanes = PeArray(params.fe_neuron_lanes)
    for t in range(steps):
        prev_u = u[t - 1] if t else np.zeros_like(u[0])
        prev_s = s_out[t - 1] if t else np.zeros_like(s_out[0])
        u[t], s_out[t] = fixed.neuron_step(layer, prev_u, prev_s, cur[t], params)
        for _ in range(u[t].size):
            lanes.issue()
    lanes.drain()
    work = EngineWork()
    engines.fe_neurons(work, layer, steps * batch, params)
    work.cycles = lanes.cycles
    return work, u, s_out


def be_unit_reference(layer, du: np.ndarray, params) -> EngineWork:
    """BE gradient unit over the layer's dL/du (T, Bt, K, E, F), one neuron-step per lane per clock."""
    n_ = du.shape[0] * du.shape[1]
    work = EngineWork()
    lanes = PeArray(params.be_neuron_lanes)
    nonzero = 0
    for value in du.flat:
        nonzero += value != 0
        lanes.issue()
    lanes.drain()
    engines.be_gradient_unit(work, layer, n_, int(nonzero), params)
    work.cycles = lanes.cycles
    if params.be_sparsity:        # the index generator compacts the non-zero flags of dL/du
        _index_generator(work, du.size, params)
    return work


def be_spatial_reference(layer, du: np.ndarray, open_src: np.ndarray, params):
    """BE W^T dL/du of one projection ``layer`` whose source has ``open_src`` (T, Bt, *in_shape):
    (work, integer sums W^T du at the open source neurons (T, Bt, *in_shape))."""
    steps, batch = du.shape[:2]
    n_ = steps * batch
    w = layer.kernel()
    k_, c_, _, _ = w.shape
    _, e_, f_ = layer.out_shape
    d4 = du.reshape(n_, k_, e_, f_)
    open4 = open_src.reshape((n_,) + layer.in_shape)
    sums = np.zeros((n_,) + layer.in_shape, dtype=np.int64)
    macs = dense = 0
    entry_macs = []            # MACs of each entry the PEs take, in (n, k, e, f) order
    for n in range(n_):
        for k in range(k_):
            for e in range(e_):
                for f in range(f_):
                    d = int(d4[n, k, e, f])
                    mine = 0
                    for r, s, h, wc in _taps(layer, e, f):
                        for c in range(c_):
                            dense += 1
                            if params.be_sparsity and (d == 0 or not open4[n, c, h, wc]):
                                continue
                            sums[n, c, h, wc] += int(w[k, c, r, s]) * d
                            macs += 1
                            mine += 1
                    if d != 0 or not params.be_sparsity:
                        entry_macs.append(mine)
    work = EngineWork()
    cycles = engines.book_blocks(work, blocks_of_pes(entry_macs, params.be_pes), sum(entry_macs), params.be_pes)
    engines.be_spatial(work, layer, n_, int(np.count_nonzero(d4)), macs, dense, int(open4.sum()), params)
    work.cycles = cycles
    if params.be_sparsity:
        _index_generator(work, open4.size, params)
    return work, sums.reshape((steps, batch) + layer.in_shape)


def wue_reference(layer, du: np.ndarray, x: np.ndarray, params):
    """WUE of one projection ``layer`` on dL/du (T, Bt, K, E, F) and its source's codes x:
    (work, expanded-kernel gradient)."""
    steps, batch = du.shape[:2]
    k_, c_, r_, s_ = layer.kernel_shape
    _, e_, f_ = layer.out_shape
    planes = layer.input_planes
    x5 = x.reshape((steps, batch) + layer.in_shape).astype(np.int64)
    dk = np.zeros(layer.kernel_shape, dtype=np.int64)
    work = EngineWork()
    entry_work = []    # items of each PE's entry, in the order the PEs take them
    if params.wue_lut:  # one PE per table: it builds the table, then does all its reads
        tables = entries = builds = reads = 0
        for b in range(batch):
            for t0, t1 in engines.wue_chunks(steps, params):
                for k in range(k_):
                    for e in range(e_):
                        for f in range(f_):
                            hist = [int(du[t, b, k, e, f]) for t in range(t0, t1)]
                            if not any(hist):
                                continue
                            table, adds = _build_table(hist)
                            tables += 1
                            entries += len(table)
                            builds += adds
                            mine = len(table)
                            for r, s, h, wc in _taps(layer, e, f):
                                for c in range(c_):
                                    for p in range(planes):
                                        pattern = sum(((int(x5[t, b, c, h, wc]) >> p) & 1) << (t - t0)
                                                      for t in range(t0, t1))
                                        if pattern:
                                            dk[k, c, r, s] += table[pattern] << p
                                            reads += 1
                                            mine += 1
                            entry_work.append(mine)
        engines.wue_lut_phase(work, tables, entries, builds, reads)
    else:              # output-stationary, one output neuron-step per PE in (t, b, k, e, f) order
        for t in range(steps):
            for b in range(batch):
                for k in range(k_):
                    for e in range(e_):
                        for f in range(f_):
                            d = int(du[t, b, k, e, f])
                            mine = 0
                            for r, s, h, wc in _taps(layer, e, f):
                                for c in range(c_):
                                    for p in range(planes):
                                        if (int(x5[t, b, c, h, wc]) >> p) & 1:
                                            dk[k, c, r, s] += d << p
                                            work.add("wue_adder", "add", 1)
                                            mine += 1
                            entry_work.append(mine)
    work.cycles = engines.book_blocks(work, blocks_of_pes(entry_work, params.wue_pes), sum(entry_work), params.wue_pes)
    engines.wue_buffers(work, du.size, params)
    return work, dk


def _index_generator(work: EngineWork, flags: int, params) -> None:
    """Step the BE's index generator (a prefix-sum unit of ``be_index_lanes``) over ``flags`` non-zero
    flags, one per adder per cycle, and book its cycles and adds on ``work``."""
    index = PeArray(params.be_index_lanes)
    for _ in range(flags):
        index.issue()
    index.drain()
    work.add("be_index", "add", flags)
    work.cycles += index.cycles


def fe_shortcut_reference(shortcut, x: np.ndarray, params):
    """The FE's add path of one identity shortcut on its source's codes x: (work, integer currents
    (T, Bt, *shape)), one output neuron-step per PE, one add per set bit of its code per clock."""
    steps, batch = x.shape[:2]
    n_ = steps * batch
    codes = x.reshape((n_,) + tuple(shortcut.shape)).astype(np.int64)
    cur = np.zeros(codes.shape, dtype=np.int64)
    entry_work = []
    work = EngineWork()
    for index in np.ndindex(codes.shape):          # (n, k, e, f) order
        mine = 0
        for p in range(shortcut.planes):
            if (int(codes[index]) >> p) & 1:
                cur[index] += 1 << (p + shortcut.shift)
                work.add("fe_adder", "add", 1)
                mine += 1
        entry_work.append(mine)
    work.cycles = engines.book_blocks(work, blocks_of_pes(entry_work, params.fe_pes), sum(entry_work), params.fe_pes)
    engines.fe_shortcut_buffers(work, shortcut, n_, params)
    work.stats["shortcut_adds"] = sum(entry_work)
    return work, cur.reshape((steps, batch) + tuple(shortcut.shape))


def be_shortcut_reference(shortcut, du: np.ndarray, params):
    """The BE's path of one identity shortcut: (work, its integer sums dL/du * 2^shift), one neuron-step
    per gradient-unit lane per clock."""
    n_ = du.shape[0] * du.shape[1]
    lanes = PeArray(params.be_neuron_lanes)
    sums = np.zeros(du.shape, dtype=np.int64)
    nonzero = 0
    for index in np.ndindex(du.shape):
        d = int(du[index])
        nonzero += d != 0
        sums[index] = d << shortcut.shift
        lanes.issue()
    lanes.drain()
    work = EngineWork()
    engines.be_shortcut_buffers(work, shortcut, n_, nonzero, params)
    work.cycles = lanes.cycles
    return work, sums


def be_fork_reference(open_src: np.ndarray, params) -> EngineWork:
    """The BE's fork sum over a source's neuron-steps, one add per ``be_index`` adder per clock on the open
    ones (all of them when dense)."""
    adders = PeArray(params.be_index_lanes)
    adds = 0
    for is_open in np.asarray(open_src).flat:
        if is_open or not params.be_sparsity:
            adders.issue()
            adds += 1
    adders.drain()
    work = EngineWork()
    engines.be_fork(work, int(np.asarray(open_src).size), adds, params)
    work.cycles = adders.cycles
    return work


def fe_bn_reference(proj, x: np.ndarray, layer, params):
    """The FE's tdBN of one projection's tile currents x: (work, y, (x_hat, 1/sigma)); the statistics
    pass and the normalisation pass each take one neuron-step per lane per clock."""
    lanes = PeArray(params.fe_neuron_lanes)
    for _ in range(2):
        for _ in range(x.size):
            lanes.issue()
        lanes.drain()
    mean_q, inv_q = fixed.bn_statistics(x, proj.bn.eps_q)
    y, xhat = fixed.bn_forward(x, mean_q, inv_q, proj.bn, layer.threshold_q, params)
    work = EngineWork()
    engines.fe_bn(work, int(x.size), params)
    work.cycles = lanes.cycles
    return work, y, (xhat, inv_q)


def be_bn_reference(proj, du: np.ndarray, state, layer, params):
    """The BE's tdBN backward of one projection on the tile's dL/du: (work, dL/dx, dgamma, dbeta)."""
    lanes = PeArray(params.be_neuron_lanes)
    for _ in range(2):
        for _ in range(du.size):
            lanes.issue()
        lanes.drain()
    dx, dgamma, dbeta = fixed.bn_backward(du, state[0], state[1], proj.bn, layer.threshold_q, layer.exp, params)
    work = EngineWork()
    engines.be_bn(work, int(du.size), params)
    work.cycles = lanes.cycles
    return work, dx, dgamma, dbeta
