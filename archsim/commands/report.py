"""``archsim report RESULT.json|STORE.db [--out DIR]``: write DIR/index.html, DIR/summary.md and figures."""
from __future__ import annotations

from pathlib import Path

from archsim.errors import UserError
from archsim.guard.outputs import check_output_folder
from archsim.report import write_report


def main(args) -> int:
    """Write the report of a RESULT.json or a STORE.db and print where."""
    check_output_folder(args.out, "--out")
    if not Path(args.source).is_file():
        raise UserError(f"{args.source}: no such file (give a RESULT.json from 'archsim run' or a STORE.db from 'archsim sweep')")
    index = write_report(args.source, args.out)
    print(f"report: {index}\nsummary: {index.parent / 'summary.md'}")
    return 0
