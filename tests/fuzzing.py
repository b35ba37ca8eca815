"""Damaging valid files of every type, and running a verb on the damage under the error contract.

Shared by the fuzz tests (``tests/test_fuzz.py``, driven by hypothesis) and the long fuzz run
(``bench/fuzz_long.py``, driven by seeds). A mutation is ``(kind, seed)``: ``damage(kind, data, rng)``
turns the bytes of a valid file into damaged bytes; :func:`run_case` writes them, runs the verb
in-process with a memory limit and a time limit, and says whether the contract held:
exit 0, or exit 2 with one ``archsim: error:`` line of at most 300 characters and nothing left at
the output paths.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HUGE = ["1e308", "-1", "0", "-0.0", "1e999", ".nan", ".inf", "-.inf", "NaN", "Infinity", "99999999999999999999",
        "4294967297", "2147483648", "-2147483649", '"x"', "[]", "{}", "null", "true", "1.5"]
TEXT_KINDS = ("truncate", "flip", "insert", "latin1", "number", "drop_line", "extra_key", "nest", "alias_bomb",
              "swap_type", "empty", "duplicate", "retype")
#: Values a "retype" damage puts in place of one value of a parsed file: each of another type or out of range.
RETYPE_VALUES = [None, "x", "", [], {}, -1, 0, 1e308, -1e308, True, 2**63, {"a": 1}, [1, "x"], "1e999", [[[]]]]
NPY_KINDS = ("truncate", "flip", "empty", "nan", "inf", "dtype", "shape", "object", "swap_type", "header")
NIR_KINDS = ("truncate", "flip", "empty", "h5_value", "h5_drop", "h5_shape", "h5_type", "swap_type")
STORE_KINDS = ("truncate", "flip", "empty", "sql_result", "sql_drop", "swap_type")


def damage_text(kind: str, data: bytes, rng: random.Random) -> bytes:
    """A damaged copy of a YAML or JSON file."""
    text = data.decode("utf-8")
    lines = text.splitlines(keepends=True)
    if kind == "truncate":
        return data[:rng.randrange(len(data))]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == "insert":
        at = rng.randrange(len(data))
        return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[at:]
    if kind == "latin1":
        return text.replace("#", "# caf\xe9 \xb5s", 1).encode("latin-1", "replace") + b"\n# \xe9\n"
    if kind == "number":
        numbers = list(re.finditer(r"(?<![\w.])-?\d+(\.\d+)?(e-?\d+)?(?![\w.])", text))
        if not numbers:
            return data
        m = rng.choice(numbers)
        return (text[:m.start()] + rng.choice(HUGE) + text[m.end():]).encode()
    if kind == "drop_line":
        keep = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        if not keep:
            return data
        victim = rng.choice(keep)
        return "".join(ln for ln in lines if ln is not victim).encode()
    if kind == "extra_key":
        return (text + rng.choice(["\nbogus_key: 1\n", "\nname: [1, 2]\n", "\n? [a, b]\n: c\n", "\n- 1\n"])).encode()
    if kind == "nest":
        depth = rng.choice([70, 500, 5000])
        return (text + "\nnested: " + "[" * depth + "1" + "]" * depth + "\n").encode()
    if kind == "alias_bomb":
        bomb = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        for i in range(1, 10):
            bomb += f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n"
        key = rng.choice(["description", "name", "components", "network", "layers", "workloads"])
        return (bomb + text + f"\n{key}: *a9\n").encode() if rng.random() < 0.5 else (bomb + f"{key}: *a9\n").encode()
    if kind == "swap_type":
        return rng.choice([b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                           b"\x89HDF\r\n\x1a\n" + bytes(64), b"SQLite format 3\x00" + bytes(100), b"{\"schema\": 1}",
                           b"- a\n- b\n", b"just text", b"\x00\x01\x02\xff"])
    if kind == "empty":
        return b""
    if kind == "duplicate":
        return (text + "\n" + text).encode()
    if kind == "retype":
        return _retype(text, rng)
    raise ValueError(kind)


def _retype(text: str, rng: random.Random) -> bytes:
    """The file with one value (a leaf or a whole subtree, at any depth) replaced by one of another type,
    or one key removed; JSON stays JSON and YAML stays YAML."""
    import yaml

    is_json = text.lstrip().startswith("{")
    data = json.loads(text) if is_json else yaml.safe_load(text)
    places = []                                   # (container, key) of every value

    def walk(value):
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in items:
            places.append((value, key))
            walk(child)

    walk(data)
    if places:
        container, key = rng.choice(places)
        if isinstance(container, dict) and rng.random() < 0.25:
            del container[key]
        else:
            container[key] = rng.choice(RETYPE_VALUES)
    return (json.dumps(data, indent=1) if is_json else yaml.safe_dump(data, sort_keys=False)).encode()


def damage_npy(kind: str, data: bytes, rng: random.Random) -> bytes:
    """A damaged copy of a valid ``.npy`` file."""
    array = np.load(io.BytesIO(data))
    out = io.BytesIO()
    if kind == "truncate":
        return data[:rng.randrange(len(data))]
    if kind == "flip":
        b = bytearray(data)
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == "empty":
        return b""
    if kind in ("nan", "inf"):
        a = array.astype(np.float64)
        a.flat[rng.randrange(a.size)] = np.nan if kind == "nan" else rng.choice([np.inf, -np.inf])
        np.save(out, a)
    elif kind == "dtype":
        np.save(out, array.astype(rng.choice([np.complex128, np.int8, np.uint64, np.bool_, np.float16, "U3", "S2"])))
    elif kind == "shape":
        shape = rng.choice([(0,), (0, 4), (3,), (array.shape[0], 5), (1, 1, 1, 1, 1), (2, 0, 4), ()])
        np.save(out, np.zeros(shape))
    elif kind == "object":
        np.save(out, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif kind == "header":
        header = rng.choice([b"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999), }",
                             b"{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 4), }",
                             b"{'descr': 'O', 'fortran_order': False, 'shape': (2,), }",
                             b"{'descr': '<f8', 'fortran_order': False}", b"__import__('os')"])
        header = header + b" " * (118 - len(header)) + b"\n" if len(header) < 118 else header + b"\n"
        return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(64)
    elif kind == "swap_type":
        return rng.choice([b"family: manycore\n", b"\x89HDF\r\n\x1a\n" + bytes(64), b"{}", b"\xff" * 10])
    else:
        raise ValueError(kind)
    return out.getvalue()


WHOLE_FILE_DAMAGE = ("truncate", "flip", "empty", "swap_type")


def _damage_whole_file(kind: str, path: Path, rng: random.Random, swaps: list[bytes], max_flips: int,
                       first_flip_byte: int = 0) -> None:
    """Damage ``path`` as bytes: cut it short, flip bits (from ``first_flip_byte`` on), empty it, or
    replace it by another file type's opening (one of ``swaps``)."""
    data = path.read_bytes()
    if kind == "truncate":
        data = data[:rng.randrange(len(data))]
    elif kind == "flip":
        b = bytearray(data)
        for _ in range(rng.randint(1, max_flips)):
            b[rng.randrange(first_flip_byte, len(b))] ^= 1 << rng.randrange(8)
        data = bytes(b)
    elif kind == "empty":
        data = b""
    else:
        data = rng.choice(swaps)
    path.write_bytes(data)


def damage_nir(kind: str, path: Path, rng: random.Random) -> None:
    """Damage the NIR (HDF5) file at ``path`` in place."""
    import h5py

    if kind in WHOLE_FILE_DAMAGE:
        _damage_whole_file(kind, path, rng, [b"family: manycore\n", b"\x93NUMPY", b"SQLite format 3\x00" + bytes(200)], 6)
        return
    with h5py.File(path, "r+") as f:
        datasets = []
        f.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None)
        numeric = [d for d in datasets if f[d].dtype.kind in "biuf"]
        name = rng.choice(numeric if kind in ("h5_value", "h5_shape") and numeric else datasets)
        if kind == "h5_value":
            a = np.array(f[name][()], dtype=np.float64)
            value = rng.choice([np.nan, np.inf, -np.inf, -1.0, 0.0, 1e308, -1e308, 1e12, 2.0**40, 0.5])
            if a.ndim == 0:
                a = np.float64(value)
            else:
                a.flat[rng.randrange(a.size)] = value
            del f[name]
            f[name] = a
        elif kind == "h5_drop":
            victim = rng.choice([name, name.rsplit("/", 1)[0]] if "/" in name else [name])
            del f[victim]
        elif kind == "h5_shape":
            a = np.asarray(f[name][()])
            del f[name]
            f[name] = rng.choice([np.zeros((0,)), np.zeros((2, 3, 1)), np.ones(7), np.float64(3.0),
                                  np.zeros((1,) * 7), a.reshape(-1)[: max(a.size // 2, 0)]])
        else:  # h5_type
            del f[name]
            f[name] = rng.choice([b"LIF", b"Bogus", b"NIRGraph", np.bytes_("x" * 100), np.array([b"a", b"b"])])


def damage_store(kind: str, path: Path, rng: random.Random) -> None:
    """Damage the result store (SQLite) at ``path`` in place."""
    if kind in WHOLE_FILE_DAMAGE:
        _damage_whole_file(kind, path, rng, [b"{\"schema\": \"archsim.result/1\"}", b"SQLite format 3\x00" + bytes(50)], 20,
                           first_flip_byte=100)
        return
    db = sqlite3.connect(path)
    with db:
        if kind == "sql_result":
            value = rng.choice(["{", "[]", "null", '{"latency_s": NaN}', '{"schema": "archsim.result/1"}', "1",
                                '{"energy_pj": "x", "latency_s": -1}'])
            column = rng.choice(["result", "config"])
            db.execute(f"UPDATE points SET {column} = ?", (value,))
            if rng.random() < 0.5:
                db.execute("UPDATE meta SET value = ?", (rng.choice(["{", "[]", "NaN", '{"axes": 1}']),))
        else:
            db.execute(rng.choice(["DROP TABLE meta", "DELETE FROM points", "ALTER TABLE points DROP COLUMN worker"]))
    db.close()


@dataclass
class Outcome:
    """How one case ended: exit code, the stderr text, and why the contract failed (None: it held)."""

    rc: int | None
    stderr: str
    problem: str | None


class Timeout(Exception):
    """The case ran past its time limit (a hang, for the contract)."""


def run_verb(argv: list[str], outputs: list[Path], time_limit_s: int = 60, max_memory: str = "2G",
             env: dict[str, str] | None = None) -> Outcome:
    """Run ``archsim --max-memory M ARGV`` in-process (with the variables ``env`` set); check the error contract."""
    from archsim.cli import main

    def on_alarm(signum, frame):
        raise Timeout()

    err, out = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    signal.alarm(time_limit_s)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(["--max-memory", max_memory, *argv])
    except Timeout:
        return Outcome(None, err.getvalue(), f"ran past {time_limit_s} s")
    except SystemExit as exc:   # argparse: usage errors, --help
        rc = exc.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    text = err.getvalue()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("[")]
    problem = None
    if rc not in (0, 2):
        problem = f"exit {rc}: {lines[-1] if lines else ''}"
    elif rc == 2:
        errors = [ln for ln in lines if ln.startswith("archsim: error:")]
        if len(errors) != 1 or len(errors[0]) > 300 or "Traceback" in text:
            problem = f"exit 2 without exactly one short error line: {text[-300:]!r}"
        left = [str(p) for p in outputs if p.exists()]
        if left:
            problem = f"exit 2 but left {left}"
    return Outcome(rc, text, problem)


def copy_chip_folder(dest: Path) -> None:
    """The shipped chip configs with their tech/ tables, so a damaged copy's relative paths resolve."""
    shutil.copytree(ROOT / "chips", dest, dirs_exist_ok=True)


def tiny_network():
    """A 4-6-3 LIF network: small enough that every verb runs on it in well under a second."""
    from archsim.graph.network import LIF, Dense, Layer, Network, Projection

    rng = np.random.default_rng(0)
    lif = dict(decay=0.9, threshold=1.0, gain=1.0, v_leak=0.0, v_reset=0.0, reset="zero")
    hidden = Layer("h", (6,), (Projection("in", (Dense(rng.normal(size=(6, 4))),)),), LIF(**lif))
    out = Layer("o", (3,), (Projection("h", (Dense(rng.normal(size=(3, 6))),)),), LIF(**lif))
    return Network(name="tiny", inputs={"in": (4,)}, layers=[hidden, out], outputs=["o"], metadata={"steps": 4})


#: The statistics file beside a NIR graph, as ``archsim train`` writes it (for the 4-6-3 network).
TINY_STATS = {"workload": "tiny", "seed": 0, "epochs": 0, "steps": 4, "trained": False, "synthetic": True,
              "input_rate": {"in": 0.3}, "spike_rates": {"h": [0.2, 0.25, 0.3, 0.2], "o": [0.1, 0.1, 0.2, 0.1]},
              "window_fraction": {"h": 0.25}, "zero_grad_fraction": {"h": 0.7}}


def make_valid(root: Path) -> Path:
    """Valid files of every type under ``root``: a NIR graph, an input, the chips, a mapping, a result,
    a sweep and its store (made with the verbs themselves)."""
    from archsim.graph.nir_io import write_network

    copy_chip_folder(root / "chips")
    write_network(tiny_network(), root / "tiny.nir")
    np.save(root / "input.npy", (np.random.default_rng(1).random((4, 4)) < 0.5).astype(np.float64))
    chip = str(root / "chips/tianjic.yaml")
    (root / "sweep.yaml").write_text(
        f"name: fuzz\nchip: {chip}\nworkloads:\n  - {{network: {root / 'tiny.nir'}, mode: infer, batch: 1, steps: 4}}\n"
        "axes:\n  core.dendrite_lanes: [4, 16]\ncombine: grid\nobjectives: [latency_s, energy_pj]\n"
        "run: {engine: fast, precision: chip, gpu: none, seed: 0}\n")
    shutil.copy(root / "tiny.nir", root / "tiny_stats.nir")
    (root / "tiny_stats.stats.json").write_text(json.dumps(TINY_STATS, indent=1))
    cache = root / "cache" / "zoo"
    for argv in (["train", "mlp-digits", "--epochs", "0", "--out", str(cache / "mlp-digits-seed0.nir")],
                 ["map", str(root / "tiny.nir"), "--chip", chip, "--out", str(root / "tiny.mapping.yaml")],
                 ["run", str(root / "tiny.nir"), "--chip", chip, "--quiet", "--out", str(root / "result.json")],
                 ["sweep", str(root / "sweep.yaml"), "--workers", "1", "--quiet", "--store", str(root / "store.db")]):
        outcome = run_verb(argv, [])
        assert outcome.rc == 0, outcome.stderr
    return root


#: Damage to the zoo cache: to its NIR file (NIR_KINDS) or to the statistics beside it (stats_<text kind>).
CACHE_KINDS = NIR_KINDS + ("stats_truncate", "stats_flip", "stats_number", "stats_drop_line", "stats_retype",
                           "stats_swap_type", "stats_empty", "stats_latin1")
#: Bad output paths: each option with the damage that must be refused (a folder is a fine --out for
#: report, validate and demo, whose --out is a folder).
PATH_KINDS = ("folder", "under_file", "nul", "long_name", "empty", "missing_parent")
FOLDER_OPTIONS = ("report --out", "validate --out", "demo --out")
#: Values given to numeric options (each is refused in one line, or runs within the budgets).
ARG_VALUES = {"huge": ["99999999999999999999", "4294967297", "2147483648", "1e308", str(2**63)],
              "negative": ["-1", "-0.5", "-99999999999999999999", "-1e-300"],
              "zero": ["0", "0.0", "-0"], "nan": ["nan", "NaN"], "inf": ["inf", "-inf", "1e999"],
              "text": ["x", "", "1,5", "0x10", "\u00e9", "1e", " 3"], "float": ["1.5", "2.0", "1e-300"]}
ARG_OPTIONS = ("run --steps", "run --batch", "run --dt", "run --seed", "map --dt", "info --dt", "sweep --workers",
               "train --epochs", "train --seed", "--max-memory")
TRAIN_KINDS = ("name", "epochs", "seed")
VALIDATE_KINDS = ("only", "only_many", "only_empty")

#: File types, the damage kinds for each, and the ways each is given to a verb.
FILE_TYPES = {
    "chip": (TEXT_KINDS, ("map tianjic", "run tianjic", "run h2learn", "run gpu/v100", "map loihi")),
    "nir": (NIR_KINDS, ("info", "map", "run", "float")),
    "npy": (NPY_KINDS, ("float", "tianjic")),
    "mapping": (TEXT_KINDS, ("run",)),
    "result": (TEXT_KINDS, ("report",)),
    "store": (STORE_KINDS, ("report",)),
    "sweep": (TEXT_KINDS, ("sweep",)),
    "stats": (TEXT_KINDS, ("info", "run", "float")),
    "cache": (CACHE_KINDS, ("info", "run", "demo")),
    "paths": (PATH_KINDS, ("run --out", "run --save-outputs", "map --out", "sweep --store", "train --out")
              + FOLDER_OPTIONS),
    "args": (tuple(ARG_VALUES), ARG_OPTIONS),
    "train": (TRAIN_KINDS, ("mlp-digits", "conv-digits", "dvs-gesture")),
    "validate": (VALIDATE_KINDS, ("quick",)),
}


def make_case(file_type: str, kind: str, seed: int, variant: str, valid: Path, d: Path) -> tuple[list[str], list[Path]]:
    """Write the damaged file of one case into folder ``d``; return the verb's argv and its output paths."""
    rng = random.Random(seed)
    net, tianjic = str(valid / "tiny.nir"), str(valid / "chips/tianjic.yaml")
    out = d / "out.json"
    if file_type == "chip":
        verb, name = variant.split()
        bad = d / "chip.yaml"
        bad.write_bytes(damage_text(kind, (valid / "chips" / f"{name}.yaml").read_bytes(), rng))
        if verb == "map":
            return ["map", net, "--chip", str(bad), "--out", str(d / "m.yaml")], [d / "m.yaml"]
        mode = ["--mode", "train"] if name == "h2learn" else []
        return ["run", net, "--chip", str(bad), *mode, "--quiet", "--out", str(out)], [out]
    if file_type == "nir":
        bad = d / "net.nir"
        shutil.copy(valid / "tiny.nir", bad)
        damage_nir(kind, bad, rng)
        y = d / "y.npy"
        return {"info": ["info", str(bad)], "map": ["map", str(bad), "--chip", tianjic, "--out", str(out)],
                "run": ["run", str(bad), "--chip", tianjic, "--quiet", "--out", str(out)],
                "float": ["run", str(bad), "--precision", "float", "--quiet", "--save-outputs", str(y)]}[variant], [out, y]
    if file_type == "npy":
        bad, y = d / "x.npy", d / "y.npy"
        bad.write_bytes(damage_npy(kind, (valid / "input.npy").read_bytes(), rng))
        target = ["--chip", tianjic] if variant == "tianjic" else ["--precision", "float"]
        return ["run", net, *target, "--input", str(bad), "--quiet", "--save-outputs", str(y), "--out", str(out)], [y, out]
    if file_type == "mapping":
        bad = d / "m.yaml"
        bad.write_bytes(damage_text(kind, (valid / "tiny.mapping.yaml").read_bytes(), rng))
        return ["run", net, "--chip", tianjic, "--mapping", str(bad), "--quiet", "--out", str(out)], [out]
    if file_type == "result":
        bad = d / "result.json"
        bad.write_bytes(damage_text(kind, (valid / "result.json").read_bytes(), rng))
        return ["report", str(bad), "--out", str(d / "report")], [d / "report"]
    if file_type == "store":
        bad = d / "store.db"
        shutil.copy(valid / "store.db", bad)
        damage_store(kind, bad, rng)
        return ["report", str(bad), "--out", str(d / "report")], [d / "report"]
    if file_type == "sweep":
        bad = d / "sweep.yaml"
        bad.write_bytes(damage_text(kind, (valid / "sweep.yaml").read_bytes(), rng))
        return ["sweep", str(bad), "--workers", "1", "--quiet", "--store", str(d / "s.db")], [d / "s.db"]
    if file_type == "stats":
        shutil.copy(valid / "tiny_stats.nir", d / "net.nir")
        (d / "net.stats.json").write_bytes(damage_text(kind, (valid / "tiny_stats.stats.json").read_bytes(), rng))
        net, y = str(d / "net.nir"), d / "y.npy"
        return {"info": ["info", net], "run": ["run", net, "--chip", tianjic, "--quiet", "--out", str(out)],
                "float": ["run", net, "--precision", "float", "--quiet", "--save-outputs", str(y)]}[variant], [out, y]
    if file_type == "cache":
        return _cache_case(kind, variant, rng, valid, d)
    if file_type == "paths":
        return _paths_case(kind, variant, rng, valid, d)
    if file_type == "args":
        return _args_case(kind, variant, rng, valid, d)
    if file_type == "train":
        return _train_case(kind, variant, rng, d)
    if file_type == "validate":
        return _validate_case(kind, rng, d)
    raise ValueError(file_type)


def case_env(file_type: str, d: Path) -> dict[str, str] | None:
    """The environment a case runs in: damaged-cache cases read the zoo cache from their own folder."""
    return {"ARCHSIM_CACHE": str(d / "cache")} if file_type in ("cache", "train") else None


def _cache_case(kind: str, variant: str, rng: random.Random, valid: Path, d: Path):
    """A damaged zoo cache (``$ARCHSIM_CACHE/zoo/mlp-digits-seed0.nir`` and its statistics) read by a zoo name.

    ``demo`` reads the cache first and then runs for minutes, so it is given only a cache that no
    longer reads (the contract's question is then whether it says so in one line and writes nothing);
    a cache damaged harmlessly is given to ``info`` instead."""
    from archsim.errors import UserError
    from archsim.graph.nir_io import read_network

    shutil.copytree(valid / "cache", d / "cache")
    nir_path = d / "cache" / "zoo" / "mlp-digits-seed0.nir"
    if kind.startswith("stats_"):
        stats = nir_path.with_suffix(".stats.json")
        stats.write_bytes(damage_text(kind[len("stats_"):], stats.read_bytes(), rng))
    else:
        damage_nir(kind, nir_path, rng)
    if variant == "demo":
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                read_network(nir_path)
            variant = "info"
        except (UserError, Exception):
            pass
    out, report = d / "out.json", d / "demo"
    return {"info": ["info", "mlp-digits"],
            "run": ["run", "mlp-digits", "--chip", str(valid / "chips/tianjic.yaml"), "--quiet", "--out", str(out)],
            "demo": ["demo", "--quiet", "--out", str(report)]}[variant], [out, report]


def bad_path(kind: str, rng: random.Random, d: Path, folder_option: bool) -> str:
    """An output path of the damage ``kind`` under folder ``d``."""
    (d / "a_file").write_text("x")
    (d / "a_folder").mkdir(exist_ok=True)
    return {"folder": str(d / "a_folder"),
            "under_file": str(d / "a_file" / rng.choice(["x.json", "sub/x", "x"])),
            "nul": str(d / "bad\x00name"),
            "long_name": str(d / ("n" * rng.choice([256, 300, 4000]))),
            "empty": rng.choice(["", " "]),
            "missing_parent": str(d / "no" / "such" / ("dir" if folder_option else "x.out"))}[kind]


def _paths_case(kind: str, variant: str, rng: random.Random, valid: Path, d: Path):
    """A verb given a bad output path; demo and validate only paths they must refuse before any work."""
    folder_option = variant in FOLDER_OPTIONS
    if variant in ("demo --out", "validate --out") and kind in ("folder", "missing_parent", "empty"):
        kind = "under_file"                   # a fine folder would start the whole demo (minutes)
    if variant == "train --out" and kind == "empty":
        kind = "nul"                          # an empty --out is train's default, WORKLOAD.nir here
    path = bad_path(kind, rng, d, folder_option)
    net, chip = str(valid / "tiny.nir"), str(valid / "chips/tianjic.yaml")
    argv = {"run --out": ["run", net, "--chip", chip, "--quiet", "--out", path],
            "run --save-outputs": ["run", net, "--precision", "float", "--quiet", "--save-outputs", path],
            "map --out": ["map", net, "--chip", chip, "--out", path],
            "sweep --store": ["sweep", str(valid / "sweep.yaml"), "--workers", "1", "--quiet", "--store", path],
            "train --out": ["train", "mlp-digits", "--epochs", "0", "--out", path],
            "report --out": ["report", str(valid / "result.json"), "--out", path],
            "validate --out": ["validate", "--quick", "--quiet", "--only", "tianjic-clock", "--out", path],
            "demo --out": ["demo", "--quiet", "--out", path]}[variant]
    outputs = [] if kind in ("folder", "empty", "nul", "long_name") else [Path(path)]   # the last two cannot exist
    if variant == "train --out" and outputs:
        outputs.append(Path(path).with_suffix(".stats.json"))
    return argv, outputs


def _args_case(kind: str, variant: str, rng: random.Random, valid: Path, d: Path):
    """A numeric option given an odd value."""
    value = rng.choice(ARG_VALUES[kind])
    net, chip, out = str(valid / "tiny.nir"), str(valid / "chips/tianjic.yaml"), d / "out.json"
    nir_out = d / "t.nir"
    argv = {"run --steps": ["run", net, "--chip", chip, "--quiet", "--out", str(out), "--steps", value],
            "run --batch": ["run", net, "--chip", chip, "--quiet", "--out", str(out), "--batch", value],
            "run --dt": ["run", net, "--precision", "float", "--quiet", "--out", str(out), "--dt", value],
            "run --seed": ["run", net, "--chip", chip, "--quiet", "--out", str(out), "--seed", value],
            "map --dt": ["map", net, "--chip", chip, "--out", str(out), "--dt", value],
            "info --dt": ["info", net, "--dt", value],
            "sweep --workers": ["sweep", str(valid / "sweep.yaml"), "--quiet", "--store", str(d / "s.db"),
                                "--workers", value],
            "train --epochs": ["train", rng.choice(["dvs-gesture", "mlp-digits"]), "--out", str(nir_out),
                               "--epochs", value],
            "train --seed": ["train", "mlp-digits", "--epochs", "0", "--out", str(nir_out), "--seed", value],
            "--max-memory": ["--max-memory", value, "run", net, "--precision", "float", "--quiet",
                             "--out", str(out)]}[variant]
    if variant == "train --epochs" and argv[1] == "mlp-digits" and _positive_int(value):
        argv[1] = "dvs-gesture"               # training the digits for that many epochs is work, not an error
    return argv, [out, d / "s.db", nir_out, nir_out.with_suffix(".stats.json")]


def _positive_int(text: str) -> bool:
    try:
        return int(text) > 0
    except ValueError:
        return False


def _train_case(kind: str, variant: str, rng: random.Random, d: Path):
    """``archsim train`` given a bad name, epoch count or seed (never a long training run)."""
    out = d / "t.nir"
    name = variant
    epochs = "0"
    seed = "0"
    if kind == "name":
        name = rng.choice(["", " ", "no-such-net", variant.upper(), variant + " ", variant + "\x00", "../" + variant,
                           "x" * 5000, "\u00e9t\u00e9", "-" + variant, variant + "\n"])
    elif kind == "epochs":
        epochs = rng.choice(["-1", "-99999999999999999999", "0", "1.5", "x", ""]
                            + (["1", "99999999999999999999"] if variant == "dvs-gesture" else []))
    else:
        seed = rng.choice(["-1", "0", "4294967295", "4294967296", str(2**64), "1e3", "x", "007"])
    if variant == "dvs-gesture" and kind != "epochs":
        name = name.replace("dvs-gesture", "mlp-digits")     # its untrained shape takes half a minute to calibrate
    argv = ["train", name, "--epochs", epochs, "--seed", seed, "--out", str(out)]
    return argv, [out, out.with_suffix(".stats.json")]


def _validate_case(kind: str, rng: random.Random, d: Path):
    """``archsim validate --quick`` given odd case names (and a fast case beside them)."""
    from archsim.validate.run import case_names

    names = list(case_names())
    if kind == "only":
        only = [rng.choice(["no-such-case", names[0].upper(), names[0] + "\x00", "x" * 3000, "--quick", "-1"])]
    elif kind == "only_many":
        only = ["tianjic-clock", rng.choice(["tianjic-clock", "bogus", names[-1][:-1], ""])]
    else:
        only = [rng.choice(["", " "])]
    out = d / "validation"
    return ["validate", "--quick", "--quiet", "--out", str(out), "--only", *only], [out]


def run_case(file_type: str, kind: str, seed: int, variant: str, valid: Path, d: Path) -> Outcome:
    """Make one case in the empty folder ``d`` (:func:`make_case`) and run it (:func:`run_verb`) there, so that
    a default output path (``sweep`` with an empty ``--store`` writes ``SWEEP.db`` here) stays in ``d``."""
    argv, outputs = make_case(file_type, kind, seed, variant, valid, d)
    with contextlib.chdir(d):
        return run_verb(argv, outputs, env=case_env(file_type, d))


def contract_holds(file_type: str, outcome: Outcome) -> bool:
    """Whether a case kept the contract; a sweep whose points failed (recorded in the store) exits 1 by design."""
    if file_type == "sweep" and outcome.rc == 1 and "failed (errors in the store" in outcome.stderr:
        return True
    return outcome.problem is None
