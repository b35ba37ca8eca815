"""Technology tables: loading, overrides and voltage scaling.

A table (``chips/tech/<node>nm.yaml``, schema ``archsim/config/schemas/technology.yaml``) maps entry
names to ``{value, source}`` at the table's nominal voltage. Entry names carry their unit:
``*_pj*`` energy per action, ``*_um2*`` / ``*_mm2*`` area, ``*_mw*`` leakage power, ``*_mm*`` length;
``*_exponent`` entries are dimensionless fit exponents.

A chip picks its table under ``technology:``::

    technology:
      node_nm: 28
      voltage_v: 0.9
      table: tech/28nm.yaml        # optional; default: the shipped table for node_nm
      overrides:                   # optional; any entry, as a number or {value, source}
        mult_int8_pj: 0.09
        sram_read_pj_per_bit_at_1kb: {value: 0.03, source: "our 28 nm macro datasheet"}

``table`` is looked up next to the chip file first, then in the shipped ``chips/`` folder. A user
table may be complete, or name a ``base:`` table (``base: tech/28nm.yaml``) and list only what differs.
Voltage (first-order rule, documented assumption): dynamic energy scales as (V / V_nominal)^2,
leakage power as V / V_nominal (leakage current taken as constant); areas do not change.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from archsim.config import Chip, read_yaml, validate
from archsim.errors import UserError

from archsim.shipped import CHIPS_DIR

TECH_DIR = CHIPS_DIR / "tech"


@dataclass(frozen=True)
class Entry:
    """One table value and its source (a paper, a model, or 'assumption')."""

    value: float
    source: str


@dataclass
class Technology:
    """A technology table with a chip's overrides applied, at the chip's operating voltage."""

    node_nm: float
    nominal_voltage_v: float
    voltage_v: float
    entries: dict[str, Entry] = field(repr=False)
    path: str = ""

    @property
    def dynamic_scale(self) -> float:
        """Factor on every dynamic energy: (V / V_nominal)^2."""
        return (self.voltage_v / self.nominal_voltage_v) ** 2

    @property
    def leakage_scale(self) -> float:
        """Factor on every leakage power: V / V_nominal."""
        return self.voltage_v / self.nominal_voltage_v

    def entry(self, name: str) -> Entry:
        """The entry ``name``; a UserError naming the table when it is missing."""
        try:
            return self.entries[name]
        except KeyError:
            raise UserError(f"{self.path}: entries.{name}: missing from the technology table "
                            f"(add it to the table or to technology.overrides)") from None

    def value(self, name: str) -> float:
        """The raw table value (no voltage scaling): areas, lengths, exponents."""
        return self.entry(name).value

    def names_matching(self, prefix: str, suffix: str) -> dict[int, str]:
        """Entries ``<prefix><int><suffix>`` as {int: name}, e.g. ``add_int`` + ``_pj`` -> widths."""
        found = {}
        for name in self.entries:
            if name.startswith(prefix) and name.endswith(suffix):
                middle = name[len(prefix):len(name) - len(suffix)]
                if middle.isdigit():
                    found[int(middle)] = name
        return dict(sorted(found.items()))

    def cite(self, names) -> str:
        """'name=value (source)' for each entry used, for a result's sources."""
        return "; ".join(f"{n}={self.entries[n].value:.6g} ({self.entries[n].source})" for n in dict.fromkeys(names))

    def describe(self) -> str:
        """'path (node, voltage of nominal)' for a result's sources."""
        return f"{self.path} ({self.node_nm:g} nm, {self.voltage_v:g} V of nominal {self.nominal_voltage_v:g} V)"


def _is_signed(name: str) -> bool:
    return name.endswith("_exponent")


@lru_cache(maxsize=64)
def _read_table(path: str, mtime_ns: int) -> tuple:
    """(node_nm, nominal voltage, entries) of a table file; ``mtime_ns`` is only part of the cache key,
    so an edited table is read again."""
    data = read_yaml(path)
    validate(data, "technology", path)
    entries = {}
    if "base" in data:
        base = _find(Path(path).parent, data["base"], f"{path}: base")
        base_node, _, entries = read_table(base)
        if not math.isclose(base_node, float(data["node_nm"])):
            raise UserError(f"{path}: base: {data['base']!r} is for {base_node:g} nm, not {data['node_nm']!r} nm")
    for name, item in data["entries"].items():
        value = float(item["value"])
        if not math.isfinite(value) or (value <= 0 and not _is_signed(name)):
            allowed = "a finite number" if _is_signed(name) else "a finite number > 0"
            raise UserError(f"{path}: entries.{name}.value: {item['value']!r} is not allowed (allowed: {allowed})")
        entries[name] = Entry(value, str(item["source"]))
    return float(data["node_nm"]), float(data["voltage_v"]), entries


def read_table(path: str | Path) -> tuple[float, float, dict[str, Entry]]:
    """(node_nm, nominal voltage, entries) of a table file, validated; cached while the file is unchanged."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise UserError(f"{path}: cannot read the technology table") from None
    node, voltage, entries = _read_table(str(path), mtime)
    return node, voltage, dict(entries)


def table_path(chip: Chip) -> Path:
    """Where a chip's technology table is: ``technology.table`` or the shipped table for its node."""
    tech = chip.params.get("technology") or {}
    node = tech.get("node_nm")
    named = tech.get("table")
    if named is None:
        shipped = TECH_DIR / f"{node:g}nm.yaml" if isinstance(node, (int, float)) else None
        if shipped is None or not shipped.exists():
            nodes = ", ".join(sorted((p.stem for p in TECH_DIR.glob("*nm.yaml")), key=lambda s: int(s[:-2])))
            raise UserError(f"{chip.path}: technology.node_nm: {node!r} has no shipped table "
                            f"(allowed: {nodes}, or name one with technology.table)")
        return shipped
    return _find(chip.path.parent, named, f"{chip.path}: technology.table")


def _find(folder: Path, named: str, where: str) -> Path:
    """A table path relative to ``folder``, else to the shipped ``chips/`` folder."""
    for candidate in ((folder / named).resolve(), (CHIPS_DIR / named).resolve()):
        if candidate.exists():
            return candidate
    raise UserError(f"{where}: {named!r} not found in {folder} or {CHIPS_DIR}")


def _override_entry(chip: Chip, name: str, item) -> Entry:
    where = f"{chip.path}: technology.overrides.{name}"
    if isinstance(item, dict):
        if set(item) - {"value", "source"} or "value" not in item:
            raise UserError(f"{where}: expected a number or {{value, source}}")
        value, source = item["value"], str(item.get("source", f"override in {chip.path}"))
    else:
        value, source = item, f"override in {chip.path}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (value <= 0 and not _is_signed(name)):
        raise UserError(f"{where}: {value!r} is not allowed (allowed: a finite number > 0)")
    return Entry(float(value), source)


def load_technology(chip: Chip) -> Technology:
    """The chip's technology table with ``technology.overrides`` applied, at ``technology.voltage_v``."""
    tech = chip.params.get("technology")
    if not isinstance(tech, dict) or "node_nm" not in tech:
        raise UserError(f"{chip.path}: technology.node_nm: required key is missing")
    path = table_path(chip)
    node, nominal_v, entries = read_table(path)
    if not math.isclose(node, float(tech["node_nm"])):
        raise UserError(f"{chip.path}: technology.node_nm: {tech['node_nm']!r} but table {path} is for "
                        f"{node:g} nm (allowed: the table's node)")
    overrides = tech.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise UserError(f"{chip.path}: technology.overrides: expected a mapping of table entries")
    for name, item in overrides.items():
        if name not in entries:
            close = [n for n in entries if n.split("_")[0] == str(name).split("_")[0]] or list(entries)
            raise UserError(f"{chip.path}: technology.overrides.{name}: no such table entry "
                            f"(allowed: {', '.join(close[:12])}{', ...' if len(close) > 12 else ''})")
        entries[name] = _override_entry(chip, name, item)
    voltage = tech.get("voltage_v", nominal_v)
    if isinstance(voltage, bool) or not isinstance(voltage, (int, float)) or voltage <= 0:
        raise UserError(f"{chip.path}: technology.voltage_v: {voltage!r} is not allowed (allowed: > 0)")
    shown = str(path.relative_to(CHIPS_DIR)) if path.is_relative_to(CHIPS_DIR) else str(path)
    return Technology(node_nm=node, nominal_voltage_v=nominal_v, voltage_v=float(voltage), entries=entries,
                      path=shown)
