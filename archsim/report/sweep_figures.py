"""Figures of a sweep: the Pareto front of its objectives and each axis's effect on them."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from matplotlib.figure import Figure

from archsim.report.figures import readable_scale
from archsim.sweep.objectives import METRICS, metric_value
from archsim.sweep.summary import Analysis
from archsim.units import count_of


#: Up to this many points every point carries its number (the "#" of the points table); above, only the front's.
NUMBER_ALL_POINTS = 12


def pareto(analysis: Analysis):
    """The first two objectives of every successful point, the Pareto front of all objectives marked.

    The front is of every objective, so in this 2-D view it is a set of marked points, not a line
    (a point can be on it for a third objective while another point beats it on these two). Each
    front point is labelled with its number in the points table, and points that fall on the same
    spot share one label, so the count the headline gives can be read off the figure.
    """
    if len(analysis.objectives) < 2:
        return "The sweep has one objective: no trade-off to draw."
    (x_name, _), (y_name, _) = analysis.objectives[:2]
    plotted = [r for r in analysis.ok if metric_value(r["result"], x_name) is not None
               and metric_value(r["result"], y_name) is not None]
    if not plotted:
        return "No point of the sweep succeeded."
    (x_scale, x_unit), (y_scale, y_unit) = (_scale(plotted, name) for name in (x_name, y_name))

    def xy(rows):
        return ([metric_value(r["result"], x_name) * x_scale for r in rows],
                [metric_value(r["result"], y_name) * y_scale for r in rows])

    front = {r["hash"] for r in analysis.front}
    outside = {r["hash"] for r in analysis.infeasible}
    others = [r for r in plotted if r["hash"] not in front and r["hash"] not in outside]
    fig = Figure(figsize=(6.5, 5))
    ax = fig.add_subplot()
    if others:
        ax.scatter(*xy(others), color="tab:gray", alpha=0.6, label=f"other points: {len(others)}")
    if outside:
        rows = [r for r in plotted if r["hash"] in outside]
        ax.scatter(*xy(rows), color="tab:gray", marker="x", label=f"outside the constraints: {len(rows)}")
    if analysis.front:
        names = ", ".join(METRICS[n].label for n, _ in analysis.objectives)
        ax.scatter(*xy(analysis.front), color="tab:red", s=60, zorder=3, edgecolors="black",
                   label=f"Pareto front of {names}: {count_of(len(analysis.front), 'point')}")
    for (x, y), rows in _by_position(plotted, xy).items():
        on_front = sorted(r["idx"] for r in rows if r["hash"] in front)
        behind = sorted(r["idx"] for r in rows if r["hash"] not in front)
        if on_front or len(plotted) <= NUMBER_ALL_POINTS:
            words = [f"#{i}" + (" (front)" if on_front and behind else "") for i in on_front] + [f"#{i}" for i in behind]
            ax.annotate(", ".join(words), (x, y), xytext=(6, 4), textcoords="offset points", fontsize="small",
                        color="tab:red" if on_front else "dimgray", gid="point-numbers")
    for name, setter, values in zip((x_name, y_name), (ax.set_xscale, ax.set_yscale), xy(plotted)):
        if all(v > 0 for v in values) and max(values) / min(values) > 20:
            setter("log")
    ax.margins(0.15)   # room for the numbers beside the outermost points
    ax.set_xlabel(f"{METRICS[x_name].label} [{x_unit}]")
    ax.set_ylabel(f"{METRICS[y_name].label} [{y_unit}]")
    ax.set_title(f"Trade-off: {METRICS[x_name].label} against {METRICS[y_name].label}\n"
                 "(#: the point's number in the table below)", fontsize="medium")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(0.0, -0.15), frameon=False)   # below: hides no point
    fig.tight_layout()
    return fig


def _scale(rows: list[dict], name: str) -> tuple[float, str]:
    """Factor and unit for metric ``name`` over ``rows`` (µs rather than 1e-5 s)."""
    largest = max(abs(metric_value(r["result"], name) or 0.0) for r in rows)
    return readable_scale(largest, METRICS[name].unit)


def _by_position(rows: list[dict], xy) -> dict:
    """Rows grouped by where they land in the figure: {(x, y): [rows]}, equal to 4 significant figures."""
    groups: dict = defaultdict(list)
    for row, x, y in zip(rows, *xy(rows)):
        groups[(float(f"{x:.4g}"), float(f"{y:.4g}"))].append(row)
    return groups


def axis_effects(analysis: Analysis):
    """One panel per (objective, axis): the objective's mean, min and max over the other axes."""
    axes = [a for a in analysis.axes if len({_key(r["config"]["axes"].get(a)) for r in analysis.ok}) > 1]
    if not axes or not analysis.ok:
        return "No axis takes more than one value among the successful points."
    names = [name for name, _ in analysis.objectives]
    fig = Figure(figsize=(3.4 * len(axes) + 0.4, 2.7 * len(names) + 0.4))
    for i, name in enumerate(names):
        scale, unit = _scale(analysis.ok, name)
        for j, axis in enumerate(axes):
            groups = defaultdict(list)
            for r in analysis.ok:
                value = metric_value(r["result"], name)
                if value is not None:
                    groups[_key(r["config"]["axes"].get(axis))].append(value * scale)
            labels = sorted(groups, key=_order)
            means = np.array([np.mean(groups[k]) for k in labels])
            lows = means - np.array([min(groups[k]) for k in labels])
            highs = np.array([max(groups[k]) for k in labels]) - means
            ax = fig.add_subplot(len(names), len(axes), i * len(axes) + j + 1)
            ax.errorbar(range(len(labels)), means, yerr=[lows, highs], fmt="o-", capsize=3)
            ax.set_xticks(range(len(labels)), labels, rotation=30)
            ax.set_title(f"{METRICS[name].label} by {axis}", fontsize="small")
            ax.set_xlabel(f"{axis} (sweep axis)", fontsize="small")
            ax.set_ylabel(f"{METRICS[name].label} [{unit}]", fontsize="small")
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
