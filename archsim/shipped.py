"""Where the shipped configs live, and how a shipped name becomes a path.

The chip configs, technology tables, GPU configs and sweeps sit in ``chips/`` at the top of the source
tree. An editable install (or a run from the checkout) reads them there; a regular install copies them
to ``<prefix>/share/archsim/chips`` (``[options.data_files]`` in setup.cfg), and that copy is used
when the package has no checkout beside it.
"""
from __future__ import annotations

import site
import sys
import sysconfig
from pathlib import Path

INSTALLED_SUBDIR = Path("share") / "archsim" / "chips"
_MARKER = "tianjic.yaml"   # a file every chips/ folder holds


def find_chips_dir(checkout: Path, prefixes: list[str]) -> Path:
    """The checkout's ``chips/`` when it is there, else the first installed copy under ``prefixes``."""
    for folder in [checkout] + [Path(prefix) / INSTALLED_SUBDIR for prefix in prefixes if prefix]:
        if (folder / _MARKER).is_file():
            return folder
    return checkout   # nothing found: errors then name the folder a checkout would have


CHIPS_DIR = find_chips_dir(Path(__file__).resolve().parents[1] / "chips",
                           [sysconfig.get_path("data"), sys.prefix, getattr(site, "USER_BASE", None) or ""])
SWEEPS_DIR = CHIPS_DIR / "sweeps"


def chip_names() -> list[str]:
    """The shipped chip names, chips first then GPUs (``tianjic``, ..., ``gpu/v100``)."""
    return sorted(p.stem for p in CHIPS_DIR.glob("*.yaml")) + sorted(f"gpu/{p.stem}" for p in CHIPS_DIR.glob("gpu/*.yaml"))


def sweep_names() -> list[str]:
    """The shipped sweep names (``demo``, ``h2learn-lut``, ``tianjic-mesh``)."""
    return sorted(p.stem for p in SWEEPS_DIR.glob("*.yaml"))


def _shipped(folder: Path, spec: str, subfolders: tuple[str, ...]) -> Path | None:
    """``spec`` as a shipped name (with or without ``.yaml``, optionally under a subfolder), else None."""
    name = spec if spec.endswith((".yaml", ".yml")) else f"{spec}.yaml"
    for sub in subfolders:
        candidate = folder / sub / name
        if candidate.is_file():
            return candidate
    return None


def shipped_chip(spec: str) -> Path | None:
    """The path of shipped chip ``spec`` (``tianjic``, ``gpu/v100``, ``v100``; ``chips/tianjic.yaml``
    works too, so the checkout's paths keep working from any folder), else None."""
    spec = spec.removeprefix("chips/")
    return _shipped(CHIPS_DIR, spec, ("", "gpu"))


def shipped_sweep(spec: str) -> Path | None:
    """The path of shipped sweep ``spec`` (``h2learn-lut``, or ``chips/sweeps/h2learn-lut.yaml``), else None."""
    spec = spec.removeprefix("chips/").removeprefix("sweeps/")
    return _shipped(SWEEPS_DIR, spec, ("",))
