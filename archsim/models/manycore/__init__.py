"""Tianjic-style many-core chips (Tianjic, TianjicX, Loihi-like, boards): cycle-accurate model.

``simulate(workload, chip, engine="fast", mapping=None) -> Trace``. The micro-architecture (what a
cycle is) is documented in :mod:`.machine` (phases and barriers), :mod:`.pipeline` and docs/core.md
(each core's pipeline stages, FIFOs and synapse banks) and :mod:`.engines`; the integer neuron rules are :mod:`archsim.graph.quantize`'s. ``engine="reference"``
steps one clock at a time (small configurations); ``engine="fast"`` gives identical numbers with
Numba kernels and a SimPy timeline of phases and barriers (:mod:`.timeline`). The chip's
``timing.layer_schedule`` (serial or pipelined, :mod:`archsim.graph.schedule`) rewrites the network
before it is quantised and mapped; the Trace's details say which ran. Folded cores run their
passes one after another (:mod:`.passes`). The Trace's ``active_units`` and NoC link-load grid come
from :mod:`.activity`; its per-layer action counts from :mod:`.machine` (control cycles and NoC
phases several layers share are left unattributed); ``cycles_breakdown["stall_cycles"]`` (per
phase, by cause), ``["stall_cycles_per_core"]``, ``details["buffers"]`` (FIFO and router buffer
depths and high-water marks) and ``noc["link_load_by_phase"]`` say where the machine waited. A batch runs its samples one after another
(state reset between), so cycles and counts add up over samples.

Component names the Trace uses (a chip config's ``components:`` must name these): synapse_sram,
axon_sram, neuron_sram, router_table (sram), dendrite (adder), dendrite_mac (mac), soma (adder),
soma_lut (lut), router (router), link (link), offchip_link (offchip_link, boards), control (logic);
optional, counted only when the config lists them: spike_out (``spike``), axon_out (``message``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from archsim.errors import UserError
from archsim.graph.quantize import Precision, quantize
from archsim.graph.schedule import schedule_of, scheduled
from archsim.mapping import Mapping, map_network, validate_mapping
from archsim.models.manycore.activity import active_units, link_load_map
from archsim.models.manycore.engines import FastEngine, ReferenceEngine
from archsim.models.manycore.machine import CORE_FIFOS, CORE_STALLS, STALL_CAUSES, Machine
from archsim.models.manycore.program import build_program
from archsim.progress import Progress
from archsim.trace import Trace

ENGINES = {"fast": FastEngine, "reference": ReferenceEngine}

__all__ = ["simulate", "prepare", "run_program", "ENGINES"]


def simulate(workload, chip, engine: str = "fast", mapping=None, log=None) -> Trace:
    """Run ``workload`` on ``chip``; ``mapping`` is a Mapping, a mapping file path, or None (map now).
    ``log`` receives progress lines of long stages (:mod:`archsim.progress`)."""
    return run_program(workload, chip, *prepare(workload, chip, engine, mapping, log), engine, log)


def prepare(workload, chip, engine: str = "fast", mapping=None, log=None):
    """Quantise, map (or check ``mapping``) and build the chip program: ``(mapping, program, qnet)``.

    The part of :func:`simulate` before the first time step (benchmarks time it apart).
    """
    if engine not in ENGINES:
        raise UserError(f"--engine: {engine!r} is not allowed (allowed: {', '.join(ENGINES)})")
    network, qnet = chip_network(workload, chip)
    if mapping is None:
        mapping = map_network(network, chip, qnet, log)
    else:
        source = str(mapping) if isinstance(mapping, (str, Path)) else "mapping"
        mapping = Mapping.load(mapping) if isinstance(mapping, (str, Path)) else mapping
        validate_mapping(mapping, network, chip, qnet, source=source)
    return mapping, build_program(qnet, chip, mapping), qnet


def chip_network(workload, chip):
    """``(network, qnet)``: the workload's network in the chip's layer schedule and its integer form at
    the chip's precision, what the mapper and the chip program take."""
    network = scheduled(workload.network, layer_schedule(chip))
    return network, quantize(network, Precision.from_config(chip.params["precision"]))


def layer_schedule(chip) -> str:
    """The chip's ``timing.layer_schedule`` (serial when the config leaves it out)."""
    return str(chip.params["timing"].get("layer_schedule", "serial"))


def run_program(workload, chip, mapping, prog, qnet, engine: str = "fast", log=None) -> Trace:
    """Step ``prog`` through every sample and step of ``workload``; the Trace (progress lines to ``log``)."""
    network = workload.network
    core = chip.params["core"]
    machine = Machine(prog, ENGINES[engine](), int(core["neurons"]), int(core["axons"]))
    inputs_q = qnet.quantize_inputs(workload.inputs)
    out_name = network.outputs[0]
    out_layer = prog.layers[out_name]
    steps, batch = workload.steps, workload.batch
    outputs = np.zeros((steps, batch, *out_layer.shape), dtype=np.float64)
    per_sample_cycles = []
    progress = Progress(log, "simulate", steps * batch, "steps")
    for b in range(batch):
        machine.reset_state()
        start = machine.cycles
        for t in range(steps):
            values = machine.step({name: x[t, b].reshape(-1) for name, x in inputs_q.items()})
            y = values[out_name].astype(np.float64)
            outputs[t, b] = (y if out_layer.spiking else y * out_layer.out_scale).reshape(out_layer.shape)
            progress.update(b * steps + t + 1)
        per_sample_cycles.append(machine.cycles - start)
    cores_used = len(prog.cores)
    machine._count("control", "cycle", machine.cycles * cores_used)
    return _trace(workload, chip, engine, machine, prog, mapping, outputs, per_sample_cycles)


def _trace(workload, chip, engine, machine: Machine, prog, mapping, outputs, per_sample_cycles) -> Trace:
    clock_hz = float(chip.params["clock_mhz"]) * 1e6
    board_x, board_y = mapping.board_shape
    busy = np.zeros((board_y, board_x), dtype=np.float64)
    for core, part in zip(prog.cores, mapping.parts):
        busy[part.core[1], part.core[0]] = machine.core_busy[core.index] / max(machine.cycles, 1)
    noc = dict(machine.noc_totals)
    if machine.link_flits is not None:
        noc["max_link_flits"] = int(machine.link_flits.max())
    noc.update(link_load_map(prog, machine.link_flits))
    noc["link_load_by_phase"] = {phase: {"flit_hops": int(f.sum()), "max_link_flits": int(f.max(initial=0)),
                                         "links_used": int((f > 0).sum())}
                                 for phase, f in machine.link_flits_by_phase.items()}
    depths = dict(zip(CORE_FIFOS, prog.params.fifo_depths))
    buffers = {fifo: {"depth": depths[fifo], "high_water": machine.high_water[fifo]} for fifo in CORE_FIFOS}
    buffers["noc_input_buffer"] = {"depth": prog.noc.buffer_flits, "high_water": noc.get("peak_buffer_flits", 0)}
    steps_total = max(workload.steps * workload.batch, 1)
    return Trace(
        chip=chip.name, family="manycore", workload=workload.name, mode=workload.mode, engine=engine,
        steps=workload.steps, batch=workload.batch, cycles=int(machine.cycles), clock_hz=clock_hz,
        actions={c: dict(a) for c, a in machine.actions.items()},
        actions_by_layer={layer: {c: dict(a) for c, a in components.items()}
                          for layer, components in machine.actions_by_layer.items()},
        synaptic_ops=int(machine.synaptic_ops),
        spikes=int(machine.spikes),
        cycles_breakdown={"per_phase": {ph: int(machine.phase_cycles.get(ph, 0)) for ph in machine.phase_names},
                          "per_layer": {n: int(round(c)) for n, c in machine.layer_cycles.items()},
                          "per_core_busy": {str(c.core_id): int(machine.core_busy[c.index]) for c in prog.cores},
                          "per_sample": [int(c) for c in per_sample_cycles],
                          "stall_cycles": {ph: {cause: int(machine.phase_stalls[ph][cause]) for cause in STALL_CAUSES}
                                           for ph in machine.phase_names},
                          "stall_cycles_per_core": {str(c.core_id): {cause: int(machine.core_stalls[cause][c.index])
                                                                     for cause in CORE_STALLS} for c in prog.cores},
                          "per_step_mean": machine.cycles / steps_total},
        noc=noc,
        details={"buffers": buffers, "cores_used": len(prog.cores), "stages": prog.stages, "mapping": mapping.summary,
                 "layer_schedule": schedule_of(prog.qnet.network),
                 "delay_buffer_bits": int(sum(c.delay_buffer_bits for c in prog.cores)),
                 "core_utilisation": busy.round(4).tolist(), "phase_overruns": machine.overruns,
                 "core_modes": _core_modes(prog),
                 **({"learning": machine.learning.summary(steps_total)} if machine.learning.active else {})},
        active_units=active_units(chip, prog, machine.link_flits, machine.router_flits),
        outputs=outputs)


def _core_modes(prog) -> dict:
    """Cores per mode: snn, ann, and the converters snn->ann / ann->snn (axon mode -> soma mode)."""
    modes: dict[str, int] = {}
    for core in prog.cores:
        axon = "snn" if core.axon_spiking.all() else ("ann" if not core.axon_spiking.any() else "mixed")
        soma = "snn" if prog.layers[core.layer].spiking else "ann"
        key = axon if axon == soma else f"{axon}->{soma}"
        modes[key] = modes.get(key, 0) + 1
    return modes
