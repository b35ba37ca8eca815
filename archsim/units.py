"""Formatting quantities with SI prefixes for people (outputs stay in SI base units)."""
from __future__ import annotations

import math

_PREFIXES = [(1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "u"), (1e-3, "m"), (1.0, ""), (1e3, "k"),
             (1e6, "M"), (1e9, "G"), (1e12, "T")]


def format_quantity(value: float, unit: str) -> str:
    """``format_quantity(0.00123, "s") == "1.23 ms"``; picojoules are shown as joules with a prefix."""
    if value is None or not math.isfinite(value):
        return "-"
    if unit == "pJ":
        value, unit = value * 1e-12, "J"
    if unit not in ("s", "J", "W"):
        return f"{value:,.0f} {unit}" if abs(value) >= 1000 else f"{value:.4g} {unit}"
    if value == 0:
        return f"0 {unit}"
    scale, prefix = _PREFIXES[0]
    for s, p in _PREFIXES:
        if abs(value) >= s:
            scale, prefix = s, p
    return f"{value / scale:.3g} {prefix}{unit}"


def count_of(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with its noun in the right number and thousands separators: "1 core", "4,700 cores"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
