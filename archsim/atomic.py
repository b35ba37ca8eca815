"""Atomic file output: every file archsim writes appears whole or not at all.

A crash, a full disk or Ctrl-C in the middle of a write leaves either the old file or the new one,
never half of one: the data goes to a temporary file beside the target, which is then renamed over it
(``os.replace`` is atomic within one folder). A path that cannot be written is the user's error.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Callable

from archsim.errors import UserError


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over ``path``.

    Creates missing parent folders. Raises :class:`UserError` naming ``path`` when it cannot be written
    (a folder of that name, no permission, no space); the temporary file is removed on any failure.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder (allowed: a file path to write)")
    # A fresh name that ``write`` creates itself, so the file gets the usual permissions (umask).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise UserError(f"{path}: cannot write ({exc.strerror or exc}; allowed: a writable file path)") from None
    except BaseException:
        _remove(tmp)
        raise
    return path


def _remove(tmp: Path) -> None:
    """Delete a temporary file if it was created (its folder may not even exist)."""
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def write_text_atomically(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`write_atomically`."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
