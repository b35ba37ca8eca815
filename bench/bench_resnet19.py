"""ResNet-19 (the zoo's ``resnet19-cifar10``) on a board of Tianjic chips: cores, wall and CPU time
and peak memory per stage, with its convolutions mapped as kernels (archsim.mapping.kernels).

Run: ``python bench/bench_resnet19.py [--chip chips/tianjic-board.yaml] [--steps 2] [--out bench/results/resnet19.md]``
(``--out`` records the figures as a dated Markdown table).

The shipped 3 x 3 board holds 1,404 cores; the network needs more. The mapper's count before
anything is lowered (:func:`archsim.mapping.least_cores`) gives the least cores and the board of that
chip that would hold them; the bench cuts the layers for that chip's cores (the cut does not depend on
the board), then sets the board that holds the cut (``noc.chips_x`` / ``noc.chips_y``), places and
routes. Stages timed (cumulative wall and CPU seconds, workers included, and the peak RSS of the
process and of its largest cut worker from ``resource.getrusage``, which only grows): load (the zoo
shape, calibrated), cut (quantise, lower, split onto cores), place and route, chip program, simulate
(``steps`` steps, fast engine), cost.
"""
from __future__ import annotations

import argparse
from collections import Counter
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_rss_gib(who=resource.RUSAGE_SELF) -> float:
    """Peak resident memory of this process (or, with RUSAGE_CHILDREN, of its largest finished worker)."""
    return resource.getrusage(who).ru_maxrss / 2 ** 20


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chip", default="chips/tianjic-board.yaml")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the figures as Markdown here (bench/results/resnet19.md)")
    args = parser.parse_args(argv)

    from archsim.api import load_network
    from archsim.config import load_chip
    from archsim.cost import evaluate
    from archsim.graph.workload import make_workload
    from archsim.mapping import BoardShape, board_for, cut_network, least_cores, map_network
    from archsim.models.manycore import chip_network, run_program
    from archsim.models.manycore.program import build_program

    start_wall, start_cpu = time.time(), time.process_time()
    rows = []

    def done(stage: str) -> None:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows.append((stage, time.time() - start_wall, time.process_time() - start_cpu + children.ru_utime + children.ru_stime,
                     peak_rss_gib(), peak_rss_gib(resource.RUSAGE_CHILDREN)))
        print(f"{stage}: wall {rows[-1][1]:.1f} s, cpu {rows[-1][2]:.1f} s, peak RSS {rows[-1][3]:.2f} GiB "
              f"(a cut worker: {rows[-1][4]:.2f} GiB)", flush=True)

    network = load_network("resnet19-cifar10")
    done("load")
    chip = load_chip(args.chip)
    board = BoardShape.of(chip)
    workload = make_workload(network, steps=args.steps, batch=1)
    chip_net, qnet = chip_network(workload, chip)
    least = least_cores(chip_net, chip, qnet)                 # what ``archsim map`` counts before cutting
    bound = sum(least.values())
    chips_x, chips_y = board_for(bound, board)
    print(f"{args.chip}: {board.cores} cores; resnet19-cifar10 needs at least {bound} (counted before lowering): "
          f"a board of {chips_x} x {chips_y} chips", flush=True)
    cut = cut_network(chip_net, chip.with_overrides({"noc.chips_x": chips_x, "noc.chips_y": chips_y}), qnet,
                      log=lambda m: print(m, flush=True))
    done("cut")
    chips_x, chips_y = board_for(cut.cores, board)
    print(f"the cut takes {cut.cores} cores: a board of {chips_x} x {chips_y} chips", flush=True)
    sized = chip.with_overrides({"noc.chips_x": chips_x, "noc.chips_y": chips_y})
    mapping = map_network(chip_net, sized, qnet, cut=cut)
    done("place and route")
    prog = build_program(qnet, sized, mapping)
    done("chip program")
    kernel_layers = len({c.layer for c in prog.cores if c.kernel is not None})
    print(f"mapped: {mapping.summary['cores_used']} cores on {chips_x} x {chips_y} chips "
          f"({BoardShape.of(sized).cores} cores), {kernel_layers} layers as kernels", flush=True)
    trace = run_program(workload, sized, mapping, prog, qnet, "fast", log=lambda m: print(m, flush=True))
    done("simulate")
    cost = evaluate(trace, sized)
    done("cost")
    steps = f"{args.steps} step{'s' if args.steps != 1 else ''}"
    print(f"resnet19-cifar10, {steps}: {trace.cycles} cycles, {trace.spikes} spikes, "
          f"{trace.synaptic_ops} synaptic ops, {cost.energy_pj / 1e6:.1f} uJ; "
          f"whole process {rows[-1][1]:.0f} s wall, {rows[-1][2]:.0f} s CPU, peak RSS {rows[-1][3]:.2f} GiB "
          f"(a cut worker {rows[-1][4]:.2f} GiB)")
    if args.out:
        lines = [f"# resnet19-cifar10 on a board of {args.chip}", "",
                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `python bench/bench_resnet19.py --steps "
                 f"{args.steps}`, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end.", "",
                 f"- bound before lowering: {bound} cores; the cut: {cut.cores} cores, a board of {chips_x} x {chips_y} "
                 f"chips ({BoardShape.of(sized).cores} cores), {kernel_layers} layers as kernels",
                 f"- {steps}: {trace.cycles:,} cycles ({trace.latency_s * 1e3:.3f} ms), {trace.spikes:,} spikes, "
                 f"{trace.synaptic_ops:,} synaptic ops, {cost.energy_pj / 1e6:,.1f} uJ", "",
                 "CPU seconds include the cut's worker processes (`archsim/mapping/parallel_cut.py`); the "
                 "last column is the largest worker's peak, each worker's on top of the main process's.", "",
                 "| stage (cumulative) | wall s | CPU s | peak RSS GiB | a cut worker's peak RSS GiB |",
                 "|---|---|---|---|---|"]
        lines += [f"| {stage} | {wall:.1f} | {cpu:.1f} | {rss:.2f} | {worker:.2f} |" for stage, wall, cpu, rss, worker in rows]
        lines += ["", "Per layer: the bound counted before lowering, the cut's cores and its fan-in groups "
                  "(input planes split across cores, partial sums merged by the owner).", "",
                  "| layer | neurons | bound | cut | fan-in groups |", "|---|---|---|---|---|"]
        per_layer = Counter(name for name, _ in cut.specs)
        lines += [f"| {layer.name} | {int(np.prod(layer.shape)):,} | {least[layer.name]:,} | {per_layer[layer.name]:,} | "
                  f"{cut.splits[layer.name].fan_in_groups} |" for layer in chip_net.layers]
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
