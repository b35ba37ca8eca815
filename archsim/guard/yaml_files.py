"""YAML read safely: size, encoding, nesting depth and alias expansion checked before construction.

PyYAML's ``safe_load`` builds only plain types, but it still reads any size, decodes any bytes, and
lets a few lines of aliases stand for billions of nodes (each later walk of the data, a schema check or
a deep copy, then runs for ever). Here the document is composed into nodes first; its depth and its
size with every alias expanded are counted on the node graph (each shared node once, so the count
itself is linear), and only then are Python objects built. NaN is refused anywhere, and so is
infinity: no config key takes an infinite number.
"""
from __future__ import annotations

import math
from pathlib import Path

import yaml

from archsim.errors import UserError
from archsim.guard.limits import YAML_MAX_BYTES, YAML_MAX_DEPTH, YAML_MAX_EXPANDED_NODES
from archsim.guard.text import key_path, quote


def read_bytes(path: Path, max_bytes: int, what: str) -> bytes:
    """The bytes of ``path``, refused when it is missing, a folder or larger than ``max_bytes``."""
    try:
        if path.is_dir():
            raise UserError(f"{path}: is a folder (allowed: a {what} file)")
        size = path.stat().st_size
        if size > max_bytes:
            raise UserError(f"{path}: {size:,} bytes (allowed: a {what} of at most {max_bytes:,} bytes)")
        return path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or type(exc).__name__} (allowed: a readable {what} file)") from None


def decode_utf8(path: Path, data: bytes, what: str) -> str:
    """``data`` as UTF-8 text (a BOM allowed), or a UserError naming the first bad byte's position."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise UserError(f"{path}: not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} "
                        f"(allowed: a {what} encoded in UTF-8)") from None


def load_yaml(path: str | Path, what: str = "YAML file"):
    """Parse the one YAML document in ``path`` into plain Python values, within the limits."""
    path = Path(path)
    text = decode_utf8(path, read_bytes(path, YAML_MAX_BYTES, what), what)
    if "\x00" in text:
        raise UserError(f"{path}: holds a NUL character (allowed: a {what} in plain text)")
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_shape(path, node)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path}: not valid YAML{where}: {problem} (allowed: one YAML document)") from None
    except RecursionError:
        raise UserError(f"{path}: nested too deeply to read (allowed: at most {YAML_MAX_DEPTH} levels)") from None
    except (TypeError, ValueError, OverflowError) as exc:   # e.g. an unhashable key (a list as a key)
        raise UserError(f"{path}: not valid YAML: {type(exc).__name__}: {quote(str(exc), 80)} "
                        "(allowed: plain keys and values)") from None
    finally:
        if loader is not None:
            loader.dispose()
    check_finite(path, data)
    return data


def _check_shape(path: Path, root: yaml.Node) -> None:
    """Refuse nesting deeper than the limit and documents that expand beyond the node limit."""
    expanded: dict[int, int] = {}
    # Iterative post-order walk: the depth limit bounds the stack, the memo makes shared nodes count once.
    stack = [(root, 1, False)]
    on_path: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = _children(node)
            total = 1 + sum(expanded[id(c)] for c in children)
            expanded[key] = total
            if total > YAML_MAX_EXPANDED_NODES:
                raise UserError(f"{path}: aliases expand to more than {YAML_MAX_EXPANDED_NODES:,} values "
                                f"(line {node.start_mark.line + 1}; allowed: a document of at most that many values)")
            continue
        if key in expanded:
            continue
        if key in on_path:
            raise UserError(f"{path}: a recursive alias at line {node.start_mark.line + 1} (allowed: aliases "
                            "to complete values)")
        if depth > YAML_MAX_DEPTH:
            raise UserError(f"{path}: nested more than {YAML_MAX_DEPTH} levels deep at line "
                            f"{node.start_mark.line + 1} (allowed: at most {YAML_MAX_DEPTH})")
        on_path.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            if id(child) not in expanded:
                stack.append((child, depth + 1, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def check_finite(path, data, where=()) -> None:
    """Refuse NaN and infinity anywhere in plain loaded data, naming the key."""
    stack = [(data, tuple(where))]
    while stack:
        value, keys = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{path}: {key_path(keys)}: {value!r} is not allowed (allowed: a finite number)")
        if isinstance(value, dict):
            stack.extend((v, keys + (k,)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, keys + (i,)) for i, v in enumerate(value))
