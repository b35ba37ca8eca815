"""Energy and Area Reference Tables of a chip, for reports: every figure with where it came from.

``energy_reference_table(chip)`` lists pJ per action for every component and action,
``area_reference_table(chip)`` mm^2 and mW per instance and in total; ``format_reference_tables``
renders both as Markdown.
"""
from __future__ import annotations

from dataclasses import dataclass

from archsim.config import Chip
from archsim.cost.components import build_components
from archsim.cost.technology import load_technology


@dataclass
class EnergyRow:
    """One line of the energy table: pJ per action of one component instance, with its source."""

    component: str
    component_class: str
    action: str
    energy_pj: float
    source: str


@dataclass
class AreaRow:
    """One line of the area table: one component's area and leakage, each and in total, with sources."""

    component: str
    component_class: str
    count: int
    area_mm2_each: float
    area_mm2_total: float
    leakage_mw_each: float
    area_source: str
    leakage_source: str


def energy_reference_table(chip: Chip) -> list[EnergyRow]:
    """pJ per action of every component and action of ``chip`` (at its voltage), with sources."""
    components = build_components(chip, load_technology(chip))
    return [EnergyRow(c.name, c.component_class, action, est.value, est.source)
            for c in components.values() for action in c.actions
            for est in [c.estimator.energy_pj(action)]]


def area_reference_table(chip: Chip) -> list[AreaRow]:
    """mm^2 and leakage mW of every component of ``chip``, per instance and in total, with sources."""
    components = build_components(chip, load_technology(chip))
    rows = []
    for c in components.values():
        area, leak = c.estimator.area_mm2(), c.estimator.leakage_mw()
        rows.append(AreaRow(c.name, c.component_class, c.count, area.value, c.count * area.value, leak.value,
                            area.source, leak.source))
    return rows


def format_reference_tables(chip: Chip) -> str:
    """Both tables as Markdown, headed by the technology table in use."""
    tech = load_technology(chip)
    lines = [f"## Energy reference table: {chip.name} ({tech.describe()})", "",
             "| component | class | action | pJ | source |", "|---|---|---|---|---|"]
    lines += [f"| {r.component} | {r.component_class} | {r.action} | {r.energy_pj:.4g} | {r.source} |"
              for r in energy_reference_table(chip)]
    rows = area_reference_table(chip)
    lines += ["", f"## Area reference table: {chip.name}", "",
              "| component | class | count | mm^2 each | mm^2 total | leakage mW each | area source |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.component} | {r.component_class} | {r.count} | {r.area_mm2_each:.4g} | {r.area_mm2_total:.4g} "
              f"| {r.leakage_mw_each:.4g} | {r.area_source} |" for r in rows]
    total = sum(r.area_mm2_total for r in rows)
    lines += [f"| total | | | | {total:.4g} | | |"]
    return "\n".join(lines) + "\n"
