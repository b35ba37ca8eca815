"""A GPU's energy per action, read from the same technology tables (``chips/tech/<node>nm.yaml``) as chips.

The GPU config says only what the micro-architecture is (register-file and shared-memory banks and
their word width, the L2 slice and its sector, the distance a DRAM byte travels on the die, the DRAM
kind); the energies come from the table at the GPU's node through the estimators the chips use
(:class:`archsim.cost.estimators.Sram` and the table's DRAM, wire and floating-point entries), so a
GPU and a chip at one node pay one price per SRAM bit, per wire millimetre and per FMA:

* ``fma_fp32_pj`` / ``fma_fp16_pj``: the table's ``add_fp*_pj + mult_fp*_pj`` (Horowitz, scaled as logic).
  BF16 is counted as FP16 (its 8-bit mantissa multiplier is smaller: an upper bound, assumption).
* ``register_pj_per_bit``: one read of ``register_port_bits`` (one 32-bit operand per lane of a warp)
  from a bank of ``register_bank_kb``, per bit.
* ``shared_pj_per_bit``: shared memory / L1 of ``shared_kb`` in ``shared_banks`` banks of 32-bit words
  (the CUDA programming guide's 32 banks), each lane reading its own bank, per bit.
* ``l2_pj_per_bit``: one ``l2_port_bits`` sector read from an L2 slice of ``l2_bank_kb``, per bit.
* ``dram_pj_per_bit``: the table's ``dram_<kind>_pj_per_bit`` for ``memory.kind`` (HBM2e as HBM2,
  HBM3e as HBM3: assumption).
* ``onchip_pj_per_bit``: the table's ``wire_pj_per_bit_mm`` x ``onchip_mm`` (HBM PHY via L2 to an SM).
* ``instruction_pj``: ``instruction_pj_45nm`` x the table's logic-energy factor (the fetch, decode and
  schedule of one warp instruction; Horowitz gives no per-node figure).

``energy.calibration`` (optional) multiplies named actions by factors measured on that GPU, each with
its source: ``{register: {factor: 0.8, source: "..."}}``; the shipped GPUs have none, so every factor is 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from archsim.config import Chip
from archsim.cost.estimators import Sram
from archsim.cost.technology import load_technology, table_path
from archsim.errors import UserError

ACTIONS = ("fma_fp32", "fma_fp16", "register", "shared", "l2", "dram", "onchip", "instruction")
DRAM_ENTRY = {"HBM2": "hbm2", "HBM2e": "hbm2", "HBM3": "hbm3", "HBM3e": "hbm3"}
SHARED_WORD_BITS = 32


@dataclass(frozen=True)
class ActionEnergies:
    """Energy per action of one GPU at its node, calibration factors applied; ``sources`` says how each was got."""

    fma_fp32_pj: float
    fma_fp16_pj: float
    register_pj_per_bit: float
    shared_pj_per_bit: float
    l2_pj_per_bit: float
    dram_pj_per_bit: float
    onchip_pj_per_bit: float
    instruction_pj: float
    sources: dict = field(default_factory=dict)


def node_scaling(chip: Chip) -> dict:
    """The 45 nm -> node factors (``scaling:``) of the technology table at the chip's node."""
    with open(table_path(chip)) as handle:
        return yaml.safe_load(handle)["scaling"]


def _sram_pj_per_bit(tech, size_kb: float, banks: int, width_bits: int) -> tuple[float, str]:
    """Per-bit read energy of one ``width_bits`` word from one bank, by the chips' SRAM estimator."""
    estimate = Sram("gpu", {"size_kb": size_kb, "width_bits": width_bits, "banks": banks}, tech).energy_pj("read")
    return estimate.value / width_bits, estimate.source


def action_energies(chip: Chip) -> ActionEnergies:
    """The energies of ``chip`` (a GPU config) from its node's table, with its ``energy.calibration``."""
    tech = load_technology(chip)
    energy, memory = chip.params["energy"], chip.params["memory"]
    kind = DRAM_ENTRY.get(memory["kind"])
    if kind is None:
        raise UserError(f"{chip.path}: memory.kind: {memory['kind']!r} has no DRAM entry in {tech.path} "
                        f"(allowed: {', '.join(DRAM_ENTRY)})")
    logic = node_scaling(chip)["logic_energy"]
    register, register_how = _sram_pj_per_bit(tech, energy["register_bank_kb"], 1, energy["register_port_bits"])
    shared, shared_how = _sram_pj_per_bit(tech, energy["shared_kb"], energy["shared_banks"], SHARED_WORD_BITS)
    l2, l2_how = _sram_pj_per_bit(tech, energy["l2_bank_kb"], 1, energy["l2_port_bits"])
    wire = tech.value("wire_pj_per_bit_mm") * tech.dynamic_scale
    values = {
        "fma_fp32": (tech.value("add_fp32_pj") + tech.value("mult_fp32_pj")) * tech.dynamic_scale,
        "fma_fp16": (tech.value("add_fp16_pj") + tech.value("mult_fp16_pj")) * tech.dynamic_scale,
        "register": register, "shared": shared, "l2": l2,
        "dram": tech.value(f"dram_{kind}_pj_per_bit"),
        "onchip": wire * energy["onchip_mm"],
        "instruction": energy["instruction_pj_45nm"] * logic,
    }
    sources = {
        "fma_fp32": f"{tech.path}: add_fp32_pj + mult_fp32_pj",
        "fma_fp16": f"{tech.path}: add_fp16_pj + mult_fp16_pj (BF16 counted as FP16, assumption)",
        "register": f"per bit of {register_how}",
        "shared": f"per bit of {shared_how} (each lane reads its own {SHARED_WORD_BITS}-bit bank)",
        "l2": f"per bit of {l2_how}",
        "dram": f"{tech.path}: dram_{kind}_pj_per_bit ({memory['kind']})",
        "onchip": f"{tech.path}: wire_pj_per_bit_mm x energy.onchip_mm {energy['onchip_mm']:g}",
        "instruction": f"energy.instruction_pj_45nm x logic_energy {logic:g} of {tech.path}",
    }
    for action, item in (energy.get("calibration") or {}).items():
        values[action] *= item["factor"]
        sources[action] += f"; x {item['factor']:g} measured ({item['source']})"
    return ActionEnergies(**{f"{a}_pj" if a.startswith(("fma", "instruction")) else f"{a}_pj_per_bit": values[a]
                             for a in ACTIONS}, sources=sources)
