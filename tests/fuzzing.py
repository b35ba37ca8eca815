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
              "swap_type", "empty", "duplicate")
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
    raise ValueError(kind)


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


def run_verb(argv: list[str], outputs: list[Path], time_limit_s: int = 60, max_memory: str = "2G") -> Outcome:
    """Run ``archsim --max-memory M ARGV`` in-process; check the error contract."""
    from archsim.cli import main

    def on_alarm(signum, frame):
        raise Timeout()

    err, out = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(time_limit_s)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(["--max-memory", max_memory, *argv])
    except Timeout:
        return Outcome(None, err.getvalue(), f"ran past {time_limit_s} s")
    except SystemExit as exc:   # argparse
        rc = exc.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
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
    for argv in (["map", str(root / "tiny.nir"), "--chip", chip, "--out", str(root / "tiny.mapping.yaml")],
                 ["run", str(root / "tiny.nir"), "--chip", chip, "--quiet", "--out", str(root / "result.json")],
                 ["sweep", str(root / "sweep.yaml"), "--workers", "1", "--quiet", "--store", str(root / "store.db")]):
        outcome = run_verb(argv, [])
        assert outcome.rc == 0, outcome.stderr
    return root


#: File types, the damage kinds for each, and the ways each is given to a verb.
FILE_TYPES = {
    "chip": (TEXT_KINDS, ("map tianjic", "run tianjic", "run h2learn", "run gpu/v100", "map loihi")),
    "nir": (NIR_KINDS, ("info", "map", "run", "float")),
    "npy": (NPY_KINDS, ("float", "tianjic")),
    "mapping": (TEXT_KINDS, ("run",)),
    "result": (TEXT_KINDS, ("report",)),
    "store": (STORE_KINDS, ("report",)),
    "sweep": (TEXT_KINDS, ("sweep",)),
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
    raise ValueError(file_type)


def contract_holds(file_type: str, outcome: Outcome) -> bool:
    """Whether a case kept the contract; a sweep whose points failed (recorded in the store) exits 1 by design."""
    if file_type == "sweep" and outcome.rc == 1 and "points failed" in outcome.stderr:
        return True
    return outcome.problem is None
