"""Work and compute cycles of the three engines on one tile and layer (the fast path).

Micro-architecture (interpretations of the public description; every size is a config parameter):

* **FE** (``fe_pes`` LUT PEs, output-stationary). LUT on: for each output channel, kernel tap and group of
  ``k`` consecutive input channels one table of the 2^k partial sums is written, one entry per PE per cycle
  (2^k - k - 1 of them need an add; tables are built once per tile and reused by all its samples and
  steps); then each PE reads one entry per cycle for every (sample-step, output neuron, tap, group) whose
  k-bit input pattern is non-zero (all-zero patterns are skipped) and adds it to the membrane partial
  sum. Valued inputs go bit-serially, one bit plane at a time. LUT off: one add per input spike and
  output neuron. Then ``fe.neuron_lanes`` LIF updates per cycle.
* **BE** (``be_pes`` MAC PEs). Gradient unit: ``be.neuron_lanes`` neuron-steps per cycle (surrogate,
  temporal and reset terms; the non-zero flags of dL/du are produced here, so finding non-zeros costs no
  scan). Spatial: one MAC per PE per cycle for every (non-zero dL/du, tap, input neuron of the layer below
  with an open surrogate window); dense when ``be.sparsity`` is off. The first layer has no spatial part.
* **WUE** (``wue_pes`` LUT PEs). LUT on: per sample, output neuron and chunk of ``wue.lut_steps`` steps with
  a non-zero dL/du history, one table of the 2^g sums of its gradients is written (one entry per cycle);
  then one read per (table, tap, input channel) whose spike history is non-zero, added to dL/dW.
  LUT off: one add per input spike and connected output neuron.
* Perfect load balance across PEs is assumed: cycles = ceil(items / PEs) per phase, phases in sequence.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsim.models.h2learn import fixed, kernels


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


def _geometry(layer):
    k, c, r, s = layer.kernel_shape
    return k, c, r, s, layer.stride, layer.padding


def _pairs(out_w, in_c, layer) -> int:
    _, _, r, s, (sh, sw), (ph, pw) = _geometry(layer)
    return int(kernels.tap_pair_sum(np.ascontiguousarray(out_w, dtype=np.int64),
                                    np.ascontiguousarray(in_c, dtype=np.int64), r, s, sh, sw, ph, pw))


def _words(bits: int, width: int) -> int:
    return ceil_div(bits, width)


def fe_work(layer, x: np.ndarray, params) -> EngineWork:
    """FE on input codes x (T, Bt, *in_shape)."""
    k, c, r, s, _, _ = _geometry(layer)
    steps, batch = x.shape[:2]
    n = steps * batch
    ke, e, f = layer.out_shape
    x4 = np.ascontiguousarray(x.reshape((n,) + layer.in_shape), dtype=np.int64)
    ones = np.ones((n, e, f), dtype=np.int64)
    planes = layer.input_planes
    work = EngineWork()
    spikes_in = kernels.set_bits(x4, planes)
    sops = k * _pairs(ones, spikes_in, layer)
    work.stats["synaptic_ops"] = sops
    if params.fe_lut:
        group = params.fe_group
        tables = k * r * s * ceil_div(c, group)
        entries = tables * 2 ** group
        reads = k * _pairs(ones, kernels.nonzero_groups(x4, group, planes), layer)
        passes = ceil_div(entries, params.fe_pes * params.fe_lut_entries)
        work.add("fe_lut", "write", entries)
        work.add("fe_lut", "read", reads)
        work.add("fe_adder", "add", tables * (2 ** group - group - 1) + reads)
        work.cycles = ceil_div(entries, params.fe_pes) + ceil_div(reads, params.fe_pes)
        work.stats.update(lut_tables=tables, lut_reads=reads, lut_passes=passes)
    else:
        passes = 1
        work.add("fe_adder", "add", sops)
        work.cycles = ceil_div(sops, params.fe_pes)
    work.cycles += ceil_div(n * layer.out_size, params.fe_neuron_lanes)
    fe_neurons_and_buffers(work, layer, n, passes, params)
    return work


def fe_neurons_and_buffers(work: EngineWork, layer, n: int, passes: int, params) -> None:
    """The FE's LIF actions and buffer traffic (shared by the fast path and the reference stepper)."""
    k, c, r, s, _, _ = _geometry(layer)
    lif = n * layer.out_size
    work.add("fe_neuron_mul", "multiply", lif)
    work.add("fe_neuron_cmp", "compare", lif)
    width = params.buffer_width_bits
    bits = n * layer.in_size * layer.input_planes
    work.add("activation_buffer", "write", _words(bits, width))
    work.add("activation_buffer", "read", passes * _words(bits, width))
    work.add("weight_buffer", "read", _words(k * c * r * s * params.weight_bits, width))


def be_work(layer, du: np.ndarray, u_below: np.ndarray | None, below, params) -> EngineWork:
    """BE on dL/du (T, Bt, K, E, F); ``u_below`` is the membrane of the layer below (None for the first)."""
    k, c, _, _, _, _ = _geometry(layer)
    n = du.shape[0] * du.shape[1]
    _, e, f = layer.out_shape
    work = EngineWork()
    nonzero_du = kernels.nonzero_count(np.ascontiguousarray(du.reshape(n, k, e, f)))
    be_gradient_unit(work, layer, n, int(nonzero_du.sum()), params)
    work.cycles += ceil_div(n * layer.out_size, params.be_neuron_lanes)
    if u_below is None:
        return work
    open_below = fixed.window_open(u_below, below.threshold_q, below.half_window_q)
    open_count = kernels.nonzero_count(np.ascontiguousarray(open_below.reshape((n,) + layer.in_shape), dtype=np.int64))
    dense = _pairs(np.full((n, e, f), k, dtype=np.int64), np.full((n,) + layer.in_shape[1:], c, dtype=np.int64), layer)
    macs = _pairs(nonzero_du, open_count, layer) if params.be_sparsity else dense
    be_spatial(work, layer, n, macs, dense, int(open_count.sum()), params)
    work.cycles += ceil_div(macs, params.be_pes)
    return work


def be_gradient_unit(work: EngineWork, layer, n: int, nonzero_du: int, params) -> None:
    """The BE's gradient unit over all neuron-steps of the tile, and the dL/du it writes."""
    neuron_steps = n * layer.out_size
    work.add("be_unit_mul", "multiply", 3 * neuron_steps)   # surrogate, temporal decay and reset products
    work.add("be_unit_cmp", "compare", neuron_steps)        # surrogate window test
    work.add("gradient_buffer", "write", _words(neuron_steps * params.grad_bits, params.buffer_width_bits))
    work.stats.update(du_nonzero=nonzero_du, du_total=neuron_steps)


def be_spatial(work: EngineWork, layer, n: int, macs: int, dense_macs: int, open_below: int, params) -> None:
    """The BE's W^T dL/du phase: ``macs`` performed on the MAC PEs, and its buffer traffic."""
    k, c, r, s, _, _ = _geometry(layer)
    width = params.buffer_width_bits
    work.add("be_mac", "mac", macs)
    read = work.stats["du_nonzero"] if params.be_sparsity else work.stats["du_total"]
    work.add("gradient_buffer", "read", _words(read * params.grad_bits, width))
    work.add("gradient_buffer", "write", _words(n * layer.in_size * params.grad_bits, width))
    work.add("weight_buffer", "read", _words(k * c * r * s * params.weight_bits, width))
    work.stats.update(macs=macs, macs_dense=dense_macs, open_below=open_below, open_total=n * layer.in_size)


def wue_work(layer, du: np.ndarray, x: np.ndarray, params) -> EngineWork:
    """WUE on dL/du (T, Bt, K, E, F) and input codes x (T, Bt, *in_shape)."""
    k, _, _, _, _, _ = _geometry(layer)
    steps, batch = du.shape[:2]
    _, e, f = layer.out_shape
    planes = layer.input_planes
    work = EngineWork()
    du5 = np.ascontiguousarray(du.reshape((steps, batch, k, e, f)))
    x5 = np.ascontiguousarray(x.reshape((steps, batch) + layer.in_shape), dtype=np.int64)
    if params.wue_lut:
        tables = entries = builds = reads = 0
        for t0, t1 in wue_chunks(steps, params):
            out_hist = kernels.history_counts(du5, t0, t1, 1)
            chunk_tables = int(out_hist.sum())
            g = t1 - t0
            tables += chunk_tables
            entries += chunk_tables * 2 ** g
            builds += chunk_tables * (2 ** g - g - 1)
            reads += _pairs(out_hist, kernels.history_counts(x5, t0, t1, planes), layer)
        wue_lut_phase(work, tables, entries, builds, reads)
        work.cycles += ceil_div(entries, params.wue_pes) + ceil_div(reads, params.wue_pes)
    else:
        n = steps * batch
        spikes_in = kernels.set_bits(x5.reshape((n,) + layer.in_shape), planes)
        adds = _pairs(np.full((n, e, f), k, dtype=np.int64), spikes_in, layer)
        work.add("wue_adder", "add", adds)
        work.cycles = ceil_div(adds, params.wue_pes)
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
    """WUE applying ``w -= lr * dL/dw`` to one layer once per iteration."""
    weights = int(layer.weight_q.size) + (0 if layer.bias_q is None else int(layer.bias_q.size))
    work = EngineWork()
    work.cycles = ceil_div(weights, params.wue_update_lanes)
    work.add("wue_mul", "multiply", weights)
    work.add("wue_adder", "add", weights)
    return work
