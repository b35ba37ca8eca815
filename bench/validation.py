"""The full ``archsim validate`` run, recorded: ``bench/results/validation.md`` and the README's summary table.

Run: ``python bench/validation.py [--out reports/validation]`` (about 5 minutes on 2 cores, most of it the
vgg-cifar10 training case and SANA-FE's run). It runs every case (the SANA-FE rows only when the optional
``sanafe`` package is installed: ``pip install sanafe``), writes the report to ``--out``, writes
``bench/results/validation.md`` (dated, with the machine, the commit, the table with sources, and the check that
archsim's float run of SANA-FE's DVS-gesture network fires exactly as SANA-FE does), and rewrites the table in
README.md between its ``validation-table`` markers. The README's notes on each miss are prose: reread them
when a number moves.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "validation.md"
README = ROOT / "README.md"
START, END = "<!-- validation-table:start -->", "<!-- validation-table:end -->"
AGREEMENT_STEPS = 16


def _commit() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def _agreement() -> str:
    from archsim.validate import sanafe_dvs

    if not sanafe_dvs.available():
        return "SANA-FE is not installed: the DVS-gesture rows were skipped and the spike check not run.\n"
    check = sanafe_dvs.spike_agreement(sanafe_dvs.load_data(), AGREEMENT_STEPS)
    verdict = "equal" if check["archsim"] == check["sanafe"] else "DIFFERENT (the network's layout is wrong)"
    return (f"DVS-gesture network, {check['steps']} steps, neuron spikes of the five layers: archsim float "
            f"functional run {check['archsim']:,}, SANA-FE {check['sanafe']:,} ({verdict}).\n")


def replace_table(readme: str, table: str, date: str) -> str:
    """README text with the table between the markers replaced (a dated line above it)."""
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md: the markers {START} and {END} are missing")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\nToday's full run ({date}, `python bench/validation.py`):\n\n{table}{END}{tail}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "validation"), help="folder for the report")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from machine_note import machine_note

    from archsim.validate import CASES, run_cases
    from archsim.validate.report import markdown_table, text_table, write_validation

    note, commit = machine_note(), _commit()
    rows = run_cases(list(CASES), log=lambda message: print(message, file=sys.stderr))
    write_validation(rows, args.out)
    print(text_table(rows))
    date = note.split(",")[0]
    agreement = _agreement()
    RESULTS.write_text(f"# archsim validate (full run), {date.split()[0]}\n\n`python bench/validation.py` at commit "
                       f"{commit}; {note}.\n\n```\n{text_table(rows)}\n```\n\n{markdown_table(rows)}\n{agreement}")
    README.write_text(replace_table(README.read_text(), markdown_table(rows, sources=False), date.split()[0]))
    print(f"wrote {RESULTS.relative_to(ROOT)} and the README table; report: {args.out}")


if __name__ == "__main__":
    main()
