"""Trace + chip -> Cost: action counts times energy per action, leakage over time, area per component.

Dynamic energy: for each component and action, count (from ``trace.actions``) x pJ per action (from
the component's estimator). Static energy: per component, leakage per instance x leaking instances x
``trace.latency_s``. A component with ``power_gated: true`` leaks only in the instances that did work:
``trace.active_units[component]`` when the Trace reports it (models must report every power-gated
component, 0 included), otherwise all ``count`` instances. Gating overheads (wake-up energy, retention)
are not modelled. Area: count x area per instance. Nothing here looks at a model: a stored Trace
(``Trace.from_dict``) re-costs to the same numbers.

Per layer: ``energy_by_layer_pj`` prices each layer's ``trace.actions_by_layer`` with the same energies
per action, plus a ``"shared"`` entry for the actions no layer owns (``trace.actions`` minus the sum over
layers: barriers and control, traffic of several layers at once); the entries sum to the dynamic
energy. A Trace without per-layer counts gets ``{}``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from archsim.config import Chip
from archsim.cost.components import Component, build_components
from archsim.cost.technology import load_technology
from archsim.errors import UserError
from archsim.trace import Trace

PJ_PER_MW_S = 1e9   # 1 mW for 1 s = 1 mJ = 1e9 pJ


@dataclass
class Cost:
    """Energy and area of one Trace on one chip; ``energy_pj`` = dynamic + static."""

    energy_pj: float
    dynamic_energy_pj: float
    static_energy_pj: float
    energy_breakdown_pj: dict[str, dict[str, float]]
    static_breakdown_pj: dict[str, float]
    area_mm2: float
    area_breakdown_mm2: dict[str, float]
    leakage_mw: float
    sources: dict[str, str] = field(default_factory=dict)
    technology: str = ""
    energy_by_layer_pj: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The cost as plain dicts (for JSON)."""
        return asdict(self)


def _check_trace(trace: Trace, components: dict[str, Component], chip: Chip) -> None:
    for name, actions in trace.actions.items():
        if name not in components:
            raise UserError(f"{chip.path}: components: trace component {name!r} is not in the chip config "
                            f"(allowed: {', '.join(components)})")
        allowed = components[name].actions
        for action in actions:
            if action not in allowed:
                raise UserError(f"{chip.path}: components.{name}: trace action {action!r} is not an action of "
                                f"class {components[name].component_class} (allowed: {', '.join(allowed)})")
    for name, active in trace.active_units.items():
        if name in components and not 0 <= active <= components[name].count:
            raise UserError(f"{chip.path}: components.{name}: trace active_units {active} is outside "
                            f"0..count {components[name].count}")


def shared_actions(trace: Trace) -> dict[str, dict[str, int]]:
    """The actions of ``trace`` that belong to no layer: ``actions`` minus the sum of ``actions_by_layer``.

    :class:`UserError` when the layers hold more of an action than the whole run (a broken Trace)."""
    shared = {component: dict(actions) for component, actions in trace.actions.items()}
    for layer, components in trace.actions_by_layer.items():
        for component, actions in components.items():
            for action, count in actions.items():
                left = shared.get(component, {}).get(action, 0) - count
                if left < 0:
                    raise UserError(f"trace: actions_by_layer.{layer}.{component}.{action}: {count} exceeds what "
                                    f"the run counted in actions (allowed: at most the run's total)")
                shared.setdefault(component, {})[action] = left
    return {c: {a: n for a, n in actions.items() if n} for c, actions in shared.items()
            if any(actions.values())}


def _energy_of(actions: dict[str, dict[str, int]], per_action_pj: dict[str, dict[str, float]]) -> float:
    """pJ of ``actions`` (component -> action -> count) at ``per_action_pj``'s prices."""
    return sum(count * per_action_pj[component][action]
               for component, counts in actions.items() for action, count in counts.items() if count)


def _energy_by_layer(trace: Trace, per_action_pj: dict[str, dict[str, float]]) -> dict[str, float]:
    """Dynamic pJ per layer (network order) plus ``"shared"``: together the run's dynamic energy."""
    if not trace.actions_by_layer:
        return {}
    energy = {layer: _energy_of(actions, per_action_pj) for layer, actions in trace.actions_by_layer.items()}
    energy["shared"] = _energy_of(shared_actions(trace), per_action_pj)
    return energy


def leaking_instances(component: Component, trace: Trace) -> int:
    """Instances that leak during the run: all of them, or the active ones when power-gated."""
    if component.power_gated and component.name in trace.active_units:
        return int(trace.active_units[component.name])
    return component.count


def evaluate(trace: Trace, chip: Chip) -> Cost:
    """The energy (dynamic + static) and area of ``trace`` on ``chip``, with a source for every figure."""
    tech = load_technology(chip)
    components = build_components(chip, tech)
    _check_trace(trace, components, chip)
    latency_s = trace.latency_s
    dynamic, static, area, sources, prices = {}, {}, {}, {}, {}
    leakage_total_mw = 0.0
    for name, comp in components.items():
        counts = trace.actions.get(name, {})
        per_action = {}
        for action in comp.actions:
            if action in counts:
                estimate = comp.estimator.energy_pj(action)
                prices.setdefault(name, {})[action] = estimate.value
                per_action[action] = counts[action] * estimate.value
                sources[f"{name}.{action}"] = estimate.source
        if per_action:
            dynamic[name] = per_action
        leak = comp.estimator.leakage_mw()
        leaking_mw = leak.value * leaking_instances(comp, trace)
        leakage_total_mw += leaking_mw
        static[name] = leaking_mw * latency_s * PJ_PER_MW_S
        sources[f"{name}.leakage"] = leak.source
        unit_area = comp.estimator.area_mm2()
        area[name] = comp.count * unit_area.value
        sources[f"{name}.area"] = unit_area.source
    dynamic_total = sum(sum(actions.values()) for actions in dynamic.values())
    static_total = sum(static.values())
    return Cost(energy_pj=dynamic_total + static_total, dynamic_energy_pj=dynamic_total,
                static_energy_pj=static_total, energy_breakdown_pj=dynamic, static_breakdown_pj=static,
                area_mm2=sum(area.values()), area_breakdown_mm2=area, leakage_mw=leakage_total_mw,
                sources=sources, technology=tech.describe(),
                energy_by_layer_pj=_energy_by_layer(trace, prices))
