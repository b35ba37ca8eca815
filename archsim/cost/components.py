"""The ``components:`` block of a chip config: validated, with defaults, bound to their estimators.

The attribute specs live on the estimator classes (``archsim.cost.estimators``); this module checks a
config against them with one-line errors and builds one estimator per component. The same rules are
written as a JSON-schema fragment in ``archsim/config/schemas/common.yaml`` (``$defs``: ``technology``,
``components``, ``precision``, ``clock_mhz``) for family schemas to reference; :func:`schema_fragment`
returns it as a dict.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import yaml

from archsim.config import SCHEMA_DIR, Chip
from archsim.cost.estimators import COMMON_ATTRS, ESTIMATORS, Attr, Estimator
from archsim.cost.technology import Technology
from archsim.errors import UserError


@dataclass
class Component:
    """One entry of ``components:``: its name, class, how many, and its estimator."""

    name: str
    component_class: str
    count: int
    power_gated: bool
    estimator: Estimator

    @property
    def actions(self) -> tuple[str, ...]:
        return self.estimator.action_names()


def _check(value, spec: Attr, where: str):
    kind = spec.kind
    if isinstance(kind, tuple):
        if value not in kind:
            raise UserError(f"{where}: {value!r} is not allowed (allowed: {', '.join(kind)})")
        return value
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "count":
        if not (isinstance(value, int) and not isinstance(value, bool)) or value < 1:
            raise UserError(f"{where}: {value!r} is not allowed (allowed: an integer >= 1)")
    elif kind in ("positive", "nonneg"):
        if not is_number or not math.isfinite(value) or value < 0 or (kind == "positive" and value == 0):
            raise UserError(f"{where}: {value!r} is not allowed (allowed: a number {'>' if kind == 'positive' else '>='} 0)")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise UserError(f"{where}: {value!r} is not allowed (allowed: true, false)")
    elif kind == "text":
        if not isinstance(value, str) or not value.strip():
            raise UserError(f"{where}: {value!r} is not allowed (allowed: a non-empty string)")
    elif kind == "mapping":
        if not isinstance(value, dict) or not value or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                for v in value.values()):
            raise UserError(f"{where}: expected a mapping of action -> pJ (numbers >= 0)")
    return value


def component_attributes(name: str, spec: dict, source: str) -> tuple[type[Estimator], dict]:
    """Validate one component's mapping; returns its estimator class and attributes with defaults."""
    where = f"{source}: components.{name}"
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected a mapping with a class")
    cls_name = spec.get("class")
    if cls_name not in ESTIMATORS:
        raise UserError(f"{where}.class: {cls_name!r} is not allowed (allowed: {', '.join(ESTIMATORS)})")
    cls = ESTIMATORS[cls_name]
    allowed = {**COMMON_ATTRS, **cls.attributes}
    unknown = sorted(set(spec) - set(allowed) - {"class"})
    if unknown:
        raise UserError(f"{where}.{unknown[0]}: unknown attribute for class {cls_name} "
                        f"(allowed: {', '.join(sorted(allowed))})")
    attrs = {}
    for key, attr in allowed.items():
        if key in spec:
            attrs[key] = _check(spec[key], attr, f"{where}.{key}")
        elif attr.required:
            raise UserError(f"{where}.{key}: required for class {cls_name}")
        else:
            attrs[key] = attr.default
    return cls, attrs


def build_components(chip: Chip, tech: Technology) -> dict[str, Component]:
    """Every component of ``chip`` with its estimator, in config order."""
    block = chip.params.get("components")
    if not isinstance(block, dict) or not block:
        raise UserError(f"{chip.path}: components: required (a mapping of name -> {{class, attributes}})")
    built = {}
    for name, spec in block.items():
        cls, attrs = component_attributes(name, spec, str(chip.path))
        built[name] = Component(name=name, component_class=cls.component_class, count=attrs["count"],
                                power_gated=attrs["power_gated"], estimator=cls(name, attrs, tech))
    return built


@lru_cache(maxsize=None)
def _common() -> dict:
    return yaml.safe_load((SCHEMA_DIR / "common.yaml").read_text())


def schema_fragment() -> dict:
    """JSON-schema ``$defs`` for ``technology``, ``components``, ``precision`` and ``clock_mhz``.

    A family schema can paste these under its own ``$defs`` in Python, or reference them as
    ``{$ref: "common.yaml#/$defs/components"}`` once the config loader resolves schema files.
    """
    return _common()["$defs"]
