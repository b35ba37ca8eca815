"""GPUs take their energy per action from the shared technology tables (chips/tech/*.yaml), as chips do."""
from pathlib import Path

import pytest
import yaml

from archsim.config import load_chip
from archsim.cost import tech_tables
from archsim.cost.estimators import Dram, Link, Sram
from archsim.cost.technology import load_technology
from archsim.errors import UserError
from archsim.gpu.energy import action_energies, node_scaling
from archsim.gpu.spec import SGEMM_TDP_FRACTION, gpu_spec, sgemm_power_w

GPUS = Path(__file__).resolve().parents[1] / "chips" / "gpu"
CHIPS = GPUS.parent


def gpu(name, **overrides):
    chip = load_chip(GPUS / f"{name}.yaml")
    return chip.with_overrides(overrides) if overrides else chip


@pytest.mark.parametrize("name, node", [("v100", 12), ("a100", 7), ("h100", 5)])
def test_gpu_reads_the_shared_table_at_its_node(name, node):
    chip = gpu(name)
    assert node_scaling(chip) == yaml.safe_load((CHIPS / "tech" / f"{node}nm.yaml").read_text())["scaling"]
    tech = load_technology(chip)
    assert tech.node_nm == node
    actions = action_energies(chip)
    assert actions.fma_fp32_pj == pytest.approx(tech.value("add_fp32_pj") + tech.value("mult_fp32_pj"))
    assert actions.fma_fp16_pj == pytest.approx(tech.value("add_fp16_pj") + tech.value("mult_fp16_pj"))


def test_gpu_srams_wires_and_dram_are_priced_by_the_chips_estimators():
    chip = gpu("v100")
    tech, energy, actions = load_technology(chip), chip.params["energy"], action_energies(chip)

    def sram_bit(size_kb, banks, width):
        return Sram("x", {"size_kb": size_kb, "banks": banks, "width_bits": width}, tech).energy_pj("read").value / width

    assert actions.register_pj_per_bit == pytest.approx(sram_bit(energy["register_bank_kb"], 1, energy["register_port_bits"]))
    assert actions.shared_pj_per_bit == pytest.approx(sram_bit(energy["shared_kb"], energy["shared_banks"], 32))
    assert actions.l2_pj_per_bit == pytest.approx(sram_bit(energy["l2_bank_kb"], 1, energy["l2_port_bits"]))
    link = Link("x", {"width_bits": 1, "length_mm": energy["onchip_mm"], "area_mm2": 0.0}, tech)
    assert actions.onchip_pj_per_bit == pytest.approx(link.energy_pj("transfer").value)
    dram = Dram("x", {"kind": "hbm2", "width_bits": 1, "pj_per_bit": None, "area_mm2": 0.0, "bandwidth_gb_s": None}, tech)
    assert actions.dram_pj_per_bit == pytest.approx(dram.energy_pj("read").value)
    spec = gpu_spec(chip)
    assert spec.dram_byte_pj == pytest.approx(8 * (actions.dram_pj_per_bit + actions.onchip_pj_per_bit))
    assert spec.l2_byte_pj == pytest.approx(8 * (actions.l2_pj_per_bit + actions.onchip_pj_per_bit))


def test_a_bigger_register_bank_costs_more_per_fma():
    small, large = gpu_spec(gpu("v100")), gpu_spec(gpu("v100", **{"energy.register_bank_kb": 64}))
    assert large.vector_flop_pj > small.vector_flop_pj and large.dram_byte_pj == small.dram_byte_pj


def test_a_named_calibration_factor_scales_only_its_action():
    base = action_energies(gpu("v100"))
    calibrated = action_energies(gpu("v100", **{"energy.calibration": {"l2": {"factor": 2.0, "source": "bench run"}}}))
    assert calibrated.l2_pj_per_bit == pytest.approx(2 * base.l2_pj_per_bit)
    assert calibrated.register_pj_per_bit == base.register_pj_per_bit
    assert "x 2 measured (bench run)" in calibrated.sources["l2"]


def test_a_calibration_of_an_unknown_action_is_refused():
    with pytest.raises(UserError, match="calibration"):
        gpu("v100", **{"energy.calibration": {"alu": {"factor": 2.0, "source": "x"}}})


def test_a_private_gpu_scale_factor_is_refused():
    with pytest.raises(UserError, match="sram_energy_scale"):
        gpu("v100").with_overrides({"energy.sram_energy_scale": 0.85})


@pytest.mark.parametrize("name", ["v100", "a100", "h100"])
def test_busy_sm_power_follows_the_sgemm_rule(name):
    chip = gpu(name)
    assert sgemm_power_w(chip) == pytest.approx(SGEMM_TDP_FRACTION * chip.params["power"]["tdp_w"], abs=1.0)


def test_every_class_scales_monotonically_with_one_factor_per_node():
    nodes = sorted(tech_tables.NODES, reverse=True)
    for kind in ("logic_energy", "logic_area", "sram_energy", "sram_area", "wire_energy"):
        factors = [tech_tables.scaling(node)[kind] for node in nodes]
        assert all(a >= b for a, b in zip(factors, factors[1:])), (kind, factors)
    for node in nodes:
        shipped = yaml.safe_load((CHIPS / "tech" / f"{node}nm.yaml").read_text())
        for kind, factor in shipped["scaling"].items():
            assert factor == pytest.approx(tech_tables.scaling(node)[kind], rel=1e-3), (node, kind)


@pytest.mark.parametrize("node", sorted(tech_tables.NODES))
def test_every_entry_of_a_class_moves_by_its_class_factor(node):
    """One factor per class and node: each shipped entry is its 45 nm value times its class's factor."""
    base = tech_tables.base_entries()
    shipped = yaml.safe_load((CHIPS / "tech" / f"{node}nm.yaml").read_text())["entries"]
    factors = tech_tables.scaling(node)
    for name, (value, _, kind) in base.items():
        factor = factors[tech_tables.FACTOR_OF_KIND[kind]]
        assert shipped[name]["value"] == pytest.approx(value * factor, rel=1e-5), (node, name)
