"""GPUs scale logic and SRAM energy by the shared technology tables (chips/tech/*.yaml), as chips do."""
from pathlib import Path

import pytest
import yaml

from archsim.config import load_chip
from archsim.cost import tech_tables
from archsim.errors import UserError
from archsim.gpu.spec import fma_energy_pj, gpu_spec, node_scaling

GPUS = Path(__file__).resolve().parents[1] / "chips" / "gpu"


@pytest.mark.parametrize("name, node", [("v100", 12), ("a100", 7), ("h100", 5)])
def test_gpu_reads_the_shared_table_at_its_node(name, node):
    chip = load_chip(GPUS / f"{name}.yaml")
    scaling = node_scaling(chip)
    assert scaling["logic_energy"] == tech_tables.scaling(node)["logic_energy"]
    assert scaling["sram_energy"] == tech_tables.scaling(node)["sram_energy"]


def test_fma_energy_moves_with_the_table_factors():
    energy = load_chip(GPUS / "v100.yaml").params["energy"]
    base = {"logic_energy": 0.14, "sram_energy": 0.4}
    low = fma_energy_pj(4.6, 128, 8, 1, energy, base)
    high = fma_energy_pj(4.6, 128, 8, 1, energy, {**base, "sram_energy": 0.8})
    registers_and_shared = (128 * energy["register_pj_per_bit_45nm"] + 8 * energy["shared_pj_per_bit_45nm"]) * 0.4
    assert high - low == pytest.approx(registers_and_shared)


def test_a_private_gpu_scale_factor_is_refused():
    chip = load_chip(GPUS / "v100.yaml")
    with pytest.raises(UserError, match="sram_energy_scale"):
        chip.with_overrides({"energy.sram_energy_scale": 0.85})


def test_every_class_scales_monotonically_with_one_factor_per_node():
    nodes = sorted(tech_tables.NODES, reverse=True)
    for kind in ("logic_energy", "logic_area", "sram_energy", "sram_area", "wire_energy"):
        factors = [tech_tables.scaling(node)[kind] for node in nodes]
        assert all(a >= b for a, b in zip(factors, factors[1:])), (kind, factors)
    for node in nodes:
        shipped = yaml.safe_load((GPUS.parent / "tech" / f"{node}nm.yaml").read_text())
        for kind, factor in shipped["scaling"].items():
            assert factor == pytest.approx(tech_tables.scaling(node)[kind], rel=1e-3), (node, kind)
