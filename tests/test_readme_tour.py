"""The README's hand-driven tour, run verbatim from an empty folder: every line must work as written."""
import re
import shlex
from pathlib import Path

import pytest

from archsim.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def tour_commands() -> list[list[str]]:
    """The ``archsim`` lines of the code block after "The same steps by hand:", comments dropped."""
    text = README.read_text()
    block = re.search(r"The same steps by hand:\s*```\n(.*?)```", text, re.S)
    assert block, "README: the tour's code block is missing"
    commands = [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.strip()]
    assert commands and all(c[0] == "archsim" for c in commands)
    return [c[1:] for c in commands]


def test_readme_tour_runs_verbatim_from_an_empty_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for argv in tour_commands():
        assert main(argv) == 0, f"archsim {' '.join(argv)}"
    out = capsys.readouterr().out
    for made in ("mlp.nir", "mlp.mapping.yaml", "tianjic.json", "h2learn.json", "reports/tianjic/index.html",
                 "demo.db", "demo.csv", "reports/sweep/index.html"):
        assert (tmp_path / made).is_file(), made
    assert "wrote result tianjic.json" in out
    assert not (README.parent / "chips" / "sweeps" / "demo.db").exists()


def test_version_and_every_option_has_help(capsys):
    from archsim.cli import _parser

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("archsim 0.")
    parser = _parser()
    verbs = next(a for a in parser._actions if a.dest == "verb").choices
    for verb, sub in verbs.items():
        for action in sub._actions:
            if action.dest == "help":
                continue
            assert action.help, f"archsim {verb} {action.option_strings or action.dest}: no help text"
            if action.option_strings and action.default not in (None, False):
                assert "default" in action.help, f"archsim {verb} {action.option_strings}: default not said"


def test_quiet_still_prints_the_result_and_functional_runs_say_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "mlp-digits", "--precision", "float", "--steps", "2", "--quiet", "--save-outputs", "y"]) == 0
    out = capsys.readouterr().out
    assert "None" not in out and "functional run" in out and "spikes" in out
    assert "wrote outputs y.npy (shape 2x1x10)" in out and (tmp_path / "y.npy").is_file()
