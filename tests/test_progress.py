"""Long stages print progress lines (stage, done / total, elapsed); short ones print nothing."""
from __future__ import annotations

import archsim.progress as progress_mod
from archsim.cli import main
from archsim.progress import Progress


def test_a_short_stage_says_nothing_and_a_long_one_counts_to_its_end(monkeypatch):
    lines = []
    quick = Progress(lines.append, "simulate", 4, "steps")
    for done in range(1, 5):
        quick.update(done)
    assert lines == []                                  # well within PROGRESS_AFTER_S
    monkeypatch.setattr(progress_mod, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(progress_mod, "PROGRESS_EVERY_S", 3600.0)
    slow = Progress(lines.append, "simulate", 4, "steps")
    for done in range(1, 5):
        slow.update(done)
    assert [line.split(",")[0] for line in lines] == ["simulate: 1 / 4 steps", "simulate: 4 / 4 steps"]
    assert lines[-1].endswith(" s")


def test_run_and_map_print_progress_of_long_stages(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(progress_mod, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(progress_mod, "PROGRESS_EVERY_S", 0.0)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "mlp-digits", "--chip", "tianjic", "--steps", "3", "--gpu", "none"]) == 0
    err = capsys.readouterr().err
    assert "simulate: 3 / 3 steps" in err and "map: cut: 2 / 2 layers" in err
    assert main(["map", "mlp-digits", "--chip", "loihi"]) == 0
    assert "map: cut: 2 / 2 layers" in capsys.readouterr().err
    assert main(["run", "mlp-digits", "--chip", "tianjic", "--steps", "3", "--gpu", "none", "--quiet"]) == 0
    assert "simulate:" not in capsys.readouterr().err
