"""``archsim validate --quick``: every row runs, inputs are reproduced, predictions are reported (not asserted)."""
import json

import pytest

from archsim.cli import main
from archsim.validate.cases import CASES

REQUIRED_KEYS = {"name", "quantity", "published", "predicted", "error", "tolerance", "within_tolerance", "role",
                 "source"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("validation")
    assert main(["validate", "--quick", "--out", str(out)]) == 0
    return out, json.loads((out / "validation.json").read_text())["cases"]


def test_every_quick_case_runs_with_the_listed_keys(report):
    _, rows = report
    assert [r["name"] for r in rows] == [c.name for c in CASES if c.quick]
    for row in rows:
        assert REQUIRED_KEYS <= set(row)
        assert row["predicted"] is not None and row["predicted"] > 0, row
        assert row["role"] in ("input", "prediction") and row["source"]


def test_inputs_are_reproduced(report, capsys):
    _, rows = report
    inputs = [r for r in rows if r["role"] == "input"]
    assert inputs
    for row in inputs:
        assert row["within_tolerance"], row
    for row in rows:                      # predictions are reported, not asserted
        if row["role"] == "prediction":
            print(f"{row['name']}: predicted {row['predicted']:.4g} vs published {row['published']:.4g}")


def test_report_files_written(report):
    out, _ = report
    assert (out / "index.html").read_text().count("<tr>") == 1 + len([c for c in CASES if c.quick])
    assert (out / "summary.md").is_file() and (out / "predicted_vs_published.png").stat().st_size > 0


def test_unknown_case_is_exit_2(capsys):
    assert main(["validate", "--only", "no-such-case", "--out", "/tmp/unused"]) == 2
    assert "no-such-case" in capsys.readouterr().err
