"""The long fuzz run: the fuzz tests' cases (tests/fuzzing.py) by the hundred per file type, by seed.

    python bench/fuzz_long.py [CASES_PER_TYPE] [SECONDS]    # defaults 300 cases per type, no time cap

Writes bench/results/fuzz.md: cases tried and contract failures by file type, and each failure as
``file_type kind seed variant: problem`` (add it to tests/data/fuzz_corpus/cases.yaml once fixed).
"""
from __future__ import annotations

import datetime
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import fuzzing  # noqa: E402


def main() -> None:
    per_type = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    budget_s = float(sys.argv[2]) if len(sys.argv) > 2 else float("inf")
    rng = random.Random(2026)
    start = time.perf_counter()
    tried: dict[str, int] = {}
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        valid = fuzzing.make_valid(Path(tmp) / "valid")
        n = 0
        for file_type, (kinds, variants) in fuzzing.FILE_TYPES.items():
            type_start = time.perf_counter()
            for _ in range(per_type):
                if time.perf_counter() - type_start > budget_s / len(fuzzing.FILE_TYPES):
                    break
                kind, seed, variant = rng.choice(kinds), rng.randrange(2**32), rng.choice(variants)
                d = Path(tmp) / f"c{n}"
                d.mkdir()
                n += 1
                outcome = fuzzing.run_case(file_type, kind, seed, variant, valid, d)
                tried[file_type] = tried.get(file_type, 0) + 1
                if not fuzzing.contract_holds(file_type, outcome):
                    failures.append(f"{file_type} {kind} {seed} {variant}: {outcome.problem[:200]}")
    wall = time.perf_counter() - start
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Long fuzz run", "", f"{when}, `python bench/fuzz_long.py {per_type} {budget_s:g}`: {sum(tried.values())} "
             f"cases in {wall:.0f} s, {len(failures)} broke the error contract.", "",
             "| file type | cases | failures |", "|---|---|---|"]
    for file_type, count in tried.items():
        lines.append(f"| {file_type} | {count} | {sum(f.startswith(file_type + ' ') for f in failures)} |")
    lines += ["", "Failures (file_type kind seed variant: problem):", ""] + [f"- {f}" for f in failures or ["none"]]
    out = Path(__file__).parent / "results" / "fuzz.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
