"""``archsim validate [--out DIR] [--only NAME...] [--quick]``: published figures against archsim's.

Prints the table and writes DIR/index.html, summary.md and validation.json. Exit 0 whatever the errors
(the report is the result); exit 2 on bad input (an unknown case name).
"""
from __future__ import annotations

import sys

from archsim.guard.outputs import check_output_folder


def main(args) -> int:
    """Run the selected cases, print the table and write the report."""
    check_output_folder(args.out, "--out")
    from archsim.validate import run_cases
    from archsim.validate.report import text_table, write_validation
    from archsim.validate.run import select

    cases = select(args.only)
    log = None if args.quiet else (lambda message: print(message, file=sys.stderr))
    rows = run_cases(cases, quick=args.quick, log=log)
    print(text_table(rows))
    index = write_validation(rows, args.out)
    print(f"report: {index}")
    return 0
