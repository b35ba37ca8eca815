"""The NoC as a network engineer checks it, and the fast engine's speed.

Run: ``python bench/bench_noc.py [--only load|speed] [--flits 1e6] [--reference-flits 2000]``.

``load``: the latency-vs-offered-load curve of an 8x8 mesh (1-flit links, the NocConfig defaults
otherwise) under uniform random, transpose and hotspot traffic (:mod:`archsim.noc.traffic`) for
input buffers of 2, 4 and 8 flits: per point the offered and accepted load (flits per core per
cycle), the mean latency (cycles, source queueing included) and the share of stall cycles spent
waiting for a credit. Every core offers single-flit packets for ``LOAD_CYCLES`` cycles; throughput
and latency are measured after ``WARMUP_CYCLES``. Table in ``results/noc_load.md``, figure in
``results/noc_load.png``.

``speed``: one line per case: the board, the traffic, the phase's finish cycle, wall and CPU time,
and throughput per CPU second. The first case also shows the JIT compile (or cache load) time
separately. A small case is timed on the reference stepper too, for the speed-up. Table in
``results/noc.md``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from archsim.noc import NocConfig, Packets, simulate
from archsim.noc.traffic import PATTERNS, load_point, synthetic_traffic

RESULTS = Path(__file__).resolve().parent / "results"
LINES: list[str] = []
DEPTHS = (2, 4, 8)
OFFERED_LOADS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.8, 1.0)
LOAD_CYCLES = 1000
WARMUP_CYCLES = 300


def random_traffic(config: NocConfig, n_flits: int, flits_per_packet: int, fanout: int,
                   spread_cycles: int, seed: int) -> Packets:
    """Uniform random sources, ``fanout`` random destinations each, injections spread over time."""
    rng = np.random.default_rng(seed)
    n_packets = max(1, n_flits // flits_per_packet)
    src = rng.integers(0, config.n_cores, n_packets)
    dst = rng.integers(0, config.n_cores, n_packets * fanout)
    ptr = np.arange(n_packets + 1) * fanout
    inject = rng.integers(0, spread_cycles + 1, n_packets)
    return Packets(src, ptr, dst, np.full(n_packets, flits_per_packet), inject)


def report(name: str, packets: Packets, config: NocConfig, engine: str = "fast") -> None:
    """One line: sizes, finish cycle, wall and CPU seconds, throughput per CPU second (the CPU
    figure is the honest one on a shared machine)."""
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    stats = simulate(packets, config, engine)
    wall_s, cpu_s = time.perf_counter() - wall_start, time.process_time() - cpu_start
    cpu_s = max(cpu_s, 1e-6)
    print(f"{name:44s} {engine:9s} flits {packets.total_flits:>9,d}  flit-hops {stats.flit_hops:>10,d}  "
          f"finish {stats.finish_cycle:>7,d} cyc  wall {wall_s:6.2f} s  cpu {cpu_s:6.2f} s  "
          f"{packets.total_flits / cpu_s:>10,.0f} flits/s  {stats.flit_hops / cpu_s:>11,.0f} flit-hops/s")
    LINES.append(f"| {name} | {engine} | {packets.total_flits:,} | {stats.flit_hops:,} | {stats.finish_cycle:,} | "
                 f"{cpu_s:.2f} | {packets.total_flits / cpu_s:,.0f} | {stats.flit_hops / cpu_s:,.0f} |")


def load_curves(note: str) -> None:
    """Latency and accepted load against offered load, per pattern and buffer depth."""
    rows = []
    curves = {}
    print(f"{'pattern':10s} {'buffer':>6s} {'offered':>8s} {'accepted':>9s} {'latency cyc':>12s} {'no-credit':>10s}")
    for pattern in PATTERNS:
        for depth in DEPTHS:
            config = NocConfig(mesh_x=8, mesh_y=8, buffer_flits=depth)
            points = []
            for offered in OFFERED_LOADS:
                packets = synthetic_traffic(config, pattern, offered, LOAD_CYCLES, seed=1)
                point = load_point(packets, simulate(packets, config), config, offered,
                                   (WARMUP_CYCLES, LOAD_CYCLES))
                points.append(point)
                print(f"{pattern:10s} {depth:6d} {offered:8.2f} {point.accepted_load:9.3f} "
                      f"{point.mean_latency_cycles:12.1f} {point.no_credit_fraction:10.2f}")
                rows.append(f"| {pattern} | {depth} | {offered:.2f} | {point.accepted_load:.3f} | "
                            f"{point.mean_latency_cycles:.1f} | {point.no_credit_fraction:.2f} |")
            curves[pattern, depth] = points
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "noc_load.md").write_text(
        f"# bench_noc: 8x8 mesh, latency against offered load\n\n{note}\n\n"
        f"Single-flit packets offered by every core for {LOAD_CYCLES} cycles (Bernoulli), measured over cycles "
        f"{WARMUP_CYCLES} .. {LOAD_CYCLES}; 1-flit-per-cycle links, 1-cycle links, routers and credits "
        "(archsim.noc.NocConfig defaults). Uniform random: bisection bound 0.5 flits per core per cycle.\n\n"
        "| pattern | buffer flits | offered | accepted | mean latency cycles | no-credit share of stalls |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    plot_curves(curves)


def plot_curves(curves) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(PATTERNS), figsize=(4 * len(PATTERNS), 6.5), sharex=True)
    for column, pattern in enumerate(PATTERNS):
        for depth in DEPTHS:
            points = curves[pattern, depth]
            offered = [p.offered_load for p in points]
            axes[0, column].plot(offered, [p.mean_latency_cycles for p in points], marker="o", ms=3,
                                 label=f"{depth}-flit buffers")
            axes[1, column].plot(offered, [p.accepted_load for p in points], marker="o", ms=3)
        axes[0, column].set_title(f"8x8 mesh, {pattern}")
        axes[0, column].set_yscale("log")
        axes[1, column].set_xlabel("offered load (flits / core / cycle)")
    axes[0, 0].set_ylabel("mean latency (cycles)")
    axes[1, 0].set_ylabel("accepted load (flits / core / cycle)")
    axes[1, 0].axhline(0.5, color="grey", ls=":", lw=1)
    axes[0, 0].legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "noc_load.png", dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("load", "speed"))
    parser.add_argument("--flits", type=float, default=1e6)
    parser.add_argument("--reference-flits", type=int, default=2000)
    args = parser.parse_args()
    from machine_note import machine_note

    note = machine_note()
    if args.only != "speed":
        load_curves(note)
    if args.only != "load":
        speed(note, int(args.flits), args.reference_flits)


def speed(note: str, n_flits: int, reference_flits: int) -> None:
    """Simulated flits per CPU second on random phases of a 16x10 mesh and a 2x2 board."""

    mesh = NocConfig(mesh_x=16, mesh_y=10)
    board = NocConfig(mesh_x=16, mesh_y=10, chips_x=2, chips_y=2)
    start = time.perf_counter()
    simulate(random_traffic(mesh, 64, 4, 2, 10, 0), mesh)
    print(f"JIT compile or cache load + first call: {time.perf_counter() - start:.2f} s")

    for flits in sorted({n_flits // 10, n_flits}):
        for per_packet, fanout, spread in ((8, 1, 0), (8, 1, flits // 20), (1, 3, flits // 20),
                                           (4, 4, flits // 40)):
            traffic = random_traffic(mesh, flits, per_packet, fanout, spread, 1)
            report(f"16x10 mesh, {per_packet}-flit, fanout {fanout}, over {spread} cyc", traffic, mesh)
    traffic = random_traffic(board, n_flits, 8, 1, n_flits // 20, 2)
    report(f"2x2 board of 16x10, 8-flit, over {n_flits // 20} cyc", traffic, board)

    small = random_traffic(mesh, reference_flits, 4, 2, reference_flits // 20, 3)
    for engine in ("reference", "fast"):
        report("16x10 mesh, small case for the speed-up", small, mesh, engine)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "noc.md").write_text(
        f"# bench_noc\n\n{note}\n\n| traffic | engine | flits | flit-hops | finish cycle | cpu s | flits/s | "
        "flit-hops/s |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(LINES) + "\n")


if __name__ == "__main__":
    main()
