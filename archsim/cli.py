"""The ``archsim`` command: parses arguments and hands them to ``archsim.commands.<verb>``.

Each command module calls the library (the same verbs as Python functions, see :mod:`archsim.api`)
and prints.

User errors print one line to stderr and exit with code 2 (``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from archsim import __version__
from archsim.errors import UserError
from archsim.guard.usage import OneLineParser, seed
from archsim.shipped import chip_names, sweep_names

CHIP_NAMES_HELP = ", ".join(chip_names())


def _zoo_listing() -> str:
    from workloads import zoo

    return "zoo workloads:\n" + "\n".join(f"  {name:16} {zoo.ZOO[name].summary}" for name in zoo.names())


def _reset_option(parser: argparse.ArgumentParser) -> None:
    """The options that say how a NIR file is read: --dt, --from, --reset, --spikes."""
    from archsim.graph.presets import FRAMEWORKS, RESETS, SPIKE_RULES

    parser.add_argument("--dt", type=float, default=None,
                        help="time step for NIR's continuous neurons, s (default: the --from preset's, else 1e-4)")
    parser.add_argument("--from", dest="from_", choices=FRAMEWORKS, default=None,
                        help="read the file as this framework runs NIR files (dt, reset, spike rule; "
                             "archsim info lists them)")
    parser.add_argument("--reset", choices=RESETS, default=None,
                        help="how a NIR file's LIF/IF nodes without archsim reset metadata reset (default: the "
                             "preset's, else zero as NIR says; subtract: snnTorch's Leaky default, next step; "
                             "subtract_now: Sinabs'/Rockpool's, the same step)")
    parser.add_argument("--spikes", choices=SPIKE_RULES, default=None,
                        help="single: 0/1 spikes; multi: graded spike counts per step (Sinabs' MultiSpike); "
                             "default: the preset's, else single")


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="archsim", description="Cycle-accurate simulator of neuromorphic hardware.")
    p.add_argument("--version", action="version", version=f"archsim {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    p.add_argument("--max-memory", metavar="SIZE",
                   help="refuse work estimated to need more memory than this (e.g. 4G; default: what is available)")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    t = sub.add_parser("train", help="train a zoo workload and export it as NIR", epilog=_zoo_listing(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("workload", help="model-zoo name (see the list below)")
    t.add_argument("--out", help="NIR file to write (default: WORKLOAD.nir)")
    t.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default: the workload's own count; 0 exports the untrained shape)")
    t.add_argument("--seed", type=seed, default=0, help="seed of weight initialisation and data order (default: 0)")

    i = sub.add_parser("info", help="describe a network")
    i.add_argument("network", help="NIR file or zoo name")
    _reset_option(i)

    m = sub.add_parser("map", help="map a network onto a chip")
    m.add_argument("network", help="NIR file or zoo name")
    m.add_argument("--chip", required=True, help=f"many-core chip: a config YAML or a shipped name ({CHIP_NAMES_HELP})")
    m.add_argument("--out", help="mapping file to write (YAML; default: print the summary only)")
    _reset_option(m)

    r = sub.add_parser("run", help="simulate a network on a chip (or functionally)")
    r.add_argument("network", help="NIR file or zoo name")
    r.add_argument("--chip", help=f"chip or GPU: a config YAML or a shipped name ({CHIP_NAMES_HELP}); "
                                  "leave out with --precision float for a functional run")
    r.add_argument("--mapping", help="mapping file from 'archsim map' (default: map automatically)")
    r.add_argument("--input", help="input .npy, shape (T, *input_shape) or (T, B, *input_shape) "
                                   "(default: synthetic spikes at the recorded rates)")
    r.add_argument("--steps", type=int, help="time steps T (default: the input's length, else the network's recorded steps, else 8)")
    _reset_option(r)
    r.add_argument("--mode", choices=["infer", "train"], default="infer",
                   help="infer: one forward pass; train: one BPTT training iteration (h2learn chips and GPUs) "
                        "(default: infer)")
    r.add_argument("--batch", type=int, default=None,
                   help="samples per run (default: the input's batch axis, else 1)")
    r.add_argument("--engine", choices=["fast", "reference"], default="fast",
                   help="fast: the compiled engine; reference: the clock-by-clock stepper, same results, "
                        "much slower (default: fast)")
    r.add_argument("--precision", choices=["chip", "float"], default="chip",
                   help="chip: the chip's integer arithmetic; float: NIR's float semantics, a functional run "
                        "without --chip (default: chip)")
    r.add_argument("--gpu", help="GPU to compare with: a config YAML or a shipped name "
                                 "(default: v100; none: no comparison)")
    r.add_argument("--gpu-framework", choices=["eager", "fused"],
                   help="how the GPU runs the SNN: eager (snnTorch-style, one kernel per op and step) or "
                        "fused (SpikingJelly-style multi-step kernels); default from the GPU config")
    r.add_argument("--gpu-numerics", choices=["fp32", "tf32_conv", "fp16", "bf16"],
                   help="the GPU's arithmetic: fp32 (CUDA cores), tf32_conv (convolutions on TF32 tensor cores, "
                        "matmuls in fp32), fp16 or bf16 (AMP on tensor cores; bf16 where the GPU has it); "
                        "default from the GPU config: PyTorch's default there (fp32 on V100, tf32_conv on "
                        "A100 and H100)")
    r.add_argument("--iso-node", action="store_true",
                   help="compare area with the GPU's die redrawn at the chip's technology node")
    r.add_argument("--seed", type=seed, default=0, help="seed of the synthetic input (default: 0)")
    r.add_argument("--prune-density", type=float, metavar="D",
                   help="keep this fraction (0 < D <= 1) of each layer's synapses, largest |w| first, before "
                        "mapping (default: 1, no pruning)")
    r.add_argument("--accuracy", action="store_true",
                   help="also measure test accuracy at the chip's precision (trained zoo digits networks; "
                        "default: not measured)")
    r.add_argument("--save-outputs", help="write the output layer's values to this .npy (default: not written)")
    r.add_argument("--out", help="RESULT.json to write (default: not written)")
    r.add_argument("--json", action="store_true", help="print the result as JSON instead of the table")
    r.add_argument("--quiet", action="store_true", help="hide the progress lines on stderr; the result is still printed")

    s = sub.add_parser("sweep", help="run a design-space sweep")
    s.add_argument("sweep", help=f"sweep YAML, or a shipped sweep's name ({', '.join(sweep_names())})")
    s.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: one per core; 1 runs in this process)")
    s.add_argument("--scheduler", help="address of a Dask scheduler to run the points on (default: local processes)")
    s.add_argument("--store", help="result store, SQLite (default: SWEEP.db in the current folder; "
                                   "the CSV export goes beside it)")
    s.add_argument("--resume", action="store_true", help="run only the points missing from the store or failed")
    s.add_argument("--quiet", action="store_true", help="hide the progress bar; the summary is still printed")

    rep = sub.add_parser("report", help="write a report from a result or a store")
    rep.add_argument("source", help="RESULT.json from 'archsim run' or STORE.db from 'archsim sweep'")
    rep.add_argument("--out", default="reports", help="folder to write index.html, summary.md and figures into "
                                                      "(default: reports)")

    v = sub.add_parser("validate", help="run every published figure archsim can be checked against")
    v.add_argument("--out", default="reports/validation", help="folder for the report (default: reports/validation)")
    v.add_argument("--only", nargs="+", metavar="NAME", help="run only these cases (default: all)")
    v.add_argument("--quick", action="store_true", help="skip the slow cases and those needing an optional package "
                   "(reported as skipped; under 2 minutes)")
    v.add_argument("--quiet", action="store_true", help="no progress output")

    d = sub.add_parser("demo", help="train, map, simulate, compare, sweep and report")
    d.add_argument("--out", default="reports", help="folder for the reports (default: reports)")
    d.add_argument("--quiet", action="store_true", help="hide the progress lines; the list of reports is still printed")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the verb's ``archsim.commands.<verb>.main``.

    The error contract: a UserError (bad input) or a usage error is one stderr line and exit code 2; any other
    exception is a bug in archsim, never blamed on the input: one line naming it, a hint to rerun
    with ``--debug`` (which shows the traceback), exit code 1.
    """
    from archsim.guard import memory
    from archsim.guard.text import one_line

    args = _parser().parse_args(argv)     # a usage error: one line on stderr, SystemExit(2)
    try:
        memory.set_limit(memory.parse_size(args.max_memory) if args.max_memory else None)
        command = importlib.import_module(f"archsim.commands.{args.verb}")
        code = int(command.main(args) or 0)
        from archsim.api import flush_notices

        flush_notices()  # an untrained zoo shape's note, after the output and never beside an error line
        return code
    except UserError as exc:
        if args.debug:
            raise
        print(one_line(f"archsim: error: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archsim: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(one_line(f"archsim: internal error: {type(exc).__name__}: {exc}", 220)
              + " (a bug in archsim, not your input; rerun with --debug for the traceback)", file=sys.stderr)
        return 1
    finally:
        memory.set_limit(None)


if __name__ == "__main__":
    sys.exit(main())
