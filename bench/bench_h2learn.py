"""H2Learn ablations and simulator speed: one training iteration per zoo network, for both configs.

Prints, per config (the published design point chips/h2learn.yaml and the edge chips/h2learn-edge.yaml)
and workload: simulated time per iteration, samples/s, energy per iteration (archsim.cost), FE/BE/WUE busy
cycles, DRAM utilisation and the wall time of the simulation, for the baseline and each ablation
(fe.lut off, be.sparsity off, pipeline off); then for the baseline: energy by engine / buffer / DRAM,
DRAM bytes by tensor, area by engine, the schedule (when the tiles end, the WUE's tail of blocked passes
and update, stalls per engine), each engine's load imbalance (busiest-PE cycles over evenly spread ones),
the dataflow the search chose per layer, and the V100 model on the same workload (archsim.gpu). Usage:

    python bench/bench_h2learn.py                      # digits networks, then vgg-cifar10 (batch 64, T 6)
    python bench/bench_h2learn.py --only mlp-digits --batch 16 --chip chips/h2learn-edge.yaml
    OMP_NUM_THREADS=1 python bench/bench_h2learn.py    # the one-core wall-time figure
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from archsim.config import load_chip
from archsim.cost import evaluate
from archsim.gpu import estimate
from archsim.graph.workload import make_workload
from archsim.models.h2learn import simulate
from workloads import zoo

CHIPS = [Path(__file__).resolve().parents[1] / "chips" / name for name in ("h2learn.yaml", "h2learn-edge.yaml")]
ABLATIONS = {"baseline": {}, "lut off": {"fe.lut": False, "wue.lut": False}, "sparsity off": {"be.sparsity": False},
             "pipeline off": {"pipeline": False}}
CASES = [("mlp-digits", 64, 8), ("conv-digits", 64, 8), ("hybrid-tracker", 16, 8), ("vgg-cifar10", 64, 6)]


def engine_area_mm2(cost) -> dict:
    """Area grouped by engine prefix (fe_, be_, wue_) and per buffer."""
    groups: dict = {}
    for comp, mm2 in cost.area_breakdown_mm2.items():
        key = comp.split("_")[0] if comp.split("_")[0] in ("fe", "be", "wue") else comp
        groups[key] = groups.get(key, 0.0) + mm2
    return groups


def run_case(name: str, batch: int, steps: int, ablations: list[str], chip_path: Path) -> None:
    network = zoo.build(name)
    workload = make_workload(network, steps=steps, batch=batch, mode="train", seed=0)
    base_chip = load_chip(chip_path)
    print(f"\n{base_chip.name}, {name}: batch {batch}, T {steps}")
    print(f"{'config':<14}{'sim ms/iter':>12}{'samples/s':>11}{'energy mJ':>11}{'FE Mcyc':>9}{'BE Mcyc':>9}"
          f"{'WUE Mcyc':>9}{'DRAM util':>10}{'wall s':>8}{'cpu s':>7}")
    for label in ablations:
        chip = base_chip.with_overrides(ABLATIONS[label]) if ABLATIONS[label] else base_chip
        start, cpu_start = time.perf_counter(), time.process_time()
        trace = simulate(workload, chip)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        cost = evaluate(trace, chip)
        busy = trace.cycles_breakdown["engine"]
        print(f"{label:<14}{trace.latency_s * 1e3:>12.2f}{batch / trace.latency_s:>11.1f}{cost.energy_pj * 1e-9:>11.3f}"
              f"{busy['fe'] / 1e6:>9.2f}{busy['be'] / 1e6:>9.2f}{busy['wue'] / 1e6:>9.2f}"
              f"{trace.details['dram_utilisation']:>10.2f}{wall:>8.1f}{cpu:>7.1f}")
        if label == "baseline":
            base_cost, base_trace = cost, trace
    by_engine = {}
    for comp, acts in base_cost.energy_breakdown_pj.items():
        key = comp.split("_")[0] if comp.split("_")[0] in ("fe", "be", "wue") else comp
        by_engine[key] = by_engine.get(key, 0.0) + sum(acts.values())
    print("  baseline energy by engine/buffer/DRAM (uJ):",
          ", ".join(f"{k} {v * 1e-6:.1f}" for k, v in sorted(by_engine.items(), key=lambda kv: -kv[1])),
          f"; static {base_cost.static_energy_pj * 1e-6:.1f}")
    print("  area by engine/buffer (mm^2):",
          ", ".join(f"{k} {v:.3f}" for k, v in sorted(engine_area_mm2(base_cost).items(), key=lambda kv: -kv[1])),
          f"; total {base_cost.area_mm2:.2f}")
    details = base_trace.details
    print("  utilisation:", {k: round(v, 2) for k, v in details["utilisation"].items()},
          "DRAM", round(details["dram_utilisation"], 2))
    tail = next(row for row in details["timeline"] if row[1] == "update")
    print(f"  schedule (Mcyc): tiles end {tail[2] / 1e6:.2f}, then WUE blocked passes + update "
          f"{(tail[3] - tail[2]) / 1e6:.2f}; stalls DRAM/queue:",
          ", ".join(f"{e} {v['dram'] / 1e6:.2f}/{v['queue'] / 1e6:.2f}" for e, v in details["stall_cycles"].items()))
    print("  PE imbalance (busiest-PE / evenly spread cycles of the blocked phases):",
          ", ".join(f"{e} {v['busiest_cycles'] / max(v['even_cycles'], 1):.2f}"
                    f" ({v['busiest_cycles'] / 1e6:.2f} / {v['even_cycles'] / 1e6:.2f} Mcyc)"
                    for e, v in details["pe_blocks"].items()))
    print(f"  gradient buffer used: {details['gradient_buffer_bits_used'] / 8192:.0f} KB "
          f"of {base_chip.params['components']['gradient_buffer']['size_kb']} KB; tile {details['tile_samples']} samples")
    tensors: dict = {}
    for row in base_trace.details["ops"].values():
        for tensor, n in row["dram_bytes"].items():
            tensors[tensor] = tensors.get(tensor, 0) + n
    print("  DRAM MB by tensor:", ", ".join(f"{k} {v / 1e6:.1f}" for k, v in tensors.items()))
    mapping = base_trace.details["mapping"]
    print("  dataflow per layer:", "; ".join(
        f"{layer} {m['fe_order'].split('-')[0]}/{m['window']}/du {m['du']}/dW {m['dw']}"
        + (f" x{m['dw_blocks']}" if m["dw"] == "blocked" else "") for layer, m in mapping.items()))
    gpu = estimate(workload)
    print(f"  {gpu.name} model, same workload: {gpu.latency_s * 1e3:.2f} ms/iter, "
          f"{gpu.energy_pj * 1e-9:.1f} mJ; speed-up {gpu.latency_s / base_trace.latency_s:.2f}x, energy saving "
          f"{gpu.energy_pj / base_cost.energy_pj:.1f}x, area {gpu.area_mm2:.0f} / {base_cost.area_mm2:.2f} mm^2")
    sparsity = base_trace.details["sparsity"]
    print("  dL/du zero fraction per layer:", {k: round(v["du_zero_fraction"], 3) for k, v in sparsity.items()})
    print("  skipped backward MAC fraction per layer:",
          {k: round(v["skipped_backward_mac_fraction"], 3) for k, v in sparsity.items()
           if "skipped_backward_mac_fraction" in v})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="one zoo workload")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--baseline-only", action="store_true")
    ap.add_argument("--chip", type=Path, action="append", help="a config (repeatable; default: both H2Learn configs)")
    args = ap.parse_args()
    ablations = ["baseline"] if args.baseline_only else list(ABLATIONS)
    for chip_path in args.chip or CHIPS:
        for name, batch, steps in CASES:
            if args.only and name != args.only:
                continue
            run_case(name, args.batch or batch, args.steps or steps, ablations, chip_path)


if __name__ == "__main__":
    main()
