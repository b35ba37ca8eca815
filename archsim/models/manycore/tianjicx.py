"""TianjicX's phase program (``timing.phase_program: tianjicx``): a stage as TianjicX phases.

Source: the TianjicX toolchain openBII/BiMap (docs/sphinx, "Streaming与Pipelining" of the behaviour
simulator, "时空模型" of the resource simulator, "Mapping IR" constraints; ``asm.proto``). A TianjicX
phase runs up to four primitives on every core, Axon -> Soma1 -> Router -> Soma2, and ends in one
barrier for all cores of its phase group. What runs when, inside the phase:

- **Axon** (integrate): the core's integrate line (docs/core.md), from ``phase_setup_cycles``.
- **Soma1**, row-streamed behind the Axon (BiMap: Axon-Soma1 row pipelining, ``pipeline_num`` rows of
  buffer): the owner of a layer without split fan-in fires its neurons; a core holding part of a
  split fan-in moves its partial sums to the send register (BiMap's mem3 send pipelining). A row of
  the Axon output is complete when the Axon has read every axon feeding it; archsim's Axon streams
  axon-major (docs/core.md), so every row completes with the Axon's last word and Soma1's line
  starts there: no phase boundary (setup and barrier) lies between them, but no row overlaps the
  Axon either (assumption of this model, not of TianjicX, whose MLP Axon loops over output rows).
- **Router**, point-streamed behind Soma1 (BiMap: Soma1-Router point pipelining): a packet is
  injected as soon as the soma group holding its neurons has left the soma line and the router is
  free (one packet every ``router_cycles_per_packet``); spikes and values go to the next stage's
  cores, partial sums to their owner (one packet per sender, injected when its move is done).
- **Soma2** (the owner of a split fan-in adds the received partial sums, in groups of ``soma_lanes``
  through the soma line): BiMap starts Soma2 only after the Router has received everything
  ("Router-Soma2 graph pipelining"), and by default only after the Axon is done (``A2S2-mode`` 0:
  one soma resource, Axon and Soma2 serial). ``timing.a2s2_overlap: true`` is ``A2S2-mode`` 1:
  Soma2 starts when the Router is done, beside the Axon (allowed by BiMap when the two share no
  data: assumption, the received sums are added in the receive area and joined with the owner's
  own in the next phase's Soma1, the same adds in total).

A stage of layers without split fan-in is one phase, ``compute``. A stage with split fan-in needs a
second one, ``merged``: Soma1 of the split layers' owners fires the merged currents and the Router
sends their outputs (BiMap's Mapping IR prefers the next phase's Soma1 over this phase's Soma2).
Data sent in a phase is used in a later one (BiMap: inter-core transfers are whole-graph pipelined),
so the next stage's Axon reads it in its own phase.

Phase groups (BiMap: cores of a phase group synchronise every phase, phase groups every step, step
groups run asynchronously): each stage's cores are one phase group; a stage reads what the stage
before produced in the same step, so the groups of a step run one after another and the step ends
with the last (one step group per chip: assumption).

Soma moves of partial sums are timed but not costed as actions (assumption: a read of the Axon
output and a write of the send register, not modelled); Soma2's adds are booked as ``soma`` adds.
Both engines share this module; the soma lines' per-group exit cycles come from the clocked line of
:mod:`.pipeline` (reference) or the recurrence of :mod:`.kernels` (fast), identical by construction
and checked by the tests.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from archsim.models.manycore.engines import _fire_service
from archsim.models.manycore.kernels import line_item, line_state, route_packets
from archsim.models.manycore.pipeline import run_line
from archsim.noc import Packets

TIANJICX_PHASES = ("compute", "merged")


# ---------------------------------------------------------------------------------------- soma lines
def soma_lines_reference(groups: np.ndarray, service: tuple, depths: tuple):
    """Each line's groups clocked through the soma line from cycle 0: (exit cycle per group, flat, lines in
    order; stall cycles (full FIFO, busy port) per line; high-water marks per line and FIFO). A group's
    exit does not depend on the groups behind it, so the clocked line of its first ``g + 1`` groups ends
    at group ``g``'s exit."""
    exits, stalls, high = [], np.zeros((len(groups), 2), np.int64), np.zeros((len(groups), 2), np.int64)
    for k, g in enumerate(np.asarray(groups).tolist()):
        exits.extend(run_line([-1] * (n + 1), 0, service, depths).finish for n in range(g))
        line = run_line([-1] * g, 0, service, depths)
        stalls[k] = line.full_fifo, line.busy_port
        high[k] = line.high_water
    return np.array(exits, np.int64), stalls, high


@nb.njit(cache=True)
def soma_lines_fast(groups, service, depths):
    """:func:`soma_lines_reference` with the line recurrence (:func:`.kernels.line_item`)."""
    ptr = np.zeros(groups.shape[0] + 1, np.int64)
    ptr[1:] = np.cumsum(groups)
    exits = np.zeros(ptr[-1], np.int64)
    stalls = np.zeros((groups.shape[0], 2), np.int64)
    high = np.zeros((groups.shape[0], 2), np.int64)
    for k in range(groups.shape[0]):
        d_prev, s_hist, pop_ptr, port_free = line_state(service.shape[0], depths, 1)
        for n in range(groups[k]):
            exits[ptr[k] + n] = line_item(n, 0, -1, service, depths, d_prev, s_hist, pop_ptr, port_free, 1, -1,
                                          stalls, high, k)
    return exits, stalls, high


def soma_lines(engine, groups: np.ndarray, p):
    """Soma lines of ``groups[k]`` neuron groups each, by the engine's own implementation; returns
    (flat exit cycles from 0, line offsets into them, stalls per line, high-water marks per line)."""
    groups = np.asarray(groups, np.int64)
    service, depths = _fire_service(p), p.fifo_depths[2:]
    if engine.name == "reference":
        exits, stalls, high = soma_lines_reference(groups, service, depths)
    else:
        exits, stalls, high = soma_lines_fast(groups, np.array(service, np.int64), np.array(depths, np.int64))
    return exits, np.concatenate([[0], np.cumsum(groups)]).astype(np.int64), stalls, high


def _line_ends(exits: np.ndarray, ptr: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Each line's end: its start plus its last group's exit (the start itself without groups)."""
    padded = np.concatenate([[0], exits])              # padded[ptr[k + 1]]: line k's last exit, 0 when empty
    return start + np.where(ptr[1:] > ptr[:-1], padded[ptr[1:]], 0)


# ---------------------------------------------------------------------------------------- a stage's plan
@dataclass
class _Sends:
    """The owners that route in one phase (a subset of the stage's route owners) and, per routed neuron,
    its owner's stage position and the index of its soma group in that phase's soma lines."""

    core_ids: np.ndarray
    spiking: np.ndarray
    neuron_ptr: np.ndarray
    neurons: np.ndarray
    neuron_core: np.ndarray      # per routed neuron: stage position of its owner
    neuron_group: np.ndarray     # per routed neuron: its group's index into the phase's flat exits


@dataclass
class _Plan:
    split: list                  # layers of the stage with split fan-in (fire in the merged phase)
    groups_compute: np.ndarray   # per stage core: Soma1 groups in the compute phase (fire or move)
    sends_compute: _Sends
    merge_sender: np.ndarray     # per partial-sum packet: stage position of its sender
    merge_owner: np.ndarray      # ... and of its owner
    soma2_owner: np.ndarray      # stage positions of the split owners (Soma2 lines, in this order)
    groups_soma2: np.ndarray     # per split owner: groups of received partial sums
    merged_owner: np.ndarray     # stage positions of the split owners firing in the merged phase
    groups_merged: np.ndarray
    sends_merged: _Sends
    position: dict               # core id -> stage position


def _plan(prog, stage) -> _Plan:
    lanes = prog.params.soma_lanes
    position = {c.core_id: k for k, c in enumerate(stage.cores)}
    index_pos = {c.index: k for k, c in enumerate(stage.cores)}
    split = [n for n in stage.layers if any(not c.is_owner for c in stage.cores if c.layer == n)]
    groups = np.array([0 if (c.is_owner and c.layer in split) else -(-len(c.neurons) // lanes)
                       for c in stage.cores], np.int64)
    merged_owner = np.array([index_pos[i] for n in split for i in prog.layers[n].owners], np.int64)
    groups_merged = np.array([-(-len(stage.cores[k].neurons) // lanes) for k in merged_owner], np.int64)
    senders = np.array([k for k, c in enumerate(stage.cores) if not c.is_owner], np.int64)
    owners = np.array([index_pos[int(i)] for i in stage.merge_owner], np.int64)
    soma2_owner = np.unique(owners)
    groups_soma2 = np.zeros(len(soma2_owner), np.int64)
    np.add.at(groups_soma2, np.searchsorted(soma2_owner, owners), -(-stage.merge_neurons // lanes))
    return _Plan(split=split, groups_compute=groups, sends_compute=_sends(prog, stage, groups, index_pos, split, False),
                 merge_sender=senders, merge_owner=owners, soma2_owner=soma2_owner, groups_soma2=groups_soma2,
                 merged_owner=merged_owner, groups_merged=groups_merged,
                 sends_merged=_sends(prog, stage, groups_merged, index_pos, split, True, merged_owner),
                 position=position)


def _sends(prog, stage, groups, index_pos, split, in_split: bool, line_pos=None) -> _Sends:
    """The route owners of the stage whose layer is (``in_split``) or is not split; their soma lines are
    ``groups`` (per stage core, or per entry of ``line_pos`` when given)."""
    lanes = prog.params.soma_lanes
    line_ptr = np.concatenate([[0], np.cumsum(groups)]).astype(np.int64)
    line_of = {int(k): j for j, k in enumerate(line_pos)} if line_pos is not None else None
    ids, spiking, ptr, neurons, core, group = [], [], [0], [], [], []
    k = 0
    for layer in stage.layers:
        for i in prog.layers[layer].owners:
            lo, hi = int(stage.route_neuron_ptr[k]), int(stage.route_neuron_ptr[k + 1])
            if (layer in split) == in_split:
                pos = index_pos[i]
                line = pos if line_of is None else line_of[pos]
                ids.append(int(stage.route_core_ids[k]))
                spiking.append(int(stage.route_spiking[k]))
                neurons.append(stage.route_neurons[lo:hi])
                ptr.append(ptr[-1] + hi - lo)
                core.append(np.full(hi - lo, pos, np.int64))
                group.append(line_ptr[line] + np.arange(hi - lo, dtype=np.int64) // lanes)
            k += 1
    return _Sends(np.array(ids, np.int64), np.array(spiking, np.int64), np.array(ptr, np.int64), _cat(neurons),
                  _cat(core), _cat(group))


def _cat(parts: list) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


# ---------------------------------------------------------------------------------------- a stage's phases
def tianjicx_stage(machine, si: int, stage, passes, space: np.ndarray, current: dict) -> None:
    """Run stage ``si`` as TianjicX phases (module docstring): ``compute``, and ``merged`` when a layer of the
    stage has split fan-in. Outputs go to ``current``; every phase is booked on ``machine``."""
    prog, p = machine.prog, machine.prog.params
    if si not in machine.stage_plans:
        machine.stage_plans[si] = _plan(prog, stage)
    plan = machine.stage_plans[si]
    n_cores = len(stage.cores)

    # Axon
    partial, axon_end, counts = machine.integrate(si, stage, passes, space)
    axon_end = np.asarray(axon_end, np.int64)
    if stage.merge_cores:
        np.add.at(partial, stage.merge_to, partial[stage.merge_from])
        for name, n in machine.merge_adds[si].items():          # Soma2 of the owners adds them
            machine._count("soma", "add", n, name)
    # Soma1: fire (unsplit owners) or move (split senders), from each core's Axon end
    for name in stage.layers:
        if name not in plan.split:
            machine.fire(name, stage, partial, current)
    exits, ptr, stalls, high = soma_lines(machine.engine, plan.groups_compute, p)
    soma1_end = _line_ends(exits, ptr, axon_end)
    has_soma1 = plan.groups_compute > 0
    # Router: outputs and partial sums, each packet as soon as it is produced
    outputs = np.concatenate([np.zeros(prog.layers[n].size, np.int64) if n in plan.split else current[n]
                              for n in stage.layers])
    send = plan.sends_compute
    ready = np.zeros(len(outputs), np.int64)
    ready[send.neurons] = axon_end[send.neuron_core] + exits[send.neuron_group]
    packets = _route(prog, stage, send, outputs, ready)
    messages = len(packets.src)
    if stage.merge_cores:
        psums = stage.merge_packets
        packets = _joined(packets, Packets(psums.src, psums.dst_ptr, psums.dst, psums.flits,
                                           soma1_end[plan.merge_sender]))
    delivered, noc_end, send_end = _deliver(machine, plan, packets, messages, "compute", n_cores, stage)
    # Soma2: the split owners add the received partial sums when the Router is done (and the Axon, A2S2 off)
    done = np.maximum(np.maximum(axon_end, np.where(has_soma1, soma1_end, 0)), send_end)
    soma2_stalls = np.zeros((n_cores, 2), np.int64)
    soma2_high = np.zeros((n_cores, 2), np.int64)
    if len(plan.soma2_owner):
        received = np.zeros(n_cores, np.int64)
        np.maximum.at(received, plan.merge_owner, delivered[-len(plan.merge_sender):])
        own = plan.soma2_owner
        start = np.maximum(received[own], np.where(has_soma1[own], soma1_end[own], 0))
        if not p.a2s2_overlap:
            start = np.maximum(start, axon_end[own])
        e2, ptr2, st2, hi2 = soma_lines(machine.engine, plan.groups_soma2, p)
        soma2_end = _line_ends(e2, ptr2, start)
        done[own] = np.maximum(done[own], soma2_end)
        soma2_stalls[own], soma2_high[own] = st2, hi2
        machine.core_busy[stage.core_index[own]] += soma2_end - start
    machine.core_busy[stage.core_index] += np.where(has_soma1, soma1_end - axon_end, 0)
    machine._core_work("compute", stage.core_index, done, {
        "full_fifo": counts["full_fifo"] + stalls[:, 0] + soma2_stalls[:, 0],
        "busy_port": counts["busy_port"] + stalls[:, 1] + soma2_stalls[:, 1],
        "fifo_axon": counts["fifo_axon"], "fifo_synapse": counts["fifo_synapse"],
        "fifo_soma": np.maximum(high[:, 0], soma2_high[:, 0]),
        "fifo_writeback": np.maximum(high[:, 1], soma2_high[:, 1])}, noc_end=noc_end)

    if plan.split:
        _merged_phase(machine, si, stage, plan, partial, current)


def _merged_phase(machine, si, stage, plan: _Plan, partial: np.ndarray, current: dict) -> None:
    """Soma1 of the split layers' owners fires the merged currents; the Router sends their outputs."""
    prog, p = machine.prog, machine.prog.params
    for name in plan.split:
        machine.fire(name, stage, partial, current)
    exits, ptr, stalls, high = soma_lines(machine.engine, plan.groups_merged, p)
    start = np.full(len(plan.merged_owner), p.phase_setup_cycles, np.int64)
    soma1_end = _line_ends(exits, ptr, start)
    outputs = np.concatenate([current[n] if n in plan.split else np.zeros(prog.layers[n].size, np.int64)
                              for n in stage.layers])
    send = plan.sends_merged
    ready = np.zeros(len(outputs), np.int64)
    ready[send.neurons] = p.phase_setup_cycles + exits[send.neuron_group]
    packets = _route(prog, stage, send, outputs, ready)
    _, noc_end, send_end = _deliver(machine, plan, packets, len(packets.src), "merged", len(stage.cores), stage,
                                    layers=plan.split)
    machine.core_busy[stage.core_index[plan.merged_owner]] += soma1_end - start
    done = np.maximum(soma1_end, send_end[plan.merged_owner])
    machine._core_work("merged", stage.core_index[plan.merged_owner], done, {
        "full_fifo": stalls[:, 0], "busy_port": stalls[:, 1], "fifo_soma": high[:, 0], "fifo_writeback": high[:, 1]},
        layers=plan.split, noc_end=noc_end)


def _route(prog, stage, send: _Sends, outputs: np.ndarray, ready: np.ndarray) -> Packets:
    p = prog.params
    src, dst_ptr, dst, inject, _ = route_packets(
        outputs, send.core_ids, send.spiking, send.neuron_ptr, send.neurons, stage.dest_ptr, stage.dest_cores,
        max(1, p.packet_bits // p.activation_bits), p.router_cycles_per_packet, prog.noc.n_cores, ready,
        p.message_out_cycles)
    return Packets(src, dst_ptr, dst, np.ones(len(src), np.int64), inject)


def _joined(a: Packets, b: Packets) -> Packets:
    """Packets of ``a`` then ``b``, one set for one NoC run."""
    return Packets(np.concatenate([a.src, b.src]), np.concatenate([a.dst_ptr, b.dst_ptr[1:] + a.dst_ptr[-1]]),
                   np.concatenate([a.dst, b.dst]), np.concatenate([a.flits, b.flits]),
                   np.concatenate([a.inject_cycle, b.inject_cycle]))


def _deliver(machine, plan: _Plan, packets: Packets, messages: int, phase: str, n_cores: int, stage, layers=None):
    """One NoC run of the phase's packets, the first ``messages`` of them outputs (spikes or values: each
    holds its router ``message_out_cycles`` per receiving core more and is booked as ``axon_out``
    messages), the rest partial sums. Returns (delivery cycle per packet, the last delivery, per stage
    core the cycle its router has injected its last packet and is free again)."""
    send_end = np.zeros(n_cores, np.int64)
    if not len(packets.src):
        return np.zeros(0, np.int64), 0, send_end
    pos = np.array([plan.position[int(c)] for c in packets.src], np.int64)
    p = machine.prog.params
    receivers = np.diff(packets.dst_ptr)
    receivers[messages:] = 0
    np.maximum.at(send_end, pos, packets.inject_cycle + p.router_cycles_per_packet + p.message_out_cycles * receivers)
    senders = {stage.cores[k].layer for k in np.unique(pos).tolist()}
    layer = next(iter(senders)) if len(senders) == 1 else None
    if "axon_out" in p.counted_events:
        machine._count("axon_out", "message", int(packets.dst_ptr[messages]), layer)
    delivered = machine._noc(packets, phase, layer)
    return delivered, int(delivered.max(initial=0)), send_end
