"""The chip program: a quantised network on a mapping, as flat per-core arrays both engines read.

Built once per run. Time semantics follow :mod:`archsim.graph.network`: layers are grouped into
*stages* by depth (a layer's stage is one more than the deepest non-recurrent source), so every
layer of a stage reads outputs of earlier stages of the same step, or of the previous step over a
recurrent projection. Each stage runs four phases on the cores of its layers (see
:mod:`archsim.models.manycore`).

Delays (NIR ``Delay``, moved to the source side by :mod:`archsim.graph.delays`): a segment of a
layer's stage input vector whose projection is delayed reads its source's output of ``d`` steps ago
(per source element) from a small history ring, one per delayed segment (:func:`stage_space`), so both
engines see the same inputs as the functional simulator. The chip's ``core.max_delay_steps`` bounds
``d`` (0: the chip has no delay hardware and a Delay node is refused, naming it and the chip). The ring
lives on the receiving cores: ``delay[j] x bits`` per delayed axon (1 bit a spike, ``activation_bits`` a
value), counted in each core's ``delay_buffer_bits`` and held against its synapse memory together with
its synapses (:func:`check_delay_memory`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.errors import UserError
from archsim.graph.delays import DelayLine, delay_buffer_bits
from archsim.graph.quantize import QuantizedNetwork, input_is_valued
from archsim.mapping import BoardShape, Mapping, core_limits, lowered_and_routes
from archsim.mapping.lowering import kernel_bits_per_group
from archsim.models.manycore.kernel_cores import kernel_core
from archsim.noc import NocConfig, core_id

KINDS = ("lif", "cubalif", "li", "threshold", "relu", "identity")
# Optional components of per-event energies: counted only when a chip config lists them (spike_out.spike:
# a neuron's spike leaving its soma; axon_out.message: a route packet's message to one receiving core).
EVENT_COMPONENTS = ("spike_out", "axon_out")
STATEFUL = ("lif", "cubalif", "li")


@dataclass(frozen=True)
class CoreParams:
    """Per-block throughput of a core (chip config ``core:`` and ``timing:``)."""

    dendrite_lanes: int
    mac_lanes: int
    soma_lanes: int
    router_cycles_per_packet: int
    packet_bits: int
    psum_bits: int
    activation_bits: int
    phase_setup_cycles: int
    barrier_cycles: int
    phase_length: str
    fixed_phase_cycles: dict
    synapse_banks: int            # core pipeline (:mod:`.pipeline`): single-ported synapse-memory banks,
    synapse_read_cycles: int      # cycles a read holds its bank's port,
    soma_update_cycles: int       # cycles of the soma stage per group of soma_lanes neurons,
    fifo_depths: tuple            # FIFO depths: axon, synapse, soma, writeback
    neuron_read_cycles: int = 1   # per-event costs (docs/core.md), optional keys: neuron-state read per group,
    axon_in_cycles: int = 0       # message in (first word of an axon read), spike out (per spike, write-back),
    spike_out_cycles: int = 0     # message out (per receiving core of a route packet);
    message_out_cycles: int = 0
    counted_events: frozenset = frozenset()   # optional components the config prices: spike_out, axon_out
    phase_program: str = "generic"   # timing.phase_program: the phases a stage runs (:mod:`.machine`, :mod:`.tianjicx`)
    a2s2_overlap: bool = False       # timing.a2s2_overlap (tianjicx program): Soma2 may run beside the Axon

    @classmethod
    def of(cls, chip) -> "CoreParams":
        core, timing = chip.params["core"], chip.params["timing"]
        if timing.get("a2s2_overlap") and timing.get("phase_program", "generic") != "tianjicx":
            raise UserError(f"{chip.path}: timing.a2s2_overlap: true needs timing.phase_program: tianjicx "
                            "(the Axon || Soma2 overlap is a TianjicX phase's; allowed: false or leave it out)")
        if int(core.get("spike_out_cycles", 0)) and timing.get("phase_program", "generic") == "tianjicx":
            raise UserError(f"{chip.path}: core.spike_out_cycles: {core['spike_out_cycles']} is not modelled by "
                            "timing.phase_program: tianjicx (its Soma1 writes a group's spikes to the send "
                            "register in the group's soma-line slot; allowed: 0 or leave it out)")
        return cls(dendrite_lanes=int(core["dendrite_lanes"]), mac_lanes=int(core["mac_lanes"]),
                   soma_lanes=int(core["soma_lanes"]), router_cycles_per_packet=int(core["router_cycles_per_packet"]),
                   packet_bits=8 * int(core["packet_bytes"]), psum_bits=int(core["psum_bits"]),
                   activation_bits=int(chip.params["precision"]["activation_bits"]),
                   phase_setup_cycles=int(core["phase_setup_cycles"]), barrier_cycles=int(timing["barrier_cycles"]),
                   phase_length=str(timing["phase_length"]), fixed_phase_cycles=dict(timing.get("fixed_phase_cycles", {})),
                   synapse_banks=int(core["synapse_banks"]), synapse_read_cycles=int(core["synapse_read_cycles"]),
                   soma_update_cycles=int(core["soma_update_cycles"]),
                   fifo_depths=tuple(int(core[f"fifo_depth_{k}"]) for k in ("axon", "synapse", "soma", "writeback")),
                   neuron_read_cycles=int(core.get("neuron_read_cycles", 1)),
                   axon_in_cycles=int(core.get("axon_in_cycles", 0)), spike_out_cycles=int(core.get("spike_out_cycles", 0)),
                   message_out_cycles=int(core.get("message_out_cycles", 0)),
                   counted_events=frozenset(EVENT_COMPONENTS) & frozenset(chip.params["components"]),
                   phase_program=str(timing.get("phase_program", "generic")),
                   a2s2_overlap=bool(timing.get("a2s2_overlap", False)))


@dataclass(eq=False)
class CoreProgram:
    """One core: a part of a layer. Local axons x local neurons synapses in CSR (indices int32)."""

    index: int
    layer: str
    core_id: int
    owner: int
    neurons: np.ndarray
    axon_source: np.ndarray      # per local axon: index into the stage input vector of its layer
    axon_spiking: np.ndarray     # per local axon: 1 when its source sends spikes (event-driven), 0 values (MAC)
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    delay_buffer_bits: int = 0   # history ring of its delayed axons (module docstring)
    kernel: object = None        # a kernel-level conv core (.kernel_cores.KernelCore): no synapses listed above

    @property
    def is_owner(self) -> bool:
        return self.owner == self.index


@dataclass(eq=False)
class LayerProgram:
    """A layer's neuron constants (broadcast to its flat size), bias and input layout."""

    name: str
    kind: int
    spiking: bool
    size: int
    shape: tuple
    segments: list                # (source, offset, size, recurrent)
    segment_delays: list          # per segment: steps per source element (int64) or None (module docstring)
    bias: np.ndarray
    decay_q: np.ndarray
    syn_decay_q: np.ndarray
    leak_q: np.ndarray
    threshold_q: np.ndarray
    v_reset_q: np.ndarray
    subtract: bool
    relu_multiplier: int
    relu_shift: int
    out_scale: float
    owners: list                  # owner part indices
    dest_ptr: np.ndarray          # CSR over flat neurons: receiving core ids (excluding the owner's core),
    dest_cores: np.ndarray        # ascending, of neuron n are dest_cores[dest_ptr[n]:dest_ptr[n + 1]]


@dataclass(eq=False)
class Program:
    qnet: QuantizedNetwork
    noc: NocConfig
    params: CoreParams
    cores: list[CoreProgram]
    layers: dict[str, LayerProgram]
    stages: list[list[str]]
    input_spiking: dict[str, bool]
    frac_bits: int
    membrane_min: int
    membrane_max: int
    qmax_act: int


def _flat(value, shape, default=0) -> np.ndarray:
    value = default if value is None else value
    return np.ascontiguousarray(np.broadcast_to(np.asarray(value, dtype=np.int64), shape).reshape(-1))


def _destination_cores(dest_ptr, dest_parts, part_core, owner_core):
    """Receiving parts per neuron -> receiving core ids per neuron, ascending, the owner's core left out."""
    neuron = np.repeat(np.arange(len(dest_ptr) - 1, dtype=np.int64), np.diff(dest_ptr))
    cores = part_core[dest_parts]
    keep = cores != owner_core[neuron]
    neuron, cores = neuron[keep], cores[keep]
    order = np.lexsort((cores, neuron))
    neuron, cores = neuron[order], cores[order]
    fresh = np.ones(len(cores), dtype=bool)
    fresh[1:] = (neuron[1:] != neuron[:-1]) | (cores[1:] != cores[:-1])
    neuron, cores = neuron[fresh], cores[fresh]
    return np.searchsorted(neuron, np.arange(len(dest_ptr))).astype(np.int64), np.ascontiguousarray(cores)


def stages_of(network) -> list[list[str]]:
    depth: dict[str, int] = {}
    for layer in network.layers:
        d = [depth[p.source] for p in layer.projections if not p.recurrent and p.source in depth]
        depth[layer.name] = 1 + max(d, default=0)
    return [[n for n in depth if depth[n] == s] for s in range(1, max(depth.values(), default=0) + 1)]


def build_program(qnet: QuantizedNetwork, chip, mapping: Mapping) -> Program:
    network = qnet.network
    board = BoardShape.of(chip)
    noc = NocConfig.from_params(chip.params["noc"], source=f"{chip.path}: noc")
    lowered, routes = lowered_and_routes(mapping, network, qnet, chip)

    def cid(core):
        x, y = core
        return core_id(noc, x // board.mesh_x, y // board.mesh_y, x % board.mesh_x, y % board.mesh_y)

    spiking_source = {name: not input_is_valued(network, name) for name in network.inputs}
    spiking_source.update({layer.name: layer.spiking for layer in qnet.layers})
    cores = []
    seg_spiking = {}
    for name, low in lowered.items():
        seg_spiking[name] = np.zeros(low.input_size, dtype=np.int64)
        for source, offset, size, _ in low.segments:
            seg_spiking[name][offset:offset + size] = int(spiking_source[source])
    weight_dtype = np.int32 if qnet.qmax < 2 ** 31 else np.int64     # 8 bytes a synapse with int32 indices
    axon_delay = _axon_delays(qnet, lowered, chip)
    value_bits = int(chip.params["precision"]["activation_bits"])
    for part in routes.parts:
        spiking = seg_spiking[part.layer][part.axon_rows]
        held = axon_delay[part.layer][part.axon_rows]
        kernel = None
        if part.indptr is None:                  # a kernel-level conv part: per-pass synapse counts, no list
            kernel = kernel_core(lowered[part.layer], part, mapping.input_groups[part.layer],
                                 int(chip.params["core"]["neurons"]), int(chip.params["core"]["axons"]))
        cores.append(CoreProgram(index=part.index, layer=part.layer, core_id=cid(part.core), owner=part.owner,
                                 neurons=part.neurons, axon_source=part.axon_rows, axon_spiking=spiking,
                                 indptr=part.indptr if kernel is None else np.zeros(len(part.axon_rows) + 1, np.int64),
                                 indices=part.indices if kernel is None else np.zeros(0, np.int32),
                                 weights=np.asarray(part.weights if kernel is None else [], dtype=weight_dtype),
                                 kernel=kernel,
                                 delay_buffer_bits=delay_buffer_bits(held[spiking == 1], 1)
                                 + delay_buffer_bits(held[spiking == 0], value_bits)))
    part_core = np.array([c.core_id for c in cores], dtype=np.int64)
    layers = {}
    for q in qnet.layers:
        shape = (q.size,)
        owners = [c.index for c in cores if c.layer == q.name and c.is_owner]
        owner_core = np.zeros(q.size, dtype=np.int64)
        for p in owners:
            owner_core[cores[p].neurons] = cores[p].core_id
        dest_ptr, dest_cores = _destination_cores(routes.dest_ptr[q.name], routes.dest_parts[q.name],
                                                  part_core, owner_core)
        layers[q.name] = LayerProgram(
            name=q.name, kind=KINDS.index(q.kind), spiking=q.spiking, size=q.size, shape=tuple(q.shape),
            segments=lowered[q.name].segments, segment_delays=[p.delay for p in q.projections],
            bias=_flat(lowered[q.name].bias, shape),
            decay_q=_flat(q.decay_q, shape), syn_decay_q=_flat(q.syn_decay_q, shape), leak_q=_flat(q.leak_q, shape),
            threshold_q=_flat(q.threshold_q, shape), v_reset_q=_flat(q.v_reset_q, shape),
            subtract=q.reset == "subtract", relu_multiplier=int(q.relu_multiplier or 0), relu_shift=int(q.relu_shift),
            out_scale=float(q.out_scale), owners=owners, dest_ptr=dest_ptr, dest_cores=dest_cores)
    check_delay_memory(cores, routes, lowered, chip)
    return Program(qnet=qnet, noc=noc, params=CoreParams.of(chip), cores=cores, layers=layers,
                   stages=stages_of(network), input_spiking={n: spiking_source[n] for n in network.inputs},
                   frac_bits=qnet.precision.decay_frac_bits, membrane_min=qnet.membrane_min,
                   membrane_max=qnet.membrane_max, qmax_act=qnet.qmax_act)


def _axon_delays(qnet: QuantizedNetwork, lowered, chip) -> dict[str, np.ndarray]:
    """Per layer, the delay of each row of its input space (0 where undelayed); a delay beyond the chip's
    ``core.max_delay_steps`` is refused in one line naming the Delay node and the chip."""
    limit = int(chip.params["core"].get("max_delay_steps", 0))
    out = {}
    for q in qnet.layers:
        rows = np.zeros(lowered[q.name].input_size, dtype=np.int64)
        for proj, (_, offset, size, _) in zip(q.projections, lowered[q.name].segments):
            if proj.delay is None:
                continue
            if int(proj.delay.max()) > limit:
                raise UserError(f"{chip.path}: layer {q.name}: Delay node {proj.delay_nodes} of up to "
                                f"{int(proj.delay.max())} steps exceeds core.max_delay_steps: {limit} of {chip.name}"
                                + (" (the chip has no delay hardware)" if limit == 0 else ""))
            rows[offset:offset + size] = proj.delay
        out[q.name] = rows
    return out


def check_delay_memory(cores: list[CoreProgram], routes, lowered, chip) -> None:
    """A core's synapses and its delay ring must fit its synapse memory together (one line when not).

    Assumption: the ring is held in the synapse memory beside the synapses (Loihi keeps delayed
    contributions in a ring buffer at the dendrites instead, Patino-Saucedo et al. 2024, arXiv:2404.10597;
    its size is not modelled).
    """
    if not any(c.delay_buffer_bits for c in cores):
        return
    limits = core_limits(chip)
    for core, part in zip(cores, routes.parts):
        if not core.delay_buffer_bits:
            continue
        low = lowered[core.layer]
        if low.kernel_weights is None:
            synapses = len(part.indices) if core.kernel is None else int(core.kernel.table.sum())
            stored = limits.part_bits(synapses, len(part.axon_rows), len(part.neurons))
        else:                                    # a conv part stores one kernel slice per output channel
            channels = np.unique(part.neurons // max(low.size // low.channels, 1))
            rows = np.array([part.axon_rows.min(), part.axon_rows.max() + 1]) if len(part.axon_rows) else np.array([0, 0])
            stored = len(channels) * int(kernel_bits_per_group(low, rows, limits.weight_bits)[0])
        if stored + core.delay_buffer_bits > limits.memory_bits:
            raise UserError(f"{chip.path}: core.synapse_memory_kb: layer {core.layer}'s part on core "
                            f"{list(part.core)} needs {stored} bits of synapses and {core.delay_buffer_bits} bits of "
                            f"delay ring, more than its {limits.memory_bits} (allowed: shorter delays or a larger memory)")


def delay_lines(prog: Program) -> dict[tuple[str, int], DelayLine]:
    """A fresh history ring (zeros) per delayed segment, keyed by (layer, segment index)."""
    return {(name, k): DelayLine(delay, (len(delay),))
            for name, layer in prog.layers.items() for k, delay in enumerate(layer.segment_delays)
            if delay is not None}


def stage_space(prog: Program, stage_layers, current, previous, lines) -> np.ndarray:
    """The stage input vector: each segment's source output of this step (previous step when recurrent),
    read through its delay line when delayed. Called once per stage and step (each line moves one step)."""
    parts = []
    for name in stage_layers:
        for k, (src, _, _, rec) in enumerate(prog.layers[name].segments):
            x = (previous[src] if rec else current[src]).reshape(-1)
            line = lines.get((name, k))
            parts.append(x if line is None else line(x))
    return np.concatenate(parts or [np.zeros(0, np.int64)]).astype(np.int64, copy=False)
