"""Cores of kernel-level convolution layers (:mod:`archsim.mapping.kernels`): their integrate work
without a list of their synapses.

What the integrate phase needs of a core's synapses is, per axon, how many of them reach each of the
core's passes (the words it streams, :mod:`.passes`), and the partial currents. Both come without
a stored synapse list: the per-pass counts are a table (passes x axons) made once from the part's
synapses, generated one part at a time from the kernels; the partial currents of a layer's cores
are one event-driven correlation of the layer's input with its kernels per step, split by fan-in
group (:meth:`~archsim.mapping.kernels.KernelLayer.scatter`), each core taking its group's sums at
its neurons. The words then go through the core's integrate line exactly as
:func:`.kernels.integrate_stage` sends an explicit core's, so cycles, stalls, FIFO marks and every
count equal those of the explicit lowering.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import numba as nb
import numpy as np

from archsim.mapping.lowering import LoweredLayer
from archsim.mapping.routing import part_synapses
from archsim.models.manycore.kernels import line_item, line_state
from archsim.models.manycore.passes import pass_of_neurons


@dataclass(eq=False)
class KernelCore:
    """A kernel-level core: its layer, fan-in group (``inputs``, index ``group`` in the layer's
    ``bounds``), the pass of each local neuron and ``table[pass, axon]``: its synapses per axon and pass."""

    lowered: LoweredLayer
    inputs: tuple[int, int]
    bounds: np.ndarray
    group: int
    pass_of: np.ndarray
    table: np.ndarray

    def synapses(self, neurons: np.ndarray):
        """The core's synapses ``(indptr, indices, weights)``, generated (the reference engine reads them)."""
        _, indptr, indices, weights = part_synapses(self.lowered, neurons, self.inputs)
        return indptr, indices, weights


def kernel_core(lowered: LoweredLayer, part, bounds, neurons_per_pass: int, axons_per_pass: int,
                row_mark=None) -> KernelCore:
    """The KernelCore of a routed part (:class:`~archsim.mapping.routing.PartRoute`) of a kernel-level
    layer, its passes cut by the rule of :func:`.passes.stage_passes`."""
    rows, indptr, indices, _ = part_synapses(lowered, part.neurons, part.inputs, row_mark)
    n = len(part.neurons)
    if n <= neurons_per_pass and len(rows) <= axons_per_pass:
        pass_of = np.zeros(n, np.int64)
    else:
        pass_of = pass_of_neurons(indptr.astype(np.int64), indices.astype(np.int64), n, neurons_per_pass,
                                  axons_per_pass)
    passes = int(pass_of.max(initial=0)) + 1
    axon = np.repeat(np.arange(len(rows), dtype=np.int64), np.diff(indptr))
    table = np.bincount(pass_of[indices] * len(rows) + axon, minlength=passes * len(rows))
    bounds = np.asarray(bounds, np.int64)
    group = int(np.searchsorted(bounds, part.inputs[0], side="right")) - 1
    return KernelCore(lowered, tuple(part.inputs), bounds, group, pass_of,
                      table.reshape(passes, len(rows)).astype(np.int32))


@dataclass(eq=False)
class _StageKernels:
    """A stage's kernel-level cores as flat arrays (built once per stage)."""

    cores: np.ndarray            # positions in the stage's core list
    passes: np.ndarray
    table_ptr: np.ndarray        # per kernel core: its table's start in ``tables`` (pass-major)
    tables: np.ndarray
    layers: list                 # (KernelLayer, bounds, stage input offset, [(position, group, neurons)])


_prepared: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _stage_kernels(stage) -> _StageKernels | None:
    if stage not in _prepared:
        found = [(k, c) for k, c in enumerate(stage.cores) if c.kernel is not None]
        if not found:
            _prepared[stage] = None
        else:
            layers = {}
            for k, c in found:
                entry = layers.setdefault(c.layer, (c.kernel.lowered.kernels, c.kernel.bounds,
                                                    stage.input_offset[c.layer], []))
                entry[3].append((k, c.kernel.group, c.neurons))
            sizes = [c.kernel.table.size for _, c in found]
            _prepared[stage] = _StageKernels(
                cores=np.array([k for k, _ in found], np.int64),
                passes=np.array([c.kernel.table.shape[0] for _, c in found], np.int64),
                table_ptr=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                tables=np.concatenate([c.kernel.table.reshape(-1) for _, c in found]).astype(np.int64),
                layers=list(layers.values()))
    return _prepared[stage]


def integrate_kernel_cores(prog, stage, space, service, partial, cycles, sops, macs, active_macs, reads, axon_reads,
                           stalls, high) -> None:
    """Fill the kernel-level cores' entries of :func:`.kernels.integrate_stage`'s results (which ran them
    without synapses: zero sums and counts, setup cycles) with their partial sums, counts and lines
    (``service``: the integrate line's cycles per stage)."""
    found = _stage_kernels(stage)
    if found is None:
        return
    p = prog.params
    for kernels, bounds, offset, cores in found.layers:
        sums = kernels.scatter(space[offset:offset + kernels.input_size], bounds)
        for k, group, neurons in cores:
            partial[stage.slot_ptr[k]:stage.slot_ptr[k + 1]] = sums[group, neurons]
    _table_lines(space, stage.axon_ptr, stage.axon_source, stage.axon_spiking, found.cores, found.passes,
                 found.table_ptr, found.tables, p.dendrite_lanes, p.mac_lanes, p.phase_setup_cycles, service, np.array(p.fifo_depths[:2], np.int64), p.synapse_banks,
                 p.synapse_read_cycles, p.axon_in_cycles, cycles, sops, macs, active_macs, reads, axon_reads, stalls, high)


@nb.njit(cache=True)
def _table_lines(space, axon_ptr, axon_source, axon_spiking, cores, core_passes, table_ptr, tables, lanes, mac_lanes,
                 setup, service, depths, n_banks, bank_cycles, axon_in_cycles, cycles, sops, macs, active_macs, reads, axon_reads,
                 stalls, high):
    """Counts and integrate lines of kernel-level cores from their per-pass tables: the words, order and
    banks of :func:`.kernels.integrate_stage` (an axon's synapses into a pass, ``ceil(k / width)`` words,
    pass after pass, axon after axon; a spiking axon only when it spiked; an axon's first word carries the
    message-in cycles ``axon_in_cycles``)."""
    for i in range(cores.shape[0]):
        core = cores[i]
        first = axon_ptr[core]
        n_axons = axon_ptr[core + 1] - first
        passes = core_passes[i]
        base = table_ptr[i]
        for a in range(n_axons):
            x = space[axon_source[first + a]]
            k = 0
            for q in range(passes):
                k += tables[base + q * n_axons + a]
            if axon_spiking[first + a]:
                if x != 0:
                    sops[core] += k
            else:
                macs[core] += k
                if x != 0:
                    active_macs[core] += k
        d_prev, s_hist, pop_ptr, port_free = line_state(service.shape[0], depths, n_banks)
        n = 0
        finish = setup
        for q in range(passes):
            for a in range(n_axons):
                k = tables[base + q * n_axons + a]
                if k == 0 or (axon_spiking[first + a] and space[axon_source[first + a]] == 0):
                    continue
                width = lanes if axon_spiking[first + a] else mac_lanes
                words = (k + width - 1) // width
                axon_reads[core] += 1
                reads[core] += words
                for w in range(words):
                    finish = line_item(n, setup, (a + w) % n_banks, service, depths, d_prev, s_hist, pop_ptr,
                                       port_free, bank_cycles, 1, stalls, high, core,
                                       axon_in_cycles if w == 0 else 0, 0)
                    n += 1
        cycles[core] = finish
