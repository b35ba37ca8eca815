"""Component attributes that follow from a chip's architecture parameters, filled in on load.

A chip config states each architecture parameter once (``core.dendrite_lanes``, ``noc.buffer_flits``,
``fe.lut_group``, ...); the timing model reads it there and the cost model reads the ``components:``
entries it implies, which this module writes into the loaded mapping. A config may still give one of
these attributes explicitly (a sweep may set it too), but a value other than the derived one is a
one-line error naming both keys. Components of class ``fixed`` (per-event energies taken from a
source) and components a config does not list are left as they are, except the many-core family's
core FIFOs, which exist only through their depth keys and are added whole (below).

Rules per family (``RULES``), each ``(component, attribute, parameter keys, function, formula)``:

manycore (cores = ``noc.mesh_x * mesh_y * chips_x * chips_y``)
  one per core: synapse_sram, axon_sram, neuron_sram, router_table, soma_lut, router and control
  .count = cores (each core has its memories, its activation table, its router and its controller).
  link.count = chips x 2 x ((mesh_x - 1) x mesh_y + mesh_x x (mesh_y - 1)): the directed links between
  neighbouring routers of each chip's mesh. offchip_link.count = 2 x ((chips_x - 1) x chips_y x mesh_y +
  chips_x x (chips_y - 1) x mesh_x): a directed link each way between every pair of facing border
  routers (:mod:`archsim.noc.topology`).
  dendrite.count = core.dendrite_lanes x cores; dendrite_mac.count = core.mac_lanes x cores;
  soma.count = core.soma_lanes x cores. synapse_sram.width_bits = max(dendrite_lanes, mac_lanes) x
  precision.weight_bits: the integrate phase reads one word per cycle and feeds every lane from it
  (``archsim.models.manycore.engines``), so the port is as wide as the lanes it feeds.
  router.buffer_flits = noc.buffer_flits and router.flit_bits = noc.flit_bits: the router the NoC
  simulates is the router the cost model prices (its area: ports x buffer_flits x flit_bits of buffer).
  synapse_sram.banks = core.synapse_banks: the banks whose ports the integrate line contends for are
  the banks the SRAM estimator prices (each bank of size_kb / banks: more banks, more periphery area
  and leakage, less energy per read).
  The core's FIFOs (docs/core.md) are components of their own, added when the config does not list
  them: fifo_axon, fifo_synapse, fifo_soma, fifo_writeback, class fifo, count = cores, depth =
  core.fifo_depth_<name>, an entry as wide as what it carries (``FIFO_WIDTHS``):
    fifo_axon      a synapse-word request: ceil(log2 synapse words) address bits (words of the synapse
                   port, core.synapse_memory_kb x 8192 / (max(lanes) x weight_bits)) + the axon's value
                   (activation_bits: a graded input travels to the MAC lanes; a spike needs 1 of them);
    fifo_synapse   the word read: max(dendrite_lanes, mac_lanes) x weight_bits + the axon's value
                   (activation_bits) + ceil(log2 core.neurons) bits naming the local neuron the word's
                   first lane adds into;
    fifo_soma      soma_lanes x (2 x membrane_bits + psum_bits): each neuron's state as the neuron
                   memory holds it (membrane potential and synaptic current) and its integrated input;
    fifo_writeback soma_lanes x (2 x membrane_bits + activation_bits): the updated state and the
                   neuron's output (a spike, or an activation of activation_bits).
  A FIFO takes ``power_gated`` from the unit it feeds (integrate FIFOs: dendrite, fire FIFOs: soma).
  A chip whose unit is priced by per-event figures (class ``fixed``: Loihi's SANA-FE energies per
  synaptic op and per neuron update) already pays for its queues in those figures: its FIFOs are
  added as ``fixed`` components of zero energy and area saying so, so the Trace's pushes and pops are
  still counted and cost nothing twice.
  core.synapse_read_cycles and core.soma_update_cycles size nothing: they are how long the same
  SRAM port and soma datapath are held (no unit is added or widened), and they cost through the
  leakage of the longer run only.

h2learn (invariant of a LUT-group sweep: a fixed number of tables per PE, ``fe.lut_tables``)
  fe_lut.entries = fe.lut_tables x 2^fe.lut_group; fe_lut.width_bits = precision.weight_bits +
  ceil(log2 lut_group) (a sum of k signed weights needs log2 k carry bits). wue_lut.entries =
  wue.lut_tables x 2^wue.lut_steps; its width stays given (the configs round the 19 bits of a sum of
  6 16-bit gradients up to 20). Keeping the table count fixed
  keeps the number of table reads per input group and the FE's passes over a layer the same at every
  k, so a k sweep trades LUT storage (2^k entries a table) against adds saved (k - 1 a read).
  be_index.count = be.neuron_lanes (one prefix-sum adder per gradient-unit lane raising a flag);
  the weight, activation and gradient buffers are stated once, as SRAM components (``size_kb``,
  ``width_bits``), and the timing model reads its capacities and word width from them
  (:mod:`archsim.models.h2learn.params`), so nothing is derived for them here;
  fe_neuron_mul/fe_neuron_cmp.count = fe.neuron_lanes; be_unit_mul/be_unit_cmp.count = be.neuron_lanes.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from archsim.errors import UserError


def _number(params: dict, dotted: str):
    """The number (int or float) at ``dotted`` in ``params``, or None when absent or not a number."""
    node = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def _int(params: dict, dotted: str):
    """The integer at ``dotted`` in ``params``, or None when absent or not an integer (the schema says why)."""
    value = _number(params, dotted)
    return value if isinstance(value, int) else None


def manycore_cores(params: dict) -> int | None:
    """Cores of a many-core config: the mesh of one chip times the board of chips."""
    mesh_x, mesh_y = _int(params, "noc.mesh_x"), _int(params, "noc.mesh_y")
    if mesh_x is None or mesh_y is None:
        return None
    return mesh_x * mesh_y * (_int(params, "noc.chips_x") or 1) * (_int(params, "noc.chips_y") or 1)


def _carry_bits(k: int) -> int:
    return math.ceil(math.log2(k)) if k > 1 else 0


Rule = tuple[str, str, tuple[str, ...], Callable[..., int], str]

_CORES = "cores"   # not a config key: the cores of the mesh and board (manycore_cores)
_MESH_LINKS = "mesh links"      # not a config key: directed on-chip links of every chip (mesh_links)
_BORDER_LINKS = "border links"  # not a config key: directed chip-to-chip links of the board (border_links)
PER_CORE = ("synapse_sram", "axon_sram", "neuron_sram", "router_table", "soma_lut", "router", "control")


def _board(params: dict) -> tuple | None:
    mesh_x, mesh_y = _int(params, "noc.mesh_x"), _int(params, "noc.mesh_y")
    if mesh_x is None or mesh_y is None:
        return None
    return mesh_x, mesh_y, _int(params, "noc.chips_x") or 1, _int(params, "noc.chips_y") or 1


def mesh_links(params: dict) -> int | None:
    """Directed links between neighbouring routers, summed over the chips of the board."""
    board = _board(params)
    if board is None:
        return None
    mesh_x, mesh_y, chips_x, chips_y = board
    return chips_x * chips_y * 2 * ((mesh_x - 1) * mesh_y + mesh_x * (mesh_y - 1))


def border_links(params: dict) -> int | None:
    """Directed chip-to-chip links: one each way between every pair of facing border routers."""
    board = _board(params)
    if board is None:
        return None
    mesh_x, mesh_y, chips_x, chips_y = board
    return 2 * ((chips_x - 1) * chips_y * mesh_y + chips_x * (chips_y - 1) * mesh_x)


def synapse_word_bits(params: dict) -> int | None:
    """Bits of one synapse-memory word: the port that feeds every lane (max(lanes) x weight_bits)."""
    dendrite, mac, bits = (_int(params, k) for k in ("core.dendrite_lanes", "core.mac_lanes", "precision.weight_bits"))
    return None if None in (dendrite, mac, bits) else max(dendrite, mac) * bits


def _address_bits(n: int) -> int:
    """Bits that name one of ``n`` things (at least 1; a count below 1 is left to the schema to refuse)."""
    return math.ceil(math.log2(n)) if n > 1 else 1


def synapse_address_bits(params: dict) -> int | None:
    """Address bits of a synapse-memory word: ceil(log2(core.synapse_memory_kb x 8192 / word bits))."""
    word, size_kb = synapse_word_bits(params), _number(params, "core.synapse_memory_kb")
    if word is None or size_kb is None or word < 1 or size_kb <= 0:
        return None
    return _address_bits(math.ceil(size_kb * 8192 / word))


_WORD_BITS = "synapse word bits"        # not a config key: synapse_word_bits
_ADDRESS_BITS = "synapse address bits"  # not a config key: synapse_address_bits

# The core's FIFOs (docs/core.md): name -> (depth key, the unit it feeds, entry width rule). The unit
# says how the chip prices that stage: a fixed-class unit folds the FIFO into its per-event figure.
FIFO_WIDTHS: dict[str, tuple[str, str, tuple[str, ...], Callable[..., int], str]] = {
    "fifo_axon": ("core.fifo_depth_axon", "dendrite", (_ADDRESS_BITS, "precision.activation_bits"),
                  lambda address, act: address + act,
                  "ceil(log2(core.synapse_memory_kb x 8192 / synapse word bits)) + precision.activation_bits"),
    "fifo_synapse": ("core.fifo_depth_synapse", "dendrite",
                     (_WORD_BITS, "precision.activation_bits", "core.neurons"),
                     lambda word, act, neurons: word + act + _address_bits(neurons),
                     "max(core.dendrite_lanes, core.mac_lanes) x precision.weight_bits + "
                     "precision.activation_bits + ceil(log2 core.neurons)"),
    "fifo_soma": ("core.fifo_depth_soma", "soma", ("core.soma_lanes", "precision.membrane_bits", "core.psum_bits"),
                  lambda lanes, membrane, psum: lanes * (2 * membrane + psum),
                  "core.soma_lanes x (2 x precision.membrane_bits + core.psum_bits)"),
    "fifo_writeback": ("core.fifo_depth_writeback", "soma",
                       ("core.soma_lanes", "precision.membrane_bits", "precision.activation_bits"),
                       lambda lanes, membrane, act: lanes * (2 * membrane + act),
                       "core.soma_lanes x (2 x precision.membrane_bits + precision.activation_bits)"),
}


def _fifo_rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for name, (depth_key, _, width_keys, width, formula) in FIFO_WIDTHS.items():
        rules += [(name, "count", (_CORES,), lambda cores: cores, "cores (noc.mesh_x x mesh_y x chips_x x chips_y)"),
                  (name, "depth", (depth_key,), lambda depth: depth, depth_key),
                  (name, "width_bits", width_keys, width, formula)]
    return tuple(rules)


def _with_core_fifos(block: dict, params: dict) -> dict:
    """``block`` with every core FIFO the config does not list (or lists only in part, as an override
    does) given its class: ``fifo``, or a zero ``fixed`` component where the unit it feeds is fixed."""
    out = dict(block)
    for name, (_, unit, _, _, _) in FIFO_WIDTHS.items():
        feeds = block.get(unit)
        spec = block.get(name, {})
        if not isinstance(feeds, dict) or not isinstance(spec, dict) or "class" in spec:
            continue
        if feeds.get("class") == "fixed":
            default = {"class": "fixed", "count": manycore_cores(params) or 1, "energy_pj": {"push": 0.0, "pop": 0.0},
                       "source": f"folded into components.{unit}'s per-event figures (class fixed): the queue "
                                 f"in front of it is part of the event those figures price"}
        else:
            default = {"class": "fifo"}
        if "power_gated" in feeds:
            default["power_gated"] = feeds["power_gated"]
        out[name] = {**default, **spec}
    return out


RULES: dict[str, tuple[Rule, ...]] = {
    "manycore": tuple((component, "count", (_CORES,), lambda cores: cores, "cores (noc.mesh_x x mesh_y x chips_x x chips_y)")
                      for component in PER_CORE) + (
        ("link", "count", (_MESH_LINKS,), lambda links: links,
         "chips x 2 x ((noc.mesh_x - 1) x mesh_y + mesh_x x (mesh_y - 1))"),
        ("offchip_link", "count", (_BORDER_LINKS,), lambda links: links,
         "2 x ((noc.chips_x - 1) x chips_y x mesh_y + chips_x x (chips_y - 1) x mesh_x)"),
        ("dendrite", "count", ("core.dendrite_lanes", _CORES), lambda lanes, cores: lanes * cores,
         "core.dendrite_lanes x cores"),
        ("dendrite_mac", "count", ("core.mac_lanes", _CORES), lambda lanes, cores: lanes * cores,
         "core.mac_lanes x cores"),
        ("soma", "count", ("core.soma_lanes", _CORES), lambda lanes, cores: lanes * cores,
         "core.soma_lanes x cores"),
        ("synapse_sram", "width_bits", ("core.dendrite_lanes", "core.mac_lanes", "precision.weight_bits"),
         lambda dendrite, mac, bits: max(dendrite, mac) * bits,
         "max(core.dendrite_lanes, core.mac_lanes) x precision.weight_bits"),
        ("router", "buffer_flits", ("noc.buffer_flits",), lambda depth: depth, "noc.buffer_flits"),
        ("router", "flit_bits", ("noc.flit_bits",), lambda bits: bits, "noc.flit_bits"),
        ("synapse_sram", "banks", ("core.synapse_banks",), lambda banks: banks, "core.synapse_banks"),
    ) + _fifo_rules(),
    "h2learn": (
        ("fe_lut", "entries", ("fe.lut_tables", "fe.lut_group"), lambda tables, k: tables * 2 ** k,
         "fe.lut_tables x 2^fe.lut_group"),
        ("fe_lut", "width_bits", ("precision.weight_bits", "fe.lut_group"), lambda bits, k: bits + _carry_bits(k),
         "precision.weight_bits + ceil(log2 fe.lut_group)"),
        ("wue_lut", "entries", ("wue.lut_tables", "wue.lut_steps"), lambda tables, k: tables * 2 ** k,
         "wue.lut_tables x 2^wue.lut_steps"),
        ("be_index", "count", ("be.neuron_lanes",), lambda lanes: lanes, "be.neuron_lanes"),
        ("fe_neuron_mul", "count", ("fe.neuron_lanes",), lambda lanes: lanes, "fe.neuron_lanes"),
        ("fe_neuron_cmp", "count", ("fe.neuron_lanes",), lambda lanes: lanes, "fe.neuron_lanes"),
        ("be_unit_mul", "count", ("be.neuron_lanes",), lambda lanes: lanes, "be.neuron_lanes"),
        ("be_unit_cmp", "count", ("be.neuron_lanes",), lambda lanes: lanes, "be.neuron_lanes"),
    ),
}


_DERIVED_QUANTITIES = {_CORES: manycore_cores, _MESH_LINKS: mesh_links, _BORDER_LINKS: border_links,
                       _WORD_BITS: synapse_word_bits, _ADDRESS_BITS: synapse_address_bits}


def _value(params: dict, key: str):
    quantity = _DERIVED_QUANTITIES.get(key)
    return quantity(params) if quantity is not None else _int(params, key)


def derive_components(params: dict, family: str, path: Path | str) -> dict:
    """``params`` with every derived component attribute filled in (a new top-level mapping).

    :class:`UserError` when the config gives an attribute that contradicts its derivation."""
    block = params.get("components")
    if not isinstance(block, dict):
        return params
    derived_block = _with_core_fifos(block, params) if family == "manycore" else dict(block)
    for component, attribute, keys, rule, formula in RULES.get(family, ()):
        spec = derived_block.get(component)
        if not isinstance(spec, dict) or spec.get("class") == "fixed":
            continue
        inputs = [_value(params, key) for key in keys]
        if any(value is None for value in inputs):
            continue
        derived = rule(*inputs)
        given = spec.get(attribute)
        if given is not None and given != derived:
            raise UserError(f"{path}: components.{component}.{attribute}: {given!r} contradicts {formula} = "
                            f"{derived} (allowed: {derived}, or leave it out: it is derived)")
        derived_block[component] = {**spec, attribute: derived}
    return {**params, "components": derived_block}
