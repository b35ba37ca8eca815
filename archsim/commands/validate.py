"""``archsim validate [--out DIR] [--only NAME...] [--quick]``: published figures against archsim's predictions."""
from __future__ import annotations

from archsim.validate.cases import CASES, by_name
from archsim.validate.runner import run_cases
from archsim.validate.writers import markdown_table, write_all


def main(args) -> int:
    """Run the cases, print the table, write the report; exit 0 whatever the errors."""
    cases = by_name(args.only) if args.only else CASES
    rows = run_cases(cases, quick=args.quick and not args.only)
    print(markdown_table(rows))
    index = write_all(rows, args.out)
    print(f"report: {index}")
    return 0
