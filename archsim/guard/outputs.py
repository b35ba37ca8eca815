"""Output paths checked before the work starts, so a long run never ends on an unwritable path and a
failed command leaves nothing at the paths it was given (the writes themselves are atomic:
:mod:`archsim.atomic`)."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from archsim.errors import UserError
from archsim.guard.text import quote


def check_output_file(path: str | Path | None, option: str) -> None:
    """Refuse an output file path that is a folder or lies under a file (``--out``, ``--save-outputs``...)."""
    if path is None:
        return
    text = _path_text(path, option)
    path = Path(text)
    try:
        if path.is_dir():
            raise UserError(f"{option}: {path} is a folder (allowed: a file path to write)")
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if parent.exists() and not parent.is_dir():
            raise UserError(f"{option}: {path}: {parent} is a file, not a folder (allowed: a path in a folder)")
        if parent.exists() and not os.access(parent, os.W_OK):
            raise UserError(f"{option}: {path}: folder {parent} is not writable (allowed: a writable path)")
        limit = os.pathconf(parent, "PC_NAME_MAX") if parent.exists() else 255
    except OSError as exc:                  # a name too long for the file system, a loop of links...
        raise UserError(f"{option}: {quote(text)}: {exc.strerror or type(exc).__name__} (allowed: a file path "
                        "to write)") from None
    long = [part for part in path.parts if len(os.fsencode(part)) > limit]
    if long:
        raise UserError(f"{option}: {quote(long[0])}: a name of {len(os.fsencode(long[0]))} bytes (allowed: at most "
                        f"{limit} bytes per name)")


def check_output_folder(path: str | Path | None, option: str) -> None:
    """Refuse an output folder path that is an existing file (``report --out``, ``demo --out``)."""
    if path is None:
        return
    path = Path(_path_text(path, option))
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as exc:
        raise UserError(f"{option}: {quote(str(path))}: {exc.strerror or type(exc).__name__} (allowed: a folder "
                        "to write into)") from None
    if exists and not is_dir:
        raise UserError(f"{option}: {path} is a file (allowed: a folder to write into)")
    check_output_file(path / "x" if exists else path, option)


def _path_text(path, option: str) -> str:
    """``path`` as text, refused when empty or holding a NUL (which no file system takes)."""
    text = os.fspath(path)
    if not text.strip():
        raise UserError(f"{option}: an empty path (allowed: a path to write)")
    if "\x00" in text:
        raise UserError(f"{option}: {quote(text)} holds a NUL character (allowed: a path to write)")
    return text


@contextlib.contextmanager
def removed_on_user_error(*paths: Path):
    """Remove those of ``paths`` that this block created when it ends in a UserError (a new result store
    and its SQLite side files, when the sweep is refused before its first point), so that a refused
    command leaves nothing behind; files that were there before are kept."""
    new = [Path(p) for p in paths if not Path(p).exists()]
    try:
        yield
    except UserError:
        for path in new:
            path.unlink(missing_ok=True)
        raise
