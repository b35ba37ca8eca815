"""Metrics read from a RESULT dict, constraints on them, and the Pareto front of a set of points.

A sweep names its objectives (``latency_s``, ``energy_pj``, ``area_mm2``, ``edp``...) and optional
constraints (``{metric: area_mm2, max: 50}``); this module turns a stored result into those numbers.
It reads RESULT dicts only, so the report uses it as well.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Metric:
    """A number derived from a RESULT dict: its unit, the usual goal and how to read it."""

    name: str
    unit: str
    goal: str  # "min" or "max"
    read: Callable[[dict], float | None]
    label: str


def _key(name: str) -> Callable[[dict], float | None]:
    return lambda result: result.get(name)


def _vs_gpu(name: str) -> Callable[[dict], float | None]:
    return lambda result: (result.get("vs_gpu") or {}).get(name)


def _edp(result: dict) -> float | None:
    if result.get("energy_pj") is None or result.get("latency_s") is None:
        return None
    return result["energy_pj"] * result["latency_s"]


def _energy_per_sample(result: dict) -> float | None:
    if result.get("energy_pj") is None or not result.get("batch"):
        return None
    return result["energy_pj"] / result["batch"]


def _accuracy(result: dict) -> float | None:
    return (result.get("accuracy") or {}).get("value")


def _cores_used(result: dict) -> float | None:
    return ((result.get("trace") or {}).get("details") or {}).get("cores_used")


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("latency_s", "s", "min", _key("latency_s"), "latency"),
        Metric("energy_pj", "pJ", "min", _key("energy_pj"), "energy"),
        Metric("area_mm2", "mm²", "min", _key("area_mm2"), "area"),
        Metric("edp", "pJ·s", "min", _edp, "energy-delay product"),
        Metric("throughput_samples_per_s", "samples/s", "max", _key("throughput_samples_per_s"), "throughput"),
        Metric("energy_per_sample_pj", "pJ", "min", _energy_per_sample, "energy per sample"),
        Metric("static_energy_pj", "pJ", "min", _key("static_energy_pj"), "static energy"),
        Metric("energy_per_synaptic_op_pj", "pJ", "min", _key("energy_per_synaptic_op_pj"), "energy per synaptic op"),
        Metric("cycles", "cycles", "min", _key("cycles"), "cycles"),
        Metric("synaptic_ops", "ops", "max", _key("synaptic_ops"), "synaptic ops"),
        Metric("spikes", "spikes", "min", _key("spikes"), "spikes"),
        Metric("accuracy", "fraction", "max", _accuracy, "test accuracy"),
        Metric("cores_used", "cores", "min", _cores_used, "cores used"),
        Metric("speedup_vs_gpu", "×", "max", _vs_gpu("speedup"), "speed-up over the GPU"),
        Metric("energy_saving_vs_gpu", "×", "max", _vs_gpu("energy_saving"), "energy saving over the GPU"),
        Metric("area_saving_vs_gpu", "×", "max", _vs_gpu("area_saving"), "area saving over the GPU"),
    )
}


@dataclass(frozen=True)
class Objective:
    """A metric to minimise or maximise."""

    name: str
    goal: str  # "min" or "max"

    @property
    def metric(self) -> Metric:
        return METRICS[self.name]


@dataclass(frozen=True)
class Constraint:
    metric: str
    min: float | None = None
    max: float | None = None

    def holds(self, result: dict) -> bool:
        value = metric_value(result, self.metric)
        if value is None:
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        unit = METRICS[self.metric].unit
        parts = []
        if self.min is not None:
            parts.append(f"{self.metric} >= {self.min:g} {unit}")
        if self.max is not None:
            parts.append(f"{self.metric} <= {self.max:g} {unit}")
        return " and ".join(parts)


def metric_value(result: dict, name: str) -> float | None:
    """The metric ``name`` of a result as a float, or None when the result lacks it."""
    value = METRICS[name].read(result)
    return None if value is None else float(value)


def feasible(result: dict, constraints: list[Constraint]) -> bool:
    return all(c.holds(result) for c in constraints)


def pareto_front(values: list[list[float]], goals: list[str]) -> list[int]:
    """Indices of the non-dominated rows of ``values`` (one column per objective, goal min or max).

    A row is dominated when another is no worse in every objective and better in one. Rows that
    tie exactly in every objective are all kept.
    """
    signed = [[v if g == "min" else -v for v, g in zip(row, goals)] for row in values]
    front = []
    for i, a in enumerate(signed):
        dominated = any(
            all(bj <= aj for aj, bj in zip(a, b)) and any(bj < aj for aj, bj in zip(a, b))
            for j, b in enumerate(signed)
            if j != i
        )
        if not dominated:
            front.append(i)
    return front
