"""The two engines: per-phase work of the cores, and the phase barrier.

Inside a compute phase a core is a line of pipeline stages with FIFOs between them (docs/core.md):
integrate streams synapse *words* (up to ``lanes`` synapses of one axon into one pass; a folded core
goes pass after pass and reads each axon again in every pass that has synapses from it, see
:mod:`.passes`; the phase's ``phase_setup_cycles`` are paid once, not per pass: assumption) through
axon front end -> synapse read (single-ported banks) -> dendrite; fire streams groups of
``soma_lanes`` neurons through neuron-state read -> soma -> write-back. The chip's per-event costs
(``core.axon_in_cycles`` on an axon's first word, ``core.spike_out_cycles`` per spike at the
write-back, ``core.neuron_read_cycles`` per group) lengthen the stages' work on the items they concern.

``ReferenceEngine`` clocks every core's line one cycle at a time (:func:`.pipeline.run_line`) and
evaluates the neurons in plain Python integers: the executable specification, small
configurations only.

``FastEngine`` computes a whole stage's cores (integrate) and a whole layer (fire) per call of the
Numba kernels in :mod:`.kernels`, over the flat arrays of :mod:`.stage`, with the lines' exact
recurrence (:func:`.kernels.line_item`); a phase's work ends at the slowest core's finish, and a
SimPy timeline (:mod:`.timeline`: one process per stage, a timeout per phase, the barrier as an
event, NoC phases holding the mesh as a shared resource) places the phases in time. The flit-level
contention of the NoC is simulated by :mod:`archsim.noc`. Both engines return identical numbers:
cycles, stall cycles by cause, FIFO high-water marks and every action count.
"""
from __future__ import annotations

import numpy as np

from archsim.models.manycore.kernel_cores import integrate_kernel_cores
from archsim.models.manycore.kernels import arrival_lines, fire_layer, fire_lines, integrate_stage
from archsim.models.manycore.pipeline import count_fifo_traffic, items_through, run_line
from archsim.models.manycore.program import LayerProgram, Program
from archsim.models.manycore.stage import StageProgram
from archsim.models.manycore.timeline import PlainTimeline, SimpyTimeline


class ReferenceEngine:
    name = "reference"
    noc_engine = "reference"
    timeline = PlainTimeline

    def integrate(self, prog: Program, stage: StageProgram, space: np.ndarray, passes):
        """Each core's words clocked through its integrate line. Returns (partial sums per slot, per-core
        finish cycles, counts: name -> one count per core of the stage)."""
        p = prog.params
        cores = stage.cores
        slot_pass, core_passes = passes
        partials = [np.zeros(len(c.neurons), dtype=np.int64) for c in cores]
        counts = {name: np.zeros(len(cores), np.int64) for name in INTEGRATE_COUNTS}
        finish = []
        for n, core in enumerate(cores):
            indptr, indices, weights = (core.indptr, core.indices, core.weights) if core.kernel is None \
                else core.kernel.synapses(core.neurons)           # a kernel-level core's, generated
            x = space[stage.axon_source[stage.axon_ptr[n]:stage.axon_ptr[n + 1]]]
            pass_of = slot_pass[stage.slot_ptr[n]:stage.slot_ptr[n + 1]]
            banks = []                   # the bank of every word, in the order the core streams them
            first_word = []              # the front end's extra cycles on each word (message in: first words)
            for q in range(int(core_passes[n])):
                for a in range(len(core.axon_source)):
                    if core.axon_spiking[a] and x[a] == 0:
                        continue
                    mine = [s for s in range(int(indptr[a]), int(indptr[a + 1])) if pass_of[indices[s]] == q]
                    if not mine:
                        continue
                    counts["axon_reads"][n] += 1
                    lanes = p.dendrite_lanes if core.axon_spiking[a] else p.mac_lanes
                    for w, first in enumerate(range(0, len(mine), lanes)):
                        banks.append((a + w) % p.synapse_banks)
                        first_word.append(p.axon_in_cycles if w == 0 else 0)
                        counts["reads"][n] += 1
                        for s in mine[first:first + lanes]:
                            partials[n][indices[s]] += int(weights[s]) * int(x[a])
                            counts["sops" if core.axon_spiking[a] else "macs"][n] += 1
                            if not core.axon_spiking[a] and x[a] != 0:
                                counts["active_macs"][n] += 1
            line = run_line(banks, p.phase_setup_cycles, INTEGRATE_SERVICE, p.fifo_depths[:2], bank_stage=1,
                            n_banks=p.synapse_banks, bank_cycles=p.synapse_read_cycles, extra=first_word, extra_stage=0)
            finish.append(line.finish)
            counts["full_fifo"][n], counts["busy_port"][n] = line.full_fifo, line.busy_port
            counts["fifo_axon"][n], counts["fifo_synapse"][n] = line.high_water
            count_fifo_traffic(counts, n, ("fifo_axon", "fifo_synapse"), line)
        return np.concatenate(partials or [np.zeros(0, np.int64)]), finish, counts

    def merge(self, prog: Program, items: "MergeItems"):
        """Each owner's received partial-sum words clocked through its adder as they arrive. Returns
        finish cycles per owner (in ``items.owners`` order)."""
        finish = []
        for k in range(len(items.owners)):
            arrivals = items.arrival[items.owner == k].tolist()
            finish.append(run_line([-1] * len(arrivals), 0, MERGE_SERVICE, (), arrivals=arrivals).finish)
        return finish

    def fire(self, prog: Program, layer: LayerProgram, stage: StageProgram, current: np.ndarray, state):
        """Each owner core's neuron groups (``soma_lanes`` neurons) clocked through its fire line, the
        write-back spending ``spike_out_cycles`` more per spike of its group. Returns (outputs, finish
        cycles per owner, counts: name -> one count per owner)."""
        p = prog.params
        outputs = np.zeros(layer.size, dtype=np.int64)
        owners = [prog.cores[i] for i in layer.owners]
        counts = {name: np.zeros(len(owners), np.int64) for name in FIRE_COUNTS}
        finish = []
        for k, core in enumerate(owners):
            for n in core.neurons:
                outputs[n] = _soma_step(prog, layer, int(n), int(current[n]), state)
            groups = -(-len(core.neurons) // p.soma_lanes)
            spikes = [sum(int(outputs[n]) for n in core.neurons[g * p.soma_lanes:(g + 1) * p.soma_lanes])
                      if layer.spiking else 0 for g in range(groups)]
            line = run_line([-1] * groups, p.phase_setup_cycles, _fire_service(p), p.fifo_depths[2:],
                            extra=[p.spike_out_cycles * k for k in spikes], extra_stage=2)
            finish.append(line.finish)
            counts["full_fifo"][k], counts["busy_port"][k] = line.full_fifo, line.busy_port
            counts["fifo_soma"][k], counts["fifo_writeback"][k] = line.high_water
            count_fifo_traffic(counts, k, ("fifo_soma", "fifo_writeback"), line)
        return outputs, finish, counts

    def barrier(self, core_cycles: list[int]) -> int:
        """The phase ends when the last core is done: count the clocks until then."""
        remaining = list(core_cycles)
        cycle = 0
        while any(r > cycle for r in remaining):
            cycle += 1
        return cycle


INTEGRATE_SERVICE = (1, 1, 1)    # axon front end, synapse read (issue), dendrite: cycles per word (+ message in)
MERGE_SERVICE = (1,)             # the owner's adder: one word of dendrite_lanes partial sums per cycle
INTEGRATE_COUNTS = ("sops", "macs", "active_macs", "reads", "axon_reads", "full_fifo", "busy_port",
                    "fifo_axon", "fifo_synapse", "fifo_axon_push", "fifo_axon_pop", "fifo_synapse_push",
                    "fifo_synapse_pop")
FIRE_COUNTS = ("full_fifo", "busy_port", "fifo_soma", "fifo_writeback", "fifo_soma_push", "fifo_soma_pop",
               "fifo_writeback_push", "fifo_writeback_pop")


class MergeItems:
    """A merge phase's words: each sender's partial sums in words of ``dendrite_lanes``, entering its
    owner's adder ``phase_setup_cycles`` after the phase starts plus its packet's NoC delivery cycle;
    per owner (``owners``: program indices) in ascending arrival, ties in sender order."""

    def __init__(self, prog: Program, stage: StageProgram, packet_finish: np.ndarray):
        p = prog.params
        self.owners = np.unique(stage.merge_owner)
        words = -(-stage.merge_neurons // p.dendrite_lanes)
        owner = np.repeat(np.searchsorted(self.owners, stage.merge_owner), words)
        arrival = np.repeat(p.phase_setup_cycles + np.asarray(packet_finish, np.int64), words)
        order = np.lexsort((arrival, owner))
        self.owner, self.arrival = owner[order], arrival[order]


def _fire_service(p) -> tuple:
    """Neuron-state read, soma, neuron-state write-back: cycles per group of ``soma_lanes`` neurons
    (the write-back's spike-out cycles come on top, per spike)."""
    return (p.neuron_read_cycles, p.soma_update_cycles, 1)


def group_spike_cycles(out: np.ndarray, neurons: np.ndarray, per_owner: np.ndarray, lanes: int,
                       cycles_per_spike: int) -> np.ndarray:
    """The write-back's extra cycles on every neuron group of a layer's owners (owner after owner, groups
    of ``lanes`` neurons in each owner's order): ``cycles_per_spike`` x the group's spikes."""
    groups = -(-per_owner // lanes)
    base = np.concatenate([[0], np.cumsum(groups)[:-1]]).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(per_owner)[:-1]]).astype(np.int64)
    position = np.arange(len(neurons)) - np.repeat(starts, per_owner)
    group = np.repeat(base, per_owner) + position // lanes
    spikes = np.bincount(group, weights=out[neurons], minlength=int(groups.sum()))
    return (spikes * cycles_per_spike).astype(np.int64)


def _soma_step(prog: Program, layer: LayerProgram, n: int, current: int, state) -> int:
    """One neuron, quantize.py rules, Python integers."""
    v, i_syn, s_prev = state
    lo, hi, frac = prog.membrane_min, prog.membrane_max, prog.frac_bits
    kind = layer.kind
    if kind in (0, 1):
        if kind == 1:
            i_syn[n] = min(max(((int(i_syn[n]) * int(layer.syn_decay_q[n])) >> frac) + current, lo), hi)
            current = int(i_syn[n])
        if layer.subtract and s_prev[n]:
            current -= int(layer.threshold_q[n])
        m = min(max(((int(v[n]) * int(layer.decay_q[n])) >> frac) + int(layer.leak_q[n]) + current, lo), hi)
        spike = m > int(layer.threshold_q[n])
        if spike and not layer.subtract:
            m = int(layer.v_reset_q[n])
        v[n] = m
        s_prev[n] = int(spike)
        return int(spike)
    if kind == 2:
        v[n] = min(max(((int(v[n]) * int(layer.decay_q[n])) >> frac) + int(layer.leak_q[n]) + current, lo), hi)
        return int(v[n])
    if kind == 3:
        return int(current > int(layer.threshold_q[n]))
    if kind == 4:
        y = (current * layer.relu_multiplier + (1 << (layer.relu_shift - 1))) >> layer.relu_shift
        return min(max(y, 0), prog.qmax_act)
    return current


class FastEngine:
    name = "fast"
    noc_engine = "fast"
    timeline = SimpyTimeline

    def integrate(self, prog: Program, stage: StageProgram, space: np.ndarray, passes):
        p = prog.params
        slot_pass, core_passes = passes
        partial, cycles, sops, macs, active_macs, reads, axon_reads, stalls, high = integrate_stage(
            space, stage.axon_ptr, stage.axon_source, stage.axon_spiking, stage.syn_ptr, stage.indices,
            stage.weights, stage.slot_ptr, slot_pass, core_passes, p.dendrite_lanes, p.mac_lanes,
            p.phase_setup_cycles, np.array(INTEGRATE_SERVICE, np.int64), np.array(p.fifo_depths[:2], np.int64),
            p.synapse_banks, p.synapse_read_cycles, p.axon_in_cycles)
        integrate_kernel_cores(prog, stage, space, np.array(INTEGRATE_SERVICE, np.int64), partial, cycles, sops, macs,
                               active_macs, reads, axon_reads, stalls, high)
        return partial, cycles, dict(sops=sops, macs=macs, active_macs=active_macs, reads=reads,
                                     axon_reads=axon_reads, full_fifo=stalls[:, 0], busy_port=stalls[:, 1],
                                     fifo_axon=high[:, 0], fifo_synapse=high[:, 1],
                                     **items_through(("fifo_axon", "fifo_synapse"), reads))

    def merge(self, prog: Program, items: MergeItems):
        return arrival_lines(items.owner, items.arrival, len(items.owners), np.array(MERGE_SERVICE, np.int64),
                             np.zeros(0, np.int64))

    def fire(self, prog: Program, layer: LayerProgram, stage: StageProgram, current: np.ndarray, state):
        """The whole layer in one kernel call (owners hold disjoint neurons), then the owners' fire lines."""
        p = prog.params
        v, i_syn, s_prev = state
        out = fire_layer(layer.kind, current, v, i_syn, s_prev, layer.decay_q, layer.syn_decay_q, layer.leak_q,
                         layer.threshold_q, layer.v_reset_q, layer.subtract, layer.relu_multiplier, layer.relu_shift,
                         prog.qmax_act, prog.frac_bits, prog.membrane_min, prog.membrane_max)
        per_owner = stage.fire_owner_neurons[layer.name]
        groups = -(-per_owner // p.soma_lanes)
        stalls = np.zeros((len(groups), 2), np.int64)
        high = np.zeros((len(groups), 2), np.int64)
        if layer.spiking and p.spike_out_cycles:
            extra = group_spike_cycles(out, stage.fire_slots[layer.name][0], per_owner, p.soma_lanes,
                                       p.spike_out_cycles)
        else:
            extra = np.zeros(int(groups.sum()), np.int64)
        finish = fire_lines(groups, p.phase_setup_cycles, np.array(_fire_service(p), np.int64),
                            np.array(p.fifo_depths[2:], np.int64), stalls, high, extra)
        return out, finish, dict(full_fifo=stalls[:, 0], busy_port=stalls[:, 1], fifo_soma=high[:, 0],
                                 fifo_writeback=high[:, 1], **items_through(("fifo_soma", "fifo_writeback"), groups))

    def barrier(self, core_cycles) -> int:
        """The phase ends when the slowest core arrives: the maximum (cores do not contend here)."""
        return int(np.max(core_cycles)) if len(core_cycles) else 0
