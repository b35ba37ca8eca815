"""The two engines: per-phase work of the cores, and the phase barrier.

``ReferenceEngine`` advances one clock at a time: every cycle each busy core's dendrite consumes up
to ``lanes`` synapses of its current axon (one axon per cycle group; a folded core goes pass after
pass and reads each axon again in every pass that has synapses from it, see :mod:`.passes`;
the phase's ``phase_setup_cycles`` are paid once, not per pass: assumption), each soma updates up to
``soma_lanes`` neurons; the phase ends on the first cycle at which every core is idle. Plain Python,
small configurations only: the executable specification.

``FastEngine`` computes a whole stage's cores (integrate) and a whole layer (fire) per call of the
Numba kernels in :mod:`.kernels`, over the flat arrays of :mod:`.stage`; a phase's work ends at the
slowest core's arrival, and a SimPy timeline (:mod:`.timeline`: one process per stage, a timeout
per phase, the barrier as an event, NoC phases holding the mesh as a shared resource) places the
phases in time. The flit-level contention of the NoC is simulated by :mod:`archsim.noc`. Both
engines return identical numbers.
"""
from __future__ import annotations

import numpy as np

from archsim.models.manycore.kernels import fire_layer, integrate_stage
from archsim.models.manycore.program import LayerProgram, Program
from archsim.models.manycore.stage import StageProgram
from archsim.models.manycore.timeline import PlainTimeline, SimpyTimeline


class ReferenceEngine:
    name = "reference"
    noc_engine = "reference"
    timeline = PlainTimeline

    def integrate(self, prog: Program, stage: StageProgram, space: np.ndarray, passes):
        """Clock by clock, pass after pass. Returns (partial sums per slot, per-core busy cycles, counts:
        name -> one count per core of the stage)."""
        p = prog.params
        cores = stage.cores
        slot_pass, core_passes = passes
        inputs = [space[stage.axon_source[stage.axon_ptr[k]:stage.axon_ptr[k + 1]]] for k in range(len(cores))]
        partials = [np.zeros(len(c.neurons), dtype=np.int64) for c in cores]
        queues = []
        counts = {name: np.zeros(len(cores), np.int64)
                  for name in ("sops", "macs", "active_macs", "reads", "axon_reads")}
        for k, (core, x) in enumerate(zip(cores, inputs)):
            pass_of = slot_pass[stage.slot_ptr[k]:stage.slot_ptr[k + 1]]
            work = []                  # (axon, its synapse positions in this pass, next position)
            for q in range(int(core_passes[k])):
                for a in range(len(core.axon_source)):
                    if core.axon_spiking[a] and x[a] == 0:
                        continue
                    mine = [s for s in range(int(core.indptr[a]), int(core.indptr[a + 1]))
                            if pass_of[core.indices[s]] == q]
                    if mine:
                        work.append([a, mine, 0])
            queues.append(work)
        busy = [p.phase_setup_cycles] * len(cores)
        finish = [0] * len(cores)
        cycle = 0
        while any(busy) or any(queues):
            cycle += 1
            for n, core in enumerate(cores):
                if busy[n]:
                    busy[n] -= 1
                    if not busy[n] and not queues[n]:
                        finish[n] = cycle
                    continue
                if not queues[n]:
                    continue
                a, mine, j = queues[n][0]
                lanes = p.dendrite_lanes if core.axon_spiking[a] else p.mac_lanes
                stop = min(j + lanes, len(mine))
                x = int(inputs[n][a])
                for s in mine[j:stop]:
                    partials[n][core.indices[s]] += int(core.weights[s]) * x
                    counts["sops" if core.axon_spiking[a] else "macs"][n] += 1
                    if not core.axon_spiking[a] and x != 0:
                        counts["active_macs"][n] += 1
                counts["reads"][n] += 1
                if j == 0:
                    counts["axon_reads"][n] += 1
                if stop == len(mine):
                    queues[n].pop(0)
                    if not queues[n]:
                        finish[n] = cycle
                else:
                    queues[n][0][2] = stop
        return np.concatenate(partials or [np.zeros(0, np.int64)]), finish, counts

    def fire(self, prog: Program, layer: LayerProgram, stage: StageProgram, current: np.ndarray, state):
        """Clock by clock, ``soma_lanes`` neurons per cycle per owner core. Returns (outputs, cycles per owner)."""
        p = prog.params
        outputs = np.zeros(layer.size, dtype=np.int64)
        finish = []
        for core in (prog.cores[i] for i in layer.owners):
            out = outputs[core.neurons]
            cycle = p.phase_setup_cycles
            for start in range(0, len(core.neurons), p.soma_lanes):
                cycle += 1
                for k in range(start, min(start + p.soma_lanes, len(core.neurons))):
                    out[k] = _soma_step(prog, layer, int(core.neurons[k]), int(current[core.neurons[k]]), state)
            outputs[core.neurons] = out
            finish.append(cycle)
        return outputs, finish

    def barrier(self, core_cycles: list[int]) -> int:
        """The phase ends when the last core is done: count the clocks until then."""
        remaining = list(core_cycles)
        cycle = 0
        while any(r > cycle for r in remaining):
            cycle += 1
        return cycle


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
        partial, cycles, sops, macs, active_macs, reads, axon_reads = integrate_stage(
            space, stage.axon_ptr, stage.axon_source, stage.axon_spiking, stage.syn_ptr, stage.indices,
            stage.weights, stage.slot_ptr, slot_pass, core_passes, p.dendrite_lanes, p.mac_lanes,
            p.phase_setup_cycles)
        return partial, cycles, dict(sops=sops, macs=macs, active_macs=active_macs, reads=reads,
                                     axon_reads=axon_reads)

    def fire(self, prog: Program, layer: LayerProgram, stage: StageProgram, current: np.ndarray, state):
        """The whole layer in one kernel call (owners hold disjoint neurons); cycles per owner."""
        p = prog.params
        v, i_syn, s_prev = state
        out = fire_layer(layer.kind, current, v, i_syn, s_prev, layer.decay_q, layer.syn_decay_q, layer.leak_q,
                         layer.threshold_q, layer.v_reset_q, layer.subtract, layer.relu_multiplier, layer.relu_shift,
                         prog.qmax_act, prog.frac_bits, prog.membrane_min, prog.membrane_max)
        return out, p.phase_setup_cycles + -(-stage.fire_owner_neurons[layer.name] // p.soma_lanes)

    def barrier(self, core_cycles) -> int:
        """The phase ends when the slowest core arrives: the maximum (cores do not contend here)."""
        return int(np.max(core_cycles)) if len(core_cycles) else 0
