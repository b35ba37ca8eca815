"""Short quotations of offending values, so an error line stays one short line."""
from __future__ import annotations

#: Characters of an offending value quoted in an error message (the rest is cut, with "...").
QUOTE_CHARS = 40
#: The longest error line the CLI prints (the error contract).
MESSAGE_CHARS = 300


def quote(value, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)``, cut to its first ``limit`` characters (plus "...") when longer."""
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails still gets named
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def one_line(message: str, limit: int = MESSAGE_CHARS) -> str:
    """``message`` on one line (whitespace runs collapsed), at most ``limit`` characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def key_path(parts) -> str:
    """A dotted key path (``core.neurons``, ``workloads[0].steps``) from a sequence of keys and indices."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"
