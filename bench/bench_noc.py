"""NoC fast-engine speed: simulated flits (and flit-hops) per second of wall time.

Run: ``python bench/bench_noc.py [--flits 1e6] [--reference-flits 2000]``. Prints one line per case:
the board, the traffic, the phase's finish cycle, wall and CPU time, and throughput per CPU second. The first case also
shows the JIT compile (or cache load) time separately. A small case is timed on the reference
stepper too, for the speed-up.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from archsim.noc import NocConfig, Packets, simulate

RESULTS = Path(__file__).resolve().parent / "results"
LINES: list[str] = []


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flits", type=float, default=1e6)
    parser.add_argument("--reference-flits", type=int, default=2000)
    args = parser.parse_args()
    n_flits = int(args.flits)
    from machine_note import machine_note

    note = machine_note()

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

    small = random_traffic(mesh, args.reference_flits, 4, 2, args.reference_flits // 20, 3)
    for engine in ("reference", "fast"):
        report("16x10 mesh, small case for the speed-up", small, mesh, engine)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "noc.md").write_text(
        f"# bench_noc\n\n{note}\n\n| traffic | engine | flits | flit-hops | finish cycle | cpu s | flits/s | "
        "flit-hops/s |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(LINES) + "\n")


if __name__ == "__main__":
    main()
