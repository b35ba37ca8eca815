"""JSON read safely: size, encoding and nesting limited; NaN and Infinity (which Python's json accepts
but JSON does not have) refused."""
from __future__ import annotations

import json
from pathlib import Path

from archsim.errors import UserError
from archsim.guard.limits import JSON_MAX_BYTES, JSON_MAX_DEPTH
from archsim.guard.yaml_files import check_finite, decode_utf8, read_bytes


def load_json(path: str | Path, what: str = "JSON file"):
    """The JSON value in ``path``; a UserError naming the file for anything that is not strict JSON."""
    path = Path(path)
    text = decode_utf8(path, read_bytes(path, JSON_MAX_BYTES, what), what)
    return parse_json(text, str(path), what)


def parse_json(text: str, source: str, what: str = "JSON document"):
    """Parse JSON ``text`` (from ``source``, for the messages) with the same checks as :func:`load_json`."""
    def refuse(constant):
        raise UserError(f"{source}: {constant} is not allowed (allowed: finite numbers; a {what})")

    try:
        data = json.loads(text, parse_constant=refuse)
    except ValueError as exc:
        raise UserError(f"{source}: not valid JSON: {str(exc).splitlines()[0][:100]} (allowed: a {what})") from None
    except RecursionError:
        raise UserError(f"{source}: nested too deeply (allowed: a {what})") from None
    if _depth_exceeds(data, JSON_MAX_DEPTH):
        raise UserError(f"{source}: nested more than {JSON_MAX_DEPTH} levels deep (allowed: a {what})")
    check_finite(source, data)   # 1e999 parses as inf
    return data


def _depth_exceeds(data, limit: int) -> bool:
    """Whether lists and objects in parsed ``data`` nest deeper than ``limit`` (an iterative walk)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return False
