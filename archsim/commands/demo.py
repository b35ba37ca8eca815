"""``archsim demo [--out DIR]``: train, map, simulate, compare, sweep and report, printing where."""
from __future__ import annotations

from archsim.demo import run_demo
from archsim.guard.outputs import check_output_folder


def main(args) -> int:
    """Run the demo into ``--out`` and list the files it wrote."""
    check_output_folder(args.out, "--out")
    log = (lambda line: None) if args.quiet else print
    written = run_demo(args.out, log=log, progress=not args.quiet)
    print("reports written:")
    for name, path in written.items():
        print(f"  {name:16} {path}")
    return 0
