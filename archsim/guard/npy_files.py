"""``.npy`` arrays read safely: the header is read and checked before the data.

``np.load`` on a damaged file fails in many ways (EOFError on an empty file, a ValueError deep in the
header parser, a silent short read on a truncated one, or it builds objects with pickle). Here the
magic string and header are read first; the dtype must be a plain number or boolean (never an object,
a structure, a string or complex), the shape must hold at most ``max_elements`` elements, and the file
must be exactly as long as its header says; then the data is read with ``allow_pickle=False`` and
NaN or infinite values are refused.
"""
from __future__ import annotations

import tokenize
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from archsim.errors import UserError

#: Most elements an input array may hold before it is read (2**31: 16 GiB of float64; the memory
#: estimate of the run then decides whether this machine can take it).
NPY_MAX_ELEMENTS = 2**31


def read_header(path: str | Path, expected: str) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """``(shape, dtype, fortran_order, data_offset)`` of a ``.npy`` file, checked against its length.

    ``expected`` says what the caller wants ("shape (T, 4) or (T, B, 4)"), for the messages.
    """
    path = Path(path)
    allowed = f"allowed: a .npy array of {expected}"
    try:
        if path.is_dir():
            raise UserError(f"{path}: is a folder ({allowed})")
        size = path.stat().st_size
        with open(path, "rb") as f:
            if size == 0:
                raise UserError(f"{path}: empty file ({allowed})")
            try:
                version = npy_format.read_magic(f)
            except ValueError:
                raise UserError(f"{path}: not a .npy file (no NumPy magic string; {allowed})") from None
            try:
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(f, max_header_size=2**16)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = npy_format.read_array_header_2_0(f, max_header_size=2**16)
                else:
                    raise ValueError(f"format version {version}")
            except (ValueError, SyntaxError, TypeError, OverflowError, EOFError, tokenize.TokenError) as exc:
                detail = " ".join(str(exc).split())[:80] or type(exc).__name__
                raise UserError(f"{path}: damaged .npy header ({detail}; {allowed})") from None
            offset = f.tell()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise UserError(f"{path}: no such file ({allowed})") from None
        raise UserError(f"{path}: cannot read: {exc.strerror or type(exc).__name__} ({allowed})") from None
    _check_dtype(path, dtype, allowed)
    if any(int(s) < 0 for s in shape):
        raise UserError(f"{path}: shape {shape} has a negative size ({allowed})")
    elements = 1
    for s in shape:
        elements *= int(s)
    if elements > NPY_MAX_ELEMENTS:
        raise UserError(f"{path}: shape {shape} holds {elements:,} elements (allowed: at most {NPY_MAX_ELEMENTS:,})")
    if size - offset != elements * dtype.itemsize:
        raise UserError(f"{path}: truncated or padded: {size - offset:,} bytes of data but shape {shape} of "
                        f"{dtype} needs {elements * dtype.itemsize:,} ({allowed})")
    return tuple(int(s) for s in shape), dtype, bool(fortran), offset


def _check_dtype(path: Path, dtype: np.dtype, allowed: str) -> None:
    if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None:
        raise UserError(f"{path}: dtype {str(dtype)[:40]} (allowed: plain numbers or booleans; {allowed})")
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating) or dtype == np.bool_):
        raise UserError(f"{path}: dtype {str(dtype)[:40]} (allowed: real numbers or booleans; {allowed})")


def load_npy(path: str | Path, expected: str) -> np.ndarray:
    """The array in ``path``, header-checked (:func:`read_header`), with NaN and infinity refused."""
    read_header(path, expected)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"{path}: not a readable .npy array ({' '.join(str(exc).split())[:80]}; "
                        f"allowed: a .npy array of {expected})") from None
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            bad = int(array.size - np.count_nonzero(finite))
            first = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise UserError(f"{path}: {bad} values are NaN or infinite, the first at index {first} "
                            f"({array[first]!r}; allowed: finite numbers)")
    return array
