"""The demo: the whole product in one command.

Trains ``mlp-digits`` (cached after the first run), maps and runs it on Tianjic, simulates training it
on the H2Learn accelerator, compares both with the V100 model, runs a small sweep, and writes a report
for each under ``out_dir``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from archsim import result as result_mod
from archsim.errors import UserError
from archsim.runner import CHIPS_DIR, execute

WORKLOAD = "mlp-digits"


def run_demo(out_dir: str | Path = "reports", log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Run every step, logging as it goes; returns the paths written (name -> path)."""
    from archsim.report import headline, write_report
    from archsim.sweep import ResultStore, load_sweep, run_sweep
    from workloads import zoo

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out: {out_dir} is a file (allowed: a folder, created when missing)")
    written: dict[str, Path] = {}
    start = time.perf_counter()

    def step(message: str) -> None:
        log(f"[{time.perf_counter() - start:6.1f} s] {message}")

    if zoo.cache_path(WORKLOAD).exists():
        step(f"{WORKLOAD}: trained graph found in the cache ({zoo.cache_path(WORKLOAD)})")
    else:
        step(f"{WORKLOAD}: training on the 8x8 digits (first run only)")
    network = _trained(zoo, step)
    stats = network.metadata.get("stats", {})
    if "accuracy_float" in stats:
        step(f"{WORKLOAD}: test accuracy {stats['accuracy_float']:.1%} float, "
             f"{stats.get('accuracy_quantized', float('nan')):.1%} int8")

    runs = {
        "tianjic": dict(chip=CHIPS_DIR / "tianjic.yaml", mode="infer", batch=1),
        "h2learn": dict(chip=CHIPS_DIR / "h2learn.yaml", mode="train", batch=32),
    }
    for name, options in runs.items():
        what = "inference" if options["mode"] == "infer" else "one training iteration"
        step(f"{name}: simulating {what} of {WORKLOAD} (batch {options['batch']}) and the V100 model")
        outcome = execute(network, options["chip"], mode=options["mode"], batch=options["batch"], gpu="v100")
        path = out_dir / f"{name}-{WORKLOAD}.json"
        result_mod.write(outcome.result, path)
        written[f"{name} result"] = path
        written[f"{name} report"] = write_report(path, out_dir / name)
        step(f"{name}: {headline(outcome.result)}")

    spec = load_sweep(CHIPS_DIR / "sweeps" / "demo.yaml")
    store_path = out_dir / "demo-sweep.db"
    step(f"sweep: {spec.name}, {len(spec.axes)} axes, store {store_path}")
    with ResultStore(store_path) as store:
        sweep = run_sweep(spec, store, workers=1, resume=True, progress=progress)
    step(f"sweep: {sweep.simulated} simulated, {sweep.recosted} re-costed, {sweep.failed} failed, "
         f"{sweep.already_done} already stored")
    written["sweep store"] = store_path
    written["sweep report"] = write_report(store_path, out_dir / "sweep")
    step("done")
    return written


def _trained(zoo, step):
    """The cached trained network, training it first when the cache is empty."""
    if not zoo.cache_path(WORKLOAD).exists():
        zoo.train(WORKLOAD, log=lambda line: step(f"  {line}"))
    return zoo.load(WORKLOAD)
