"""``archsim validate --quick``: every case runs (or is skipped as slow), inputs are reproduced.

Predictions are reported in the table and validation.json, not asserted: how far off they land is the
finding, not a test failure.
"""
import json

import pytest

from archsim.cli import main
from archsim.validate import CASES


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("validation")
    assert main(["validate", "--quick", "--quiet", "--out", str(out)]) == 0
    return out, json.loads((out / "validation.json").read_text())["cases"]


def test_every_case_runs_or_is_skipped_as_slow(quick_report):
    _, rows = quick_report
    assert [row["name"] for row in rows] == [case.name for case in CASES]
    slow = {case.name for case in CASES if case.run.slow}
    for row in rows:
        assert row["status"] == ("skipped" if row["name"] in slow else "ran"), row
        if row["status"] == "ran":
            assert row["predicted"] is not None and row["predicted"] > 0
            assert row["error"] == pytest.approx((row["predicted"] - row["published"]) / row["published"])
        for key in ("quantity", "published", "tolerance", "within_tolerance", "role", "source"):
            assert key in row


def test_inputs_are_reproduced(quick_report):
    _, rows = quick_report
    inputs = [row for row in rows if row["role"] == "input"]
    assert len(inputs) >= 5
    for row in inputs:
        assert row["within_tolerance"], row


def test_report_files_and_figure(quick_report, capsys):
    out, rows = quick_report
    page = (out / "index.html").read_text()
    assert "validation.png" in page and all(row["name"] in page for row in rows)
    assert (out / "validation.png").stat().st_size > 1000
    assert "| tianjic-clock |" in (out / "summary.md").read_text()


def test_unknown_case_is_bad_input(capsys):
    assert main(["validate", "--only", "no-such-case"]) == 2
    err = capsys.readouterr().err
    assert "--only" in err and "tianjic-clock" in err and "\n" == err[-1] and err.count("\n") == 1
