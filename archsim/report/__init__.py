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
    """One sentence: the chip against the GPU (at the same batch, and at the GPU's batch of least energy
    per sample), each ratio as "chip better by Nx" / "GPU better by Nx"; or the chip's own figures."""
    what = f"{result['workload']} ({result.get('mode', 'infer')}, batch {result.get('batch')}, {result.get('steps')} steps)"
    summary = result_mod.verdicts(result.get("vs_gpu") or {})
    gpu = result.get("gpu") or {}
    if summary.get("latency") and summary.get("energy"):
        text = (f"{what} on {result['chip']} against {gpu.get('name', 'the GPU')} ({result_mod.gpu_style(gpu)}) at the same "
                f"batch: latency {summary['latency']}, energy {summary['energy']}, area {summary.get('area') or '-'}.")
        best = result.get("gpu_best_batch")
        best_summary = result_mod.verdicts(result.get("vs_gpu_best_batch") or {})
        if best and best_summary.get("energy per sample"):
            text += (f" With the GPU at its batch of least energy per sample ({result_mod.batch_label(best['batch'])}): energy per sample "
                     f"{best_summary['energy per sample']}, throughput {best_summary.get('throughput') or '-'}.")
        return text
    alone = " (the GPU model on its own)" if result.get("family") == "gpu" else " (no GPU comparison)"
    return (f"On {result['chip']}, {what} takes {format_quantity(result['latency_s'], 's')} and "
            f"{format_quantity(result['energy_pj'], 'pJ')}{alone}.")


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
    for extra in (_dataflow_section(result), _waits_section(result), _learning_section(result)):
        if extra is not None:
            page.sections.append(extra)
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


def _learning_section(result: dict) -> Section | None:
    """The on-chip local learning of a many-core run (``result.learning``): its phase per step and in all."""
    learning = result.get("learning")
    if not learning:
        return None
    rows = [["learn phase", format_quantity(learning["cycles_per_step"], "cycles"), format_quantity(learning["cycles"], "cycles")],
            ["dynamic energy", format_quantity(learning["energy_per_step_pj"], "pJ"), format_quantity(learning["energy_pj"], "pJ")],
            ["synapse updates", f"{learning['synapse_updates_per_step']:,.0f}", ""]]
    section = Section("On-chip learning", tables=[Table(["", "per step", "whole run"], rows)])
    section.text.append(f"{learning['plastic_synapses']:,} plastic synapses, {learning['state_bits_per_synapse']} bits of "
                        f"plastic state each in the synapse memory; the learn phase is {100 * learning['latency_share']:.1f}% "
                        "of the run's cycles. Energy at the run's own price per synapse-memory read and write and per MAC.")
    return section


def _waits_section(result: dict) -> Section | None:
    """Where a many-core run waited: stall cycles per phase by cause, buffer depths and high-water
    marks, NoC link load per phase (a trace without ``cycles_breakdown.stall_cycles``: None)."""
    trace = result.get("trace") or {}
    stalls = (trace.get("cycles_breakdown") or {}).get("stall_cycles")
    if not isinstance(stalls, dict) or not stalls:
        return None
    causes = list(dict.fromkeys(c for per_phase in stalls.values() for c in per_phase))
    per_phase = (trace.get("cycles_breakdown") or {}).get("per_phase", {})
    rows = [[phase, format_quantity(per_phase.get(phase), "cycles"), *[counts.get(c, 0) for c in causes]]
            for phase, counts in stalls.items()]
    section = Section("Stalls and buffers", tables=[Table(["phase", "phase cycles", *[c.replace("_", " ") for c in causes]],
                                                          rows)])
    section.text.append("Stall cycles summed over cores (full FIFO, busy port, barrier wait) and over flits in "
                        "the NoC (no credit, link busy); a phase's cycles are its length with its barrier.")
    buffers = (trace.get("details") or {}).get("buffers") or {}
    if buffers:
        section.tables.append(Table(["buffer", "depth", "high-water mark"],
                                    [[name.replace("_", " "), b.get("depth"), b.get("high_water")]
                                     for name, b in buffers.items()]))
    links = (trace.get("noc") or {}).get("link_load_by_phase") or {}
    if links:
        section.tables.append(Table(["NoC phase", "flits over links", "busiest link [flits]", "links used"],
                                    [[phase, v.get("flit_hops"), v.get("max_link_flits"), v.get("links_used")]
                                     for phase, v in links.items()]))
    return section


def _add_figure(section: Section, figure, figure_dir: Path, stem: str, caption: str) -> None:
    """Save ``figure`` and show it in ``section``; a builder returns a string instead when it has no data."""
    if isinstance(figure, str):
        section.notes.append(f"{caption}: not drawn. {figure}")
    else:
        single_figures.save(figure, figure_dir, stem)
        section.figures.append((stem, caption))


def _key_numbers(result: dict) -> Table:
    """Chip and GPU side by side; each ratio as "chip better by Nx" or "GPU better by Nx" (the result's
    ``vs_gpu`` ratios in words), and a column for the GPU at its batch of least energy per sample."""
    gpu = result.get("gpu") or {}
    best = result.get("gpu_best_batch") or {}
    same = result_mod.verdicts(result.get("vs_gpu") or {})
    at_best = result_mod.verdicts(result.get("vs_gpu_best_batch") or {})
    gpu_throughput = result["batch"] / gpu["latency_s"] if gpu.get("latency_s") else None
    chip_per_sample = result["energy_pj"] / result["batch"] if result.get("batch") else None
    rows = [
        ("latency", result["latency_s"], gpu.get("latency_s"), same.get("latency"), best.get("latency_s"),
         at_best.get("latency"), "s"),
        ("throughput", result["throughput_samples_per_s"], gpu_throughput, same.get("throughput"),
         best.get("throughput_samples_per_s"), at_best.get("throughput"), "samples/s"),
        ("energy", result["energy_pj"], gpu.get("energy_pj"), same.get("energy"), None, None, "pJ"),
        ("energy per sample", chip_per_sample, gpu.get("energy_pj") and chip_per_sample and gpu["energy_pj"] / result["batch"],
         same.get("energy"), best.get("energy_per_sample_pj"), at_best.get("energy per sample"), "pJ"),
        ("static energy", result.get("static_energy_pj"), None, None, None, None, "pJ"),
        ("area", result["area_mm2"], gpu.get("area_mm2"), same.get("area"), best.get("area_mm2"),
         at_best.get("area"), "mm²"),
        ("cycles", result["cycles"], None, None, None, None, "cycles"),
        ("synaptic ops", result.get("synaptic_ops"), None, None, None, None, "ops"),
        ("energy per synaptic op", result.get("energy_per_synaptic_op_pj"), None, None, None, None, "pJ"),
        ("spikes", result.get("spikes"), None, None, None, None, "spikes"),
    ]
    name = gpu.get("name", "GPU")
    header = ["quantity", result["chip"], f"{name} ({result_mod.gpu_style(gpu)}), batch {result['batch']}" if gpu else "GPU",
              "chip vs GPU, same batch"]
    if best:
        header += [f"{name}, batch {result_mod.batch_label(best['batch'])} (least energy per sample)", "chip vs GPU at that batch"]
    if not gpu:  # nothing to compare with (a GPU run on its own, or --gpu none): the chip's column only
        return Table(header[:2], [[label, format_quantity(ours, unit)] for label, ours, *_, unit in rows
                                  if ours is not None])
    body = []
    for label, ours, theirs, verdict, best_value, best_verdict, unit in rows:
        row = [label, format_quantity(ours, unit), format_quantity(theirs, unit) if theirs else "-", verdict or "-"]
        if best:
            row += [format_quantity(best_value, unit) if best_value else "-", best_verdict or "-"]
        body.append(row)
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
