"""Reports: ``DIR/index.html``, ``DIR/summary.md`` and ``DIR/figures/*.png|svg`` from Results only.

:func:`write_report` takes a RESULT.json (one run) or a sweep's result store (SQLite) and writes the
report folder. It reads RESULT dicts (schema ``archsim.result/1``) and store rows, never a model.
"""
from __future__ import annotations

from pathlib import Path

from archsim import result as result_mod
from archsim.atomic import write_text_atomically
from archsim.errors import UserError
from archsim.report import figures as single_figures
from archsim.report import sweep_figures
from archsim.report.page import Page, Section, Table, render_html, render_markdown
from archsim.sweep.objectives import METRICS, metric_value
from archsim.sweep.store import ResultStore, is_store
from archsim.sweep.summary import analyse, point_label
from archsim.units import count_of, format_quantity


def write_report(source: str | Path, out_dir: str | Path) -> Path:
    """Write the report of a RESULT.json or a STORE.db into ``out_dir``; returns the index.html path."""
    source, out_dir = Path(source), Path(out_dir)
    if is_store(source):
        with ResultStore(source, create=False) as store:
            page = store_page(store.rows(), store.meta("sweep", {}), out_dir / "figures", source.name)
    else:
        result = result_mod.read(source)
        if result.get("latency_s") is None:
            raise UserError(f"{source}: latency_s: a {result.get('family', 'functional')} run has no timing or cost "
                            "to report (allowed: a result of a run on a chip or a GPU)")
        page = result_page(result, out_dir / "figures")
    write_text_atomically(out_dir / "summary.md", render_markdown(page))
    return write_text_atomically(out_dir / "index.html", render_html(page))


def headline(result: dict) -> str:
    """One sentence: the chip against the GPU, or the chip's own figures without a GPU."""
    what = f"{result['workload']} ({result.get('mode', 'infer')}, batch {result.get('batch')}, {result.get('steps')} steps)"
    vs = result.get("vs_gpu") or {}
    gpu = (result.get("gpu") or {}).get("name", "the GPU")
    if vs.get("speedup") and vs.get("energy_saving"):
        return (f"On {result['chip']}, {what} runs {_times(vs['speedup'], 'faster', 'slower')} and uses "
                f"{_times(vs['energy_saving'], 'less', 'more')} energy than on {gpu}.")
    return (f"On {result['chip']}, {what} takes {format_quantity(result['latency_s'], 's')} and "
            f"{format_quantity(result['energy_pj'], 'pJ')} (no GPU comparison).")


def _times(ratio: float, better: str, worse: str) -> str:
    """``12.3x faster`` / ``215,000x less``: three significant figures, no exponents."""
    factor, word = (ratio, better) if ratio >= 1 else (1 / ratio, worse)
    rounded = float(f"{factor:.3g}")
    return f"{rounded:,.0f}x {word}" if rounded >= 100 else f"{rounded:.3g}x {word}"


def result_page(result: dict, figure_dir: Path) -> Page:
    """The page of one run: headline, key numbers, every figure the result has data for, cost sources."""
    page = Page(title=f"archsim: {result['workload']} on {result['chip']}", headline=headline(result))
    page.sections.append(Section("Key numbers", tables=[_key_numbers(result)]))
    sections: dict[str, Section] = {}
    for stem, title, caption, build in single_figures.SINGLE_RESULT_FIGURES:
        _add_figure(sections.setdefault(title, Section(title)), build(result), figure_dir, stem, caption)
    for key, figure in single_figures.other_breakdowns(result).items():
        single_figures.save(figure, figure_dir, f"cycles_{key}")
        sections.setdefault("Cycles", Section("Cycles")).figures.append((f"cycles_{key}", single_figures.breakdown_title(key)))
    family = result.get("family")
    page.sections += [s for s in sections.values() if s.figures or s.tables
                      or (single_figures.FAMILY_SECTIONS.get(s.title, family) == family
                          and s.title not in single_figures.EMPTY_SECTIONS_LEFT_OUT.get(family, ()))]
    dataflow = _dataflow_section(result)
    if dataflow is not None:
        page.sections.append(dataflow)
    page.sections.append(_sources_section(result))
    return page


def _dataflow_section(result: dict) -> Section | None:
    """The dataflow chosen per layer (an H2Learn trace's ``details.mapping``) and its DRAM bytes by tensor."""
    details = (result.get("trace") or {}).get("details", {})
    mapping, ops = details.get("mapping"), details.get("ops") or {}
    if not isinstance(mapping, dict) or not mapping or \
            not all(isinstance(m, dict) and "fe_order" in m for m in mapping.values()):
        return None   # no H2Learn dataflow (a many-core trace's mapping is another thing)
    tensors = list(next(iter(ops.values()), {}).get("dram_bytes", {}))
    header = ["layer", "FE order", "window", "dL/du", "dW"] + [f"DRAM {t.replace('_', ' ')} [B]" for t in tensors]
    rows = []
    for layer, m in mapping.items():
        dw = m["dw"] + (f" ({m['dw_blocks']} blocks)" if m.get("dw") == "blocked" else "")
        dram = (ops.get(layer) or {}).get("dram_bytes", {})
        rows.append([layer, m["fe_order"], m["window"], m["du"], dw] + [dram.get(t, 0) for t in tensors])
    return Section("Dataflow per layer", tables=[Table(header, rows, sortable=True)])


def _add_figure(section: Section, figure, figure_dir: Path, stem: str, caption: str) -> None:
    """Save ``figure`` and show it in ``section``; a builder returns a string instead when it has no data."""
    if isinstance(figure, str):
        section.notes.append(f"{caption}: not drawn. {figure}")
    else:
        single_figures.save(figure, figure_dir, stem)
        section.figures.append((stem, caption))


def _key_numbers(result: dict) -> Table:
    gpu = result.get("gpu") or {}
    gpu_throughput = result["batch"] / gpu["latency_s"] if gpu.get("latency_s") else None
    rows = [
        ("latency", result["latency_s"], gpu.get("latency_s"), "s"),
        ("throughput", result["throughput_samples_per_s"], gpu_throughput, "samples/s"),
        ("energy", result["energy_pj"], gpu.get("energy_pj"), "pJ"),
        ("static energy", result.get("static_energy_pj"), None, "pJ"),
        ("area", result["area_mm2"], gpu.get("area_mm2"), "mm²"),
        ("cycles", result["cycles"], None, "cycles"),
        ("synaptic ops", result.get("synaptic_ops"), None, "ops"),
        ("energy per synaptic op", result.get("energy_per_synaptic_op_pj"), None, "pJ"),
        ("spikes", result.get("spikes"), None, "spikes"),
    ]
    header = ["quantity", result["chip"], gpu.get("name", "GPU"), f"{gpu.get('name', 'GPU')} / {result['chip']}"]
    body = []
    for name, ours, theirs, unit in rows:
        ratio = f"{theirs / ours:.3g}x" if ours and theirs else "-"
        body.append([name, format_quantity(ours, unit), format_quantity(theirs, unit) if theirs else "-", ratio])
    return Table(header, body)


def _sources_section(result: dict) -> Section:
    sources = result.get("cost_sources")
    section = Section("Where the cost numbers come from")
    if not sources:
        section.notes.append("The result lists no cost sources (result.cost_sources).")
        return section
    rows = [[path, str(value)] for path, value in _flatten(sources)]
    section.tables.append(Table(["entry", "source"], rows, sortable=True))
    return section


def _flatten(value, prefix: str = ""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
        for i, inner in enumerate(value):
            yield from _flatten(inner, f"{prefix}[{i}]")
    else:
        yield prefix, value


def store_page(rows: list[dict], sweep: dict, figure_dir: Path, store_name: str) -> Page:
    """The page of a sweep: summary, Pareto front, each axis's effect, and a sortable table of points."""
    analysis = analyse(rows, sweep)
    names = [name for name, _ in analysis.objectives]
    title = f"archsim sweep: {sweep.get('name', store_name)}"
    recosted = sum(r["how"] == "recosted" for r in analysis.ok)
    numbers = ", ".join(f"#{r['idx']}" for r in sorted(analysis.front, key=lambda r: r["idx"])) \
        if len(analysis.front) <= sweep_figures.NUMBER_ALL_POINTS else "listed below"
    headline_text = (f"{count_of(len(rows), 'point')} on {sweep.get('chip_name', 'the chip')}: {len(analysis.ok)} ok "
                     f"({recosted} re-costed), {len(analysis.failed)} failed, {len(analysis.pending)} pending; "
                     f"{len(analysis.front)} on the Pareto front" + (f" ({numbers})" if numbers else "") + " of "
                     + ", ".join(f"{METRICS[n].label} ({g})" for n, g in analysis.objectives) + ".")
    page = Page(title=title, headline=headline_text)
    figures = Section("Trade-offs")
    pareto_caption = (f"The first two objectives of every point; red: the Pareto front of all "
                      f"{len(analysis.objectives)} objectives, marked point by point (#: the point's number)")
    for stem, caption, build in (("pareto", pareto_caption, sweep_figures.pareto),
                                 ("axis_effects", "Each axis's effect on the objectives", sweep_figures.axis_effects)):
        _add_figure(figures, build(analysis), figure_dir, stem, caption)
    if analysis.constraints:
        figures.text.append("Constraints: " + "; ".join(c.describe() for c in analysis.constraints) + ".")
    page.sections.append(figures)
    header = ["#", "point", *[f"{n} [{METRICS[n].unit}]" for n in names], "how"]
    front_rows = [[(r["idx"], r["idx"]), point_label(r, analysis.axes), *[_number(metric_value(r["result"], n)) for n in names],
                   r["how"]] for r in analysis.front]
    page.sections.append(Section("Pareto front", tables=[Table(header, front_rows, sortable=True)]))
    page.sections.append(_points_section(rows, analysis, names))
    if analysis.failed:
        page.sections.append(_failures_section(analysis.failed))
    return page


def _failures_section(failed: list[dict]) -> Section:
    """Each failed point's error (its first line) at full width: the points table shows only its kind."""
    rows = [[(r["idx"], r["idx"]), r["error"].splitlines()[0] if r["error"] else "(no error recorded)"]
            for r in sorted(failed, key=lambda r: r["idx"])]
    return Section("Failed points", tables=[Table(["#", "error"], rows, long_text=("error",))])


def _points_section(rows: list[dict], analysis, names: list[str]) -> Section:
    front = {r["hash"] for r in analysis.front}
    header = ["#", "network", *analysis.axes, *[f"{n} [{METRICS[n].unit}]" for n in names], "status", "how",
              "Pareto", "run time [s]", "error"]
    body = []
    for r in rows:
        values = [_number(metric_value(r["result"], n)) if r["result"] else "-" for n in names]
        axes = [_cell(r["config"]["axes"].get(a)) for a in analysis.axes]
        kind = (r["error"] or "").split(":", 1)[0].split()
        error = f"{kind[0] if kind else 'error'} (see Failed points)" if r["error"] else ""
        body.append([(r["idx"], r["idx"]), r["config"]["workload"]["network"].rsplit("/", 1)[-1], *axes, *values,
                     r["status"], r["how"] or "-", "yes" if r["hash"] in front else "", _number(r["elapsed_s"]), error])
    return Section("All points (click a heading to sort)", tables=[Table(header, body, sortable=True)])


def _number(value):
    return "-" if value is None else (f"{value:.4g}", repr(float(value)))


def _cell(value):
    return (value, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
