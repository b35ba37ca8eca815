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

    v = sub.add_parser("validate", help="run every published figure archsim can be checked against")
    v.add_argument("--out", default="reports/validation", help="folder for the report")
    v.add_argument("--only", nargs="+", metavar="NAME", help="run only these cases")
    v.add_argument("--quick", action="store_true", help="skip the slow cases (reported as skipped)")
    v.add_argument("--quiet", action="store_true", help="no progress output")

    d = sub.add_parser("demo", help="train, map, simulate, compare, sweep and report")
    d.add_argument("--out", default="reports", help="folder for the reports")
    d.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the verb's ``archsim.commands.<verb>.main``; a UserError is one stderr line and exit code 2."""
    args = _parser().parse_args(argv)
    try:
        command = importlib.import_module(f"archsim.commands.{args.verb}")
        return int(command.main(args) or 0)
    except UserError as exc:
        if args.debug:
            raise
        print(f"archsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archsim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
