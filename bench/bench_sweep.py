"""Sweep throughput: points per minute of a 200-point sweep, all simulated, and with re-costing.

200 points = 20 simulation settings (a simulation key, default clock_mhz) x 10 technology settings
(5 nodes x 2 voltages). Run once with ``recost=False`` (every point simulated) and once with
re-costing (20 simulated, 180 re-costed from the stored Traces).

    python bench/bench_sweep.py [--chip chips/h2learn.yaml] [--network vgg-cifar10] [--mode train] [--workers N]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from archsim.config import load_chip
from archsim.sweep import ResultStore, load_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
NODES = [(28, 0.9), (22, 0.8), (12, 0.8), (7, 0.75), (45, 0.9)]
VOLTAGE_STEPS = [1.0, 1.1]  # x nominal: 5 nodes x 2 voltages = 10 technology settings


def sweep_file(folder: Path, chip: Path, network: str, mode: str, sim_key: str, sim_values: list) -> Path:
    technology = [{"technology.node_nm": n, "technology.voltage_v": round(v * f, 3), "technology.table": f"tech/{n}nm.yaml"}
                  for n, v in NODES for f in VOLTAGE_STEPS]
    data = {"name": "bench-sweep", "chip": str(chip),
            "workloads": [{"network": network, "mode": mode, "batch": 1, "steps": 2}],
            "axes": {sim_key: sim_values, "technology": {"set": technology}},
            "run": {"gpu": None}}
    path = folder / "bench-sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chip", default=str(ROOT / "chips" / "h2learn.yaml"))
    p.add_argument("--network", default="vgg-cifar10")
    p.add_argument("--mode", default="train")
    p.add_argument("--key", default="clock_mhz", help="simulation axis (20 values)")
    p.add_argument("--workers", type=int, default=None)
    args = p.parse_args()
    base = load_chip(args.chip).get(args.key)
    sim_values = [round(base * (1 + i / 20), 6) for i in range(20)]  # 20 values
    with tempfile.TemporaryDirectory() as tmp:
        spec = load_sweep(sweep_file(Path(tmp), Path(args.chip).resolve(), args.network, args.mode, args.key, sim_values))
        for recost in (False, True):
            with ResultStore(Path(tmp) / f"recost-{recost}.db") as store:
                start = time.perf_counter()
                run = run_sweep(spec, store, workers=args.workers, progress=False, recost=recost)
                wall = time.perf_counter() - start
            print(f"{'re-cost' if recost else 'simulate all':>12}: {run.evaluated} points ({run.simulated} simulated, "
                  f"{run.recosted} re-costed, {run.failed} failed) in {wall:.1f} s = {60 * run.evaluated / wall:.0f} points/min")
            if run.failures:
                print(f"{'':>12}  first failure: {run.failures[0]}")


if __name__ == "__main__":
    main()
