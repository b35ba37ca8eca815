"""Walk every runnable ``archsim`` command of the README and every shipped sweep, as a new user would.

Each command runs in one scratch folder (created empty), in order, in its own process, so files an
earlier command writes (``mlp.nir``) are there for the later ones. The NIR section's ``net.nir`` and
``x.npy`` stand for the user's own snnTorch export: the walk puts a file snnTorch wrote there
(``tests/data/nir/leaky_subtract.nir``, made by ``tests/data/nir/make_snntorch.py``) and its input. Lines of the command reference
(lines naming a user's file as ``NET.nir``, or with ``[--flag]`` or ``|``) are synopses, not commands, and are skipped.
Then every shipped sweep runs to completion with one worker. Prints one row per command (exit code,
wall time) and writes the table to ``bench/results/walk.md`` with the date. The unit suite runs the
tour's commands (tests/test_readme_tour.py); this is the whole walk.

    python bench/walk_readme.py [--skip-sweeps]
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "walk.md"
USER_FILES = ROOT / "tests" / "data" / "nir"
PLACEHOLDER = re.compile(r"\[|\||NET\.nir|CHIP\b|SWEEP\b|RESULT\.json|STORE\.db|DIR\b|FRAMEWORK|SECONDS")


def readme_commands() -> list[str]:
    """Every ``archsim`` line of the README's code blocks that is a command, not a synopsis."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    commands = [line.removeprefix("$ ") for line in lines if line.removeprefix("$ ").startswith("archsim ")]
    return [c for c in commands if not PLACEHOLDER.search(c.split("#")[0])]


def shipped_sweeps() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from archsim.shipped import sweep_names

    return [f"archsim sweep {name} --workers 1 --store walk-{name}.db" for name in sweep_names()]  # own stores:
    # the README's tour has already filled demo.db


def run(command: str, folder: Path) -> tuple[int, float, str]:
    argv = shlex.split(command, comments=True)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, env=os.environ.copy())
    tail = (done.stderr.strip().splitlines() or [""])[-1][:160]
    return done.returncode, time.perf_counter() - start, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-sweeps", action="store_true", help="walk the README only")
    args = parser.parse_args()
    commands = readme_commands() + ([] if args.skip_sweeps else shipped_sweeps())
    rows = []
    with tempfile.TemporaryDirectory(prefix="archsim-walk-") as scratch:
        shutil.copy(USER_FILES / "leaky_subtract.nir", Path(scratch) / "net.nir")
        shutil.copy(USER_FILES / "leaky_subtract.input.npy", Path(scratch) / "x.npy")
        for command in commands:
            code, wall_s, tail = run(command, Path(scratch))
            rows.append((command, code, wall_s, tail))
            print(f"{'ok ' if code == 0 else 'FAIL'} {wall_s:7.1f} s  {command}" + ("" if code == 0 else f"  -> {tail}"),
                  flush=True)
    failed = [r for r in rows if r[1] != 0]
    lines = [f"# README walk ({datetime.date.today()})", "",
             f"`python bench/walk_readme.py`: {len(rows)} commands from an empty folder, {len(failed)} failed, "
             f"{sum(r[2] for r in rows):.0f} s in all.", "", "| command | exit | wall [s] |", "|---|---|---|"]
    lines += [f"| `{c}` | {code} | {wall_s:.1f} |" for c, code, wall_s, _ in rows]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
