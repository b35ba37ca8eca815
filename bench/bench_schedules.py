"""Latency per step under the serial and pipelined layer schedules, with bounded router buffers (the
shipped 4 flits) and effectively unbounded ones (1,024 flits): how much each changes a step.

    python bench/bench_schedules.py [DVS_STEPS]     # default 2 steps of dvs-gesture on the board

Prints one row per case and writes bench/results/schedules.md (dated). Both workloads are zoo shapes
(calibrated, untrained), so the numbers are about the chip, not about a trained network's activity.
"""
from __future__ import annotations

import datetime
import sys
import time
from pathlib import Path

from archsim.runner import resolve_chip, run

RESULTS = Path(__file__).resolve().parent / "results" / "schedules.md"


def main() -> int:
    dvs_steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    cases = [("hybrid-tracker", "tianjic", 8), ("dvs-gesture", "tianjic-board", dvs_steps)]
    rows = []
    for network, chip_name, steps in cases:
        base = resolve_chip(chip_name)
        for schedule in ("serial", "pipelined"):
            for depth in (4, 1024):
                chip = base.with_overrides({"timing.layer_schedule": schedule, "noc.buffer_flits": depth})
                start = time.perf_counter()
                result = run(network, chip, steps=steps, gpu=None)
                row = (network, chip_name, steps, schedule, depth, result["cycles"] / steps,
                       result["latency_s"] / steps * 1e6, time.perf_counter() - start)
                rows.append(row)
                print(f"{network:15} {chip_name:14} {schedule:9} buffer {depth:5}: {row[5]:12,.0f} cycles/step "
                      f"{row[6]:9.2f} us/step  ({row[7]:.0f} s)", flush=True)
    lines = [f"# Layer schedule and router buffers ({datetime.date.today()})", "",
             "`python bench/bench_schedules.py`: latency per step, fast engine.", "",
             "| network | chip | steps | schedule | buffer [flits] | cycles/step | latency/step [us] |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {n} | {c} | {s} | {sc} | {d} | {cy:,.0f} | {us:.2f} |" for n, c, s, sc, d, cy, us, _ in rows]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
