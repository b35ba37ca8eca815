"""SANA-FE's neurons placed where archsim's mapper puts them, so that the two simulators compare one placement.

SANA-FE has no mapper of its own (its user places every neuron). archsim's Loihi (``chips/loihi.yaml``) is
a 16 x 8 mesh of core routers standing for SANA-FE's 8 x 4 tiles of 4 cores: archsim core (x, y) is SANA-FE
tile (x // 2, y // 2) (id ``(x // 2) * 4 + y // 2``, x-major as SANA-FE numbers its tiles) and core
``x % 2 + 2 (y % 2)`` within it (assumption: a tile's 4 cores are a 2 x 2 block of archsim's routers).
A population archsim takes as a spike train (a network input) is simulated by SANA-FE: it goes on the
cores archsim leaves free, split evenly and filled in order.
"""
from __future__ import annotations

import hashlib

import numpy as np

MESH = (16, 8)                 # archsim's Loihi mesh of core routers (chips/loihi.yaml noc.mesh_x, mesh_y)
TILE_CORES = 4                 # SANA-FE arch/loihi.yaml: 4 cores a tile, 2 x 2 routers of archsim's mesh
TILES_Y = MESH[1] // 2         # SANA-FE's tiles in a column of its 8 x 4 mesh


def sanafe_core(x: int, y: int) -> int:
    """SANA-FE's core index (tile-major, 4 cores a tile) of archsim's core router (x, y)."""
    return ((x // 2) * TILES_Y + y // 2) * TILE_CORES + x % 2 + 2 * (y % 2)


def placement(prog) -> dict[str, np.ndarray] | None:
    """Each layer's neurons' SANA-FE cores in archsim's chip program ``prog``; None where the chip is not
    Loihi's one-chip 16 x 8 mesh (no correspondence: SANA-FE is then placed on its own)."""
    from archsim.noc import core_coords

    noc = prog.noc
    if (noc.mesh_x, noc.mesh_y, noc.chips_x, noc.chips_y) != (*MESH, 1, 1):
        return None
    cores = {}
    for name, layer in prog.layers.items():
        where = np.full(layer.size, -1, np.int64)
        for i in layer.owners:
            _, _, x, y = core_coords(noc, prog.cores[i].core_id)
            where[prog.cores[i].neurons] = sanafe_core(x, y)
        cores[name] = where
    return cores


def archsim_placement(network, chip, input_path: str | None = None) -> dict[str, np.ndarray] | None:
    """:func:`placement` of ``network`` as archsim quantises and maps it on ``chip`` (a Chip) for a run on the
    input at ``input_path`` (None: synthetic)."""
    from archsim.graph.workload import make_workload
    from archsim.models.manycore import prepare

    _, prog, _ = prepare(make_workload(network, input_path=input_path), chip)
    return placement(prog)


def digest(cores: dict[str, np.ndarray] | None) -> str:
    """A short digest of every neuron's core (what SANA-FE's figures on a placement depend on);
    ``sanafe-own`` for None."""
    if cores is None:
        return "sanafe-own"
    h = hashlib.sha256()
    for name in sorted(cores):
        h.update(name.encode() + np.ascontiguousarray(cores[name], np.int64).tobytes())
    return h.hexdigest()[:16]


def map_to_cores(layers: dict[str, list], inputs: list, cores: dict[str, np.ndarray], sanafe_cores: list) -> None:
    """Map SANA-FE neurons: ``layers[name][i]`` onto ``sanafe_cores[cores[name][i]]``, the ``inputs``
    population evenly over the cores no layer uses, in order."""
    for name, neurons in layers.items():
        for neuron, core in zip(neurons, cores[name].tolist()):
            neuron.map_to_core(sanafe_cores[core])
    used = set(np.concatenate(list(cores.values())).tolist())
    free = [c for c in range(len(sanafe_cores)) if c not in used]
    per_core = -(-len(inputs) // len(free))
    for k, neuron in enumerate(inputs):
        neuron.map_to_core(sanafe_cores[free[k // per_core]])
