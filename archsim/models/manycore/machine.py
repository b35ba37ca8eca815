"""The time-step loop shared by both engines: stages, phases, barriers, packets, counts.

One time step = for each stage (layers grouped by depth), four phases, each closed by a barrier
of ``timing.barrier_cycles``:

1. ``integrate``: every core of the stage's layers reads its axons (spikes: only active ones;
   values: all, as MACs) and accumulates partial currents (dendrite).
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
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from archsim.models.manycore.program import STATEFUL, KINDS, Program
from archsim.noc import Packets, simulate as noc_simulate

PHASES = ("integrate", "merge", "fire", "route")


class Machine:
    def __init__(self, prog: Program, engine):
        self.prog, self.engine = prog, engine
        self.cycles = 0
        self.actions: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.phase_cycles = defaultdict(int)
        self.layer_cycles = defaultdict(int)
        self.core_busy = np.zeros(len(prog.cores), dtype=np.int64)
        self.overruns = 0
        self.synaptic_ops = 0
        self.spikes = 0
        self.noc_totals = defaultdict(int)
        self.link_flits = None

    # ------------------------------------------------------------------ bookkeeping
    def _count(self, component: str, action: str, n: int) -> None:
        if n:
            self.actions[component][action] += int(n)

    def _close_phase(self, phase: str, stage_layers, needed: int) -> None:
        p = self.prog.params
        length = needed
        if p.phase_length == "fixed":
            fixed = int(p.fixed_phase_cycles.get(phase, needed))
            self.overruns += int(needed > fixed)
            length = max(fixed, needed)
        length += p.barrier_cycles
        self.cycles += length
        self.phase_cycles[phase] += length
        for name in stage_layers:
            self.layer_cycles[name] += length / len(stage_layers)

    def _noc(self, packets: list, phase: str) -> int:
        if not packets:
            return 0
        stats = noc_simulate(Packets.from_list(packets), self.prog.noc, engine=self.engine.noc_engine)
        self._count("router", "route", stats.router_traversals)
        self._count("link", "transfer", stats.flit_hops - stats.interchip_flits)
        self._count("offchip_link", "transfer", stats.interchip_flits)
        self._count("axon_sram", "write", stats.ejected_flits)
        for key in ("packets", "injected_flits", "ejected_flits", "hops", "flit_hops", "interchip_flits",
                    "stall_cycles"):
            self.noc_totals[key] += int(getattr(stats, key))
        self.noc_totals[f"{phase}_cycles"] += int(stats.finish_cycle)
        self.link_flits = stats.link_flits.copy() if self.link_flits is None else self.link_flits + stats.link_flits
        return int(stats.finish_cycle)

    def _packetise(self, sends: list[tuple[int, np.ndarray, int]]) -> tuple[list, int]:
        """(core, destinations, flits) in each core's send order -> NoC packets with injection cycles."""
        rate = self.prog.params.router_cycles_per_packet
        next_slot: dict[int, int] = defaultdict(int)
        packets = []
        last = 0
        for core, dests, flits in sends:
            start = next_slot[core]
            next_slot[core] = start + rate * flits
            last = max(last, next_slot[core])
            packets.append((core, dests, flits, start))
        self._count("router_table", "read", len(sends))
        return packets, last

    # ------------------------------------------------------------------ one step
    def reset_state(self):
        self.state = {n: (np.zeros(l.size, dtype=np.int64), np.zeros(l.size, dtype=np.int64))
                      for n, l in self.prog.layers.items()}
        self.previous = {n: np.zeros(l.size, dtype=np.int64) for n, l in self.prog.layers.items()}

    def step(self, inputs_q: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        prog, p = self.prog, self.prog.params
        current = dict(inputs_q)
        for stage in prog.stages:
            cores = [c for c in prog.cores if c.layer in stage]
            xs = []
            for core in cores:
                layer = prog.layers[core.layer]
                space = np.concatenate([(self.previous[src] if rec else current[src]).reshape(-1)
                                        for src, _, _, rec in layer.segments]) if layer.segments else np.zeros(0, np.int64)
                xs.append(np.ascontiguousarray(space[core.axon_source], dtype=np.int64))
            partials, core_cycles, counts = self.engine.integrate(prog, cores, xs)
            for core, c in zip(cores, core_cycles):
                self.core_busy[core.index] += c
            self.synaptic_ops += counts["sops"] + counts["macs"]
            self._count("dendrite", "add", counts["sops"])
            self._count("dendrite_mac", "mac", counts["macs"])
            self._count("synapse_sram", "read", counts["reads"])
            self._count("axon_sram", "read", counts["axon_reads"])
            self._close_phase("integrate", stage, self.engine.barrier(core_cycles))

            sums = {c.index: partials[k] for k, c in enumerate(cores) if c.is_owner}
            senders = [(k, c) for k, c in enumerate(cores) if not c.is_owner]
            if senders:
                sends = [(c.core_id, np.array([prog.cores[c.owner].core_id]),
                          max(1, -(-len(c.neurons) * p.psum_bits // p.packet_bits))) for _, c in senders]
                packets, _ = self._packetise(sends)
                arrival = self._noc(packets, "merge")
                adds = defaultdict(int)
                for k, c in senders:
                    owner = prog.cores[c.owner]
                    position = {int(n): j for j, n in enumerate(owner.neurons)}
                    local = np.array([position[int(n)] for n in c.neurons], dtype=np.int64)
                    np.add.at(sums[c.owner], local, partials[k])
                    adds[c.owner] += len(c.neurons)
                    self._count("dendrite", "add", len(c.neurons))
                needed = p.phase_setup_cycles + arrival + max(-(-n // p.dendrite_lanes) for n in adds.values())
                self._close_phase("merge", stage, needed)

            fire_cycles = []
            for name in stage:
                layer = prog.layers[name]
                owners = [prog.cores[i] for i in layer.owners]
                currents = [sums[o.index] + layer.bias[o.neurons] for o in owners]
                outs, cyc = self.engine.fire(prog, layer, owners, currents, self.state[name])
                out = np.zeros(layer.size, dtype=np.int64)
                for o, y, c in zip(owners, outs, cyc):
                    out[o.neurons] = y
                    self.core_busy[o.index] += c
                fire_cycles += cyc
                current[name] = out
                n = layer.size
                if KINDS[layer.kind] in STATEFUL:
                    self._count("neuron_sram", "read", n)
                    self._count("neuron_sram", "write", n)
                self._count("soma_lut" if KINDS[layer.kind] == "relu" else "soma",
                            "read" if KINDS[layer.kind] == "relu" else "add", n)
                if layer.spiking:
                    self.spikes += int(out.sum())
            self._close_phase("fire", stage, self.engine.barrier(fire_cycles))

            sends = []
            for name in stage:
                layer = prog.layers[name]
                out = current[name]
                for i in layer.owners:
                    core = prog.cores[i]
                    if layer.spiking:
                        for n in core.neurons[out[core.neurons] != 0]:
                            d = layer.dest_cores[layer.dest_ptr[n]:layer.dest_ptr[n + 1]]
                            if len(d):
                                sends.append((core.core_id, d, 1))
                    else:
                        per_packet = max(1, p.packet_bits // p.activation_bits)
                        for start in range(0, len(core.neurons), per_packet):
                            chunk = core.neurons[start:start + per_packet]
                            d = np.unique(np.concatenate([layer.dest_cores[layer.dest_ptr[n]:layer.dest_ptr[n + 1]]
                                                          for n in chunk]))
                            if len(d):
                                sends.append((core.core_id, d, 1))
            if sends:
                packets, last_injection = self._packetise(sends)
                arrival = self._noc(packets, "route")
                self._close_phase("route", stage, p.phase_setup_cycles + max(arrival, last_injection))
        for name in prog.layers:
            self.previous[name] = current[name]
        return current
