"""``archsim sweep SWEEP.yaml [--workers N] [--scheduler ADDRESS] [--store STORE.db] [--resume]``.

Runs the sweep, storing every point in the SQLite store (default: ``SWEEP.db`` in the current folder,
never beside a shipped sweep), exports it to CSV beside the store, and prints the summary and the Pareto front.
"""
from __future__ import annotations

import sys
from pathlib import Path

from archsim.guard.outputs import check_output_file, removed_on_user_error
from archsim.units import count_of
from archsim.sweep import ResultStore, analyse, expand_points, format_summary, load_sweep, run_sweep


def main(args) -> int:
    """Run (or resume) a sweep into its store, print the summary and write the CSV beside it."""
    spec = load_sweep(args.sweep)
    store_path = Path(args.store) if args.store else Path(f"{spec.path.stem}.db")   # the current folder
    check_output_file(store_path, "--store")
    side_files = [store_path.with_name(store_path.name + end) for end in ("-wal", "-shm", "-journal")]
    with removed_on_user_error(store_path, *side_files), ResultStore(store_path) as store:
        run = run_sweep(spec, store, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                        progress=not args.quiet)
        hashes = {p.hash for p in expand_points(spec)}
        rows = [r for r in store.rows() if r["hash"] in hashes]
        csv_path = store.export_csv(store_path.with_suffix(".csv"))
    print(f"{spec.name}: {count_of(run.points, 'point')}, {run.already_done} already stored; this run: {run.simulated} simulated, "
          f"{run.recosted} re-costed, {run.failed} failed in {run.wall_s:.1f} s ({run.points_per_minute:.1f} points/min)")
    print(format_summary(analyse(rows, spec.describe())))
    print(f"store: {store_path}\ncsv:   {csv_path}")
    if run.failed:
        print(f"archsim: {count_of(run.failed, 'point')} failed (errors in the store; --resume retries them)", file=sys.stderr)
    return 1 if run.failed else 0

