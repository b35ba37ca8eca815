"""Figures of a sweep: the Pareto front of its objectives and each axis's effect on them."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from matplotlib.figure import Figure

from archsim.sweep.objectives import METRICS, metric_value
from archsim.sweep.summary import Analysis


def pareto(analysis: Analysis):
    """The first two objectives of every successful point, the front highlighted."""
    if len(analysis.objectives) < 2:
        return "The sweep has one objective: no trade-off to draw."
    if not analysis.ok:
        return "No point of the sweep succeeded."
    (x_name, _), (y_name, _) = analysis.objectives[:2]
    fig = Figure(figsize=(6, 4.5))
    ax = fig.add_subplot()

    def xy(rows):
        return ([metric_value(r["result"], x_name) for r in rows], [metric_value(r["result"], y_name) for r in rows])

    feasible = [r for r in analysis.ok if r not in analysis.infeasible]
    ax.scatter(*xy(feasible), color="tab:gray", alpha=0.6, label="points")
    if analysis.infeasible:
        ax.scatter(*xy(analysis.infeasible), color="tab:gray", marker="x", label="outside the constraints")
    if analysis.front:   # markers only: with three objectives the front is no line in this projection
        ax.scatter(*xy(analysis.front), color="tab:red", s=60, zorder=3, edgecolors="black",
                   label=f"Pareto front of {len(analysis.objectives)} objectives: {len(analysis.front)} points"
                         + ("; some coincide in this view" if len(set(zip(*xy(analysis.front)))) < len(analysis.front) else ""))
    for name, setter in ((x_name, ax.set_xscale), (y_name, ax.set_yscale)):
        values = [metric_value(r["result"], name) for r in analysis.ok]
        if all(v and v > 0 for v in values) and max(values) / min(values) > 20:
            setter("log")
    ax.set_xlabel(f"{METRICS[x_name].label} [{METRICS[x_name].unit}]")
    ax.set_ylabel(f"{METRICS[y_name].label} [{METRICS[y_name].unit}]")
    ax.set_title(f"Pareto front: {METRICS[x_name].label} against {METRICS[y_name].label}")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(0.0, -0.18), frameon=False)   # below: hides no point
    fig.tight_layout()
    return fig


def axis_effects(analysis: Analysis):
    """One panel per (objective, axis): the objective's mean, min and max over the other axes."""
    axes = [a for a in analysis.axes if len({_key(r["config"]["axes"].get(a)) for r in analysis.ok}) > 1]
    if not axes or not analysis.ok:
        return "No axis takes more than one value among the successful points."
    names = [name for name, _ in analysis.objectives]
    fig = Figure(figsize=(3.2 * len(axes), 2.6 * len(names)))
    for i, name in enumerate(names):
        for j, axis in enumerate(axes):
            groups = defaultdict(list)
            for r in analysis.ok:
                value = metric_value(r["result"], name)
                if value is not None:
                    groups[_key(r["config"]["axes"].get(axis))].append(value)
            labels = sorted(groups, key=_order)
            means = np.array([np.mean(groups[k]) for k in labels])
            lows = means - np.array([min(groups[k]) for k in labels])
            highs = np.array([max(groups[k]) for k in labels]) - means
            ax = fig.add_subplot(len(names), len(axes), i * len(axes) + j + 1)
            ax.errorbar(range(len(labels)), means, yerr=[lows, highs], fmt="o-", capsize=3)
            ax.set_xticks(range(len(labels)), labels, rotation=30)
            ax.set_title(f"{METRICS[name].label} by {axis}", fontsize="small")
            ax.set_xlabel(axis)
            if j == 0:
                ax.set_ylabel(f"{METRICS[name].label} [{METRICS[name].unit}]")
            if means.size and all(m > 0 for m in means) and means.max() / means.min() > 20:
                ax.set_yscale("log")
    fig.suptitle("Effect of each axis (mean; bars: min to max over the other axes)")
    fig.tight_layout()
    return fig


def _key(value) -> str:
    return str(value)


def _order(label: str):
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)
