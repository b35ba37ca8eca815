"""Fuzzing every file type through every verb that reads it, under the error contract.

Each test damages a valid file (tests/fuzzing.py says how: truncation, flipped bytes, wrong encoding,
NaN/inf/huge/negative numbers, missing and extra keys, deep nesting, alias bombs, swapped file types)
and runs the verb in-process with a 2 GiB memory limit and a time limit: it must exit 0, or exit 2
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


def _corpus():
    path = CORPUS / "cases.yaml"
    return yaml.safe_load(path.read_text()) if path.exists() else []


@pytest.mark.parametrize("case", _corpus(), ids=lambda c: c["name"])
def test_fuzz_corpus(valid, case):
    """Every failure a fuzzer found, shrunk and kept: it must keep the contract from now on."""
    run_case(valid, case["file_type"], case["kind"], int(case["seed"]), case["variant"])


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
