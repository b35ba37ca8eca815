"""Shipped chips and sweeps: found by name from any folder, and installed by a regular install."""
import configparser
import glob
from pathlib import Path

import pytest

from archsim import shipped
from archsim.errors import UserError
from archsim.runner import resolve_chip
from archsim.sweep import load_sweep

ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_file_is_installed_by_setup_cfg():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    installed = set()
    for target, patterns in config["options.data_files"].items():
        assert target.startswith(str(shipped.INSTALLED_SUBDIR))
        for pattern in patterns.split():
            for name in glob.glob(str(ROOT / pattern)):
                installed.add(Path(target) / Path(name).name)
    on_disk = {shipped.INSTALLED_SUBDIR / p.relative_to(ROOT / "chips") for p in (ROOT / "chips").rglob("*")
               if p.is_file() and p.suffix == ".yaml"}
    assert on_disk and on_disk == installed


def test_installed_copy_is_found_without_a_checkout(tmp_path):
    installed = tmp_path / "prefix" / shipped.INSTALLED_SUBDIR
    installed.mkdir(parents=True)
    (installed / "tianjic.yaml").write_text("name: tianjic\n")
    assert shipped.find_chips_dir(tmp_path / "no-checkout" / "chips", ["", str(tmp_path / "prefix")]) == installed
    assert shipped.find_chips_dir(ROOT / "chips", [str(tmp_path / "prefix")]) == ROOT / "chips"


@pytest.mark.parametrize("name,chip", [("tianjic", "tianjic"), ("gpu/v100", "v100"), ("v100", "v100"),
                                       ("chips/h2learn.yaml", "h2learn"), ("loihi.yaml", "loihi")])
def test_chips_resolve_by_shipped_name_from_any_folder(tmp_path, monkeypatch, name, chip):
    monkeypatch.chdir(tmp_path)
    assert resolve_chip(name).name == chip


def test_unknown_chip_lists_the_shipped_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=r"no such chip config .*gpu/v100"):
        resolve_chip("tianjik")


def test_sweeps_resolve_by_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shipped.sweep_names() == ["compression", "demo", "h2learn-design", "h2learn-lut", "tianjic-mesh", "tianjic-pipeline"]
    assert load_sweep("h2learn-lut").path == ROOT / "chips" / "sweeps" / "h2learn-lut.yaml"
    assert load_sweep("chips/sweeps/demo.yaml").name == "demo-tianjic"
    with pytest.raises(UserError, match="no such sweep file .*tianjic-mesh"):
        load_sweep("nope")


def test_recost_refuses_another_micro_architecture_and_names_its_tables():
    from archsim import api

    result = api.run("mlp-digits", "tianjic", gpu=None, steps=2)
    with pytest.raises(UserError, match="tianjicx.*not the chip this result was simulated on"):
        api.recost(result, "tianjicx")
    node12 = resolve_chip("tianjic").with_overrides({"technology.node_nm": 12, "technology.table": "tech/12nm.yaml"})
    recosted = api.recost(result, node12)
    assert recosted["chip"] == "tianjic" and recosted["recosted_with"]["technology_table"] == "tech/12nm.yaml"
    assert recosted["energy_pj"] != result["energy_pj"] and recosted["cycles"] == result["cycles"]
