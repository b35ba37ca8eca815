"""Generate the shipped technology tables (chips/tech/<node>nm.yaml) from one 45 nm base table.

The base table holds per-action energies and per-primitive areas at 45 nm and 0.9 V, each with its
source. Every other node is the base times a scaling factor, with SEPARATE factors for logic, SRAM and
wires, because below 28 nm SRAM and wires shrink far less than logic (Jouppi et al., ISCA 2021); one
factor for everything would flatter advanced nodes (GPUs at 7-12 nm above all).

Scaling rules (each factor is relative to 45 nm; the generated files list them under ``scaling``):

* logic energy and area: Stillmaker & Baas, Integration 58 (2017); where the paper gives a range for
  energy the upper (less optimistic) end is used.
* SRAM energy: as logic down to 28 nm; below, log-log interpolation in the node between 28 nm
  (0.51) and a 7 nm anchor of 0.355, the geometric mean of Jouppi et al.'s 7 nm 64-bit reads over
  Horowitz's 45 nm ones (7.5/10, 8.5/20, 14/100). Unconfirmed: these three figures are recalled from the
  paper's energy table; a search of the stored sources found the paper but not the table.
* SRAM area: as logic down to 28 nm; below, the square root of the logic area factor relative to
  28 nm (assumption: bit cells and periphery shrink about half as fast, in log terms, as logic).
* SRAM leakage per KB: follows SRAM area (assumption: leakage per bit tracks transistor width).
* wires (pJ/bit/mm): capacitance per mm is about constant across nodes, so wire energy changes only
  with the square of each node's nominal voltage (assumption, first order).
* DRAM and off-chip links: separate dies and PHYs, unchanged by the logic node.
* Logic leakage per mm^2: constant across nodes (assumption).

Each table carries its nominal voltage; a chip's ``technology.voltage_v`` rescales dynamic energy by
(V / V_nominal)^2 and leakage power by V / V_nominal (see ``archsim.cost.technology``).

Run ``python -m archsim.cost.tech_tables`` to rewrite the files; a test checks they are up to date.
"""
from __future__ import annotations

import math

import numpy as np
import yaml

from archsim.atomic import write_text_atomically
from archsim.shipped import CHIPS_DIR

TECH_DIR = CHIPS_DIR / "tech"

HOROWITZ = "Horowitz, ISSCC 2014, 45 nm 0.9 V"
CACTI = "CACTI 7 32 nm points (8-bit port; SATA_Sim repository)"
STILLMAKER = "Stillmaker & Baas, Integration 58 (2017)"
SATA = "SATA_Sim per-op energies (Yin et al., arXiv 2204.05422)"
NANGATE = "Nangate 45 nm Open Cell Library"

# CACTI 7 SRAM points at 32 nm (size KB: read pJ, write pJ, area mm^2, leakage mW); energy_and_gpus.md.
CACTI_32NM = {8: (1.18, 1.13, 0.0325, 0.14), 32: (2.75, 2.51, 0.122, 0.50),
              144: (6.53, 5.89, 0.524, 1.84), 256: (8.99, 7.89, 0.871, 3.15)}
CACTI_PORT_BITS = 8
STILLMAKER_32NM_ENERGY = 0.64
STILLMAKER_32NM_AREA = 0.46

# node: (logic energy, logic area, nominal voltage V, voltage source)
NODES = {
    45: (1.0, 1.0, 0.9, "Horowitz 2014 (45 nm, 0.9 V)"),
    28: (0.51, 0.38, 0.9, "assumption: 0.9 V (Tianjic's 28 nm operating point, Pei et al. 2019)"),
    22: (0.31, 0.25, 0.8, "assumption: 0.8 V typical 22 nm nominal"),
    12: (0.14, 0.135, 0.8, "assumption: 0.8 V typical 12 nm FinFET nominal"),
    7: (0.10, 0.059, 0.75, "assumption: 0.75 V typical 7 nm FinFET nominal"),
    # 5 nm is past Stillmaker & Baas's tables: stated extrapolation (assumption), logic energy x0.7 and
    # area x0.55 per node from 7 nm (foundry-quoted N7->N5 ranges: 0.7-0.8 power, 0.55-0.6 area at iso speed)
    5: (0.07, 0.0325, 0.75, "assumption: 0.75 V typical 5 nm FinFET nominal"),
}
SRAM_ENERGY_7NM = (7.5 / 10 * 8.5 / 20 * 14 / 100) ** (1 / 3)   # Jouppi 2021 over Horowitz 2014
WIRE_REFERENCE = (0.1, 0.8)   # Dally et al., CACM 2020: ~0.1 pJ/bit/mm at 14-16 nm; 0.8 V assumed there


def power_law_fit(sizes_kb, values) -> tuple[float, float]:
    """Least-squares fit of ``value = coef * size_kb ** exponent`` in log-log space."""
    exponent, log_coef = np.polyfit(np.log(sizes_kb), np.log(values), 1)
    return float(math.exp(log_coef)), float(exponent)


def _sram_fits() -> dict:
    """Per-bit energy, per-KB area and per-KB leakage of SRAM vs size, fitted and moved to 45 nm."""
    sizes = np.array(sorted(CACTI_32NM), dtype=float)
    rows = np.array([CACTI_32NM[int(s)] for s in sizes])
    fits = {}
    for i, what, scale, unit in ((0, "read", STILLMAKER_32NM_ENERGY, "pj_per_bit"),
                                 (1, "write", STILLMAKER_32NM_ENERGY, "pj_per_bit"),
                                 (2, "area", STILLMAKER_32NM_AREA, "mm2_per_kb"),
                                 (3, "leakage", STILLMAKER_32NM_AREA, "mw_per_kb")):
        per_unit = rows[:, i] / (CACTI_PORT_BITS if unit == "pj_per_bit" else sizes)
        coef, exponent = power_law_fit(sizes, per_unit / scale)
        fits[what] = (coef, exponent, unit)
    return fits


def base_entries() -> dict:
    """The 45 nm, 0.9 V base table: name -> (value, source, kind) with kind logic|sram|wire|fixed."""
    e = {}
    for bits, pj, um2 in ((8, 0.03, 36), (16, 0.05, 67), (32, 0.1, 137)):
        e[f"add_int{bits}_pj"] = (pj, HOROWITZ, "logic")
        e[f"add_int{bits}_um2"] = (um2, HOROWITZ, "logic_area")
    for bits, pj, um2 in ((8, 0.2, 282), (32, 3.1, 3495)):
        e[f"mult_int{bits}_pj"] = (pj, HOROWITZ, "logic")
        e[f"mult_int{bits}_um2"] = (um2, HOROWITZ, "logic_area")
    for name, pj, um2 in (("add_fp16", 0.4, 1360), ("mult_fp16", 1.1, 1640), ("add_fp32", 0.9, 4184),
                          ("mult_fp32", 3.7, 7700)):
        e[f"{name}_pj"] = (pj, HOROWITZ, "logic")
        e[f"{name}_um2"] = (um2, HOROWITZ, "logic_area")
    # SATA_Sim gives 16-bit op energies (node not stated); use only its ratios to a 16-bit add,
    # anchored on Horowitz's 16-bit add (0.05 pJ).
    add16 = 0.05
    e["compare_int16_pj"] = (add16 * 0.00309 / 0.00967, f"{SATA}: compare/add ratio x Horowitz int16 add", "logic")
    e["mux2_pj_per_bit"] = (add16 * 0.00172 / 0.00967 / 16, f"{SATA}: 2:1 mux/add ratio x Horowitz int16 add, per bit", "logic")
    e["register_pj_per_bit"] = (add16 * 0.0301 / 0.00967 / 16, f"{SATA}: register/add ratio x Horowitz int16 add, per bit", "logic")
    e["comparator_um2_per_bit"] = (67 / 16 / 2, "assumption: half of Horowitz's int16 adder area per bit (a carry chain without sum outputs)", "logic_area")
    e["mux2_um2_per_bit"] = (1.862, f"{NANGATE}: MUX2_X1 (recalled, unconfirmed)", "logic_area")
    e["register_um2_per_bit"] = (4.522, f"{NANGATE}: DFF_X1, SIZE 3.23 x 1.4 um in the library's LEF "
                                 "(checked: OpenROAD-flow-scripts, flow/platforms/nangate45)", "logic_area")
    e["nand2_um2"] = (0.798, f"{NANGATE}: NAND2_X1 (0.57 x 1.4 um; as quoted by liberty files that copy the "
                      "library, its LEF entry not read)", "logic_area")
    nand2_per_add32 = 137 / 0.798
    e["logic_pj_per_gate_cycle"] = (0.1 / nand2_per_add32, f"derived: {HOROWITZ} int32 add 0.1 pJ over its 137 um^2 in NAND2 equivalents", "logic")
    e["logic_leakage_mw_per_mm2"] = (10.0, "assumption: 10 mW/mm^2 of logic at nominal voltage, constant across nodes", "fixed")
    fits = _sram_fits()
    for what, (coef, exponent, unit) in fits.items():
        source = (f"power-law fit over {CACTI}, / Stillmaker 32 nm factor "
                  f"{STILLMAKER_32NM_ENERGY if unit == 'pj_per_bit' else STILLMAKER_32NM_AREA}")
        kind = {"read": "sram", "write": "sram", "area": "sram_area", "leakage": "sram_area"}[what]
        e[f"sram_{what}_{unit}_at_1kb"] = (round(coef, 6), source, kind)
        e[f"sram_{what}_size_exponent"] = (round(exponent, 4), source, "fixed")
    e["sram_port_width_exponent"] = (1 / 3, "est: per-bit energy x (width/8)^(-1/3), 2x below the 8-bit port at 64 "
                                     "bits (wide ports 2-4x cheaper per bit); within 30% of Horowitz's 64-bit reads",
                                     "fixed")
    wire_pj, wire_v = WIRE_REFERENCE
    e["wire_pj_per_bit_mm"] = (wire_pj * (0.9 / wire_v) ** 2, "Dally et al., CACM 2020 (~0.1 pJ/bit/mm at 14-16 nm, "
                               "0.8 V assumed) scaled to 0.9 V", "wire")
    e["router_crossbar_mm_per_port"] = (0.02, "assumption: 20 um of crossbar wire per port at 45 nm", "logic_length")
    e["offchip_link_pj_per_bit"] = (5.0, "est: board-level SerDes, typically 1-10 pJ/bit", "fixed")
    for kind, pj, src in (("ddr3", 30.0, "Horowitz 2014: 1300-2600 pJ per 64 bits, midpoint"),
                          ("ddr4", 15.0, "est: DDR4 interface + core, commonly quoted 10-20 pJ/bit"),
                          ("lpddr4", 6.0, "est: LPDDR4, commonly quoted 4-8 pJ/bit"),
                          ("hbm2", 3.9, "O'Connor et al., MICRO 2017 (recalled: 3.9 pJ/bit; the paper found, "
                                        "the figure not confirmed in it)"),
                          ("hbm3", 3.5, "est: HBM3 slightly below HBM2 per bit")):
        e[f"dram_{kind}_pj_per_bit"] = (pj, src, "fixed")
    return e


def scaling(node_nm: int) -> dict:
    """Factors relative to 45 nm for one node (see the module docstring for the rules)."""
    logic_e, logic_a, voltage, _ = NODES[node_nm]
    if node_nm >= 28:
        sram_e, sram_a = logic_e, logic_a
    else:
        t = (math.log(28) - math.log(node_nm)) / (math.log(28) - math.log(7))
        sram_e = math.exp(math.log(0.51) + t * (math.log(SRAM_ENERGY_7NM) - math.log(0.51)))
        sram_a = 0.38 * math.sqrt(logic_a / 0.38)
    return {"logic_energy": logic_e, "logic_area": logic_a, "logic_length": math.sqrt(logic_a),
            "sram_energy": round(sram_e, 4), "sram_area": round(sram_a, 4),
            "wire_energy": round((voltage / 0.9) ** 2, 4), "fixed": 1.0}


FACTOR_OF_KIND = {"logic": "logic_energy", "logic_area": "logic_area", "logic_length": "logic_length",
                   "sram": "sram_energy", "sram_area": "sram_area", "wire": "wire_energy", "fixed": "fixed"}


def table(node_nm: int) -> dict:
    """The technology table for one node as a YAML-ready mapping."""
    factors = scaling(node_nm)
    entries = {}
    for name, (value, source, kind) in base_entries().items():
        factor = factors[FACTOR_OF_KIND[kind]]
        if node_nm != 45 and factor != 1.0:
            source = f"{source}; x {factor:.4g} ({FACTOR_OF_KIND[kind]} 45->{node_nm} nm)"
        entries[name] = {"value": float(f"{value * factor:.6g}"), "source": source}
    _, _, voltage, voltage_source = NODES[node_nm]
    return {"node_nm": node_nm, "voltage_v": voltage, "voltage_source": voltage_source,
            "scaling": {k: float(f"{v:.4g}") for k, v in factors.items() if k != "fixed"},
            "scaling_sources": {"logic": (f"{STILLMAKER} (upper end of energy ranges)" if node_nm >= 7 else
                                          "assumption: extrapolated from 7 nm (see NODES in the generator)"),
                                "sram": "as logic to 28 nm; below: Jouppi et al. ISCA 2021 7 nm anchor (recalled, unconfirmed; energy, "
                                        "extrapolated on the same log-log line below 7 nm), "
                                        "sqrt of logic area factor (area, assumption)",
                                "wire": "constant capacitance per mm; (V_nominal/0.9)^2 (assumption)"},
            "entries": entries}


HEADER = ("# Technology table for {node} nm, generated by `python -m archsim.cost.tech_tables` from the 45 nm\n"
          "# base table and the scaling rules in archsim/cost/tech_tables.py: edit the generator, not this file.\n"
          "# Energies in pJ per action at voltage_v (dynamic energy scales as (V/voltage_v)^2), areas in um^2\n"
          "# or mm^2 as named, leakage in mW at voltage_v. Each entry names its source or says assumption/est.\n")


def render(node_nm: int) -> str:
    """The YAML text of the table for ``node_nm`` (header comment with the sources, then the entries)."""
    return HEADER.format(node=node_nm) + yaml.safe_dump(table(node_nm), sort_keys=False, width=200)


def main() -> None:
    """Regenerate every shipped table ``chips/tech/<node>nm.yaml`` (``python -m archsim.cost.tech_tables``)."""
    TECH_DIR.mkdir(parents=True, exist_ok=True)
    for node in NODES:
        write_text_atomically(TECH_DIR / f"{node}nm.yaml", render(node))
        print(f"wrote {TECH_DIR / f'{node}nm.yaml'}")


if __name__ == "__main__":
    main()
