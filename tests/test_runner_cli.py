"""The CLI on files the user gives: a hand-edited mapping, bad paths and bad files end in one line, exit 2."""
import sqlite3

import numpy as np
import pytest

from archsim import cli
from archsim import result as result_mod
from archsim.atomic import write_atomically, write_text_atomically
from archsim.errors import UserError
from archsim.sweep.store import ResultStore


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("archsim: error: ")
    return err[0]


def test_run_with_a_saved_mapping_writes_result_and_outputs(tmp_path, capsys):
    mapping = tmp_path / "m.yaml"
    assert cli.main(["map", "mlp-digits", "--chip", "tianjic", "--out", str(mapping)]) == 0
    out, y = tmp_path / "r.json", tmp_path / "y"
    assert cli.main(["run", "mlp-digits", "--chip", "tianjic", "--mapping", str(mapping), "--gpu", "none",
                     "--steps", "3", "--quiet", "--out", str(out), "--save-outputs", str(y)]) == 0
    assert result_mod.read(out)["cycles"] > 0
    assert np.load(tmp_path / "y.npy").shape[0] == 3          # np.save's .npy suffix is kept
    assert not list(tmp_path.glob(".*.tmp"))                   # no temporary file left behind


@pytest.mark.parametrize("argv, named", [
    (["run", "mlp-digits", "--chip", "tianjic", "--dt", "-1", "--quiet"], "--dt"),
    (["run", "mlp-digits", "--chip", "tianjic", "--quiet", "--out", "{tmp}"], "{tmp}"),
    (["report", "{tmp}/list.json"], "list.json"),
    (["report", "{tmp}/other.db"], "other.db"),
    (["demo", "--out", "{tmp}/list.json"], "list.json"),
    (["run", "mlp-digits", "--chip", "tianjic", "--input", "{tmp}/nan.npy", "--quiet"], "nan.npy"),
    (["run", "mlp-digits", "--chip", "tianjic", "--mode", "train", "--quiet"], "--mode"),
    (["report", "{tmp}/functional.json"], "functional.json"),
    (["report", "{tmp}/text_energy.json"], "energy_pj"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, named):
    (tmp_path / "list.json").write_text("[1, 2]\n")
    np.save(tmp_path / "nan.npy", np.full((4, 64), np.nan))
    result_mod.write({"schema": result_mod.SCHEMA, "chip": None, "workload": "w", "family": "functional"},
                     tmp_path / "functional.json")
    result_mod.write({"schema": result_mod.SCHEMA, "chip": "c", "workload": "w", "energy_pj": "12"},
                     tmp_path / "text_energy.json")
    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE t (x)")
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert cli.main(argv) == 2
    assert named.format(tmp=tmp_path) in _error_line(capsys)


def test_report_leaves_a_foreign_database_untouched(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    for create in (False, True):
        with pytest.raises(UserError, match="not a result store"):
            ResultStore(path, create=create)
    with sqlite3.connect(path) as db:
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["t"]
    with pytest.raises(UserError, match="no such result store"):
        ResultStore(tmp_path / "missing.db", create=False)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = write_text_atomically(tmp_path / "sub" / "a.txt", "old")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_atomically(path, half_then_fail)
    assert path.read_text() == "old" and [p.name for p in path.parent.iterdir()] == ["a.txt"]
    with pytest.raises(UserError, match="cannot write"):
        write_text_atomically(path / "below-a-file.txt", "x")
