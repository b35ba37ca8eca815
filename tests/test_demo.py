"""The demo end to end, as a new user runs it: every report it writes opens with every figure present."""
from archsim.demo import run_demo

from tests.test_report import check_report


def test_demo_writes_complete_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSIM_CACHE", str(tmp_path / "cache"))
    lines = []
    written = run_demo(tmp_path / "reports", log=lines.append, progress=False)
    assert any("training" in line for line in lines)          # a cold cache trains first
    assert any("chip better by" in line or "GPU better by" in line for line in lines)
    for name in ("tianjic report", "h2learn report", "sweep report"):
        html, refs = check_report(written[name].parent)
        assert len(refs) >= 3, name
    assert written["sweep store"].stat().st_size > 0
