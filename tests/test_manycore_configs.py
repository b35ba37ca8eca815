"""Shipped many-core configs (Tianjic, TianjicX, Loihi, Tianjic board): load, run, engines agree, boards, bad configs."""
import subprocess
import sys

from pathlib import Path

import numpy as np
import pytest

from archsim.config import load_chip
from archsim.cost import evaluate
from archsim.errors import UserError
from archsim.graph.network import LIF, Dense, Layer, Network, Projection
from archsim.graph.workload import Workload
from archsim.mapping import map_network
from archsim.models.manycore import simulate

CHIPS = ["chips/tianjic.yaml", "chips/tianjicx.yaml", "chips/loihi.yaml", "chips/tianjic-board.yaml"]
TECH = str(Path("chips/tech/28nm.yaml").resolve())
LIF_ = dict(decay=np.float64(0.75), threshold=np.float64(1.0))


def _mlp(n_in, hidden, n_out, seed=0):
    rng = np.random.default_rng(seed)
    return Network("mlp", {"x": (n_in,)}, [
        Layer("h", (hidden,), (Projection("x", (Dense(rng.normal(size=(hidden, n_in)) * 0.5),)),), LIF(**LIF_)),
        Layer("o", (n_out,), (Projection("h", (Dense(rng.normal(size=(n_out, hidden))),)),), LIF(**LIF_))], ["o"])


def _workload(net, steps=3, seed=1):
    n_in = net.inputs["x"][0]
    x = (np.random.default_rng(seed).random((steps, 1, n_in)) < 0.4).astype(float)
    return Workload("w", net, {"x": x}, steps, 1)


@pytest.mark.parametrize("path", CHIPS)
def test_config_runs_and_engines_agree(path):
    chip = load_chip(path)
    work = _workload(_mlp(24, 12, 4))
    fast, ref = simulate(work, chip, "fast"), simulate(work, chip, "reference")
    assert fast.cycles == ref.cycles > 0
    assert fast.spikes == ref.spikes and fast.synaptic_ops == ref.synaptic_ops > 0
    assert fast.actions == ref.actions
    cost = evaluate(fast, chip)
    assert cost.energy_pj > 0 and cost.area_mm2 > 0


def test_every_power_gated_component_is_reported_by_the_model():
    for path in CHIPS:
        chip = load_chip(path)
        trace = simulate(_workload(_mlp(16, 8, 3)), chip, "fast")
        gated = [n for n, c in chip.params["components"].items() if c.get("power_gated")]
        assert gated and all(n in trace.active_units for n in gated), (path, gated, trace.active_units)


def test_active_units_and_link_load_grid():
    """Every per-core component reports its active units; the NoC grid holds the run's link loads."""
    chip = load_chip("chips/tianjic.yaml")
    trace = simulate(_workload(_mlp(300, 40, 5)), chip, "fast")       # split fan-in: merge traffic too
    units, cores = trace.active_units, trace.details["cores_used"]
    for name in ("synapse_sram", "axon_sram", "neuron_sram", "router_table", "control"):
        assert units[name] == cores
    assert units["dendrite"] == 16 * cores and units["dendrite_mac"] == 0          # 16 lanes a core, spikes only
    assert units["soma"] == 2 and units["soma_lut"] == 0                           # one owner core per LIF layer
    grid = np.asarray(trace.noc["link_flits_grid"])
    assert grid.shape == (12, 13, 4) and trace.noc["mesh"] == [12, 13]
    assert grid.sum() == trace.noc["flit_hops"] > 0
    assert units["link"] == int((grid > 0).sum())
    assert cores <= units["router"] <= cores + units["link"]          # used cores plus forwarding routers
    assert trace.noc == simulate(_workload(_mlp(300, 40, 5)), chip, "reference").noc


def test_network_larger_than_one_chip_runs_on_the_board():
    small_core = {"core.neurons": 8, "core.max_fold": 1}
    net = _mlp(40, 1400, 6)                                     # 1,400 / 8 = 175 cores > 156 per chip
    with pytest.raises(UserError, match=r"needs \d+ cores but chips/tianjic.yaml has 156"):
        map_network(net, load_chip("chips/tianjic.yaml").with_overrides(small_core))
    board = load_chip("chips/tianjic-board.yaml").with_overrides(small_core)
    mapping = map_network(net, board)
    xs = {p.core[0] // 13 + 3 * (p.core[1] // 12) for p in mapping.parts}
    assert mapping.cores_used > 156 and len(xs) >= 2
    trace = simulate(_workload(net, steps=2), board, "fast", mapping=mapping)
    assert trace.noc["interchip_flits"] > 0 and trace.actions["offchip_link"]["transfer"] > 0
    assert evaluate(trace, board).energy_breakdown_pj["offchip_link"]["transfer"] > 0


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "archsim.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("edit, key", [
    (("  axons: 256", "  axons: 256\n  axonz: 3"), "core.axonz"),              # unknown key
    (("  neurons: 256", "  neurons: -4"), "core.neurons"),                    # negative size
    (("  synapse_memory_kb: 16", "  synapse_memory_kb: 0.0001"), "core.synapse_memory_kb"),  # core too small
    (("  synapse_cell_bits: [2, 8]", "  synapse_cell_bits: [0, 8]"), "core.synapse_cell_bits"),  # no 0-bit cell
    (("  fifo_depth_axon: 2", "  fifo_depth_axon: 0"), "core.fifo_depth_axon"),                # empty FIFO
])
def test_bad_config_exits_2_with_one_line(tmp_path, edit, key):
    bad = tmp_path / "bad.yaml"
    text = open("chips/tianjic.yaml").read()
    assert edit[0] in text
    bad.write_text(text.replace(edit[0], edit[1], 1).replace("tech/28nm.yaml", TECH))
    done = _cli("map", "mlp-digits", "--chip", str(bad))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], done.stderr


def test_mesh_too_small_exits_2_naming_cores(tmp_path):
    bad = tmp_path / "tiny.yaml"
    text = open("chips/tianjic.yaml").read().replace("  mesh_x: 13", "  mesh_x: 1").replace("  mesh_y: 12", "  mesh_y: 2")
    bad.write_text(text.replace("tech/28nm.yaml", TECH))
    done = _cli("map", "conv-digits", "--chip", str(bad))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs" in lines[0] and "has 2" in lines[0], done.stderr
