"""The H2Learn design point (chips/h2learn.yaml) from the paper's area by a written rule.

Input figures: the paper reports the accelerator about 7.38x smaller than a V100 die (815 mm^2, NVIDIA
V100 whitepaper 2017), so the budget is 815 / 7.38 = 110.4 mm^2. The paper's node is not public; the rule
takes the budget at 28 nm (the node of the edge config, chips/h2learn-edge.yaml, and of the group's
Tianjic chip) without normalising from the V100's 12 nm: the ratio compares the accelerator as laid out
with the GPU as built, so it is an area at the accelerator's own node.

The rule (fixed before any timing run; every other number is the edge config's):

1. SRAM for the benchmark network (vgg-cifar10, the group's public BPTT library, at T = 6 and the edge
   config's tile of ``tiling.tile_samples`` samples): the weight buffer holds the largest layer's weights;
   the activation buffer one tile of the largest layer input over T (source codes); the gradient buffer one
   tile of the largest layer's dL/du over T plus its 1-bit window mask. Each rounded up to 64 KB.
2. The memory system is what a chip of the era carries in proportion to its size: the V100 carries 4 HBM2
   stacks on 815 mm^2, so 4 x 110.4 / 815 = 0.54, rounded up to one stack of JEDEC HBM2 (JESD235A:
   1024 bits at 2.0 Gb/s per pin = 256 GB/s), 3.9 pJ/bit (O'Connor et al., MICRO 2017: the tech table's
   ``dram_hbm2_pj_per_bit``).
3. The area left after SRAM and control goes to the engines' PEs so that at *dense* work of one
   iteration (no sparsity, every LUT pattern read) each engine needs the same cycles: PE counts in
   proportion to each engine's dense PE-cycles, scaled to fill the area. A PE's area is its engine's
   area per PE in the edge config (PE, its adder and its share of the neuron lanes at the edge's lane
   ratio). Counts are rounded down to a multiple of 64.

Usage: ``python bench/size_h2learn.py`` prints the rule's output; ``--check chips/h2learn.yaml`` exits 1
when the config differs from it (tests/test_h2learn_design.py runs that).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from archsim.config import load_chip
from archsim.cost.reference import area_reference_table
from archsim.models.h2learn.layers import build_layers
from archsim.models.h2learn.params import read_params
from workloads import zoo

ROOT = Path(__file__).resolve().parents[1]
EDGE = ROOT / "chips" / "h2learn-edge.yaml"
V100_DIE_MM2 = 815.0          # NVIDIA Tesla V100 whitepaper (2017)
PAPER_AREA_RATIO = 7.38       # H2Learn (Liang et al., TCAD 2022): V100 die / accelerator area
V100_HBM2_STACKS = 4          # NVIDIA Tesla V100 whitepaper (2017)
HBM2_STACK_GB_S = 256.0       # JEDEC JESD235A: 1024 bits x 2.0 Gb/s per pin
BENCHMARK = ("vgg-cifar10", 6)  # network and T of the group's public BPTT library (snn_gpu_training_bptt)
ENGINE_COMPONENTS = {"fe": ("fe_lut", "fe_adder", "fe_neuron_mul", "fe_neuron_cmp"),
                     "be": ("be_mac", "be_unit_mul", "be_unit_cmp", "be_index"),
                     "wue": ("wue_lut", "wue_adder")}


def _kb(bits: int) -> int:
    return 64 * math.ceil(bits / 8192 / 64)


def dense_pe_cycles(layers, params, steps: int, tile: int, batch: int) -> dict:
    """PE-cycles per engine for one dense iteration (every input pattern non-zero, no skipping)."""
    n = steps * batch
    tiles = math.ceil(batch / tile)
    work = {"fe": 0, "be": 0, "wue": 0}
    g = params.fe_group
    chunks = math.ceil(steps / params.wue_steps)
    for li, layer in enumerate(layers):
        for p in layer.projections:
            k, c, r, s = p.kernel_shape
            _, e, f = p.out_shape
            work["fe"] += k * r * s * e * f * math.ceil(c / g) * p.input_planes * n + tiles * k * r * s * math.ceil(c / g) * 2 ** g
            if li:
                work["be"] += k * c * r * s * e * f * n
            work["wue"] += k * c * r * s * e * f * batch * chunks * p.input_planes \
                + k * e * f * batch * chunks * 2 ** params.wue_steps
    return work


def size() -> dict:
    """The rule's output: budget, SRAM sizes, HBM2 stacks and PE counts."""
    edge = load_chip(EDGE)
    params = read_params(edge)
    network, steps = zoo.build(BENCHMARK[0]), BENCHMARK[1]   # its input: pixel values (8-bit bit planes)
    layers = build_layers(network, params, valued_inputs=set(network.inputs))
    tile = params.tile_samples
    budget = V100_DIE_MM2 / PAPER_AREA_RATIO
    weight_kb = _kb(max(sum(int(p.weight_q.size) for p in l.projections) for l in layers) * params.weight_bits)
    act_kb = _kb(tile * steps * max(sum(p.source_size * p.source_planes for p in l.projections) for l in layers))
    grad_kb = _kb(tile * steps * max(l.out_size for l in layers) * (params.grad_bits + 1))
    rows = {r.component: r for r in area_reference_table(edge)}
    sized = edge.with_overrides({"components.weight_buffer.size_kb": weight_kb,
                                 "components.activation_buffer.size_kb": act_kb,
                                 "components.gradient_buffer.size_kb": grad_kb})
    sized_rows = {r.component: r for r in area_reference_table(sized)}   # the cost model's SRAM area at those sizes
    sram_mm2 = sum(sized_rows[name].area_mm2_total for name in ("weight_buffer", "activation_buffer", "gradient_buffer"))
    fixed_mm2 = sram_mm2 + rows["control"].area_mm2_total + rows["wue_mul"].area_mm2_total
    pes_edge = {"fe": params.fe_pes, "be": params.be_pes, "wue": params.wue_pes}
    pe_mm2 = {e: sum(rows[c].area_mm2_total for c in comps) / pes_edge[e] for e, comps in ENGINE_COMPONENTS.items()}
    work = dense_pe_cycles(layers, params, steps, tile, batch=64)
    # PEs_e = x * work_e with sum_e PEs_e * pe_mm2_e = budget - fixed
    x = (budget - fixed_mm2) / sum(work[e] * pe_mm2[e] for e in work)
    pes = {e: 64 * int(x * work[e] // 64) for e in work}
    stacks = math.ceil(V100_HBM2_STACKS * budget / V100_DIE_MM2)
    return {"budget_mm2": budget, "weight_buffer_kb": weight_kb, "activation_buffer_kb": act_kb,
            "gradient_buffer_kb": grad_kb, "sram_mm2": sram_mm2, "pe_mm2": pe_mm2, "dense_pe_cycles": work,
            "pes": pes, "neuron_lanes": {e: pes[e] * params.fe_neuron_lanes // params.fe_pes for e in ("fe", "be")},
            "hbm2_stacks": stacks, "dram_gb_s": stacks * HBM2_STACK_GB_S,
            "logic_mm2": sum(pes[e] * pe_mm2[e] for e in pes)}


def check(config: Path, rule: dict) -> list[str]:
    """Where ``config`` differs from the rule's output."""
    comp = load_chip(config).params["components"]
    p = load_chip(config).params
    want = {("weight_buffer", "size_kb"): rule["weight_buffer_kb"],
            ("activation_buffer", "size_kb"): rule["activation_buffer_kb"],
            ("gradient_buffer", "size_kb"): rule["gradient_buffer_kb"],
            ("dram", "bandwidth_gb_s"): rule["dram_gb_s"]}
    for engine, names in (("fe", ("fe_lut", "fe_adder")), ("be", ("be_mac",)), ("wue", ("wue_lut", "wue_adder"))):
        for name in names:
            want[(name, "count")] = rule["pes"][engine]
    for engine, names in (("fe", ("fe_neuron_mul", "fe_neuron_cmp")), ("be", ("be_unit_mul", "be_unit_cmp", "be_index"))):
        for name in names:
            want[(name, "count")] = rule["neuron_lanes"][engine]
    diffs = [f"components.{c}.{k}: {comp[c][k]} (rule: {v})" for (c, k), v in want.items() if float(comp[c][k]) != v]
    for engine in ("fe", "be"):
        if p[engine]["neuron_lanes"] != rule["neuron_lanes"][engine]:
            diffs.append(f"{engine}.neuron_lanes: {p[engine]['neuron_lanes']} (rule: {rule['neuron_lanes'][engine]})")
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", type=Path, help="a config to compare with the rule's output")
    args = ap.parse_args()
    rule = size()
    if args.check:
        diffs = check(args.check, rule)
        for line in diffs:
            print(f"{args.check}: {line}")
        sys.exit(1 if diffs else 0)
    print(f"budget {rule['budget_mm2']:.1f} mm^2 at 28 nm; SRAM {rule['sram_mm2']:.1f} mm^2: weight "
          f"{rule['weight_buffer_kb']} KB, activation {rule['activation_buffer_kb']} KB, gradient "
          f"{rule['gradient_buffer_kb']} KB")
    print("dense PE-cycles per iteration:", {e: f"{v:.3g}" for e, v in rule["dense_pe_cycles"].items()})
    print("mm^2 per PE:", {e: f"{v:.5f}" for e, v in rule["pe_mm2"].items()})
    print("PEs:", rule["pes"], "neuron lanes:", rule["neuron_lanes"], f"engines {rule['logic_mm2']:.1f} mm^2")
    print(f"HBM2 stacks {rule['hbm2_stacks']}: {rule['dram_gb_s']:g} GB/s")


if __name__ == "__main__":
    main()
