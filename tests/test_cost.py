"""archsim.cost: estimators, evaluate(trace, chip), overrides, voltage, power gating, errors."""
import json
import math
from pathlib import Path

import pytest

from archsim.config import Chip
from archsim.cost import (ESTIMATORS, area_reference_table, build_components, energy_reference_table, evaluate,
                          format_reference_tables, load_technology, shared_actions)
from archsim.errors import UserError
from archsim.trace import Trace

NODES = (45, 28, 22, 12, 7)

# One component of every class, with every optional attribute left at its default somewhere.
ALL_CLASSES = {
    "weights": {"class": "sram", "count": 4, "size_kb": 16, "width_bits": 64},
    "banked": {"class": "sram", "size_kb": 128, "width_bits": 128, "banks": 4, "power_gated": True},
    "regs": {"class": "register_file", "count": 2, "entries": 32, "width_bits": 16},
    "queue": {"class": "fifo", "count": 2, "depth": 4, "width_bits": 18},
    "lut_small": {"class": "lut", "entries": 256, "width_bits": 8},
    "lut_big": {"class": "lut", "entries": 4096, "width_bits": 16},
    "dendrite": {"class": "adder", "count": 16, "width_bits": 16},
    "fp_add": {"class": "adder", "width_bits": 32, "number": "fp"},
    "mult": {"class": "multiplier", "width_bits": 12},
    "mac8": {"class": "mac", "count": 8, "width_bits": 8},
    "mac_fp": {"class": "mac", "width_bits": 16, "number": "fp", "accumulator_bits": 32},
    "cmp": {"class": "comparator", "width_bits": 24},
    "router": {"class": "router", "count": 4, "ports": 5, "flit_bits": 64},
    "link": {"class": "link", "count": 8, "width_bits": 64, "length_mm": 0.3},
    "chip_link": {"class": "offchip_link", "width_bits": 32},
    "dram": {"class": "dram", "kind": "lpddr4", "width_bits": 64},
    "control": {"class": "logic", "count": 4, "gates": 20000},
    "calibrated": {"class": "fixed", "energy_pj": {"spike": 2.5}, "area_mm2": 0.1, "leakage_mw": 0.5,
                   "source": "test figure"},
}


def make_chip(tmp_path: Path, node=28, components=None, **technology) -> Chip:
    params = {"name": "test", "family": "manycore", "clock_mhz": 100,
              "technology": {"node_nm": node, **technology}, "components": components or ALL_CLASSES}
    return Chip("test", "manycore", tmp_path / "chip.yaml", params)


def make_trace(actions, cycles=1000, active_units=None, actions_by_layer=None) -> Trace:
    return Trace(chip="test", family="manycore", workload="w", mode="infer", engine="fast", steps=1, batch=1,
                 cycles=cycles, clock_hz=100e6, actions=actions, active_units=active_units or {},
                 actions_by_layer=actions_by_layer or {})


def test_every_class_is_covered():
    assert {spec["class"] for spec in ALL_CLASSES.values()} == set(ESTIMATORS)


@pytest.mark.parametrize("node", NODES)
def test_every_estimator_gives_finite_figures_with_sources(tmp_path, node):
    components = build_components(make_chip(tmp_path, node), load_technology(make_chip(tmp_path, node)))
    for comp in components.values():
        for action in comp.actions:
            est = comp.estimator.energy_pj(action)
            assert math.isfinite(est.value) and est.value > 0, (comp.name, action)
            assert len(est.source) > 5
        for est in (comp.estimator.area_mm2(), comp.estimator.leakage_mw()):
            assert math.isfinite(est.value) and est.value >= 0 and len(est.source) > 5
        if comp.component_class not in ("link", "offchip_link", "dram"):   # off-die parts: 0 unless given
            assert comp.estimator.area_mm2().value > 0 and comp.estimator.leakage_mw().value > 0


def _figures(tmp_path, node):
    chip = make_chip(tmp_path, node)   # each table at its own nominal voltage
    energy = {(r.component, r.action): r.energy_pj for r in energy_reference_table(chip)}
    area = {r.component: r.area_mm2_each for r in area_reference_table(chip)}
    return energy, area


def test_scaling_is_monotonic_with_node(tmp_path):
    figures = [_figures(tmp_path, node) for node in NODES]   # 45 nm first
    on_die = [k for k in figures[0][0] if k[0] not in ("dram", "chip_link", "calibrated", "link")]
    for (e_big, a_big), (e_small, a_small) in zip(figures, figures[1:]):
        for key in on_die:
            assert e_small[key] < e_big[key], key
        for name, value in a_big.items():
            if value > 0 and name != "calibrated":
                assert a_small[name] < value, name
    # SRAM shrinks less than logic below 28 nm (Jouppi et al.): the ratio must be smaller for logic
    e28, e7 = figures[1][0], figures[4][0]
    assert e7["dendrite", "add"] / e28["dendrite", "add"] < e7["weights", "read"] / e28["weights", "read"]


def test_sram_fit_agrees_with_horowitz_64_bit_reads(tmp_path):
    """Two independent sources: the CACTI fit (+ port rule) vs Horowitz's 45 nm 64-bit reads, within 30%."""
    comps = {f"s{kb}": {"class": "sram", "size_kb": kb, "width_bits": 64} for kb in (8, 32, 1024)}
    chip = make_chip(tmp_path, 45, comps)
    energy = {r.component: r.energy_pj for r in energy_reference_table(chip)}
    for kb, horowitz_pj in ((8, 10), (32, 20), (1024, 100)):
        assert abs(energy[f"s{kb}"] / horowitz_pj - 1) < 0.3


def test_horowitz_points_exact_and_widths_interpolate(tmp_path):
    comps = {"a16": {"class": "adder", "width_bits": 16}, "m8": {"class": "multiplier", "width_bits": 8},
             "m16": {"class": "multiplier", "width_bits": 16}, "m32": {"class": "multiplier", "width_bits": 32},
             "mac8": {"class": "mac", "width_bits": 8}}
    energy = {r.component: r.energy_pj for r in energy_reference_table(make_chip(tmp_path, 45, comps))}
    assert energy["a16"] == pytest.approx(0.05)
    assert energy["m8"] == pytest.approx(0.2) and energy["m32"] == pytest.approx(3.1)
    assert energy["m16"] == pytest.approx(math.sqrt(0.2 * 3.1))    # log-log midpoint
    tech = load_technology(make_chip(tmp_path, 45, comps))
    assert energy["mac8"] == pytest.approx(0.2 + 0.05 + 16 * tech.value("register_pj_per_bit"))


def test_energy_is_counts_times_energy_per_action(tmp_path):
    chip = make_chip(tmp_path, 28)
    actions = {"weights": {"read": 1000, "write": 10}, "dendrite": {"add": 12345}, "router": {"route": 77},
               "link": {"transfer": 50}, "dram": {"read": 3}, "control": {"cycle": 1000},
               "calibrated": {"spike": 4}, "mac_fp": {"mac": 9}}
    trace = make_trace(actions, cycles=5000)
    cost = evaluate(trace, chip)
    per_action = {(r.component, r.action): r.energy_pj for r in energy_reference_table(chip)}
    for comp, counts in actions.items():
        for action, n in counts.items():
            assert cost.energy_breakdown_pj[comp][action] == n * per_action[comp, action]
    assert cost.energy_breakdown_pj["calibrated"]["spike"] == 10.0
    dynamic = sum(n * per_action[c, a] for c, counts in actions.items() for a, n in counts.items())
    assert cost.dynamic_energy_pj == pytest.approx(dynamic, rel=1e-12)
    leak_mw = sum(r.leakage_mw_each * r.count for r in area_reference_table(chip))
    assert cost.leakage_mw == pytest.approx(leak_mw)
    assert cost.static_energy_pj == pytest.approx(leak_mw * 1e-3 * 5000 / 100e6 * 1e12)
    assert cost.energy_pj == pytest.approx(cost.dynamic_energy_pj + cost.static_energy_pj)
    assert cost.area_mm2 == pytest.approx(sum(r.area_mm2_total for r in area_reference_table(chip)))
    assert cost.area_breakdown_mm2["calibrated"] == 0.1
    assert set(cost.sources) >= {"weights.read", "dendrite.add", "weights.area", "weights.leakage"}
    json.dumps(cost.to_dict())


def test_restored_trace_recosts_identically(tmp_path):
    chip = make_chip(tmp_path, 12)
    trace = make_trace({"weights": {"read": 999}, "mac8": {"mac": 31337}}, cycles=777, active_units={"banked": 1})
    stored = json.loads(json.dumps(trace.to_dict()))
    assert evaluate(Trace.from_dict(stored), chip).to_dict() == evaluate(trace, chip).to_dict()


def test_power_gating_uses_active_units(tmp_path):
    chip = make_chip(tmp_path, 28)
    ungated_name = "weights"
    full = evaluate(make_trace({}, cycles=10000), chip)
    gated = evaluate(make_trace({}, cycles=10000, active_units={"banked": 0, ungated_name: 1}), chip)
    assert gated.static_breakdown_pj["banked"] == 0 < full.static_breakdown_pj["banked"]
    assert gated.static_breakdown_pj[ungated_name] == full.static_breakdown_pj[ungated_name]   # not gated


def test_voltage_scaling(tmp_path):
    comps = {"a": {"class": "adder", "width_bits": 16}, "s": {"class": "sram", "size_kb": 4, "width_bits": 32}}
    nominal, half = make_chip(tmp_path, 45, comps, voltage_v=0.9), make_chip(tmp_path, 45, comps, voltage_v=0.45)
    e_nom = {r.component: r.energy_pj for r in energy_reference_table(nominal)}
    e_half = {r.component: r.energy_pj for r in energy_reference_table(half)}
    assert e_half["a"] == pytest.approx(e_nom["a"] / 4) and e_half["s"] == pytest.approx(e_nom["s"] / 4)
    l_nom = {r.component: r.leakage_mw_each for r in area_reference_table(nominal)}
    l_half = {r.component: r.leakage_mw_each for r in area_reference_table(half)}
    assert l_half["s"] == pytest.approx(l_nom["s"] / 2)


def test_overrides_replace_entries_and_name_their_source(tmp_path):
    comps = {"a": {"class": "adder", "width_bits": 16}, "m": {"class": "multiplier", "width_bits": 8}}
    chip = make_chip(tmp_path, 28, comps, overrides={"add_int16_pj": 0.5,
                                                     "mult_int8_pj": {"value": 0.7, "source": "our datasheet"}})
    cost = evaluate(make_trace({"a": {"add": 2}, "m": {"multiply": 3}}), chip)
    assert cost.energy_breakdown_pj["a"]["add"] == pytest.approx(1.0)
    assert cost.energy_breakdown_pj["m"]["multiply"] == pytest.approx(2.1)
    assert "our datasheet" in cost.sources["m.multiply"] and "override in" in cost.sources["a.add"]


def test_user_table_next_to_the_chip(tmp_path):
    (tmp_path / "mytech.yaml").write_text("node_nm: 28\nvoltage_v: 0.9\nbase: tech/28nm.yaml\n"
                                          "entries:\n  add_int16_pj: {value: 0.2, source: measured}\n")
    comps = {"a": {"class": "adder", "width_bits": 16}, "m": {"class": "multiplier", "width_bits": 8}}
    chip = make_chip(tmp_path, 28, comps, table="mytech.yaml")
    cost = evaluate(make_trace({"a": {"add": 5}, "m": {"multiply": 1}}), chip)
    assert cost.energy_breakdown_pj["a"]["add"] == pytest.approx(1.0)
    assert cost.energy_breakdown_pj["m"]["multiply"] == pytest.approx(0.2 * 0.51)   # from the base table
    (tmp_path / "partial.yaml").write_text(
        "node_nm: 28\nvoltage_v: 0.9\nentries:\n  add_int16_pj: {value: 0.2, source: measured}\n")
    chip = make_chip(tmp_path, 28, comps, table="partial.yaml")
    _one_line_error(evaluate, make_trace({"a": {"add": 5}}), chip, match="add_int16_um2: missing")


def _one_line_error(func, *args, match):
    with pytest.raises(UserError, match=match) as info:
        func(*args)
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.mark.parametrize("body, match", [
    ("node_nm: 28\nvoltage_v: 0.9\nentries:\n  add_int16_pj: {value: 0.2}\n", "source"),
    ("node_nm: 28\nvoltage_v: 0.9\nentries:\n  add_int16_pj: {value: -1, source: x y z}\n", "add_int16_pj"),
    ("node_nm: 28\nvoltage_v: 0.9\nentries:\n  add_int16_pj: {value: abc, source: x y z}\n", "add_int16_pj"),
    ("node_nm: 28\nentries:\n  add_int16_pj: {value: 1, source: x y z}\n", "voltage_v"),
    ("node_nm: 45\nvoltage_v: 0.9\nentries:\n  add_int16_pj: {value: 1, source: x y z}\n", "node_nm"),
    ("node_nm: 28\nvoltage_v: 0.9\nentries: [1, 2\n", "YAML"),
])
def test_bad_technology_tables_fail_in_one_line(tmp_path, body, match):
    (tmp_path / "bad.yaml").write_text(body)
    chip = make_chip(tmp_path, 28, {"a": {"class": "adder", "width_bits": 16}}, table="bad.yaml")
    _one_line_error(load_technology, chip, match=match)


@pytest.mark.parametrize("components, technology, match", [
    ({"s": {"class": "sram", "size_kb": -1, "width_bits": 8}}, {}, r"components\.s\.size_kb"),
    ({"s": {"class": "sram", "width_bits": 8}}, {}, r"components\.s\.size_kb: required"),
    ({"s": {"class": "sram", "size_kb": 1, "width_bits": 8, "size_kB": 2}}, {}, r"size_kB: unknown attribute"),
    ({"s": {"class": "cache", "size_kb": 1}}, {}, r"components\.s\.class: 'cache'"),
    ({"d": {"class": "dram", "kind": "gddr9", "width_bits": 64}}, {}, r"kind: 'gddr9'.*hbm2"),
    ({"a": {"class": "adder", "width_bits": 12, "number": "fp"}}, {}, r"width_bits: 12 has no fp entry"),
    ({"a": {"class": "adder", "width_bits": 16}}, {"overrides": {"add_int17_pj": 1}}, r"overrides\.add_int17_pj"),
    ({"a": {"class": "adder", "width_bits": 16}}, {"overrides": {"add_int16_pj": -1}}, r"overrides\.add_int16_pj"),
])
def test_bad_components_and_overrides_fail_in_one_line(tmp_path, components, technology, match):
    chip = make_chip(tmp_path, 28, components, **technology)
    _one_line_error(energy_reference_table, chip, match=match)


def test_missing_node_table_is_one_line(tmp_path):
    _one_line_error(load_technology, make_chip(tmp_path, 65), match="node_nm: 65 has no shipped table")


def test_unknown_trace_component_or_action_names_both(tmp_path):
    chip = make_chip(tmp_path, 28)
    msg = _one_line_error(evaluate, make_trace({"synapse": {"read": 1}}), chip, match="'synapse'")
    assert "weights" in msg
    msg = _one_line_error(evaluate, make_trace({"weights": {"fetch": 1}}), chip, match="'fetch'")
    assert "weights" in msg and "read, write" in msg
    _one_line_error(evaluate, make_trace({}, active_units={"weights": 9}), chip, match="active_units 9")


def test_reference_tables_render(tmp_path):
    text = format_reference_tables(make_chip(tmp_path, 7))
    assert "| weights | sram | read |" in text and "Horowitz" in text and "| total |" in text


LAYERED_ACTIONS = {"weights": {"read": 1000, "write": 10}, "dendrite": {"add": 500}, "router": {"route": 70},
                   "control": {"cycle": 4000}}
BY_LAYER = {"conv": {"weights": {"read": 600, "write": 10}, "dendrite": {"add": 300}, "router": {"route": 40}},
            "fc": {"weights": {"read": 400}, "dendrite": {"add": 200}}}


def test_energy_by_layer_prices_each_layer_and_the_shared_rest(tmp_path):
    chip = make_chip(tmp_path, 28)
    trace = make_trace(LAYERED_ACTIONS, actions_by_layer=BY_LAYER)
    cost = evaluate(trace, chip)
    price = {(r.component, r.action): r.energy_pj for r in energy_reference_table(chip)}
    assert list(cost.energy_by_layer_pj) == ["conv", "fc", "shared"]
    assert cost.energy_by_layer_pj["fc"] == pytest.approx(400 * price["weights", "read"] + 200 * price["dendrite", "add"])
    assert shared_actions(trace) == {"router": {"route": 30}, "control": {"cycle": 4000}}
    assert cost.energy_by_layer_pj["shared"] == pytest.approx(30 * price["router", "route"]
                                                              + 4000 * price["control", "cycle"])
    assert sum(cost.energy_by_layer_pj.values()) == pytest.approx(cost.dynamic_energy_pj, rel=1e-12)
    assert cost.to_dict()["energy_by_layer_pj"] == cost.energy_by_layer_pj


def test_old_trace_without_layers_recosts_and_stored_layers_recompute(tmp_path):
    old = make_trace(LAYERED_ACTIONS).to_dict()
    old.pop("actions_by_layer")                         # a trace stored before per-layer counts
    assert evaluate(Trace.from_dict(old), make_chip(tmp_path, 28)).energy_by_layer_pj == {}
    stored = json.loads(json.dumps(make_trace(LAYERED_ACTIONS, actions_by_layer=BY_LAYER).to_dict()))
    at_28, at_7 = (evaluate(Trace.from_dict(stored), make_chip(tmp_path, node)) for node in (28, 7))
    assert at_7.energy_by_layer_pj["conv"] < at_28.energy_by_layer_pj["conv"]      # new tables, new figures
    assert sum(at_7.energy_by_layer_pj.values()) == pytest.approx(at_7.dynamic_energy_pj, rel=1e-12)


def test_layers_holding_more_than_the_run_fail_in_one_line(tmp_path):
    trace = make_trace(LAYERED_ACTIONS, actions_by_layer={"fc": {"weights": {"read": 1001}}})
    _one_line_error(evaluate, trace, make_chip(tmp_path, 28), match="actions_by_layer.fc.weights.read")
