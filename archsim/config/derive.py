"""Component attributes that follow from a chip's architecture parameters, filled in on load.

A chip config states each architecture parameter once (``core.dendrite_lanes``, ``noc.buffer_flits``,
``fe.lut_group``, ...); the timing model reads it there and the cost model reads the ``components:``
entries it implies, which this module writes into the loaded mapping. A config may still give one of
these attributes explicitly (a sweep may set it too), but a value other than the derived one is a
one-line error naming both keys. Components of class ``fixed`` (per-event energies taken from a
source) and components a config does not list are left as they are.

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
  simulates is the router the cost model prices.

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


def _int(params: dict, dotted: str):
    """The integer at ``dotted`` in ``params``, or None when absent or not an integer (the schema says why)."""
    node = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, int) and not isinstance(node, bool) else None


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
    ),
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


_DERIVED_QUANTITIES = {_CORES: manycore_cores, _MESH_LINKS: mesh_links, _BORDER_LINKS: border_links}


def _value(params: dict, key: str):
    quantity = _DERIVED_QUANTITIES.get(key)
    return quantity(params) if quantity is not None else _int(params, key)


def derive_components(params: dict, family: str, path: Path | str) -> dict:
    """``params`` with every derived component attribute filled in (a new top-level mapping).

    :class:`UserError` when the config gives an attribute that contradicts its derivation."""
    block = params.get("components")
    if not isinstance(block, dict):
        return params
    derived_block = dict(block)
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
