"""The time-step loop shared by both engines: stages, phases, barriers, packets, counts.

One time step = for each stage (layers grouped by depth), four phases, each closed by a barrier
of ``timing.barrier_cycles``:

1. ``integrate``: every core of the stage's layers reads its axons (spikes: only active ones;
   values: all, as MACs) and accumulates partial currents (dendrite). A folded core (up to
   ``core.max_fold`` passes of ``core.neurons`` neurons) runs its passes one after another and
   reads each axon once per pass that needs it (:mod:`.passes`): per-pass axon reads, weight
   reads and cycles, halo inputs of neighbouring conv bands included.
2. ``merge`` (only when a layer of the stage has split fan-in): non-owner cores send their partial
   sums (``psum_bits`` each, packed into ``packet_bytes`` packets) to the owner through the NoC;
   the owner adds them, ``dendrite_lanes`` per cycle.
3. ``fire``: owners add the bias and update their neurons (soma, ``soma_lanes`` per cycle).
4. ``route``: owners send outputs to the cores that need them: one multicast packet per spike,
   or per ``packet_bytes`` of activations; the router emits one packet every
   ``router_cycles_per_packet`` cycles; the NoC (:mod:`archsim.noc`) delivers them.

Phase length: ``adaptive`` = the slowest core (or the NoC's last delivery); ``fixed`` =
``timing.fixed_phase_cycles[phase]``, stretched when the work needs longer (counted as an
overrun in the Trace details). A batch runs its samples one after another, state reset between.
The phases are placed in time by the engine's timeline (:mod:`.timeline`; SimPy in the fast engine):
stages are strictly sequential, so ``cycles`` is the sum of phase lengths and barriers.

Per-layer actions (``actions_by_layer``): a core's integrate work and merge adds go to its layer, a
layer's fire work to it, and a NoC phase's traffic (router, links, routing-table reads, axon writes)
to the layer that sent it when one layer sent all of the phase's packets. Left *shared* (booked in
``actions`` only): NoC phases in which several layers of one stage send at once (the NoC counts the
phase as a whole) and the control cycles of :func:`archsim.models.manycore.run_program`.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from archsim.models.manycore.kernels import route_packets
from archsim.models.manycore.passes import stage_passes
from archsim.models.manycore.program import STATEFUL, KINDS, Program, delay_lines, stage_space
from archsim.models.manycore.stage import build_stages
from archsim.models.manycore.timeline import Phase
from archsim.noc import Packets, simulate as noc_simulate

PHASES = ("integrate", "merge", "fire", "route")
NOC_PHASES = ("merge", "route")


class Machine:
    def __init__(self, prog: Program, engine, neurons_per_pass: int, axons_per_pass: int):
        self.prog, self.engine = prog, engine
        self.cycles = 0
        self.actions: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.actions_by_layer = {name: defaultdict(lambda: defaultdict(int)) for name in prog.layers}
        self.phase_cycles = defaultdict(int)
        self.layer_cycles = defaultdict(int)
        self.core_busy = np.zeros(len(prog.cores), dtype=np.int64)
        self.overruns = 0
        self.synaptic_ops = 0
        self.spikes = 0
        self.noc_totals = defaultdict(int)
        self.link_flits = None       # flits per link, summed over the run (None before any traffic)
        self.router_flits = None     # flits entering each router, summed over the run
        self.stages = build_stages(prog)
        self.timeline = engine.timeline()
        self.stage_phases: list[list[Phase]] = []
        self.passes = [stage_passes(stage, neurons_per_pass, axons_per_pass) for stage in self.stages]
        # per stage, for per-layer counts: each core's layer (its position in stage.layers), the layer
        # of each owner core id, the merge adds per layer and the one layer sending merge packets (or None)
        self.core_layer = [np.array([stage.layers.index(c.layer) for c in stage.cores], np.int64)
                           for stage in self.stages]
        self.owner_layer = [{c.core_id: c.layer for c in stage.cores if c.is_owner} for stage in self.stages]
        self.merge_adds = []
        for stage in self.stages:
            adds: dict[str, int] = {}
            for c in stage.cores:
                if not c.is_owner:
                    adds[c.layer] = adds.get(c.layer, 0) + len(c.neurons)
            self.merge_adds.append(adds)

    # ------------------------------------------------------------------ bookkeeping
    def _count(self, component: str, action: str, n: int, layer: str | None = None) -> None:
        """Book ``n`` actions; to ``layer`` as well when they are its work (None: shared)."""
        if n:
            self.actions[component][action] += int(n)
            if layer is not None:
                self.actions_by_layer[layer][component][action] += int(n)

    def _count_per_core(self, component: str, action: str, per_core: np.ndarray, stage_index: int) -> None:
        """Book a stage's per-core counts, each to its core's layer."""
        stage = self.stages[stage_index]
        per_layer = np.zeros(len(stage.layers), np.int64)
        np.add.at(per_layer, self.core_layer[stage_index], per_core)
        for name, n in zip(stage.layers, per_layer):
            self._count(component, action, int(n), name)

    def _close_phase(self, phase: str, stage_layers, needed: int) -> None:
        """Book a phase of the current stage; the timeline places it in time at the end of the step."""
        p = self.prog.params
        length = needed
        if p.phase_length == "fixed":
            fixed = int(p.fixed_phase_cycles.get(phase, needed))
            self.overruns += int(needed > fixed)
            length = max(fixed, needed)
        self.stage_phases[-1].append(Phase(phase, length, p.barrier_cycles, phase in NOC_PHASES))
        length += p.barrier_cycles
        self.phase_cycles[phase] += length
        for name in stage_layers:
            self.layer_cycles[name] += length / len(stage_layers)

    def _noc(self, packets: Packets, phase: str, layer: str | None) -> int:
        """Deliver a phase's packets; ``layer`` sent them all (None: several layers did, shared)."""
        if not len(packets):
            return 0
        stats = noc_simulate(packets, self.prog.noc, engine=self.engine.noc_engine)
        self._count("router", "route", stats.router_traversals, layer)
        self._count("link", "transfer", stats.flit_hops - stats.interchip_flits, layer)
        self._count("offchip_link", "transfer", stats.interchip_flits, layer)
        self._count("axon_sram", "write", stats.ejected_flits, layer)
        self._count("router_table", "read", len(packets), layer)
        for key in ("packets", "injected_flits", "ejected_flits", "hops", "flit_hops", "interchip_flits",
                    "stall_cycles"):
            self.noc_totals[key] += int(getattr(stats, key))
        self.noc_totals[f"{phase}_cycles"] += int(stats.finish_cycle)
        self.link_flits = stats.link_flits.copy() if self.link_flits is None else self.link_flits + stats.link_flits
        self.router_flits = (stats.router_flits.copy() if self.router_flits is None
                             else self.router_flits + stats.router_flits)
        return int(stats.finish_cycle)

    # ------------------------------------------------------------------ one step
    def reset_state(self):
        self.state = {n: tuple(np.zeros(l.size, dtype=np.int64) for _ in range(3))   # v, i_syn, s_prev
                      for n, l in self.prog.layers.items()}
        self.previous = {n: np.zeros(l.size, dtype=np.int64) for n, l in self.prog.layers.items()}
        self.delay_lines = delay_lines(self.prog)

    def step(self, inputs_q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        prog, p = self.prog, self.prog.params
        current = dict(inputs_q)
        self.stage_phases = []
        for si, (stage, passes) in enumerate(zip(self.stages, self.passes)):
            self.stage_phases.append([])
            space = stage_space(prog, stage.layers, current, self.previous, self.delay_lines)
            partial, core_cycles, counts = self.engine.integrate(prog, stage, space, passes)
            self.core_busy[stage.core_index] += np.asarray(core_cycles, dtype=np.int64)
            self.synaptic_ops += int(counts["sops"].sum() + counts["active_macs"].sum())   # README: synaptic_ops
            self._count_per_core("dendrite", "add", counts["sops"], si)
            self._count_per_core("dendrite_mac", "mac", counts["macs"], si)
            self._count_per_core("synapse_sram", "read", counts["reads"], si)
            self._count_per_core("axon_sram", "read", counts["axon_reads"], si)
            self._close_phase("integrate", stage.layers, self.engine.barrier(core_cycles))

            if stage.merge_cores:
                adds = self.merge_adds[si]
                arrival = self._noc(stage.merge_packets, "merge", _only(adds))
                np.add.at(partial, stage.merge_to, partial[stage.merge_from])
                for name, n in adds.items():             # owners add their senders' partial sums
                    self._count("dendrite", "add", n, name)
                needed = p.phase_setup_cycles + arrival + int(np.max(-(-stage.merge_adds // p.dendrite_lanes)))
                self._close_phase("merge", stage.layers, needed)

            fire_cycles = []
            for name in stage.layers:
                layer = prog.layers[name]
                neurons, slots = stage.fire_slots[name]
                layer_current = np.zeros(layer.size, dtype=np.int64)
                layer_current[neurons] = partial[slots] + layer.bias[neurons]
                out, cycles = self.engine.fire(prog, layer, stage, layer_current, self.state[name])
                owners = np.asarray(layer.owners, dtype=np.int64)
                self.core_busy[owners] += np.asarray(cycles, dtype=np.int64)
                fire_cycles.extend(np.asarray(cycles).tolist())
                current[name] = out
                n = layer.size
                if KINDS[layer.kind] in STATEFUL:
                    self._count("neuron_sram", "read", n, name)
                    self._count("neuron_sram", "write", n, name)
                self._count("soma_lut" if KINDS[layer.kind] == "relu" else "soma",
                            "read" if KINDS[layer.kind] == "relu" else "add", n, name)
                if layer.spiking:
                    self.spikes += int(out.sum())
            self._close_phase("fire", stage.layers, self.engine.barrier(fire_cycles))

            outputs = np.concatenate([current[name] for name in stage.layers])
            src, dst_ptr, dst, inject, last_injection = route_packets(
                outputs, stage.route_core_ids, stage.route_spiking, stage.route_neuron_ptr, stage.route_neurons,
                stage.dest_ptr, stage.dest_cores, max(1, p.packet_bits // p.activation_bits),
                p.router_cycles_per_packet, prog.noc.n_cores)
            if len(src):
                senders = stage.layers if len(stage.layers) == 1 else {self.owner_layer[si][c] for c in
                                                                        np.unique(src).tolist()}
                arrival = self._noc(Packets(src, dst_ptr, dst, np.ones(len(src), np.int64), inject), "route",
                                    _only(senders))
                self._close_phase("route", stage.layers, p.phase_setup_cycles + max(arrival, int(last_injection)))
        for name in prog.layers:
            self.previous[name] = current[name]
        self.cycles = self.timeline.run_step(self.stage_phases)
        return current


def _only(layers):
    """The one layer of ``layers`` (a collection of names), or None when there are several."""
    return next(iter(layers)) if len(layers) == 1 else None
