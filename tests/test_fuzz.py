"""Fuzzing every file type through every verb that reads it, under the error contract.

Each test damages a valid file (tests/fuzzing.py says how: truncation, flipped bytes, wrong encoding,
NaN/inf/huge/negative numbers, missing, extra and retyped keys, deep nesting, alias bombs, swapped file
types; bad output paths, odd option values, bad names for train and validate, a damaged zoo cache for
demo) and runs the verb in-process with a 2 GiB memory limit and a time limit: it must exit 0, or exit 2
with one short ``archsim: error:`` line and nothing at its output paths. An internal error (exit 1),
a traceback, a hang or a half-written output fails. Shrunk failures found so far are replayed from
tests/data/fuzz_corpus/ (``test_fuzz_corpus``); ``bench/fuzz_long.py`` runs the same cases by the
thousand.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzzing

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CORPUS = Path(__file__).parent / "data" / "fuzz_corpus"


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    return fuzzing.make_valid(tmp_path_factory.mktemp("valid"))


_counter = itertools.count()


def run_case(valid: Path, file_type: str, kind: str, seed: int, variant: str) -> None:
    d = valid / f"case{next(_counter)}"
    d.mkdir()
    outcome = fuzzing.run_case(file_type, kind, seed, variant, valid, d)
    assert fuzzing.contract_holds(file_type, outcome), outcome.problem


def _fuzz_test(file_type: str, examples: int = 12):
    kinds, variants = fuzzing.FILE_TYPES[file_type]

    @settings(SETTINGS, max_examples=examples)
    @given(kind=st.sampled_from(kinds), seed=st.integers(0, 2**32 - 1), variant=st.sampled_from(variants))
    def test(valid, kind, seed, variant):
        run_case(valid, file_type, kind, seed, variant)

    test.__doc__ = f"Damaged {file_type} files keep the error contract."
    return test


test_damaged_chip_yaml = _fuzz_test("chip", 16)
test_damaged_nir = _fuzz_test("nir", 16)
test_damaged_input_npy = _fuzz_test("npy")
test_damaged_mapping = _fuzz_test("mapping")
test_damaged_result_json = _fuzz_test("result")
test_damaged_store = _fuzz_test("store")
test_damaged_sweep_yaml = _fuzz_test("sweep", 8)
test_damaged_stats_json = _fuzz_test("stats", 8)
test_damaged_zoo_cache = _fuzz_test("cache", 6)
test_bad_output_paths = _fuzz_test("paths", 8)
test_odd_numeric_options = _fuzz_test("args", 10)
test_train_bad_arguments = _fuzz_test("train", 6)
test_validate_bad_case_names = _fuzz_test("validate", 4)


@pytest.mark.parametrize("argv, named, allowed", [
    (["run", "x", "--engine", "turbo"], "--engine", "allowed: fast, reference"),
    (["run", "x", "--steps", "many"], "--steps", "allowed: an integer"),
    (["run", "x", "--dt", "soon"], "--dt", "allowed: a number"),
    (["run", "x", "--stpes", "3"], "--stpes", "did you mean --steps"),
    (["train", "mlp-digits", "--seed", "-1"], "--seed", "allowed: an integer from 0 to"),
    (["map", "x"], "--chip", "required"),
    (["validate", "--only"], "--only", "allowed: --only followed by at least one value"),
    (["bogus"], "'bogus'", "allowed: train, info, map, run"),
    ([], "VERB", "required"),
])
def test_usage_errors_are_one_line(argv, named, allowed, capsys):
    """A bad option or argument: one line on stderr naming it and what is allowed, exit 2, no usage block."""
    from archsim.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1, err
    assert err[0].startswith("archsim: error:") and named in err[0] and allowed in err[0] and len(err[0]) <= 300


@settings(SETTINGS, max_examples=40)
@given(verb=st.sampled_from(["train", "info", "map", "run", "sweep", "report", "demo", "validate"]),
       tokens=st.lists(st.sampled_from(["--steps", "--batch", "--dt", "--seed", "--epochs", "--engine", "--mode",
                                        "--only", "--out", "--chip", "--workers", "--from", "--bogus", "-x", "x",
                                        "", "-1", "nan", "1e999", "\u00e9", "=", "--steps=q", "--"]), max_size=6))
def test_any_command_line_parses_or_is_one_usage_line(verb, tokens):
    """Whatever the command line, parsing ends in arguments or in one usage line with exit 2 (parsing only:
    nothing runs)."""
    import contextlib
    import io

    from archsim.cli import _parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            _parser().parse_args([verb, *tokens])
    except SystemExit as exc:
        lines = err.getvalue().strip().splitlines()
        assert exc.code == 2 and len(lines) == 1 and lines[0].startswith("archsim: error:") and len(lines[0]) <= 300


def _corpus():
    path = CORPUS / "cases.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else []


@pytest.mark.parametrize("case", _corpus(), ids=lambda c: c["name"])
def test_fuzz_corpus(valid, case):
    """Every failure a fuzzer found, shrunk and kept: it must keep the contract from now on."""
    run_case(valid, case["file_type"], case["kind"], int(case["seed"]), case["variant"])


def _internal_failures(valid: Path, d: Path):
    """(argv, module, attribute) of each verb and a function inside it that the test breaks."""
    net, chip = str(valid / "tiny.nir"), str(valid / "chips/tianjic.yaml")
    return [
        (["info", net], "archsim.graph.describe", "summary"),
        (["map", net, "--chip", chip, "--out", str(d / "m.yaml")], "archsim.commands.map", "map_network"),
        (["run", net, "--chip", chip, "--quiet", "--out", str(d / "r.json")], "archsim.commands.run", "execute"),
        (["sweep", str(valid / "sweep.yaml"), "--workers", "1", "--quiet", "--store", str(d / "s.db")],
         "archsim.commands.sweep", "run_sweep"),
        (["report", str(valid / "result.json"), "--out", str(d / "rep")], "archsim.commands.report", "write_report"),
        (["train", "mlp-digits", "--epochs", "0", "--out", str(d / "t.nir")], "workloads.zoo", "train"),
        (["demo", "--quiet", "--out", str(d / "demo")], "archsim.commands.demo", "run_demo"),
        (["validate", "--quick", "--quiet", "--only", "tianjic-clock", "--out", str(d / "v")], "archsim.validate",
         "run_cases"),
    ]


@pytest.mark.parametrize("index", range(8), ids=["info", "map", "run", "sweep", "report", "train", "demo", "validate"])
def test_internal_error_is_exit_1_not_a_user_error(valid, monkeypatch, capsys, tmp_path, index):
    """A bug (an exception that is not a UserError) in any verb is never reported as bad input."""
    import importlib

    from archsim.cli import main

    argv, module, attribute = _internal_failures(valid, tmp_path)[index]

    def broken(*args, **kwargs):
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(importlib.import_module(module), attribute, broken)
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error: ZeroDivisionError: injected" in err[0] and "--debug" in err[0]
    with pytest.raises(ZeroDivisionError):
        main(["--debug", *argv])


def test_memory_estimate_refuses_with_the_limit_named(valid, capsys):
    from archsim.cli import main

    assert main(["--max-memory", "1K", "run", str(valid / "tiny.nir"), "--precision", "float"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--max-memory is 1.0 KiB" in err and "simulation state" in err and len(err) <= 300
    assert main(["--max-memory", "lots", "info", str(valid / "tiny.nir")]) == 2
