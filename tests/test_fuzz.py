"""Fuzzing every file type through every verb that reads it, under the error contract.

Each test damages a valid file (tests/fuzzing.py says how: truncation, flipped bytes, wrong encoding,
NaN/inf/huge/negative numbers, missing and extra keys, deep nesting, alias bombs, swapped file types)
and runs the verb in-process with a 2 GiB memory limit and a time limit: it must exit 0, or exit 2
with one short ``archsim: error:`` line and nothing at its output paths. An internal error (exit 1),
a traceback, a hang or a half-written output fails. Shrunk failures found so far are replayed from
tests/data/fuzz_corpus/ (test_fuzz_corpus.py).
"""
from __future__ import annotations

import itertools
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzzing

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SEEDS = st.integers(0, 2**32 - 1)


def tiny_network():
    from archsim.graph.network import LIF, Dense, Layer, Network, Projection

    rng = np.random.default_rng(0)
    lif = dict(decay=0.9, threshold=1.0, gain=1.0, v_leak=0.0, v_reset=0.0, reset="zero")
    hidden = Layer("h", (6,), (Projection("in", (Dense(rng.normal(size=(6, 4))),)),), LIF(**lif))
    out = Layer("o", (3,), (Projection("h", (Dense(rng.normal(size=(3, 6))),)),), LIF(**lif))
    return Network(name="tiny", inputs={"in": (4,)}, layers=[hidden, out], outputs=["o"], metadata={"steps": 4})


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    """Valid files of every type, made once: a NIR graph, an input, a chip, a mapping, a result, a sweep and its store."""
    from archsim.graph.nir_io import write_network

    root = tmp_path_factory.mktemp("valid")
    fuzzing.copy_chip_folder(root / "chips")
    write_network(tiny_network(), root / "tiny.nir")
    np.save(root / "input.npy", (np.random.default_rng(1).random((4, 4)) < 0.5).astype(np.float64))
    ok = fuzzing.run_verb(["map", str(root / "tiny.nir"), "--chip", str(root / "chips/tianjic.yaml"),
                           "--out", str(root / "tiny.mapping.yaml")], [])
    assert ok.rc == 0, ok.stderr
    ok = fuzzing.run_verb(["run", str(root / "tiny.nir"), "--chip", str(root / "chips/tianjic.yaml"), "--quiet",
                           "--out", str(root / "result.json")], [])
    assert ok.rc == 0, ok.stderr
    (root / "sweep.yaml").write_text(
        f"name: fuzz\nchip: chips/tianjic.yaml\nworkloads:\n  - {{network: {root / 'tiny.nir'}, mode: infer, batch: 1, steps: 4}}\n"
        "axes:\n  core.dendrite_lanes: [4, 16]\ncombine: grid\nobjectives: [latency_s, energy_pj]\n"
        "run: {engine: fast, precision: chip, gpu: none, seed: 0}\n")
    ok = fuzzing.run_verb(["sweep", str(root / "sweep.yaml"), "--workers", "1", "--quiet",
                           "--store", str(root / "store.db")], [])
    assert ok.rc == 0, ok.stderr
    return root


_counter = itertools.count()


def case_dir(valid: Path) -> Path:
    """A fresh folder for one case, beside a copy of the chip folder's tech tables."""
    d = valid / f"case{next(_counter)}"
    d.mkdir()
    (d / "tech").symlink_to(valid / "chips" / "tech")
    return d


def check(outcome: fuzzing.Outcome) -> None:
    assert outcome.problem is None, outcome.problem


@SETTINGS
@given(kind=st.sampled_from(fuzzing.TEXT_KINDS), seed=SEEDS,
       chip=st.sampled_from(["tianjic.yaml", "h2learn.yaml", "gpu/v100.yaml"]), verb=st.sampled_from(["map", "run"]))
def test_damaged_chip_yaml(valid, kind, seed, chip, verb):
    d = case_dir(valid)
    bad = d / "chip.yaml"
    bad.write_bytes(fuzzing.damage_text(kind, (valid / "chips" / chip).read_bytes(), random.Random(seed)))
    out = d / ("out.yaml" if verb == "map" else "out.json")
    extra = ["--mode", "train"] if chip == "h2learn.yaml" and verb == "run" else []
    check(fuzzing.run_verb([verb, str(valid / "tiny.nir"), "--chip", str(bad), "--out", str(out), *extra]
                           + (["--quiet"] if verb == "run" else []), [out]))


@SETTINGS
@given(kind=st.sampled_from(fuzzing.NIR_KINDS), seed=SEEDS,
       verb=st.sampled_from(["info", "map", "run", "float"]))
def test_damaged_nir(valid, kind, seed, verb):
    d = case_dir(valid)
    bad = d / "net.nir"
    shutil.copy(valid / "tiny.nir", bad)
    fuzzing.damage_nir(kind, bad, random.Random(seed))
    out = d / "out.json"
    chip = str(valid / "chips/tianjic.yaml")
    argv = {"info": ["info", str(bad)], "map": ["map", str(bad), "--chip", chip, "--out", str(out)],
            "run": ["run", str(bad), "--chip", chip, "--quiet", "--out", str(out)],
            "float": ["run", str(bad), "--precision", "float", "--quiet", "--save-outputs", str(out) + ".npy"]}[verb]
    check(fuzzing.run_verb(argv, [out, Path(str(out) + ".npy")]))


@SETTINGS
@given(kind=st.sampled_from(fuzzing.NPY_KINDS), seed=SEEDS, chip=st.sampled_from([None, "tianjic.yaml"]))
def test_damaged_input_npy(valid, kind, seed, chip):
    d = case_dir(valid)
    bad = d / "x.npy"
    bad.write_bytes(fuzzing.damage_npy(kind, (valid / "input.npy").read_bytes(), random.Random(seed)))
    y, out = d / "y.npy", d / "out.json"
    target = ["--chip", str(valid / "chips" / chip)] if chip else ["--precision", "float"]
    check(fuzzing.run_verb(["run", str(valid / "tiny.nir"), *target, "--input", str(bad), "--quiet",
                            "--save-outputs", str(y), "--out", str(out)], [y, out]))


@SETTINGS
@given(kind=st.sampled_from(fuzzing.TEXT_KINDS), seed=SEEDS)
def test_damaged_mapping(valid, kind, seed):
    d = case_dir(valid)
    bad = d / "m.yaml"
    bad.write_bytes(fuzzing.damage_text(kind, (valid / "tiny.mapping.yaml").read_bytes(), random.Random(seed)))
    out = d / "out.json"
    check(fuzzing.run_verb(["run", str(valid / "tiny.nir"), "--chip", str(valid / "chips/tianjic.yaml"),
                            "--mapping", str(bad), "--quiet", "--out", str(out)], [out]))


@SETTINGS
@given(kind=st.sampled_from(fuzzing.TEXT_KINDS), seed=SEEDS)
def test_damaged_result_json(valid, kind, seed):
    d = case_dir(valid)
    bad = d / "result.json"
    bad.write_bytes(fuzzing.damage_text(kind, (valid / "result.json").read_bytes(), random.Random(seed)))
    check(fuzzing.run_verb(["report", str(bad), "--out", str(d / "report")], [d / "report"]))


@SETTINGS
@given(kind=st.sampled_from(fuzzing.STORE_KINDS), seed=SEEDS)
def test_damaged_store(valid, kind, seed):
    d = case_dir(valid)
    bad = d / "store.db"
    shutil.copy(valid / "store.db", bad)
    fuzzing.damage_store(kind, bad, random.Random(seed))
    check(fuzzing.run_verb(["report", str(bad), "--out", str(d / "report")], [d / "report"]))


@settings(SETTINGS, max_examples=8)
@given(kind=st.sampled_from(fuzzing.TEXT_KINDS), seed=SEEDS)
def test_damaged_sweep_yaml(valid, kind, seed):
    d = case_dir(valid)
    bad = d / "sweep.yaml"
    text = (valid / "sweep.yaml").read_text().replace("chips/tianjic.yaml", str(valid / "chips/tianjic.yaml"))
    bad.write_bytes(fuzzing.damage_text(kind, text.encode(), random.Random(seed)))
    outcome = fuzzing.run_verb(["sweep", str(bad), "--workers", "1", "--quiet", "--store", str(d / "s.db")],
                               [d / "s.db"])
    if outcome.rc == 1 and "points failed" in outcome.stderr:   # a bad point is recorded, the sweep goes on
        return
    check(outcome)


def test_internal_error_is_exit_1_not_a_user_error(valid, monkeypatch, capsys):
    """A bug (an exception that is not a UserError) is never reported as bad input."""
    from archsim.cli import main
    from archsim.graph import describe

    def broken(network):
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(describe, "summary", broken)
    assert main(["info", str(valid / "tiny.nir")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error: ZeroDivisionError: injected" in err[0] and "--debug" in err[0]
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "info", str(valid / "tiny.nir")])


def test_memory_estimate_refuses_with_the_limit_named(valid, capsys):
    from archsim.cli import main

    assert main(["--max-memory", "1K", "run", str(valid / "tiny.nir"), "--precision", "float"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--max-memory is 1.0 KiB" in err and "simulation state" in err and len(err) <= 300
    assert main(["--max-memory", "lots", "info", str(valid / "tiny.nir")]) == 2
