"""Energy and area from action counts (the Accelergy habit).

``evaluate(trace, chip) -> Cost``: a Trace's action counts times the energy per action of each
component (estimators per component class, filled from a technology table), plus leakage over the
run's latency, plus area per component; per layer where the Trace counts per layer, the rest
``shared`` (``shared_actions(trace)``). ``load_technology(chip)`` gives the table in use with the chip's
overrides. ``energy_reference_table`` / ``area_reference_table`` / ``format_reference_tables`` list
where every figure comes from. Component classes and attributes: ``archsim.cost.estimators``.
"""
from archsim.cost.components import build_components, schema_fragment
from archsim.cost.estimators import ESTIMATORS, Estimate
from archsim.cost.evaluate import Cost, evaluate, shared_actions
from archsim.cost.reference import area_reference_table, energy_reference_table, format_reference_tables
from archsim.cost.technology import Technology, load_technology

__all__ = ["Cost", "ESTIMATORS", "Estimate", "Technology", "area_reference_table", "build_components",
           "energy_reference_table", "evaluate", "format_reference_tables", "load_technology",
           "schema_fragment", "shared_actions"]
