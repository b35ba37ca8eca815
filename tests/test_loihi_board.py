"""The Loihi board config: loihi.yaml's chip on a 4 x 8 board, counts per board, a network across chips."""
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import yaml

from archsim.config.derive import border_links, manycore_cores, mesh_links
from archsim.runner import resolve_chip

CHIPS = Path(__file__).resolve().parent.parent / "chips"
BOARD_KEYS = {"noc.chips_x", "noc.chips_y", "noc.interchip_latency_cycles", "noc.interchip_flits_per_cycle",
              "timing.barrier_cycles"}


def flat(block: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in block.items():
        if isinstance(value, dict) and key != "energy_pj":
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_each_chip_is_loihi_yaml_and_only_the_board_differs():
    chip, board = (flat(yaml.safe_load((CHIPS / name).read_text())) for name in ("loihi.yaml", "loihi-board.yaml"))
    counts = {key for key in board if key.startswith("components.") and key.endswith((".count", ".source"))}
    differ = {key for key in board.keys() | chip.keys() if board.get(key) != chip.get(key)}
    assert differ - counts - BOARD_KEYS == {"name", "description", "components.offchip_link.class",
                                             "components.offchip_link.energy_pj", "components.offchip_link.power_gated"}


def test_loads_by_name_and_counts_are_the_board_derivation():
    chip = resolve_chip("loihi-board")
    params, comp = chip.params, chip.params["components"]
    assert (chip.get("noc.chips_x"), chip.get("noc.chips_y")) == (4, 8)        # 32 chips: a Nahuku board
    cores = manycore_cores(params)
    assert cores == 32 * 128 == 4096
    for name in ("synapse_sram", "axon_sram", "neuron_sram", "router_table", "soma_lut", "router", "control"):
        assert comp[name]["count"] == cores, name
    for name, lanes in (("dendrite", "core.dendrite_lanes"), ("dendrite_mac", "core.mac_lanes"), ("soma", "core.soma_lanes")):
        assert comp[name]["count"] == chip.get(lanes) * cores, name
    assert comp["link"]["count"] == mesh_links(params) == 32 * resolve_chip("loihi").params["components"]["link"]["count"]
    assert comp["offchip_link"]["count"] == border_links(params) == 2 * (3 * 8 * 8 + 4 * 7 * 16)


def test_a_network_larger_than_a_chip_runs_across_chips():
    """With 8 neurons a core, a 1,200-neuron layer needs more than one chip's 128 cores: spikes cross chips."""
    from archsim.graph.network import LIF, Dense, Layer, Network, Projection
    from archsim.runner import execute

    rng = np.random.default_rng(1)
    n_in, n_hidden, fan_in = 64, 1200, 8
    rows = np.repeat(np.arange(n_hidden), fan_in)
    cols = np.concatenate([rng.choice(n_in, fan_in, replace=False) for _ in range(n_hidden)])
    weight = sp.csr_matrix((rng.integers(1, 128, rows.size).astype(np.float64), (rows, cols)), shape=(n_hidden, n_in))
    out = sp.csr_matrix(rng.integers(-20, 60, (16, n_hidden)).astype(np.float64) * (rng.random((16, n_hidden)) < 0.05))
    lif = LIF(decay=np.float64(1.0), threshold=np.float64(100.0))
    net = Network("across", {"x": (n_in,)}, [Layer("h", (n_hidden,), (Projection("x", (Dense(weight),)),), lif),
                                              Layer("y", (16,), (Projection("h", (Dense(out),)),), lif)], ["y"])
    chip = resolve_chip("loihi-board").with_overrides({"core.neurons": 8})
    result = execute(net, chip, steps=4, gpu=None).result
    cores = result["trace"]["details"]["cores_used"]
    assert cores > 128
    assert result["trace"]["noc"]["interchip_flits"] > 0
    energy = result["energy_breakdown_pj"]["offchip_link"]
    assert sum(energy.values()) == pytest.approx(320.0 * result["trace"]["noc"]["interchip_flits"])
