"""Work and compute cycles of the three engines on one tile and layer (the fast path).

Micro-architecture (interpretations of the public description; every size is a config parameter). How
work is assigned to PEs is not in the public description: the assignment below is an assumption, the same
static one in every engine. Work entries go to the PEs in a fixed order, ``PEs`` consecutive entries per
block, one entry per PE; a PE does its entry's items one per cycle and the block ends when its busiest PE
does, so the time of a phase is the sum over its blocks of the largest entry's work (load imbalance from
the real data, :func:`kernels.busiest_pe_sum`); a partly filled last block takes the same rule.

* **FE** (``fe_pes`` LUT PEs, output-stationary). LUT on: for each output channel, kernel tap and group of
  ``k`` consecutive input channels one table of the 2^k partial sums is written, one entry per PE per cycle
  (2^k - k - 1 of them need an add; tables are built once per tile and reused by all its samples and
  steps; the build does not depend on the data, so it is spread evenly: ceil(entries / PEs)). Then each
  PE takes one output neuron-step (entries in (sample-step, channel, row, column) order) and reads one
  entry per cycle for every (tap, group, bit plane) whose k-bit input pattern is non-zero (all-zero
  patterns are skipped), adding it to the membrane partial sum (assumption: every PE reaches the tables
  of its channel in one cycle). Valued inputs go bit-serially, one bit plane at a time. LUT off: the same
  entries, one add per input spike under the output's taps. A ReLU (ANN) layer's inputs are multi-bit
  codes, not spikes: no LUT, one shift-and-add per set bit of each input code (:func:`fe_uses_lut`). Each
  projection of a layer is one such phase, then ``fe.neuron_lanes`` neuron updates per cycle on the
  summed current. Neighbouring output positions see different spike counts, so a block spread over a
  feature map waits for its densest window; the K channels of one position (a dense layer's block) do
  the same work. ``synaptic_ops`` counts what exists, not what the PEs do: the non-zero weights that a
  non-zero input reaches (:func:`synaptic_events`); the LUTs hold every weight, zeros included, and are
  read by input pattern, so the FE's cycles and reads are those of the dense kernel (H2Learn exploits
  spike sparsity, not weight sparsity: Liang et al. 2021, the FE's LUT PEs).
* **BE** (``be_pes`` MAC PEs). Gradient unit: ``be.neuron_lanes`` neuron-steps per cycle (surrogate,
  temporal and reset terms; it raises a non-zero flag per dL/du). Finding the non-zeros is not free: an
  index generator of ``components.be_index.count`` prefix-sum adders compacts the flags of dL/du (once
  per layer) and the 1-bit window mask of each source (once per projection), one flag per adder per
  cycle, before the MACs start (:func:`be_index_work`). Spatial: each PE takes one dL/du entry (in
  (sample-step, channel, row, column) order, only the non-zero ones when sparse, all of them when dense)
  and does its MACs, one per cycle: every (tap, input neuron of the source with an open surrogate window,
  or u > 0 for a ReLU source). One such phase per projection whose source is a layer (a network input
  needs no gradient).
* **WUE** (``wue_pes`` LUT PEs, one table each). LUT on: each PE takes one (sample, chunk of
  ``wue.lut_steps`` steps, output neuron) whose dL/du history is non-zero (entries in (sample, chunk,
  channel, row, column) order; all-zero histories are skipped, not given a PE), writes its table of the
  2^g sums of those gradients (one entry per cycle), then reads it once per (tap, input channel, bit
  plane) whose spike history is non-zero and adds the entry to dL/dW (assumption: the PEs' adds into a
  shared dW accumulator are merged by the accumulation network without conflict stalls). LUT off: the
  FE's output-stationary entries, one add per input spike under the output's taps.

Residual blocks and tdBN (the paper's engines have neither; where each runs is an assumption, said at
each function): an identity shortcut is an add path on the FE's PEs and adders (:func:`fe_shortcut_work`);
its gradient goes back through the BE's gradient-unit lanes (:func:`be_shortcut_work`); a source that
receives a second gradient part (a residual block's input: branch and shortcut) has the parts summed
on the BE's index adders (:func:`be_fork_work`). tdBN's statistics and normalisation run on the FE's
neuron lanes (:func:`fe_bn_work`), its backward on the BE's gradient unit (:func:`be_bn_work`), gamma
and beta are updated with the weights (:func:`update_work`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsim.models.h2learn import kernels

_NO_KEEP = np.zeros((1, 1, 1, 1), dtype=np.bool_)   # busiest_pe_sum's keep when every entry takes a PE


def ceil_div(a: int, b: int) -> int:
    return -(-int(a) // int(b))


@dataclass
class EngineWork:
    """Compute cycles of one engine on one tile and layer, and its actions per component."""

    cycles: int = 0
    actions: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    def add(self, component: str, action: str, count: int) -> None:
        if count:
            slot = self.actions.setdefault(component, {})
            slot[action] = slot.get(action, 0) + int(count)

    def merge(self, other: "EngineWork") -> "EngineWork":
        """Add ``other``'s cycles, actions and numeric stats (phases run one after another)."""
        self.cycles += other.cycles
        for comp, acts in other.actions.items():
            for act, count in acts.items():
                self.add(comp, act, count)
        for key, value in other.stats.items():
            self.stats[key] = self.stats.get(key, 0) + value
        return self


def _geometry(layer):
    k, c, r, s = layer.kernel_shape
    return k, c, r, s, layer.stride, layer.padding


def _pairs(out_w, in_c, layer) -> int:
    _, _, r, s, (sh, sw), (ph, pw) = _geometry(layer)
    return int(kernels.tap_pair_sum(np.ascontiguousarray(out_w, dtype=np.int64),
                                    np.ascontiguousarray(in_c, dtype=np.int64), r, s, sh, sw, ph, pw))


def _words(bits: int, width: int) -> int:
    return ceil_div(bits, width)


def fe_work(proj, x: np.ndarray, lut: bool, params) -> EngineWork:
    """FE synaptic work of one projection on its source's codes x (T, Bt, *in_shape); ``lut`` from
    :func:`fe_uses_lut`."""
    k, c, r, s, _, _ = _geometry(proj)
    steps, batch = x.shape[:2]
    n = steps * batch
    _, e, f = proj.out_shape
    x4 = np.ascontiguousarray(x.reshape((n,) + proj.in_shape), dtype=np.int64)
    planes = proj.input_planes
    work = EngineWork()
    work.stats["synaptic_ops"] = synaptic_events(proj, x4)
    if lut:
        group = params.fe_group
        tables = k * r * s * ceil_div(c, group)
        entries = tables * 2 ** group
        read_items = _tap_items(proj, kernels.nonzero_groups(x4, group, planes))
        reads = k * int(read_items.sum())
        passes = ceil_div(entries, params.fe_pes * params.fe_lut_entries)
        work.add("fe_lut", "write", entries)
        work.add("fe_lut", "read", reads)
        work.add("fe_adder", "add", tables * (2 ** group - group - 1) + reads)
        work.cycles = ceil_div(entries, params.fe_pes) + book_blocks(
            work, output_stationary_cycles(read_items, k, params.fe_pes), reads, params.fe_pes)
        work.stats.update(lut_tables=tables, lut_reads=reads, lut_passes=passes)
    else:
        passes = 1
        spike_items = _tap_items(proj, kernels.set_bits(x4, planes))
        adds = k * int(spike_items.sum())     # one per set input bit under each output's taps, zero weights too
        work.add("fe_adder", "add", adds)
        work.cycles = book_blocks(work, output_stationary_cycles(spike_items, k, params.fe_pes), adds, params.fe_pes)
    fe_buffers(work, proj, n, passes, params)
    return work


def synaptic_events(proj, x: np.ndarray) -> int:
    """The projection's ``synaptic_ops``: existing synapses (non-zero integer weights) reached by a non-zero
    input code (a spike, or a valued code whatever its bit planes), summed over the sample-steps of x
    (N, *in_shape): per in-bounds tap (r, s) and input channel c, the non-zero inputs under the tap times
    the non-zero weights w[:, c, r, s]. The FE's cycles stay those of the dense kernel (its tables hold
    every weight and are read by input pattern: it never skips a zero weight)."""
    _, _, r, s, (sh, sw), (ph, pw) = _geometry(proj)
    _, e, f = proj.out_shape
    reached = np.pad((x.reshape((-1,) + proj.in_shape) != 0).sum(axis=0, dtype=np.int64), ((0, 0), (ph, ph), (pw, pw)))
    exists = (proj.kernel() != 0).sum(axis=0, dtype=np.int64)      # (C, R, S)
    total = 0
    for i in range(r):
        for j in range(s):
            under = reached[:, i:i + sh * (e - 1) + 1:sh, j:j + sw * (f - 1) + 1:sw].sum(axis=(1, 2))
            total += int(under @ exists[:, i, j])
    return total


def _tap_items(proj, in_c: np.ndarray) -> np.ndarray:
    """Per (sample-step, output row, output column): ``in_c`` (per input position) summed over the in-bounds
    kernel taps, the work of each output neuron at that position (the same for all K channels)."""
    _, _, r, s, (sh, sw), (ph, pw) = _geometry(proj)
    _, e, f = proj.out_shape
    return kernels.tap_sums(np.ascontiguousarray(in_c, dtype=np.int64), e, f, r, s, sh, sw, ph, pw)


def output_stationary_cycles(per_position: np.ndarray, k: int, pes: int) -> int:
    """Cycles of ``pes`` output-stationary PEs: output neuron-steps in (sample-step, channel, row, column)
    order, ``pes`` consecutive ones per block, one per PE, each doing ``per_position`` items for its
    position; the busiest PE sets the time of a block."""
    base = np.zeros(per_position.shape[0], dtype=np.int64)
    return int(kernels.busiest_pe_sum(base, per_position, _NO_KEEP, k, False, pes))


def book_blocks(work: EngineWork, busiest: int, items: int, pes: int) -> int:
    """Record a blocked phase's cycles (``busiest``: the sum of its blocks' busiest PE) beside the cycles its
    ``items`` would take spread evenly (ceil(items / PEs)): the load imbalance; returns ``busiest``."""
    work.stats["block_cycles"] = work.stats.get("block_cycles", 0) + int(busiest)
    work.stats["even_cycles"] = work.stats.get("even_cycles", 0) + ceil_div(items, pes)
    return int(busiest)


def dense_macs(proj, n: int) -> int:
    """The arithmetic MAC count of one projection over ``n`` sample-steps: K*C*R*S*E*F*n on its (pooled)
    input shape, padded taps included (the same for the forward, the backward and the update)."""
    _, c, r, s = proj.kernel_shape
    return c * r * s * proj.out_size * n


def forward_macs_performed(proj, x: np.ndarray) -> int:
    """Forward MACs with a non-zero input: K x (non-zero inputs under each output's in-bounds taps)."""
    k = proj.kernel_shape[0]
    n = x.shape[0] * x.shape[1]
    x4 = np.ascontiguousarray(x.reshape((n,) + proj.in_shape), dtype=np.int64)
    _, e, f = proj.out_shape
    return k * _pairs(np.ones((n, e, f), dtype=np.int64), kernels.nonzero_count(x4), proj)


def update_macs_performed(proj, du: np.ndarray, x: np.ndarray) -> int:
    """Weight-update MACs with a non-zero dL/du and a non-zero input."""
    k = proj.kernel_shape[0]
    n = x.shape[0] * x.shape[1]
    _, e, f = proj.out_shape
    nz_du = kernels.nonzero_count(np.ascontiguousarray(du.reshape(n, k, e, f)))
    nz_x = kernels.nonzero_count(np.ascontiguousarray(x.reshape((n,) + proj.in_shape), dtype=np.int64))
    return _pairs(nz_du, nz_x, proj)


def fe_pool_work(proj, n: int, params) -> EngineWork:
    """The FE pooling a projection's source over ``n`` sample-steps: p^2 - 1 adds per pooled value on the
    FE adders, one per PE per cycle, before the synaptic phase (none without a pool)."""
    work = EngineWork()
    adds = n * proj.pool_adds_per_sample_step
    work.add("fe_adder", "add", adds)
    work.cycles = ceil_div(adds, params.fe_pes)
    return work


def fe_uses_lut(layer, params) -> bool:
    """LUT PEs for a spiking layer when ``fe.lut`` is on. A ReLU (ANN) layer never uses them: its inputs are
    multi-bit values, not spikes, so the FE runs it as plain bit-serial shift-and-add on its accumulate
    adders (one add per set bit of each input code, per output neuron and tap), like ``fe.lut: false``."""
    return params.fe_lut and not layer.relu


def fe_buffers(work: EngineWork, proj, n: int, passes: int, params) -> None:
    """The FE's buffer traffic for one projection (shared by the fast path and the reference stepper)."""
    k, c, r, s, _, _ = _geometry(proj)
    width = params.buffer_width_bits
    bits = n * proj.in_size * proj.input_planes
    work.add("activation_buffer", "write", _words(bits, width))
    work.add("activation_buffer", "read", passes * _words(bits, width))
    work.add("weight_buffer", "read", _words(k * c * r * s * params.weight_bits, width))


def fe_neurons(work: EngineWork, layer, n: int, params) -> None:
    """The FE's neuron lanes over all neuron-steps of the tile: LIF decay multiply and threshold compare
    (ReLU: the compare with zero; the output shift is wiring). ``fe.neuron_lanes`` per cycle."""
    count = n * layer.out_size
    if not layer.relu:
        work.add("fe_neuron_mul", "multiply", count)
    work.add("fe_neuron_cmp", "compare", count)
    work.cycles += ceil_div(count, params.fe_neuron_lanes)


def be_unit_work(layer, du: np.ndarray, params) -> EngineWork:
    """BE gradient unit on the layer's dL/du (T, Bt, K, E, F)."""
    n = du.shape[0] * du.shape[1]
    work = EngineWork()
    be_gradient_unit(work, layer, n, int(np.count_nonzero(du)), params)
    work.cycles += ceil_div(n * layer.out_size, params.be_neuron_lanes)
    if params.be_sparsity:
        work.merge(be_index_work(n * layer.out_size, params))
    return work


def be_gradient_unit(work: EngineWork, layer, n: int, nonzero_du: int, params) -> None:
    """The BE's gradient unit over all neuron-steps of the tile, and the dL/du it writes."""
    neuron_steps = n * layer.out_size
    if not layer.relu:   # surrogate, temporal decay and reset products; ReLU: one shift, no product
        work.add("be_unit_mul", "multiply", 3 * neuron_steps)
    work.add("be_unit_cmp", "compare", neuron_steps)        # surrogate window (ReLU: u > 0) test
    work.add("gradient_buffer", "write", _words(neuron_steps * params.grad_bits, params.buffer_width_bits))
    work.stats.update(du_nonzero=nonzero_du, du_total=neuron_steps)


def be_index_work(flags: int, params) -> EngineWork:
    """The BE's index generator over ``flags`` non-zero flags: one prefix add per flag, ``be_index_lanes``
    flags per cycle."""
    work = EngineWork()
    work.add("be_index", "add", flags)
    work.cycles = ceil_div(flags, params.be_index_lanes)
    return work


def be_spatial_work(proj, du: np.ndarray, open_src: np.ndarray, params) -> EngineWork:
    """BE W^T dL/du of one projection whose source is a layer; ``open_src`` (T, Bt, *in_shape) marks the
    inputs a gradient can reach (:func:`.fixed.output_open`, gathered over a pool's window)."""
    k, c, r, s, (sh, sw), (ph, pw) = _geometry(proj)
    n = du.shape[0] * du.shape[1]
    _, e, f = proj.out_shape
    du4 = np.ascontiguousarray(du.reshape(n, k, e, f))
    nonzero_du = kernels.nonzero_count(du4)
    open_count = kernels.nonzero_count(np.ascontiguousarray(open_src.reshape((n,) + proj.in_shape), dtype=np.int64))
    full = np.full((n,) + proj.in_shape[1:], c, dtype=np.int64)
    dense_per_entry = kernels.tap_sums(full, e, f, r, s, sh, sw, ph, pw)
    dense = int(dense_per_entry.sum()) * k
    if params.be_sparsity:
        per_position = kernels.tap_sums(open_count, e, f, r, s, sh, sw, ph, pw)
        macs = int((per_position * nonzero_du).sum())
        keep = du4 != 0
    else:
        per_position, macs, keep = dense_per_entry, dense, _NO_KEEP
    work = EngineWork()
    be_spatial(work, proj, n, int(nonzero_du.sum()), macs, dense, int(open_count.sum()), params)
    work.cycles = book_blocks(work, kernels.busiest_pe_sum(np.zeros(n, dtype=np.int64), per_position, keep, k,
                                                           params.be_sparsity, params.be_pes), macs, params.be_pes)
    if params.be_sparsity:
        work.merge(be_index_work(n * proj.in_size, params))
    return work


def be_spatial(work: EngineWork, proj, n: int, nonzero_du: int, macs: int, dense_macs: int, open_src: int,
               params) -> None:
    """The BE's W^T dL/du phase of one projection: ``macs`` performed on the MAC PEs, and its buffer traffic."""
    k, c, r, s, _, _ = _geometry(proj)
    width = params.buffer_width_bits
    work.add("be_mac", "mac", macs)
    read = nonzero_du if params.be_sparsity else n * proj.out_size
    work.add("gradient_buffer", "read", _words(read * params.grad_bits, width))
    work.add("gradient_buffer", "write", _words(n * proj.in_size * params.grad_bits, width))
    work.add("weight_buffer", "read", _words(k * c * r * s * params.weight_bits, width))
    work.stats.update(macs=macs, macs_dense=dense_macs, open_below=open_src, open_total=n * proj.in_size)


def wue_work(proj, du: np.ndarray, x: np.ndarray, params) -> EngineWork:
    """WUE on dL/du (T, Bt, K, E, F) and input codes x (T, Bt, *in_shape)."""
    k, _, _, _, _, _ = _geometry(proj)
    steps, batch = du.shape[:2]
    _, e, f = proj.out_shape
    planes = proj.input_planes
    work = EngineWork()
    du5 = np.ascontiguousarray(du.reshape((steps, batch, k, e, f)))
    x5 = np.ascontiguousarray(x.reshape((steps, batch) + proj.in_shape), dtype=np.int64)
    if params.wue_lut:
        chunks = wue_chunks(steps, params)
        keep = np.empty((batch, len(chunks), k, e, f), dtype=np.bool_)      # tables built: (b, chunk, k, e, f)
        table_reads = np.empty((batch, len(chunks), e, f), dtype=np.int64)  # reads of each such table
        base = np.empty((batch, len(chunks)), dtype=np.int64)               # its entries
        tables = entries = builds = reads = 0
        for ci, (t0, t1) in enumerate(chunks):
            keep[:, ci] = np.any(du5[t0:t1] != 0, axis=0)
            table_reads[:, ci] = _tap_items(proj, kernels.history_counts(x5, t0, t1, planes))
            out_hist = keep[:, ci].sum(axis=1)
            g = t1 - t0
            base[:, ci] = 2 ** g
            chunk_tables = int(out_hist.sum())
            tables += chunk_tables
            entries += chunk_tables * 2 ** g
            builds += chunk_tables * (2 ** g - g - 1)
            reads += int((out_hist * table_reads[:, ci]).sum())
        wue_lut_phase(work, tables, entries, builds, reads)
        work.cycles += book_blocks(work, kernels.busiest_pe_sum(base.reshape(-1), table_reads.reshape((-1, e, f)),
                                                                keep.reshape((-1, k, e, f)), k, True, params.wue_pes),
                                   entries + reads, params.wue_pes)
    else:
        n = steps * batch
        add_items = _tap_items(proj, kernels.set_bits(x5.reshape((n,) + proj.in_shape), planes))
        adds = k * int(add_items.sum())
        work.add("wue_adder", "add", adds)
        work.cycles = book_blocks(work, output_stationary_cycles(add_items, k, params.wue_pes), adds, params.wue_pes)
    wue_buffers(work, du.size, params)
    return work


def wue_buffers(work: EngineWork, du_entries: int, params) -> None:
    """The WUE reads every dL/du of the tile once from the gradient buffer."""
    work.add("gradient_buffer", "read", _words(du_entries * params.grad_bits, params.buffer_width_bits))


def wue_chunks(steps: int, params) -> list[tuple[int, int]]:
    """Time-step chunks of one WUE table (``wue.lut_steps`` steps each)."""
    g = params.wue_steps
    return [(t0, min(t0 + g, steps)) for t0 in range(0, steps, g)]


def wue_lut_phase(work: EngineWork, tables: int, entries: int, builds: int, reads: int) -> None:
    """WUE LUT build (one entry per PE per cycle, ``builds`` of them need an add) and read phases."""
    work.add("wue_lut", "write", entries)
    work.add("wue_adder", "add", builds + reads)
    work.add("wue_lut", "read", reads)
    work.stats.update(lut_tables=tables, lut_reads=reads)


def update_work(layer, params) -> EngineWork:
    """WUE applying ``w -= lr * dL/dw`` to one layer (all its projections, its bias and its tdBNs' gamma and
    beta) once per iteration."""
    weights = sum(int(p.weight_q.size) for p in layer.projections) \
        + (0 if layer.bias_q is None else int(layer.bias_q.size)) \
        + sum(2 * int(p.bn.gamma_q.size) for p in layer.projections if p.bn is not None)
    work = EngineWork()
    work.cycles = ceil_div(weights, params.wue_update_lanes)
    work.add("wue_mul", "multiply", weights)
    work.add("wue_adder", "add", weights)
    return work


def set_bit_counts(x: np.ndarray, planes: int) -> np.ndarray:
    """Set bits of each code over its ``planes`` bit planes (the adds a bit-serial adder does), int64."""
    x = np.asarray(x, dtype=np.int64)
    return sum((x >> p) & 1 for p in range(planes))


def block_cycles(entry_work: np.ndarray, pes: int) -> int:
    """Cycles of ``pes`` PEs taking the entries in order, ``pes`` per block, a block lasting as long as its
    busiest entry (the fast form of :func:`.refstep.blocks_of_pes`)."""
    flat = np.asarray(entry_work, dtype=np.int64).reshape(-1)
    padded = np.zeros(ceil_div(flat.size, pes) * pes, dtype=np.int64)
    padded[:flat.size] = flat
    return int(padded.reshape(-1, pes).max(axis=1, initial=0).sum())


def fe_shortcut_work(shortcut, x: np.ndarray, params) -> EngineWork:
    """The FE's add path of one identity shortcut on its source's codes x (T, Bt, *source shape).

    Assumption (the paper's FE has no residual path): the shortcut runs on the FE's own PEs after the
    layer's synaptic phases, output-stationary as they are: each PE takes one output neuron-step (in
    (sample-step, channel, row, column) order) and adds its source code into the membrane partial sum,
    bit-serially, one ``fe_adder`` add per set bit (a spike: one add; a zero: none), the shift being
    wiring; a block of ``fe_pes`` entries lasts as long as its busiest PE. The codes go through the
    activation buffer as a projection's input does (written once, read once)."""
    n = x.shape[0] * x.shape[1]
    items = set_bit_counts(x.reshape((n,) + tuple(shortcut.shape)), shortcut.planes)
    adds = int(items.sum())
    work = EngineWork()
    work.add("fe_adder", "add", adds)
    work.cycles = book_blocks(work, block_cycles(items, params.fe_pes), adds, params.fe_pes)
    fe_shortcut_buffers(work, shortcut, n, params)
    work.stats["shortcut_adds"] = adds
    return work


def fe_shortcut_buffers(work: EngineWork, shortcut, n: int, params) -> None:
    """The add path's activation-buffer traffic: the source codes of ``n`` sample-steps written, read once."""
    words = _words(n * shortcut.size * shortcut.planes, params.buffer_width_bits)
    work.add("activation_buffer", "write", words)
    work.add("activation_buffer", "read", words)


def be_shortcut_work(shortcut, du: np.ndarray, params) -> EngineWork:
    """The BE's path of one identity shortcut: dL/du of the layer goes back unchanged (the shift is wiring)
    as the source's gradient part. Assumption: the gradient unit's ``be.neuron_lanes`` pass it, one
    neuron-step per lane per cycle, reading dL/du from the gradient buffer (only the non-zero entries
    with ``be.sparsity``, as the MAC phase does) and writing the part; no MAC runs."""
    n = du.shape[0] * du.shape[1]
    work = EngineWork()
    be_shortcut_buffers(work, shortcut, n, int(np.count_nonzero(du)), params)
    work.cycles = ceil_div(n * shortcut.size, params.be_neuron_lanes)
    return work


def be_shortcut_buffers(work: EngineWork, shortcut, n: int, nonzero_du: int, params) -> None:
    """The shortcut path's gradient-buffer traffic (shared by the fast path and the reference stepper)."""
    width = params.buffer_width_bits
    read = nonzero_du if params.be_sparsity else n * shortcut.size
    work.add("gradient_buffer", "read", _words(read * params.grad_bits, width))
    work.add("gradient_buffer", "write", _words(n * shortcut.size * params.grad_bits, width))


def be_fork_work(open_src: np.ndarray, params) -> EngineWork:
    """The BE summing a second consumer's gradient part into a source's dL/ds (where a source forks: a
    residual block's input feeds its branch and its shortcut). Assumption (the paper's BE has no fork
    adder): the index generator's ``be_index`` adders do it, ``be_index_lanes`` adds per cycle (they are
    idle between a projection's index pass and its MACs' end), one add per source neuron-step whose
    window is open (closed ones are zero in both parts: skipped with ``be.sparsity``), all of them when
    dense; the two parts are read from the gradient buffer and the sum written back."""
    size = int(open_src.size)
    adds = int(np.count_nonzero(open_src)) if params.be_sparsity else size
    work = EngineWork()
    be_fork(work, size, adds, params)
    work.cycles = ceil_div(adds, params.be_index_lanes)
    return work


def be_fork(work: EngineWork, size: int, adds: int, params) -> None:
    """The fork sum's adds and gradient-buffer traffic over ``size`` source neuron-steps."""
    words = _words(size * params.grad_bits, params.buffer_width_bits)
    work.add("be_index", "add", adds)
    work.add("gradient_buffer", "read", 2 * words)
    work.add("gradient_buffer", "write", words)
    work.stats["fork_adds"] = adds


def fe_bn_work(elements: int, params) -> EngineWork:
    """The FE's tdBN of one projection's current over a tile (``elements`` neuron-steps). Assumption (the
    paper's FE computes no BN; the neuron lanes are where a per-neuron-step affine fits): two passes over
    the tile's currents on ``fe.neuron_lanes``, one neuron-step per lane per cycle: the statistics (a
    square on ``fe_neuron_mul``, the sum and the sum of squares on ``fe_adder``) and the normalisation
    (subtract the mean, two products, add beta); the per-channel square root and divide between them are
    the host's (K values a tile). The currents wait in the activation buffer between the passes."""
    work = EngineWork()
    fe_bn(work, elements, params)
    work.cycles = 2 * ceil_div(elements, params.fe_neuron_lanes)
    return work


def fe_bn(work: EngineWork, elements: int, params) -> None:
    """The FE tdBN's actions over ``elements`` neuron-steps (shared with the reference stepper)."""
    work.add("fe_neuron_mul", "multiply", 3 * elements)
    work.add("fe_adder", "add", 4 * elements)
    words = _words(elements * params.membrane_bits, params.buffer_width_bits)
    work.add("activation_buffer", "write", words)
    work.add("activation_buffer", "read", words)


def be_bn_work(elements: int, params) -> EngineWork:
    """The BE's tdBN backward of one projection over a tile. Assumption (the paper's BE computes no BN;
    its gradient unit is the per-neuron-step arithmetic it has): two passes on ``be.neuron_lanes``: the
    sums of dL/dy and dL/dy * x_hat, x_hat recomputed from the stored current (its subtract and product,
    the product with dL/dy on ``be_unit_mul``, the adds on the lanes' ``be_index`` adders), then the
    correction (two subtracts, two products); the per-channel divides by the count are the host's.
    dL/dy is read from the gradient buffer in both passes and dL/dx written."""
    work = EngineWork()
    be_bn(work, elements, params)
    work.cycles = 2 * ceil_div(elements, params.be_neuron_lanes)
    return work


def be_bn(work: EngineWork, elements: int, params) -> None:
    """The BE tdBN backward's actions over ``elements`` neuron-steps (shared with the reference stepper)."""
    work.add("be_unit_mul", "multiply", 4 * elements)
    work.add("be_index", "add", 5 * elements)
    words = _words(elements * params.grad_bits, params.buffer_width_bits)
    work.add("gradient_buffer", "read", 2 * words)
    work.add("gradient_buffer", "write", words)
