"""Output paths checked before the work starts, so a long run never ends on an unwritable path and a
failed command leaves nothing at the paths it was given (the writes themselves are atomic:
:mod:`archsim.atomic`)."""
from __future__ import annotations

import os
from pathlib import Path

from archsim.errors import UserError


def check_output_file(path: str | Path | None, option: str) -> None:
    """Refuse an output file path that is a folder or lies under a file (``--out``, ``--save-outputs``...)."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{option}: {path} is a folder (allowed: a file path to write)")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"{option}: {path}: {parent} is a file, not a folder (allowed: a path in a folder)")
    if parent.exists() and not os.access(parent, os.W_OK):
        raise UserError(f"{option}: {path}: folder {parent} is not writable (allowed: a writable path)")


def check_output_folder(path: str | Path | None, option: str) -> None:
    """Refuse an output folder path that is an existing file (``report --out``, ``demo --out``)."""
    if path is None:
        return
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option}: {path} is a file (allowed: a folder to write into)")
    check_output_file(path / "x", option) if path.exists() else check_output_file(path, option)
