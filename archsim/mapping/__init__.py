"""Many-core mapping: partition layers onto cores, place them on the mesh, derive routing tables.

``map_network(network, chip) -> Mapping`` (``cut_network`` alone gives the layers' split onto cores,
which a board of any size can then take); ``validate_mapping(mapping, network, chip)`` checks a
loaded or hand-edited mapping; ``lower_network`` gives the lowered layers both use, and
``lowered_and_routes`` hands the chip program builder those map_network already made. The pieces:
:mod:`~archsim.mapping.lowering` (synapse matrices), :mod:`~archsim.mapping.partition` (cuts),
:mod:`~archsim.mapping.parallel_cut` (layers cut side by side), :mod:`~archsim.mapping.tiles` (conv
layers' tile cuts), :mod:`~archsim.mapping.kernels` (large convolutions described by their kernels,
never listed), :mod:`~archsim.mapping.partitioner` (METIS cuts), :mod:`~archsim.mapping.placement`
(mesh positions), :mod:`~archsim.mapping.routing` (axons, owners, multicast destinations),
:mod:`~archsim.mapping.layout` (the Mapping file).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from archsim.errors import UserError
from archsim.graph.plasticity import state_bits_per_synapse
from archsim.mapping.estimate import cores_needed
from archsim.mapping.layout import Mapping, Part
from archsim.mapping.kernels import kernel_layer, use_kernels
from archsim.mapping.lowering import LoweredLayer, lower_layer
from archsim.mapping.parallel_cut import split_layers
from archsim.mapping.partition import (CUTS, GREEDY_SYNAPSE_LIMIT, PARTITIONED, CoreLimits, kernel_bits_per_group,
                                       neuron_order, split_layer)
from archsim.mapping.placement import place
from archsim.mapping.routing import Routes, build_routes, moved_routes, traffic_edges
from archsim.mapping.storage import FORMATS, SynapseFormat
from archsim.mapping.tiles import Tile, tileable
from archsim.progress import Progress

__all__ = ["Mapping", "Part", "Cut", "cut_network", "map_network", "check_fits", "least_cores", "validate_mapping", "lower_network", "lowered_and_routes", "BoardShape", "board_for",
           "core_limits", "Routes", "build_routes"]

#: Membrane words a neuron keeps between steps, by neuron class (archsim.graph.network).
STATE_WORDS = {"LIF": 1, "LI": 1, "CubaLIF": 2}

#: Placement's weight of one hop over an inter-chip link relative to an on-chip hop (assumption:
#: the inter-chip link is several times slower; the NoC config holds the real latency).
INTERCHIP_HOP_WEIGHT = 8.0


@dataclass(frozen=True)
class BoardShape:
    """Cores per chip (mesh_x x mesh_y) and chips per board (chips_x x chips_y), from ``noc:``."""

    mesh_x: int
    mesh_y: int
    chips_x: int = 1
    chips_y: int = 1

    @classmethod
    def of(cls, chip) -> "BoardShape":
        noc = chip.params["noc"]
        return cls(int(noc["mesh_x"]), int(noc["mesh_y"]), int(noc.get("chips_x", 1)), int(noc.get("chips_y", 1)))

    @property
    def size(self) -> tuple[int, int]:
        return self.mesh_x * self.chips_x, self.mesh_y * self.chips_y

    @property
    def cores(self) -> int:
        return self.size[0] * self.size[1]


def synapse_format(chip) -> SynapseFormat:
    """The chip's synapse storage (``core.synapse_format``, ``core.list_header_bits``) and its bits."""
    core = chip.params["core"]
    name = str(core["synapse_format"])
    if name not in FORMATS:
        raise UserError(f"{chip.path}: core.synapse_format: {name!r} is not allowed (allowed: {', '.join(FORMATS)})")
    return SynapseFormat.of(name, int(chip.params["precision"]["weight_bits"]), int(core["neurons"]),
                            int(core.get("list_header_bits", 0)))


def board_for(cores: int, board: BoardShape) -> tuple[int, int]:
    """The squarest chips_x x chips_y board (chips_x >= chips_y) of ``board``'s chip holding ``cores`` cores."""
    chips = -(-cores // (board.mesh_x * board.mesh_y))
    chips_y = int(np.floor(np.sqrt(chips)))
    return -(-chips // max(chips_y, 1)), max(chips_y, 1)


def core_limits(chip) -> CoreLimits:
    core = chip.params["core"]
    weight_bits = int(chip.params["precision"]["weight_bits"])
    limits = CoreLimits(neurons=int(core["neurons"]), axons=int(core["axons"]),
                        memory_bits=int(float(core["synapse_memory_kb"]) * 8192), weight_bits=weight_bits,
                        max_fold=int(core.get("max_fold", 1)),
                        state_bits=int(float(core.get("neuron_memory_kb", 0)) * 8192),
                        membrane_bits=int(chip.params["precision"]["membrane_bits"]), storage=synapse_format(chip),
                        cell_bits=tuple(sorted({int(b) for b in core.get("synapse_cell_bits", [])
                                                if int(b) < weight_bits} | {weight_bits})))
    if limits.memory_bits < weight_bits:
        raise UserError(f"{chip.path}: core.synapse_memory_kb: {core['synapse_memory_kb']} holds no "
                        f"{weight_bits}-bit synapse, a core too small for any neuron (allowed: >= {weight_bits / 8192:.6f})")
    return limits


def stored_weight_bits(low: LoweredLayer, limits: CoreLimits) -> int:
    """Bits of one stored weight of ``low``: the narrowest of the core's cell widths (``limits.cell_bits``:
    ``core.synapse_cell_bits`` narrower than ``precision.weight_bits``, and that full width)
    that holds every integer weight of the layer (a b-bit cell holds |w| <= 2^(b-1) - 1: 2 bits are
    ternary), else ``limits.weight_bits`` (also for float weights, before quantisation)."""
    data = low.matrix.data if low.kernels is None else low.kernels.weights
    if not limits.cell_bits or not np.issubdtype(data.dtype, np.integer):
        return limits.weight_bits
    peak = int(np.abs(data).max(initial=0)) if low.kernels is None else low.kernels.stored_max_abs()
    return next((b for b in limits.cell_bits if peak <= 2 ** (b - 1) - 1), limits.weight_bits)


def layer_limits(limits: CoreLimits, low: LoweredLayer) -> CoreLimits:
    """``limits`` with the weight width the cores of ``low`` are set to (:func:`stored_weight_bits`); a plastic
    layer's synapses are full-width cells widened by their plastic state
    (:func:`~archsim.graph.plasticity.state_bits_per_synapse`: global weight, trace, coefficient)."""
    bits = stored_weight_bits(low, limits) if not low.plastic else \
        limits.weight_bits + state_bits_per_synapse(limits.weight_bits)
    if bits == limits.weight_bits:
        return limits
    return replace(limits, weight_bits=bits, storage=replace(limits.synapse_format, weight_bits=bits))


def _state_words(network) -> dict[str, int]:
    return {layer.name: STATE_WORDS.get(type(layer.neuron).__name__, 0) for layer in network.layers}


def least_cores(network, chip, quantized=None) -> dict[str, int]:
    """Per layer, the cores ``network`` needs at least on ``chip``'s cores, counted from layer shapes and
    formats before anything is lowered (:mod:`~archsim.mapping.estimate`): quick on any size."""
    layers = quantized.layers if quantized is not None else network.layers
    return cores_needed(layers, network.shape_of, _state_words(network), core_limits(chip))


def check_fits(network, chip, quantized=None) -> None:
    """UserError when ``network`` surely needs more cores than ``chip`` has (:func:`least_cores`)."""
    board = BoardShape.of(chip)
    needed = least_cores(network, chip, quantized)
    total = sum(needed.values())
    if total > board.cores:
        chips_x, chips_y = board_for(total, board)
        raise UserError(f"{network.name}: needs {total} cores but {chip.path} has {board.cores}: at least that many, "
                        f"counted from its layer shapes and the chip's formats before mapping; a board of {chips_x} x "
                        f"{chips_y} of these chips or more (noc.chips_x: {chips_x}, noc.chips_y: {chips_y}) would hold "
                        f"that many, and mapped there the cut may need more (it says how many); per layer: {_listed(needed)}")


def _listed(per_layer: dict[str, int]) -> str:
    return ", ".join(f"{n}: {c}" for n, c in per_layer.items())


def lower_network(network, quantized=None, kernel_level=None) -> dict[str, LoweredLayer]:
    """Lowered layers (integer ones from ``quantized`` when given, else the float network's); the
    layers ``kernel_level`` names (name -> KernelLayer, :func:`kernel_candidates`) at kernel level."""
    layers = quantized.layers if quantized is not None else network.layers
    state = _state_words(network)
    kernel_level = kernel_level or {}
    return {layer.name: lower_layer(layer.name, layer.shape, layer.projections, network.shape_of, state[layer.name],
                                    kernel_level.get(layer.name)) for layer in layers}


def mapping_cuts(chip) -> tuple:
    """The kinds of cut the chip's ``mapping.cuts`` allows (all by default)."""
    return tuple(chip.params.get("mapping", {}).get("cuts", CUTS))


def kernel_candidates(network, quantized, chip, orders=None) -> dict:
    """Layers mapped at kernel level on ``chip`` (:func:`~archsim.mapping.kernels.use_kernels`), by name;
    with a mapping's ``orders``, only those it cuts in tiles (a layer whose tile search found no cut
    was lowered explicitly)."""
    if chip is None:
        return {}
    layers = quantized.layers if quantized is not None else network.layers
    cuts = mapping_cuts(chip)
    out = {}
    for layer in layers:
        if orders is not None and Tile.parse(str(orders.get(layer.name, ""))) is None:
            continue
        kernels = kernel_layer(layer.projections, tuple(layer.shape), network.shape_of)
        if use_kernels(kernels, cuts, GREEDY_SYNAPSE_LIMIT):
            out[layer.name] = kernels
    return out


@dataclass
class Cut:
    """Every layer's lowering and split onto cores, before placement: it depends on the chip's cores,
    not on its board, so one cut serves any board that holds :attr:`cores` (:func:`map_network`)."""

    lowered: dict[str, LoweredLayer]
    splits: dict
    specs: list = field(init=False)

    def __post_init__(self):
        self.specs = [(name, p) for name, low in self.lowered.items() for p in self.splits[name].parts(low)]

    @property
    def cores(self) -> int:
        return len(self.specs)


def cut_network(network, chip, quantized=None, log=None) -> Cut:
    """Lower and split every layer for ``chip``'s cores; UserError when the network cannot fit the
    board (:func:`check_fits`, counted before anything is lowered). ``log`` receives progress lines."""
    check_fits(network, chip, quantized)
    limits = core_limits(chip)
    lowered = lower_network(network, quantized, kernel_candidates(network, quantized, chip))
    options = chip.params.get("mapping", {})
    seed = int(options.get("seed", 0))
    kinds = mapping_cuts(chip)
    progress = Progress(log, "map: cut", len(lowered), "layers")
    splits = split_layers(lowered, {name: layer_limits(limits, low) for name, low in lowered.items()}, seed, kinds,
                          progress)
    for name in [name for name, split in splits.items() if split is None]:
        # kernel level without a tile cut: lowered explicitly
        layer = next(l for l in (quantized if quantized is not None else network).layers if l.name == name)
        low = lowered[name] = lower_layer(name, layer.shape, layer.projections, network.shape_of, lowered[name].state_words)
        splits[name] = split_layer(low, layer_limits(limits, low), seed, kinds)
    return Cut(lowered, splits)


def map_network(network, chip, quantized=None, log=None, cut: Cut | None = None) -> Mapping:
    """Cut (or take ``cut``, made by :func:`cut_network` for a chip of the same cores), place and route
    ``network`` on ``chip``; UserError when it does not fit. ``log`` receives progress lines of the
    cut when it is long (:mod:`archsim.progress`)."""
    cut = cut if cut is not None else cut_network(network, chip, quantized, log)
    lowered, splits, specs = cut.lowered, cut.splits, cut.specs
    limits = core_limits(chip)
    board = BoardShape.of(chip)
    options = chip.params.get("mapping", {})
    seed = int(options.get("seed", 0))
    if len(specs) > board.cores:
        chips_x, chips_y = board_for(len(specs), board)
        raise UserError(f"{network.name}: needs {len(specs)} cores but {chip.path} has {board.cores} "
                        f"({_listed({n: sum(1 for s in specs if s[0] == n) for n in lowered})}); a board of "
                        f"{chips_x} x {chips_y} of these chips would hold it "
                        f"(noc.chips_x: {chips_x}, noc.chips_y: {chips_y}), or use a larger mesh")
    draft = Mapping(network=network.name, chip=chip.name, board_shape=board.size,
                    orders={n: c.order for n, c in splits.items()}, input_groups={n: c.input_groups for n, c in splits.items()},
                    permutations={n: c.permutation for n, c in splits.items() if c.permutation is not None},
                    parts=[Part(layer=n, core=(0, 0), neurons=(p[0], p[1]), inputs=(p[2], p[3])) for n, p in specs])
    routes = build_routes(draft, lowered)                     # placement moves parts, not what they route
    edges = traffic_edges(routes)
    coords = place(len(specs), edges, board.mesh_x, board.mesh_y, board.chips_x, board.chips_y,
                   passes=int(options.get("placement_passes", 20)), interchip_hop_weight=INTERCHIP_HOP_WEIGHT,
                   seed=seed)
    mapping = Mapping(network=draft.network, chip=draft.chip, board_shape=draft.board_shape, orders=draft.orders,
                      input_groups=draft.input_groups, permutations=draft.permutations,
                      parts=[Part(p.layer, (int(c[0]), int(c[1])), p.neurons, p.inputs) for p, c in zip(draft.parts, coords)])
    routes = moved_routes(routes, mapping)
    mapping.summary = summarize(mapping, routes, lowered, limits, board)
    mapping.handover = (quantized, lowered, routes)
    return mapping


def lowered_and_routes(mapping: Mapping, network, quantized, chip=None) -> tuple[dict[str, LoweredLayer], Routes]:
    """The lowered layers of ``quantized`` and ``mapping``'s routes: the ones :func:`map_network`
    made for this quantised network (taken off the mapping, so they are freed with their user),
    else lowered (at kernel level where ``chip`` maps so and the mapping cuts tiles) and routed now."""
    handover, mapping.handover = mapping.handover, None
    if handover is not None and handover[0] is quantized:
        return handover[1], handover[2]
    lowered = lower_network(network, quantized, kernel_candidates(network, quantized, chip, mapping.orders))
    return lowered, build_routes(mapping, lowered)


def summarize(mapping: Mapping, routes: Routes, lowered: dict[str, LoweredLayer], limits: CoreLimits,
              board: BoardShape) -> dict:
    """Cores used, utilisation of neurons/axons/memory, and expected traffic (packets x hops per step).

    Utilisation is of what the used cores offer: a folded core's ``passes`` x ``core.neurons`` neuron
    and ``passes`` x ``core.axons`` axon slots, so it never exceeds 100%.
    """
    neurons = sum(len(p.neurons) for p in routes.parts if p.owner == p.index)
    axons = sum(len(p.axon_rows) for p in routes.parts)
    passes = sum(max(1, -(-len(p.neurons) // limits.neurons)) for p in routes.parts) or 1
    edges = traffic_edges(routes)
    where = {p.index: p.core for p in routes.parts}
    packets = sum(edges.values())
    hop_packets = sum(w * (abs(where[a][0] - where[b][0]) + abs(where[a][1] - where[b][1])) for (a, b), w in edges.items())
    return {"cores_used": len(routes.parts), "cores_available": board.cores,
            "neuron_utilisation": round(neurons / (passes * limits.neurons), 4),
            "axon_utilisation": round(axons / (passes * limits.axons), 4),
            "folded_cores": sum(1 for p in routes.parts if len(p.neurons) > limits.neurons),
            "split_layers": sorted(n for n, g in mapping.input_groups.items() if len(g) > 2),
            "partitioned_layers": sorted(mapping.permutations),
            "expected_packets_per_step": round(packets, 1), "expected_packet_hops_per_step": round(hop_packets, 1)}


def validate_mapping(mapping: Mapping, network, chip, quantized=None, source: str = "mapping") -> None:
    """One-line UserError when ``mapping`` does not match ``network`` or breaks ``chip``'s limits."""
    limits = core_limits(chip)
    board = BoardShape.of(chip)
    if tuple(mapping.board_shape) != board.size:      # before any array of the board's size is made
        raise UserError(f"{source}: board_shape: {list(mapping.board_shape)[:2]} does not match {chip.path} "
                        f"(allowed: {list(board.size)}, its noc.mesh_x * chips_x, noc.mesh_y * chips_y)")
    lowered = lower_network(network, quantized, kernel_candidates(network, quantized, chip, mapping.orders))
    if set(mapping.orders) != set(lowered):
        missing = sorted(set(lowered) - set(mapping.orders)) or sorted(set(mapping.orders) - set(lowered))
        raise UserError(f"{source}: layers: {missing[0]!r} does not match network {network.name} "
                        f"(allowed layers: {', '.join(lowered)})")
    seen = {}
    for part in mapping.parts:
        x, y = part.core
        if not (0 <= x < board.size[0] and 0 <= y < board.size[1]):
            raise UserError(f"{source}: layers.{part.layer}.parts: core {list(part.core)} is outside the "
                            f"{board.size[0]} x {board.size[1]} board of {chip.path}")
        if part.core in seen:
            raise UserError(f"{source}: layers.{part.layer}.parts: core {list(part.core)} already runs a part of {seen[part.core]}")
        seen[part.core] = part.layer
    for name, low in lowered.items():
        _validate_layer(mapping, name, low, layer_limits(limits, low), source)


def _validate_layer(mapping: Mapping, name: str, low: LoweredLayer, limits: CoreLimits, source: str) -> None:
    key = f"{source}: layers.{name}"
    order = mapping.orders[name]
    if order not in ("chw", "hwc", PARTITIONED) and (Tile.parse(order) is None or not tileable(low)):
        raise UserError(f"{key}.order: {order!r} is not allowed (allowed: chw, hwc, "
                        f"tile-c<channels>-r<rows>-w<columns> on a conv layer, {PARTITIONED} with a permutation)")
    permutation = mapping.permutations.get(name)
    if order == PARTITIONED and (permutation is None or permutation.shape != (low.size,)
                                 or not np.array_equal(np.sort(permutation), np.arange(low.size))):
        raise UserError(f"{key}.permutation: not a permutation of the layer's {low.size} neurons "
                        f"(allowed: each of 0..{low.size - 1} once, with order {PARTITIONED})")
    perm = neuron_order(low, order, permutation)
    csc = low.matrix.tocsc() if low.kernels is None else None
    synapses = np.zeros(low.size, dtype=np.int64)
    for part in mapping.layer_parts(name):
        (a, b), (i, j) = part.neurons, part.inputs
        if not (0 <= a < b <= low.size) or not (0 <= i < j <= max(low.input_size, 1)):
            raise UserError(f"{key}.parts: neurons {list(part.neurons)} / inputs {list(part.inputs)} outside "
                            f"the layer (allowed: neurons within [0, {low.size}], inputs within [0, {low.input_size}])")
        if b - a > limits.max_neurons:
            raise UserError(f"{key}.parts: {b - a} neurons on core {list(part.core)} "
                            f"(allowed: <= {limits.max_neurons}, core.neurons x core.max_fold)")
        axons, per_neuron = _part_pattern(low, csc, perm[a:b], i, j)
        if axons > limits.axons * limits.max_fold:
            raise UserError(f"{key}.parts: {axons} axons on core {list(part.core)} "
                            f"(allowed: <= {limits.axons * limits.max_fold}, core.axons x core.max_fold)")
        if low.kernel_weights is None:
            bits = limits.part_bits(int(per_neuron.sum()), axons, b - a)
        else:
            channels = np.unique(perm[a:b][per_neuron > 0] // max(low.size // low.channels, 1))
            bits = len(channels) * int(kernel_bits_per_group(low, np.array([i, j]), limits.weight_bits)[0])
        if bits > limits.memory_bits:
            raise UserError(f"{key}.parts: {bits // 8} bytes of weights on core {list(part.core)} "
                            f"(allowed: <= {limits.memory_bits // 8}, core.synapse_memory_kb)")
        state = (b - a) * low.state_words * limits.membrane_bits
        if limits.state_bits and state > limits.state_bits:
            raise UserError(f"{key}.parts: {state // 8} bytes of neuron state on core {list(part.core)} "
                            f"(allowed: <= {limits.state_bits // 8}, core.neuron_memory_kb)")
        synapses[perm[a:b]] += per_neuron
    fan_in = np.diff(csc.indptr) if csc is not None else low.kernels.fan_in()
    wrong = np.flatnonzero(synapses != fan_in)
    if len(wrong):
        n = int(wrong[0])
        raise UserError(f"{key}.parts: neuron {n} has {int(synapses[n])} of its {int(fan_in[n])} "
                        "synapses on cores (allowed: each synapse on exactly one core)")


def _part_pattern(low: LoweredLayer, csc, neurons: np.ndarray, start: int, stop: int) -> tuple[int, np.ndarray]:
    """(distinct axons, synapses per neuron) of the part of ``neurons`` over input rows [start, stop):
    from the layer's CSC columns, or generated from its kernels at kernel level."""
    if csc is None:
        ptr, rows, _ = low.kernels.columns(neurons, start, stop)
        return len(np.unique(rows)), np.diff(ptr)
    block = csc[start:stop][:, neurons]
    return int(np.count_nonzero(np.diff(block.tocsr().indptr))), np.diff(block.indptr)
