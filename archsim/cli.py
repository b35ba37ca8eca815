"""The ``archsim`` command: parses arguments and hands them to ``archsim.commands.<verb>``.

Each command module calls the library (the same verbs as Python functions, see :mod:`archsim.api`)
and prints.

User errors print one line to stderr and exit with code 2 (``--debug`` shows the traceback).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from archsim.errors import UserError


def _zoo_listing() -> str:
    from workloads import zoo

    return "zoo workloads:\n" + "\n".join(f"  {name:16} {zoo.ZOO[name].summary}" for name in zoo.names())


def _reset_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reset", choices=["zero", "subtract"], default=None,
                        help="how a NIR file's LIF/IF nodes without archsim reset metadata reset (default: zero, "
                             "NIR's semantics; subtract: snnTorch's Leaky default)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="archsim", description="Cycle-accurate simulator of neuromorphic hardware.")
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    p.add_argument("--max-memory", metavar="SIZE",
                   help="refuse work estimated to need more memory than this (e.g. 4G; default: what is available)")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    t = sub.add_parser("train", help="train a zoo workload and export it as NIR", epilog=_zoo_listing(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("workload", help="model-zoo name (see the list below)")
    t.add_argument("--out", help="NIR file to write (default: WORKLOAD.nir)")
    t.add_argument("--epochs", type=int, default=None, help="training epochs (0 exports the untrained shape)")
    t.add_argument("--seed", type=int, default=0)

    i = sub.add_parser("info", help="describe a network")
    i.add_argument("network", help="NIR file or zoo name")
    i.add_argument("--dt", type=float, default=1e-4, help="time step for NIR's continuous neurons, s")
    _reset_option(i)

    m = sub.add_parser("map", help="map a network onto a chip")
    m.add_argument("network", help="NIR file or zoo name")
    m.add_argument("--chip", required=True, help="chip config YAML")
    m.add_argument("--out", help="mapping file to write (YAML)")
    m.add_argument("--dt", type=float, default=1e-4)
    _reset_option(m)

    r = sub.add_parser("run", help="simulate a network on a chip (or functionally)")
    r.add_argument("network", help="NIR file or zoo name")
    r.add_argument("--chip", help="chip config YAML (a GPU config works too)")
    r.add_argument("--mapping", help="mapping file from 'archsim map'")
    r.add_argument("--input", help="input .npy, shape (T, *input_shape) or (T, B, *input_shape)")
    r.add_argument("--steps", type=int, help="time steps T")
    r.add_argument("--dt", type=float, default=1e-4)
    _reset_option(r)
    r.add_argument("--mode", choices=["infer", "train"], default="infer")
    r.add_argument("--batch", type=int, default=None)
    r.add_argument("--engine", choices=["fast", "reference"], default="fast")
    r.add_argument("--precision", choices=["chip", "float"], default="chip")
    r.add_argument("--gpu", help="GPU config to compare with (default chips/gpu/v100.yaml; none: no comparison)")
    r.add_argument("--gpu-framework", choices=["eager", "fused"],
                   help="how the GPU runs the SNN: eager (snnTorch-style, one kernel per op and step) or "
                        "fused (SpikingJelly-style multi-step kernels); default from the GPU config")
    r.add_argument("--iso-node", action="store_true",
                   help="compare area with the GPU's die redrawn at the chip's technology node")
    r.add_argument("--seed", type=int, default=0, help="seed of the synthetic input")
    r.add_argument("--save-outputs", help="write the output layer's values to this .npy")
    r.add_argument("--out", help="RESULT.json to write")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.add_argument("--quiet", action="store_true", help="no progress output")

    s = sub.add_parser("sweep", help="run a design-space sweep")
    s.add_argument("sweep", help="sweep YAML")
    s.add_argument("--workers", type=int, default=None)
    s.add_argument("--scheduler", help="address of a Dask scheduler")
    s.add_argument("--store", help="result store (SQLite)")
    s.add_argument("--resume", action="store_true")
    s.add_argument("--quiet", action="store_true")

    rep = sub.add_parser("report", help="write a report from a result or a store")
    rep.add_argument("source", help="RESULT.json or STORE.db")
    rep.add_argument("--out", default="reports", help="folder to write into")

    d = sub.add_parser("demo", help="train, map, simulate, compare, sweep and report")
    d.add_argument("--out", default="reports", help="folder for the reports")
    d.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the verb's ``archsim.commands.<verb>.main``.

    The error contract: a UserError (bad input) is one stderr line and exit code 2; any other
    exception is a bug in archsim, never blamed on the input: one line naming it, a hint to rerun
    with ``--debug`` (which shows the traceback), exit code 1.
    """
    from archsim.guard import memory
    from archsim.guard.text import one_line

    args = _parser().parse_args(argv)
    try:
        memory.set_limit(memory.parse_size(args.max_memory) if args.max_memory else None)
        command = importlib.import_module(f"archsim.commands.{args.verb}")
        return int(command.main(args) or 0)
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
