"""Component counts and sizes derived from the architecture parameters (archsim.config.derive).

Each parameter a sweep varies must move the cost the way its derivation says: lanes scale the
dendrite/MAC/soma counts (area and leakage in proportion, energy per add unchanged) and widen the
synapse port (energy per read up); LUT group k scales table entries as 2^k at a fixed table count;
the NoC buffer depth sizes the router's buffers.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from archsim.config import load_chip
from archsim.cost.components import build_components
from archsim.cost.technology import load_technology
from archsim.errors import UserError

CHIPS = Path(__file__).resolve().parent.parent / "chips"


def costs(chip):
    """name -> (area per instance x count, leakage x count, estimator) of every component."""
    built = build_components(chip, load_technology(chip))
    return {name: (c.count * c.estimator.area_mm2().value, c.count * c.estimator.leakage_mw().value, c)
            for name, c in built.items()}


def test_tianjic_counts_follow_lanes_and_mesh():
    chip = load_chip(CHIPS / "tianjic.yaml")
    comp, cores = chip.params["components"], 13 * 12
    assert comp["dendrite"]["count"] == chip.get("core.dendrite_lanes") * cores == 2496
    assert comp["dendrite_mac"]["count"] == chip.get("core.mac_lanes") * cores
    assert comp["soma"]["count"] == chip.get("core.soma_lanes") * cores
    assert comp["synapse_sram"]["width_bits"] == 16 * 8
    assert comp["router"]["buffer_flits"] == chip.get("noc.buffer_flits")
    assert comp["router"]["flit_bits"] == chip.get("noc.flit_bits")
    assert "count" not in chip.given["components"]["dendrite"]


def test_board_counts_include_every_chip():
    chip = load_chip(CHIPS / "tianjic-board.yaml")
    assert chip.params["components"]["dendrite"]["count"] == 16 * 13 * 12 * 9


def test_per_core_components_and_links_follow_the_mesh():
    base = load_chip(CHIPS / "tianjic.yaml")
    small, large = costs(base), costs(base.with_overrides({"noc.mesh_x": 16, "noc.mesh_y": 16}))
    for name in ("synapse_sram", "axon_sram", "neuron_sram", "router_table", "soma_lut", "router", "control"):
        assert large[name][2].count == 256 and small[name][2].count == 156, name
        assert large[name][0] == pytest.approx(small[name][0] * 256 / 156), name       # area per core kept
        assert large[name][1] == pytest.approx(small[name][1] * 256 / 156), name       # leakage likewise
        for action in large[name][2].actions:                                           # energy per action kept
            assert large[name][2].estimator.energy_pj(action).value == small[name][2].estimator.energy_pj(action).value
    assert small["link"][2].count == 2 * (12 * 12 + 13 * 11) == 574
    assert large["link"][2].count == 2 * 2 * 15 * 16
    assert "count" not in base.given["components"]["router"]


def test_board_border_links_follow_chips_and_mesh():
    board = load_chip(CHIPS / "tianjic-board.yaml")
    assert board.params["components"]["offchip_link"]["count"] == 2 * (2 * 3 * 12 + 3 * 2 * 13) == 300
    wider = board.with_overrides({"noc.chips_x": 4})
    assert wider.params["components"]["offchip_link"]["count"] == 2 * (3 * 3 * 12 + 4 * 2 * 13)
    assert wider.params["components"]["link"]["count"] == 12 * 2 * (12 * 12 + 13 * 11)


def test_a_mesh_beyond_156_cores_costs_a_run_that_uses_them():
    from archsim.runner import execute

    # hybrid-tracker on 128 x 128 cores needs 168 cores: more than the 156 the shipped mesh has
    chip = load_chip(CHIPS / "tianjic.yaml").with_overrides(
        {"noc.mesh_x": 16, "noc.mesh_y": 16, "core.axons": 128, "core.neurons": 128})
    result = execute("hybrid-tracker", chip, steps=1, gpu=None).result
    assert result["trace"]["details"]["cores_used"] > 156
    assert result["area_breakdown_mm2"]["router"] == pytest.approx(costs(chip)["router"][0])


def test_lanes_move_area_leakage_and_port_energy():
    base = load_chip(CHIPS / "tianjic.yaml")
    points = {lanes: costs(base.with_overrides({"core.dendrite_lanes": lanes, "core.mac_lanes": lanes}))
              for lanes in (4, 16, 64)}
    for lanes in (4, 64):
        ratio = lanes / 16
        area, leak, est = points[lanes]["dendrite"]
        area16, leak16, est16 = points[16]["dendrite"]
        assert area == pytest.approx(area16 * ratio) and leak == pytest.approx(leak16 * ratio)
        assert est.estimator.energy_pj("add").value == pytest.approx(est16.estimator.energy_pj("add").value)
        assert points[lanes]["dendrite_mac"][0] == pytest.approx(points[16]["dendrite_mac"][0] * ratio)
    reads = [points[lanes]["synapse_sram"][2].estimator.energy_pj("read").value for lanes in (4, 16, 64)]
    assert reads[0] < reads[1] < reads[2]
    totals = [sum(a for a, _, _ in points[lanes].values()) for lanes in (4, 16, 64)]
    assert totals[0] < totals[1] < totals[2]


def test_buffer_depth_moves_router_area_leakage_and_energy():
    base = load_chip(CHIPS / "tianjic.yaml")
    small, large = (costs(base.with_overrides({"noc.buffer_flits": depth}))["router"] for depth in (2, 16))
    assert small[0] < large[0] and small[1] < large[1]
    assert small[2].estimator.energy_pj("route").value < large[2].estimator.energy_pj("route").value


def test_lut_group_moves_table_size_at_fixed_table_count():
    base = load_chip(CHIPS / "h2learn-edge.yaml")
    tables = base.get("fe.lut_tables")
    points = {}
    for k in (2, 4, 8):
        chip = base.with_overrides({"fe.lut_group": k})
        spec = chip.params["components"]["fe_lut"]
        assert spec["entries"] == tables * 2 ** k
        assert spec["width_bits"] == chip.get("precision.weight_bits") + {2: 1, 4: 2, 8: 3}[k]
        points[k] = costs(chip)["fe_lut"]
    areas = [points[k][0] for k in (2, 4, 8)]
    leaks = [points[k][1] for k in (2, 4, 8)]
    reads = [points[k][2].estimator.energy_pj("read").value for k in (2, 4, 8)]
    assert areas[0] < areas[1] < areas[2] and leaks[0] < leaks[1] < leaks[2] and reads[0] < reads[1] < reads[2]


def test_h2learn_lane_counts_follow_engine_lanes():
    chip = load_chip(CHIPS / "h2learn.yaml")
    comp = chip.params["components"]
    assert comp["be_index"]["count"] == comp["be_unit_mul"]["count"] == chip.get("be.neuron_lanes")
    assert comp["fe_neuron_mul"]["count"] == chip.get("fe.neuron_lanes")
    assert comp["wue_lut"]["entries"] == chip.get("wue.lut_tables") * 2 ** chip.get("wue.lut_steps")


def test_fixed_components_stay_as_given():
    chip = load_chip(CHIPS / "loihi.yaml").with_overrides({"core.dendrite_lanes": 4})
    assert chip.params["components"]["dendrite"]["count"] == 128


def _write_contradiction(tmp_path: Path) -> Path:
    data = yaml.safe_load((CHIPS / "tianjic.yaml").read_text())
    data["components"]["dendrite"]["count"] = 1000
    data["technology"]["table"] = str(CHIPS / "tech" / "28nm.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_contradiction_is_one_line_naming_both_keys(tmp_path):
    path = _write_contradiction(tmp_path)
    with pytest.raises(UserError) as err:
        load_chip(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert "components.dendrite.count: 1000" in message and "core.dendrite_lanes x cores = 2496" in message


def test_override_of_a_derived_key_must_agree():
    base = load_chip(CHIPS / "tianjic.yaml")
    assert base.with_overrides({"components.dendrite.count": 2496}).params["components"]["dendrite"]["count"] == 2496
    with pytest.raises(UserError, match=re.escape("components.router.buffer_flits: 8 contradicts noc.buffer_flits")):
        base.with_overrides({"components.router.buffer_flits": 8})


def test_contradiction_exits_2_from_the_cli(tmp_path, capsys):
    from archsim.cli import main
    path = _write_contradiction(tmp_path)
    assert main(["map", "mlp-digits", "--chip", str(path)]) == 2
    assert "contradicts core.dendrite_lanes" in capsys.readouterr().err


@pytest.mark.parametrize("buffer", ["activation_buffer", "gradient_buffer", "weight_buffer"])
def test_h2learn_buffer_size_is_one_number_for_timing_and_cost(buffer):
    """A buffer's depth is its SRAM's size: the timing model's capacity and the cost model's macro alike."""
    from archsim.models.h2learn.params import read_params

    base = load_chip(CHIPS / "h2learn.yaml")
    size_kb = base.params["components"][buffer]["size_kb"]
    half = base.with_overrides({f"components.{buffer}.size_kb": size_kb / 2})
    assert getattr(read_params(half), f"{buffer}_bits") == getattr(read_params(base), f"{buffer}_bits") // 2
    (area, leak, est), (half_area, half_leak, half_est) = costs(base)[buffer], costs(half)[buffer]
    assert half_area < area and half_leak < leak
    assert half_est.estimator.energy_pj("read").value < est.estimator.energy_pj("read").value
