"""The end-of-sweep summary: counts, the best point per objective, and the Pareto front as text tables.

Works on store rows (see :meth:`archsim.sweep.store.ResultStore.rows`) and the sweep description the
store keeps, so it serves the CLI and the report alike.
"""
from __future__ import annotations

from dataclasses import dataclass

from archsim.sweep.objectives import METRICS, Constraint, feasible, metric_value, pareto_front
from archsim.units import count_of


@dataclass
class Analysis:
    """Rows of a sweep split by outcome, with the Pareto front of its objectives."""

    axes: list[str]
    objectives: list[tuple[str, str]]  # (metric name, "min" | "max")
    constraints: list[Constraint]
    ok: list[dict]
    failed: list[dict]
    pending: list[dict]
    infeasible: list[dict]
    front: list[dict]


def analyse(rows: list[dict], sweep: dict) -> Analysis:
    """Split the rows and find the Pareto front among the feasible successful points."""
    objectives = [(o["name"], o["goal"]) for o in sweep.get("objectives", [])] or [("latency_s", "min"), ("energy_pj", "min")]
    constraints = [Constraint(c["metric"], c.get("min"), c.get("max")) for c in sweep.get("constraints", [])]
    axes = list(sweep.get("axes", {})) or list(dict.fromkeys(k for r in rows for k in r["config"]["axes"]))
    ok = [r for r in rows if r["status"] == "ok"]
    usable = [r for r in ok if feasible(r["result"], constraints)
              and all(metric_value(r["result"], name) is not None for name, _ in objectives)]
    values = [[metric_value(r["result"], name) for name, _ in objectives] for r in usable]
    front = [usable[i] for i in pareto_front(values, [goal for _, goal in objectives])]
    front.sort(key=lambda r: metric_value(r["result"], objectives[0][0]))
    return Analysis(
        axes=axes,
        objectives=objectives,
        constraints=constraints,
        ok=ok,
        failed=[r for r in rows if r["status"] == "failed"],
        pending=[r for r in rows if r["status"] == "pending"],
        infeasible=[r for r in ok if not feasible(r["result"], constraints)],
        front=front,
    )


def point_label(row: dict, axes: list[str]) -> str:
    """'network, axis=value, ...': how a point is named in tables and figures."""
    values = row["config"]["axes"]
    network = row["config"]["workload"]["network"].rsplit("/", 1)[-1]
    return ", ".join([network] + [f"{a}={values[a]}" for a in axes if a in values])


def format_summary(analysis: Analysis) -> str:
    """A plain-text summary: counts, best point per objective, and the Pareto front."""
    a = analysis
    lines = [
        f"{len(a.ok)} ok ({sum(r['how'] == 'recosted' for r in a.ok)} re-costed), {len(a.failed)} failed, "
        f"{len(a.pending)} pending, {len(a.infeasible)} outside the constraints"
    ]
    for row in a.failed[:5]:
        lines.append(f"  failed: {point_label(row, a.axes)}: {(row['error'] or '').splitlines()[0]}")
    if a.constraints:
        lines.append("constraints: " + "; ".join(c.describe() for c in a.constraints))
    names = [name for name, _ in a.objectives]
    header = ["point", *[f"{n} [{METRICS[n].unit}]" for n in names], "how"]
    if a.ok:
        best = []
        for name, goal in a.objectives:
            candidates = [r for r in a.ok if metric_value(r["result"], name) is not None]
            if candidates:
                pick = (min if goal == "min" else max)(candidates, key=lambda r: metric_value(r["result"], name))
                best.append([f"best {name}: {point_label(pick, a.axes)}",
                             *[_fmt(metric_value(pick["result"], n)) for n in names], pick["how"]])
        lines += ["", _table(header, best)]
    if a.front:
        rows = [[point_label(r, a.axes), *[_fmt(metric_value(r["result"], n)) for n in names], r["how"]] for r in a.front]
        goals = ", ".join(f"{g} {n}" for n, g in a.objectives)
        lines += ["", f"Pareto front ({count_of(len(a.front), 'point')}; {goals}):", _table(header, rows)]
    return "\n".join(lines)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]

    def line(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])
