"""The core pipeline's timing keys size what they imply (archsim.config.derive, archsim.cost.estimators.Fifo).

Each FIFO depth sizes its own fifo component (area monotone in the depth, nothing else moves); the
bank count splits the synapse SRAM (more periphery area, less energy per read); the NoC buffer depth
sizes the routers' input buffers; the two latency keys size nothing. A run charges every push and
pop, equal in both engines; Loihi's per-event figures keep its FIFOs at zero cost.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archsim.config import load_chip
from archsim.cost import build_components, evaluate, load_technology
from archsim.errors import UserError
from archsim.graph.workload import Workload
from archsim.models.manycore import simulate
from tests.test_derived_components import costs
from tests.test_manycore import _net, _small_chip

CHIPS = Path(__file__).resolve().parent.parent / "chips"
FIFOS = ("fifo_axon", "fifo_synapse", "fifo_soma", "fifo_writeback")


def _areas(chip) -> dict:
    return {name: area for name, (area, _, _) in costs(chip).items()}


@pytest.mark.parametrize("fifo", FIFOS)
def test_each_fifo_depth_moves_its_own_fifo_only(fifo):
    base = load_chip(CHIPS / "tianjic.yaml")
    points = [_areas(base.with_overrides({f"core.fifo_depth_{fifo[5:]}": depth})) for depth in (1, 2, 4, 8)]
    assert points[0][fifo] < points[1][fifo] < points[2][fifo] < points[3][fifo]
    totals = [sum(p.values()) for p in points]
    assert totals[0] < totals[1] < totals[2] < totals[3]
    for name in points[0]:
        if name != fifo:
            assert points[0][name] == points[3][name], name


def test_banks_split_the_synapse_sram():
    base = load_chip(CHIPS / "tianjic.yaml")
    chips = [base.with_overrides({"core.synapse_banks": banks}) for banks in (1, 2, 4, 8)]
    assert [c.params["components"]["synapse_sram"]["banks"] for c in chips] == [1, 2, 4, 8]
    points = [costs(c) for c in chips]
    areas = [p["synapse_sram"][0] for p in points]
    reads = [p["synapse_sram"][2].estimator.energy_pj("read").value for p in points]
    assert areas[0] < areas[1] < areas[2] < areas[3]
    assert reads[0] > reads[1] > reads[2] > reads[3]
    for name in points[0]:
        if name != "synapse_sram":
            assert points[0][name][0] == points[3][name][0], name


def test_buffer_flits_sizes_the_router_input_buffers():
    base = load_chip(CHIPS / "tianjic.yaml")
    tech = {"register_um2_per_bit": 1.71836, "mux2_um2_per_bit": 0.70756}    # chips/tech/28nm.yaml
    previous = 0.0
    for depth in (1, 2, 4, 8, 16):
        area = _areas(base.with_overrides({"noc.buffer_flits": depth}))["router"]
        buffer_bits, crossbar = 5 * depth * 64, 5 * 4 * 64          # ports x buffer_flits x flit_bits
        by_hand = (buffer_bits * (tech["register_um2_per_bit"] + tech["mux2_um2_per_bit"])
                   + crossbar * tech["mux2_um2_per_bit"]) * 1e-6 * 156
        assert area == pytest.approx(by_hand, rel=1e-6) and area > previous
        previous = area


def test_latency_keys_size_nothing():
    base = load_chip(CHIPS / "tianjic.yaml")
    slow = base.with_overrides({"core.synapse_read_cycles": 3, "core.soma_update_cycles": 3})
    assert _areas(slow) == _areas(base)


def test_tianjic_fifo_figures_by_hand():
    """fifo_synapse of Tianjic: 2 entries of a 128-bit word (16 lanes x 8-bit weights) + an 8-bit axon
    value + 8 bits naming one of 256 neurons = 144 bits; a 1-bit pointer each side (depth 2)."""
    chip = load_chip(CHIPS / "tianjic.yaml")
    spec = chip.params["components"]["fifo_synapse"]
    assert (spec["class"], spec["depth"], spec["width_bits"], spec["count"]) == ("fifo", 2, 144, 156)
    comp = {n: c for n, (_, _, c) in costs(chip).items()}["fifo_synapse"]
    reg_um2, mux_um2, reg_pj, mux_pj = 1.71836, 0.70756, 0.0049609, 0.00028348   # chips/tech/28nm.yaml
    assert comp.estimator.area_mm2().value == pytest.approx((288 * (reg_um2 + mux_um2) + 2 * reg_um2) * 1e-6)
    assert comp.estimator.energy_pj("push").value == pytest.approx(144 * reg_pj + reg_pj)
    assert comp.estimator.energy_pj("pop").value == pytest.approx(144 * (reg_pj + mux_pj) + reg_pj)
    assert comp.estimator.leakage_mw().value == pytest.approx(comp.estimator.area_mm2().value * 10.0)
    widths = {name: chip.params["components"][name]["width_bits"] for name in FIFOS}
    # axon: 10 address bits (16 KB / 128-bit words = 1,024 words) + 8; soma: 24 + 24 + 32; write-back: 24 + 24 + 8
    assert widths == {"fifo_axon": 18, "fifo_synapse": 144, "fifo_soma": 80, "fifo_writeback": 56}


def test_loihi_fifos_are_folded_into_its_per_event_figures():
    chip = load_chip(CHIPS / "loihi.yaml")
    for name in FIFOS:
        spec = chip.params["components"][name]
        assert spec["class"] == "fixed" and spec["energy_pj"] == {"push": 0.0, "pop": 0.0}
        assert "folded into" in spec["source"] and spec.get("area_mm2", 0.0) == 0.0
        assert name not in chip.given["components"]


def _run(chip, engine):
    rng = np.random.default_rng(3)
    net = _net(rng, 30, 12, 3)
    x = (rng.random((2, 1, 30)) < 0.5).astype(float)
    return simulate(Workload("w", net, {"x": x}, 2, 1), chip, engine)


def test_a_run_charges_every_push_and_pop_in_both_engines():
    chip = _small_chip(4, 2, 64, 16, 2, False, {"fifo_depth_axon": 1, "synapse_read_cycles": 2})
    fast, ref = _run(chip, "fast"), _run(chip, "reference")
    assert {n: fast.actions[n] for n in FIFOS} == {n: ref.actions[n] for n in FIFOS}
    reads = fast.actions["synapse_sram"]["read"]
    assert fast.actions["fifo_axon"] == fast.actions["fifo_synapse"] == {"push": reads, "pop": reads}
    groups = 2 * (-(-12 // 2) + -(-3 // 2))       # 2 steps x (12 and 3 neurons in groups of 2 soma lanes)
    assert fast.actions["fifo_soma"] == fast.actions["fifo_writeback"] == {"push": groups, "pop": groups}
    cost = evaluate(fast, chip)
    built = build_components(chip, load_technology(chip))
    for name in FIFOS:
        for action, n in fast.actions[name].items():
            assert cost.energy_breakdown_pj[name][action] == pytest.approx(
                n * built[name].estimator.energy_pj(action).value)
        assert fast.active_units[name] >= 1


def test_a_contradicting_fifo_attribute_is_one_line():
    base = load_chip(CHIPS / "tianjic.yaml")
    assert base.with_overrides({"components.fifo_axon.depth": 2}).params["components"]["fifo_axon"]["depth"] == 2
    with pytest.raises(UserError) as err:
        base.with_overrides({"components.fifo_soma.width_bits": 12})
    assert "\n" not in str(err.value)
    assert "components.fifo_soma.width_bits: 12 contradicts core.soma_lanes x" in str(err.value)
