"""What a run kept busy: active units per component (for power gating) and the NoC load map.

``archsim.cost`` charges a ``power_gated`` component's leakage only for the instances a Trace reports
in ``active_units``; every per-core component of the many-core model is reported here:

- synapse_sram, axon_sram, neuron_sram, router_table, control: one per used core.
- dendrite: the lanes of every used core that integrates spikes (spiking axons) or adds merged
  partial sums (an owner with senders); dendrite_mac: the lanes of every core with valued axons.
  Lanes per core are the config's ``count`` divided by the board's cores.
- soma / soma_lut: the units (``count`` / cores) of every owner core of a LIF-like / ReLU layer.
- fifo_axon, fifo_synapse: one per used core (each integrates); fifo_soma, fifo_writeback: one per
  owner core (each fires).
- router: routers of used cores plus routers that forwarded traffic (flits entered them), so the
  routers on the XY paths through idle cores stay on.
- link / offchip_link: directed links that carried at least one flit.
Units are powered for the whole run when the program uses them (the mapping is static), not per phase.
"""
from __future__ import annotations

import numpy as np

from archsim.noc import link_grid, topology

# Boards with more routers than this keep only per-chip NoC totals in the Trace (JSON stays small).
MAX_GRID_ROUTERS = 4096


def active_units(chip, prog, link_flits, router_flits) -> dict[str, int]:
    """Instances of each component that did work in the run (see the module docstring)."""
    counts = {name: int(c.get("count", 1)) for name, c in chip.params["components"].items()}
    n_cores = prog.noc.n_cores
    used = {c.core_id for c in prog.cores}
    owners_with_senders = {prog.cores[c.owner].core_id for c in prog.cores if not c.is_owner}
    spiking = {c.core_id for c in prog.cores if c.axon_spiking.any()} | owners_with_senders
    valued = {c.core_id for c in prog.cores if not c.axon_spiking.all()}
    lut_layers = {name for name, layer in prog.layers.items() if layer.kind == 4}   # relu: LUT activation
    soma = {prog.cores[i].core_id for name, layer in prog.layers.items() if name not in lut_layers
            for i in layer.owners}
    soma_lut = {prog.cores[i].core_id for name in lut_layers for i in prog.layers[name].owners}

    def per_core(component: str, cores: set) -> int:
        return len(cores) * (counts.get(component, n_cores) // n_cores)

    units = {name: len(used) for name in ("synapse_sram", "axon_sram", "neuron_sram", "router_table", "control")}
    owners = {prog.cores[i].core_id for layer in prog.layers.values() for i in layer.owners}
    units.update(fifo_axon=len(used), fifo_synapse=len(used), fifo_soma=len(owners), fifo_writeback=len(owners))
    units.update(dendrite=per_core("dendrite", spiking), dendrite_mac=per_core("dendrite_mac", valued),
                 soma=per_core("soma", soma), soma_lut=per_core("soma_lut", soma_lut))
    forwarding = set(np.flatnonzero(router_flits).tolist()) if router_flits is not None else set()
    units["router"] = len(used | forwarding)
    interchip = topology(prog.noc).link_interchip
    loaded = link_flits > 0 if link_flits is not None else np.zeros(len(interchip), bool)
    units["link"] = int((loaded & ~interchip).sum())
    if "offchip_link" in counts:
        units["offchip_link"] = int((loaded & interchip).sum())
    return {name: n for name, n in units.items() if name in counts}


def link_load_map(prog, link_flits) -> dict:
    """The run's flits per link for the report's heatmap: ``link_flits_grid`` [Y][X][direction],
    ``mesh`` [Y, X] and ``chips`` [chips_y, chips_x] (the report marks the chip boundaries); on boards
    above :data:`MAX_GRID_ROUTERS` routers, per-chip totals [chip_y][chip_x] (``link_flits_grid_unit: chip``)."""
    noc = prog.noc
    flits = np.zeros(4 * noc.n_cores, np.int64) if link_flits is None else link_flits
    if noc.n_cores <= MAX_GRID_ROUTERS:
        return {"link_flits_grid": link_grid(flits, noc).tolist(), "mesh": [noc.board_y, noc.board_x],
                "chips": [noc.chips_y, noc.chips_x], "link_flits_grid_unit": "router"}
    per_chip = flits.reshape(noc.n_chips, -1).sum(axis=1).reshape(noc.chips_y, noc.chips_x)
    return {"link_flits_grid": per_chip.tolist(), "mesh": [noc.chips_y, noc.chips_x], "chips": [noc.chips_y, noc.chips_x],
            "link_flits_grid_unit": "chip"}
