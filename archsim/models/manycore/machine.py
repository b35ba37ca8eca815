"""The time-step loop shared by both engines: stages, phases, barriers, packets, counts.

One time step = for each stage (layers grouped by depth), the phases of the chip's phase program
(``timing.phase_program``): ``tianjicx`` runs TianjicX's own phases (:mod:`.tianjicx`); ``generic``
(the default) four phases (five with ``learn``), each closed by a barrier of ``timing.barrier_cycles``:

1. ``integrate``: every core of the stage's layers reads its axons (spikes: only active ones;
   values: all, as MACs) and accumulates partial currents (dendrite), its words streaming through
   the core's pipeline (docs/core.md). A folded core (up to
   ``core.max_fold`` passes of ``core.neurons`` neurons) runs its passes one after another and
   reads each axon once per pass that needs it (:mod:`.passes`): per-pass axon reads, weight
   reads and cycles, halo inputs of neighbouring conv bands included.
2. ``merge`` (only when a layer of the stage has split fan-in): non-owner cores send their partial
   sums (``psum_bits`` each, packed into ``packet_bytes`` packets) to the owner through the NoC;
   the owner adds them, a word of ``dendrite_lanes`` per cycle, each sender's words as soon as its
   packet has arrived (the merge line of docs/core.md).
3. ``fire``: owners add the bias and update their neurons (state read, soma, ``soma_lanes`` at a
   time, state write-back: the fire pipeline of docs/core.md).
3b. ``learn`` (only in a stage with plastic synapses): the cores update their local rule's traces and
   effective weights (:mod:`.plasticity`).
4. ``route``: owners send outputs to the cores that need them: one multicast packet per spike,
   or per ``packet_bytes`` of activations; the router emits a packet every
   ``router_cycles_per_packet`` cycles plus ``core.message_out_cycles`` per receiving core; the NoC
   (:mod:`archsim.noc`) delivers them. Chips that list the optional components ``spike_out`` and
   ``axon_out`` are charged one ``spike_out.spike`` per spike and one ``axon_out.message`` per
   receiving core of a route packet.

Stall cycles are booked per phase and cause: the cores' full-FIFO and busy-port stalls and their
barrier waits (compute phases), the NoC's credit and link stalls (NoC phases).

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
from dataclasses import fields

import numpy as np

from archsim.errors import UserError
from archsim.models.manycore.engines import MergeItems
from archsim.models.manycore.kernels import route_packets
from archsim.models.manycore.passes import stage_passes
from archsim.models.manycore.plasticity import Learning
from archsim.models.manycore.program import STATEFUL, KINDS, Program, delay_lines, stage_space
from archsim.models.manycore.stage import build_stages
from archsim.models.manycore.tianjicx import TIANJICX_PHASES, tianjicx_stage
from archsim.models.manycore.timeline import Phase
from archsim.noc import Packets, simulate as noc_simulate
from archsim.noc.stats import ARRAY_FIELDS, NocStats

PHASES = ("integrate", "merge", "fire", "learn", "route")      # learn: only where a projection is plastic
NOC_PHASES = ("merge", "route")
PROGRAM_PHASES = {"generic": PHASES, "tianjicx": TIANJICX_PHASES}   # timing.phase_program -> its phases
MESH_PHASES = NOC_PHASES + TIANJICX_PHASES                       # phases whose work includes NoC traffic
CORE_STALLS = ("full_fifo", "busy_port", "barrier_wait")          # a core's stalls in integrate and fire
STALL_CAUSES = CORE_STALLS + ("no_credit", "link_busy")           # ... and the NoC's in merge and route
CORE_FIFOS = ("fifo_axon", "fifo_synapse", "fifo_soma", "fifo_writeback")
NOC_PEAKS = ("peak_waiting_flits", "peak_buffer_flits")     # NoC statistics kept as a maximum, not a sum
NOC_SCALARS = tuple(f.name for f in fields(NocStats)             # every scalar statistic of the NoC
                    if f.name not in ARRAY_FIELDS + ("finish_cycle", "flit_bits"))


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
        self.phase_names = PROGRAM_PHASES[prog.params.phase_program]
        self.phase_stalls = {ph: defaultdict(int) for ph in self.phase_names}   # phase -> cause -> stall cycles
        self.core_stalls = {cause: np.zeros(len(prog.cores), np.int64) for cause in CORE_STALLS}
        self.high_water = dict.fromkeys(CORE_FIFOS, 0)                  # FIFO -> most entries held
        self.link_flits_by_phase = {}                                     # NoC phase -> flits per link
        self.link_flits = None       # flits per link, summed over the run (None before any traffic)
        self.router_flits = None     # flits entering each router, summed over the run
        self.stages = build_stages(prog)
        self.stage_plans: dict = {}       # stage index -> what the phase program precomputes for it (tianjicx)
        self.timeline = engine.timeline()
        self.stage_phases: list[list[Phase]] = []
        self.passes = [stage_passes(stage, neurons_per_pass, axons_per_pass) for stage in self.stages]
        self.learning = Learning(prog, self.stages, engine.name)      # the learn phase (:mod:`.plasticity`)
        if self.learning.active and prog.params.phase_program != "generic":
            raise UserError(f"timing.phase_program: {prog.params.phase_program} has no learn phase; a network with "
                            "a local plasticity rule runs with the generic program")
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

    def _core_work(self, phase: str, cores: np.ndarray, finish, counts: dict, layers=None, noc_end: int = 0) -> None:
        """Book a compute phase's per-core pipeline statistics (``cores``: program indices) and close it;
        a core waits at the barrier from its finish to the phase's end, the barrier's cycles included.
        The phase ends with its slowest core, or with the NoC's last delivery ``noc_end`` when later; its
        cycles go to ``layers`` (default: the stage's)."""
        finish = np.asarray(finish, dtype=np.int64)
        for cause in ("full_fifo", "busy_port"):
            self.core_stalls[cause][cores] += counts[cause]
            self.phase_stalls[phase][cause] += int(np.sum(counts[cause]))
        for fifo in CORE_FIFOS:
            if fifo in counts and len(counts[fifo]):
                self.high_water[fifo] = max(self.high_water[fifo], int(np.max(counts[fifo])))
        layers = self.stages[self._stage_index].layers if layers is None else layers
        length = self._close_phase(phase, layers, max(self.engine.barrier(finish), int(noc_end)))
        wait = length + self.prog.params.barrier_cycles - finish
        self.core_stalls["barrier_wait"][cores] += wait
        self.phase_stalls[phase]["barrier_wait"] += int(wait.sum())

    def _close_phase(self, phase: str, stage_layers, needed: int) -> int:
        """Book a phase of the current stage (its length, barrier left out, is returned); the timeline
        places it in time at the end of the step."""
        p = self.prog.params
        length = needed
        if p.phase_length == "fixed":
            fixed = int(p.fixed_phase_cycles.get(phase, needed))
            self.overruns += int(needed > fixed)
            length = max(fixed, needed)
        self.stage_phases[-1].append(Phase(phase, length, p.barrier_cycles, phase in MESH_PHASES))
        booked = length + p.barrier_cycles
        self.phase_cycles[phase] += booked
        for name in stage_layers:
            self.layer_cycles[name] += booked / len(stage_layers)
        return length

    def _noc(self, packets: Packets, phase: str, layer: str | None) -> np.ndarray:
        """Deliver a phase's packets; ``layer`` sent them all (None: several layers did, shared).
        Returns each packet's delivery cycle."""
        if not len(packets):
            return np.zeros(0, np.int64)
        stats = noc_simulate(packets, self.prog.noc, engine=self.engine.noc_engine)
        self._count("router", "route", stats.router_traversals, layer)
        self._count("link", "transfer", stats.flit_hops - stats.interchip_flits, layer)
        self._count("offchip_link", "transfer", stats.interchip_flits, layer)
        self._count("axon_sram", "write", stats.ejected_flits, layer)
        self._count("router_table", "read", len(packets), layer)
        for name in NOC_SCALARS:
            value = int(getattr(stats, name))
            self.noc_totals[name] = max(self.noc_totals[name], value) if name in NOC_PEAKS \
                else self.noc_totals[name] + value
        self.noc_totals[f"{phase}_cycles"] += int(stats.finish_cycle)
        self.phase_stalls[phase]["no_credit"] += int(stats.stall_no_credit_cycles + stats.inject_no_credit_cycles)
        self.phase_stalls[phase]["link_busy"] += int(stats.stall_output_busy_cycles)
        self.link_flits_by_phase[phase] = _summed(self.link_flits_by_phase.get(phase), stats.link_flits)
        self.link_flits = _summed(self.link_flits, stats.link_flits)
        self.router_flits = _summed(self.router_flits, stats.router_flits)
        return stats.packet_finish_cycles

    # ------------------------------------------------------------------ one step
    def reset_state(self):
        self.state = {n: tuple(np.zeros(l.size, dtype=np.int64) for _ in range(3))   # v, i_syn, s_prev
                      for n, l in self.prog.layers.items()}
        self.previous = {n: np.zeros(l.size, dtype=np.int64) for n, l in self.prog.layers.items()}
        self.delay_lines = delay_lines(self.prog)
        self.learning.reset(self)

    def step(self, inputs_q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        prog = self.prog
        current = dict(inputs_q)
        self.stage_phases = []
        run_stage = tianjicx_stage if prog.params.phase_program == "tianjicx" else _generic_stage
        for si, (stage, passes) in enumerate(zip(self.stages, self.passes)):
            self._stage_index = si
            self.stage_phases.append([])
            space = stage_space(prog, stage.layers, current, self.previous, self.delay_lines)
            run_stage(self, si, stage, passes, space, current)
        for name in prog.layers:
            self.previous[name] = current[name]
        self.cycles = self.timeline.run_step(self.stage_phases)
        return current

    def integrate(self, si: int, stage, passes, space: np.ndarray):
        """Every core of the stage integrates its inputs; its actions are booked. Returns (partial sums per
        slot, per-core finish cycles, per-core counts)."""
        partial, core_cycles, counts = self.engine.integrate(self.prog, stage, space, passes)
        self.core_busy[stage.core_index] += np.asarray(core_cycles, dtype=np.int64)
        self.synaptic_ops += int(counts["sops"].sum() + counts["active_macs"].sum())   # README: synaptic_ops
        self._count_per_core("dendrite", "add", counts["sops"], si)
        self._count_per_core("dendrite_mac", "mac", counts["macs"], si)
        self._count_per_core("synapse_sram", "read", counts["reads"], si)
        self._count_per_core("axon_sram", "read", counts["axon_reads"], si)
        for fifo in CORE_FIFOS[:2]:
            for action in ("push", "pop"):
                self._count_per_core(fifo, action, counts[f"{fifo}_{action}"], si)
        return partial, core_cycles, counts

    def fire(self, name: str, stage, partial: np.ndarray, current: dict):
        """Layer ``name``'s owners update its neurons from the partial sums (bias added); the outputs go to
        ``current[name]`` and the neuron actions are booked. Returns (finish cycles per owner, counts per owner)
        of the owners' fire lines, started ``phase_setup_cycles`` into the phase."""
        prog = self.prog
        layer = prog.layers[name]
        neurons, slots = stage.fire_slots[name]
        layer_current = np.zeros(layer.size, dtype=np.int64)
        layer_current[neurons] = partial[slots] + layer.bias[neurons]
        out, cycles, counts = self.engine.fire(prog, layer, stage, layer_current, self.state[name])
        current[name] = out
        for fifo in CORE_FIFOS[2:]:
            for action in ("push", "pop"):
                self._count(fifo, action, int(np.sum(counts[f"{fifo}_{action}"])), name)
        n = layer.size
        if KINDS[layer.kind] in STATEFUL:
            self._count("neuron_sram", "read", n, name)
            self._count("neuron_sram", "write", n, name)
        self._count("soma_lut" if KINDS[layer.kind] == "relu" else "soma",
                    "read" if KINDS[layer.kind] == "relu" else "add", n, name)
        if layer.spiking:
            self.spikes += int(out.sum())
            if "spike_out" in prog.params.counted_events:
                self._count("spike_out", "spike", int(out.sum()), name)
        return cycles, counts


def _generic_stage(machine: Machine, si: int, stage, passes, space: np.ndarray, current: dict) -> None:
    """One stage in the generic program: integrate, merge (split fan-in only), fire, route, a barrier each."""
    prog, p = machine.prog, machine.prog.params
    partial, core_cycles, counts = machine.integrate(si, stage, passes, space)
    machine._core_work("integrate", stage.core_index, core_cycles, counts)

    if stage.merge_cores:
        adds = machine.merge_adds[si]
        delivered = machine._noc(stage.merge_packets, "merge", _only(adds))
        np.add.at(partial, stage.merge_to, partial[stage.merge_from])
        for name, n in adds.items():             # owners add their senders' partial sums
            machine._count("dendrite", "add", n, name)
        items = MergeItems(prog, stage, delivered)
        finish = machine.engine.merge(prog, items)
        zeros = np.zeros(len(items.owners), np.int64)
        machine._core_work("merge", items.owners, finish, {"full_fifo": zeros, "busy_port": zeros})

    fire_cycles, fire_cores, fire_counts = [], [], defaultdict(list)
    for name in stage.layers:
        cycles, counts = machine.fire(name, stage, partial, current)
        owners = np.asarray(prog.layers[name].owners, dtype=np.int64)
        machine.core_busy[owners] += np.asarray(cycles, dtype=np.int64)
        fire_cycles.extend(np.asarray(cycles).tolist())
        fire_cores.extend(prog.layers[name].owners)
        for key, value in counts.items():
            fire_counts[key].extend(np.asarray(value).tolist())
    machine._core_work("fire", np.asarray(fire_cores, dtype=np.int64), fire_cycles,
                       {key: np.asarray(value, dtype=np.int64) for key, value in fire_counts.items()})

    outputs = np.concatenate([current[name] for name in stage.layers])
    machine.learning.phase(machine, si, space, outputs)
    src, dst_ptr, dst, inject, last_injection = route_packets(
        outputs, stage.route_core_ids, stage.route_spiking, stage.route_neuron_ptr, stage.route_neurons,
        stage.dest_ptr, stage.dest_cores, max(1, p.packet_bits // p.activation_bits),
        p.router_cycles_per_packet, prog.noc.n_cores, np.zeros(len(outputs), np.int64),
        p.message_out_cycles)
    if len(src):
        senders = stage.layers if len(stage.layers) == 1 else {machine.owner_layer[si][c] for c in
                                                                np.unique(src).tolist()}
        if "axon_out" in p.counted_events:
            machine._count("axon_out", "message", len(dst), _only(senders))
        arrival = int(machine._noc(Packets(src, dst_ptr, dst, np.ones(len(src), np.int64), inject), "route",
                                   _only(senders)).max(initial=0))
        machine._close_phase("route", stage.layers, p.phase_setup_cycles + max(arrival, int(last_injection)))


def _only(layers):
    """The one layer of ``layers`` (a collection of names), or None when there are several."""
    return next(iter(layers)) if len(layers) == 1 else None


def _summed(total, flits: np.ndarray) -> np.ndarray:
    """``total + flits`` as a new array (a copy of ``flits`` when ``total`` is None: nothing counted yet)."""
    return flits.copy() if total is None else total + flits
