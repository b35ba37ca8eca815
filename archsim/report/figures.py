"""Figures of one RESULT dict (matplotlib, no pyplot state: each builder returns a fresh Figure).

Each builder returns a ``Figure``, or a string saying why the figure cannot be drawn (its data is not
in this result); the page shows that sentence instead. What the builders read, besides the
``archsim.result/1`` keys:

- ``energy_by_layer_pj`` (layer -> dynamic pJ, ``shared`` for what no layer owns).
- ``trace.cycles_breakdown``: ``per_layer`` or ``layer`` / ``per_engine`` / ``per_phase`` (name -> cycles,
  or name -> {part: cycles}); any other name -> number mapping is drawn as "cycles by <key>".
- ``trace.details``: ``layers`` (layer -> {energy_pj, cycles, ...}), ``core_utilisation`` (a [Y][X]
  grid, or a flat per-core list with ``mesh: [Y, X]``), ``timeline`` (a list of ``{engine,
  start_cycle, end_cycle}``), ``engine_utilisation`` (engine -> fraction busy), ``sparsity``
  (layer -> {kind: fraction}).
- ``trace.noc``: ``link_flits_grid`` ([Y][X][direction] or [Y][X]), or ``link_flits`` with ``mesh``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from archsim.atomic import write_atomically


def save(fig: Figure, folder: Path, stem: str) -> None:
    """Write ``stem.png`` and ``stem.svg`` under ``folder``, each atomically.

    The same figure gives the same bytes: no date in the SVG metadata, and a fixed salt for the SVG's
    element ids (matplotlib otherwise draws them at random).
    """
    write_atomically(folder / f"{stem}.png", lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    with matplotlib.rc_context({"svg.hashsalt": "archsim"}):
        write_atomically(folder / f"{stem}.svg", lambda tmp: fig.savefig(tmp, format="svg", bbox_inches="tight",
                                                                         metadata={"Date": None}))


def vs_gpu(result: dict):
    """Bars of the chip against the GPU: latency, throughput, energy and area."""
    gpu = result.get("gpu")
    if not gpu:
        return "No GPU comparison in this result (run with --gpu)."
    chip, gpu_name = result["chip"], gpu.get("name", "GPU")
    gpu_throughput = result["batch"] / gpu["latency_s"] if gpu.get("latency_s") else None
    panels = [("latency", "s", result["latency_s"], gpu.get("latency_s")),
              ("throughput", "samples/s", result["throughput_samples_per_s"], gpu_throughput),
              ("energy", "J", result["energy_pj"] * 1e-12, gpu["energy_pj"] * 1e-12 if gpu.get("energy_pj") else None),
              ("area", "mm²", result["area_mm2"], gpu.get("area_mm2"))]
    fig = Figure(figsize=(10, 3))
    for i, (name, unit, ours, theirs) in enumerate(panels):
        ax = fig.add_subplot(1, 4, i + 1)
        values = [ours or 0, theirs or 0]
        ax.bar([chip, gpu_name], values, color=["tab:blue", "tab:gray"])
        if all(v > 0 for v in values):
            ax.set_yscale("log")
            ax.set_ylim(min(values) / 10, max(values) * 3)
        for x, v in enumerate(values):
            ax.annotate(f"{v:.3g}", (x, v), ha="center", va="bottom", fontsize="small")
        ax.set_title(f"{name} [{unit}]")
    fig.tight_layout()
    return fig


def energy_breakdown(result: dict):
    """Stacked bars of energy per component, split by action."""
    breakdown = result.get("energy_breakdown_pj") or {}
    if not breakdown:
        return "The result has no energy breakdown."
    breakdown = {c: _as_dict(v) for c, v in breakdown.items()}
    components = sorted(breakdown, key=lambda c: -(_total(breakdown[c]) or 0.0))
    actions = sorted({a for c in components for a, pj in breakdown[c].items() if pj})   # legend: only what has energy
    scale, unit = _energy_scale(max(_total(v) or 0.0 for v in breakdown.values()))
    fig = Figure(figsize=(max(6, 0.5 * len(components) + 3), 4))
    ax = fig.add_subplot()
    bottom = np.zeros(len(components))
    for action in actions:
        heights = np.array([breakdown[c].get(action, 0.0) for c in components]) * scale
        ax.bar(components, heights, bottom=bottom, label=action.replace("_", " "))
        bottom += heights
    ax.set_ylabel(f"energy [{unit}]")
    ax.set_ylim(0, max(float(bottom.max()), 1e-30) * 1.12)   # headroom: the tallest stack stays inside the frame
    totals = sorted((_total(breakdown[c]) or 0.0 for c in components), reverse=True)
    if len(totals) > 2 and totals[0] > 10 * totals[1]:   # one component dominates: the rest would be invisible
        ax.set_yscale("log")
        smallest = min((t for t in totals if t > 0), default=totals[0]) * scale
        ax.set_ylim(smallest / 3, totals[0] * scale * 3)
        ax.set_ylabel(f"energy [{unit}], log scale")
    for x, component in enumerate(components):   # a component the config charges nothing is no missing bar
        if not _total(breakdown[component]):
            ax.annotate("0", (x, 0), xytext=(0, 3), textcoords="offset points", xycoords=("data", "axes fraction"),
                        ha="center", va="bottom", fontsize="small", color="dimgray")
    static = result.get("static_energy_pj")
    stacked_pj = sum(_total(v) or 0.0 for v in breakdown.values())
    if static and abs(stacked_pj - (result.get("energy_pj") or 0.0)) <= 1e-6 * stacked_pj:   # a GPU's idle power
        ax.set_title(f"Energy by component and action\n(static energy included: {static * scale:.3g} {unit})")
    else:
        ax.set_title("Dynamic energy by component and action"
                     + (f"\n(static leakage, not stacked: {static * scale:.3g} {unit})" if static else ""))
    ax.tick_params(axis="x", rotation=60)
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    return fig


def area_breakdown(result: dict):
    """Horizontal bars of area per component."""
    breakdown = result.get("area_breakdown_mm2") or {}
    if not breakdown:
        return "The result has no area breakdown."
    items = sorted(((c, _total(v)) for c, v in breakdown.items()), key=lambda kv: kv[1])
    fig = Figure(figsize=(6, 0.3 * len(items) + 1.5))
    ax = fig.add_subplot()
    ax.barh([c for c, _ in items], [v for _, v in items], color="tab:green")
    ax.set_xlabel("area [mm²]")
    ax.set_title(f"Area by component (total {result.get('area_mm2', 0):.3g} mm²)")
    fig.tight_layout()
    return fig


def per_layer(result: dict):
    """Latency and energy of each layer side by side (two bars per layer on two axes), network order.

    Latency: ``trace.cycles_breakdown.per_layer`` (many-core: the phases of the layer's stage), or
    ``.layer`` (H2Learn: engine -> busy cycles, stacked; engines overlap in the pipeline, so the bars
    add up to more than the run), in seconds at ``clock_hz``. Energy: ``energy_by_layer_pj`` (dynamic),
    its ``shared`` remainder drawn apart at the end, or ``trace.details.layers[*].energy_pj``.
    A quantity the result lacks is left out.
    """
    trace = result.get("trace") or {}
    cycles, stacked = _layer_cycles(trace)
    energy = _layer_energy(result, trace)
    shared = energy.pop("shared", None)
    if not cycles and not energy:
        return ("The result has no per-layer cycles or energy (trace.cycles_breakdown.per_layer or .layer, "
                "energy_by_layer_pj, trace.details.layers).")
    layers = list(dict.fromkeys([*cycles, *energy]))
    names = layers + (["shared"] if shared else [])
    x = np.arange(len(names))
    has_both = bool(cycles) and bool(energy)
    width = 0.4 if has_both else 0.8
    # constrained layout keeps the legend beside the right-hand axis, clear of its ticks and label
    fig = Figure(figsize=(max(6, 0.9 * len(names) + 3) + 2.5, 4), layout="constrained")
    ax = fig.add_subplot()
    axes, titles = [], []
    if cycles:
        clock_hz = result.get("clock_hz")
        scale, unit = _time_scale(max(_total(v) for v in cycles.values()) / clock_hz) if clock_hz else (1.0, "")
        per_unit = scale / clock_hz if clock_hz else 1.0
        quantity = "busy time" if stacked else "latency"
        bottom = np.zeros(len(layers))
        for part, colour in zip(stacked or [None], LAYER_TIME_COLOURS):
            heights = np.array([(cycles[n].get(part, 0) if part else _total(cycles[n])) if n in cycles else 0.0
                                for n in layers]) * per_unit
            ax.bar(x[:len(layers)] - (width / 2 if has_both else 0), heights, width, bottom=bottom, color=colour,
                   label=f"{quantity}: {ENGINE_NAMES.get(str(part).lower(), part)}" if part else quantity)
            bottom += heights
        ax.set_ylabel(f"{quantity} [{unit}]" if clock_hz else "cycles")
        axes.append(ax)
        titles.append("engine busy time (engines overlap)" if stacked else "latency")
    if energy:
        eax = ax.twinx() if cycles else ax
        scale, unit = _energy_scale(max([*energy.values(), shared or 0.0]))
        heights = [energy.get(n, 0.0) * scale for n in layers] + ([shared * scale] if shared else [])
        colours = ["tab:orange"] * len(layers) + (["tab:gray"] if shared else [])
        bars = eax.bar(x + (width / 2 if has_both else 0), heights, width, color=colours, label="dynamic energy")
        if shared:
            bars[-1].set_label("dynamic energy no layer owns (shared)")
            eax.annotate(f"{shared * scale:.3g} {unit}", (bars[-1].get_x() + width / 2, heights[-1]), ha="center",
                         va="bottom", fontsize="small")
        eax.set_ylabel(f"dynamic energy [{unit}]")
        axes.append(eax)
        titles.append("dynamic energy")
    ax.set_xticks(x, names, rotation=60 if len(names) > 6 else 0)
    entries = [entry for a in axes for entry in zip(*a.get_legend_handles_labels())]
    entries.sort(key=lambda entry: "(shared)" in entry[1])   # the shared bar's entry after the layers' energy
    handles, labels = [h for h, _ in entries], [lab for _, lab in entries]
    fig.legend(handles, labels, fontsize="small", loc="outside right upper", frameon=False)
    ax.margins(x=0.1)   # room for the shared bar's value
    ax.set_title("Per layer: " + " and ".join(titles))
    return fig


LAYER_TIME_COLOURS = ("tab:blue", "tab:cyan", "tab:purple", "tab:olive", "tab:brown", "tab:pink")


def _layer_cycles(trace: dict) -> tuple[dict, list]:
    """(layer -> cycles or {part: cycles}, the parts to stack, [] when single numbers)."""
    breakdown = trace.get("cycles_breakdown") or {}
    for key in ("per_layer", "layer"):
        if _numbers(breakdown.get(key)):
            cycles = breakdown[key]
            parts = list(dict.fromkeys(p for v in cycles.values() if isinstance(v, dict) for p in v))
            return {str(k): v for k, v in cycles.items()}, parts
    layers = (trace.get("details") or {}).get("layers")
    layers = layers if isinstance(layers, dict) else {}
    return {k: v["cycles"] for k, v in layers.items()
            if isinstance(v, dict) and isinstance(v.get("cycles"), (int, float))}, []


def _layer_energy(result: dict, trace: dict) -> dict:
    """layer -> dynamic pJ (with ``shared`` where the result has it), from the cost or the trace details."""
    energy = _numbers(result.get("energy_by_layer_pj"))
    if energy:
        return energy
    layers = (trace.get("details") or {}).get("layers")
    layers = layers if isinstance(layers, dict) else {}
    return {name: float(info["energy_pj"]) for name, info in layers.items()
            if isinstance(info, dict) and _total(info.get("energy_pj")) is not None}


def core_utilisation(result: dict):
    """Heat map of each core's busy fraction on the mesh."""
    details = (result.get("trace") or {}).get("details", {})
    grid = _grid(details.get("core_utilisation"), details.get("mesh"))
    if grid is None:
        return "The trace has no per-core utilisation on the mesh (trace.details.core_utilisation); not a many-core run?"
    return _heatmap(grid, "Core utilisation", "busy [fraction of cycles]", "viridis", _chips(result, grid))


def noc_link_load(result: dict):
    """Heat map of the flits on the links leaving each router."""
    noc = (result.get("trace") or {}).get("noc", {})
    grid = _grid(noc.get("link_flits_grid"), None)
    if grid is None:
        grid = _grid(noc.get("link_flits"), noc.get("mesh"))
    if grid is None:
        return "The trace has no NoC link loads on the mesh (trace.noc.link_flits_grid); not a many-core run?"
    if noc.get("link_flits_grid_unit") == "chip":   # a large board keeps per-chip totals only
        return _heatmap(grid, "NoC load: flits on the links of each chip", "load [flits]", "magma", None, unit="chip")
    return _heatmap(grid, "NoC load: flits on the links leaving each router", "load [flits]", "magma",
                    _chips(result, grid))


def engine_timeline(result: dict):
    """Gantt chart of the engines' busy spans (H2Learn pipeline), coloured by the tile they work on.

    Following one colour from FE down to WUE follows one tile through the pipeline; the weight update
    of every layer at the end (tile ``"update"``) is drawn grey. With more tiles than
    :data:`TIMELINE_TILE_COLOURS` the colours alternate between two, so neighbouring tiles stay apart.
    """
    details = (result.get("trace") or {}).get("details", {})
    timeline = details.get("timeline")
    if not timeline:
        return "The trace has no engine timeline (trace.details.timeline); not an H2Learn run?"
    spans = [_span(item) for item in timeline]
    engines = list(dict.fromkeys(engine for engine, _, _, _ in spans))
    tiles = list(dict.fromkeys(tile for _, tile, _, _ in spans if tile not in (None, "update")))
    fig = Figure(figsize=(10, 0.5 * len(engines) + 2.2))
    ax = fig.add_subplot()
    labelled = set()
    for engine, tile, start, end in spans:
        colour, label = _timeline_colour(tile, tiles)
        ax.barh(engines.index(engine), end - start, left=start, height=0.6, color=colour,
                label=None if label in labelled else label)
        labelled.add(label)
    ax.set_yticks(range(len(engines)), [ENGINE_NAMES.get(str(e).lower(), str(e)) for e in engines])
    ax.invert_yaxis()   # the pipeline's order, FE on top
    ax.set_xlabel("time [cycles]")
    ax.set_title("Engine timeline: what each engine works on, cycle by cycle")
    if len(labelled) > 1:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


#: Engine names of the H2Learn pipeline (Liang et al., TCAD 2022) as a reader knows them.
ENGINE_NAMES = {"fe": "FE (forward)", "be": "BE (backward)", "wue": "WUE (weight update)"}

#: Tile colours of the engine timeline (tab10 without its grey, which marks the weight update); with
#: more tiles than colours, they alternate between the first two.
TIMELINE_TILE_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
                         "tab:olive", "tab:cyan")


def _timeline_colour(tile, tiles: list) -> tuple[str, str]:
    """(colour, legend label) of a timeline span of ``tile`` (one of ``tiles``, or "update", or None)."""
    if tile == "update":
        return "tab:gray", "weight update (all layers)"
    if tile is None:
        return "tab:blue", "busy"
    index = tiles.index(tile)
    if len(tiles) <= len(TIMELINE_TILE_COLOURS):
        return TIMELINE_TILE_COLOURS[index], f"tile {tile}"
    return TIMELINE_TILE_COLOURS[index % 2], "even tiles" if index % 2 == 0 else "odd tiles"


def _span(item) -> tuple[str, object, float, float]:
    """(engine, tile or None, start, end) of a timeline entry: ``{engine, [tile,] start_cycle, end_cycle}``
    or ``[engine, tile, start_cycle, end_cycle]``."""
    if isinstance(item, dict):
        return (item["engine"], item.get("tile"), item.get("start_cycle", item.get("start", 0)),
                item.get("end_cycle", item.get("end", 0)))
    return str(item[0]), (item[1] if len(item) > 3 else None), item[-2], item[-1]


def pipeline_utilisation(result: dict):
    """Bars of each engine's busy fraction."""
    details = (result.get("trace") or {}).get("details", {})
    util = _numbers(details.get("engine_utilisation") or details.get("utilisation"))
    if not util:
        return "The trace has no engine utilisation (trace.details.engine_utilisation); not an H2Learn run?"
    fig = Figure(figsize=(5, 3))
    ax = fig.add_subplot()
    ax.bar([ENGINE_NAMES.get(e.lower(), e) for e in util], [100 * v for v in util.values()], color="tab:purple")
    ax.set_ylim(0, 100)
    ax.set_ylabel("busy [% of cycles]")
    ax.set_title("Pipeline utilisation per engine")
    fig.tight_layout()
    return fig


def sparsity(result: dict):
    """Bars of each layer's sparsity fractions, one bar per kind the trace records."""
    raw = (result.get("trace") or {}).get("details", {}).get("sparsity")
    data = {}
    for layer, value in (raw.items() if isinstance(raw, dict) else ()):
        kinds = value if isinstance(value, dict) else {"sparsity": value}
        numbers = {k: float(v) for k, v in kinds.items() if _total(v) is not None and not isinstance(v, dict)}
        if numbers:
            data[str(layer)] = numbers
    if not data:
        return "The trace has no measured sparsities (trace.details.sparsity: layer -> {kind: fraction})."
    layers = list(data)
    kinds = sorted({k for v in data.values() for k in v})
    fig = Figure(figsize=(max(5, len(layers) * 0.8 + 2) + 3, 3.5))
    ax = fig.add_subplot()
    width = 0.8 / len(kinds)
    for i, kind in enumerate(kinds):
        ax.bar(np.arange(len(layers)) + i * width, [100 * data[layer].get(kind, 0) for layer in layers], width,
               label=readable_kind(kind))
        for j, layer in enumerate(layers):   # a kind the layer does not have is no 0 %: say so
            if kind not in data[layer]:
                ax.text(j + i * width, 2, "n/a", rotation=90, ha="center", va="bottom", fontsize="x-small",
                        color="dimgray")
    ax.set_xticks(np.arange(len(layers)) + 0.4 - width / 2, layers, rotation=60 if len(layers) > 6 else 0)
    ax.set_ylabel("fraction [%]")
    ax.set_ylim(0, 100)
    ax.set_title("Measured sparsity per layer" + ("\n(n/a: the layer has no such quantity)"
                                                   if any(k not in data[layer] for layer in layers for k in kinds) else ""))
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


#: More bars than this in one chart and it is drawn as a histogram instead (a board has ~1,400 cores).
MAX_BARS = 40


def breakdown_name(key: str) -> str:
    """A cycles_breakdown key as a reader's noun: ``per_phase`` -> "phase", ``per_core_busy`` -> "core busy"."""
    return key.removeprefix("per_").replace("_", " ")


#: cycles_breakdown keys the models write, in a reader's words: (title, what a bar is, its plural, what
#: its cycles count). Other keys get "Cycles by <key>".
BREAKDOWN_WORDS = {
    "per_core_busy": ("Busy cycles per core", "core", "cores", "busy"),
    "per_phase": ("Cycles per phase", "phase", "phases", "time"),
    "per_engine": ("Busy cycles per engine", "engine", "engines", "busy"),
    "engine": ("Busy cycles per engine", "engine", "engines", "busy"),
    "stall_cycles": ("Stall cycles per phase", "phase", "phases", "stall"),
    "stall_cycles_per_core": ("Stall cycles per core", "core", "cores", "stall"),
}


def breakdown_title(key: str) -> str:
    """The figure title and caption of a cycles_breakdown entry: ``per_core_busy`` -> "Busy cycles per core"."""
    return BREAKDOWN_WORDS.get(key, (f"Cycles by {breakdown_name(key)}",))[0]


#: The H2Learn trace's sparsity kinds (archsim/models/h2learn/simulate.py, ``_sparsity``) as a reader's words.
SPARSITY_NAMES = {
    "input_zero_fraction": "zero inputs to the FE",
    "du_zero_fraction": "zero dL/du skipped by the BE",
    "source_closed_window_fraction": "source neurons outside the surrogate window",
    "skipped_backward_mac_fraction": "backward MACs skipped",
}


def readable_kind(name: str) -> str:
    """A trace field name as a legend entry: a known sparsity kind by :data:`SPARSITY_NAMES`
    (``du_zero_fraction`` -> "zero dL/du skipped by the BE"), any other without its ``_fraction`` suffix
    and underscores (``grad_zero_fraction`` -> "grad zero")."""
    return SPARSITY_NAMES.get(name) or name.removesuffix("_fraction").replace("_", " ")


def other_breakdowns(result: dict) -> dict:
    """Bar charts of every cycles_breakdown mapping not drawn elsewhere: ``{key: Figure}``."""
    figures = {}
    for key, value in ((result.get("trace") or {}).get("cycles_breakdown") or {}).items():
        numbers = _numbers(value)
        if key in ("per_layer", "layer") or not numbers:   # drawn by per_layer
            continue
        if all(name.isdigit() for name in numbers):          # core ids: in their numeric order
            numbers = dict(sorted(numbers.items(), key=lambda item: int(item[0])))
        title, one, many, quantity = BREAKDOWN_WORDS.get(key, (breakdown_title(key), breakdown_name(key), "entries",
                                                               "time"))
        if len(numbers) > MAX_BARS:   # one bar per core of a board would be a strip: show how they spread
            fig = Figure(figsize=(7, 3.5))
            ax = fig.add_subplot()
            ax.hist(list(numbers.values()), bins=min(40, len(numbers)), color="tab:olive")
            ax.set_xlabel(f"{quantity} [cycles]")
            ax.set_ylabel(f"{many} [count]")
            ax.set_title(f"{title}: how {len(numbers):,} {many} spread")
        else:
            fig = Figure(figsize=(max(5, 0.4 * len(numbers) + 2), 3))
            ax = fig.add_subplot()
            names = [ENGINE_NAMES.get(n.lower(), n) if one == "engine" else n for n in numbers]
            ax.bar(names, list(numbers.values()), color="tab:olive")
            ax.set_ylabel(f"{quantity} [cycles]")
            ax.set_xlabel(one)
            ax.set_title(title)
            ax.tick_params(axis="x", rotation=60 if len(numbers) > 6 else 0)
            ax.margins(y=0.1)
        fig.tight_layout()
        figures[key] = fig
    return figures


def _chips(result: dict, grid: np.ndarray) -> tuple[int, int] | None:
    """(chips_y, chips_x) of a board whose cores ``grid`` shows (``trace.noc.chips``), None on one chip."""
    chips = (result.get("trace") or {}).get("noc", {}).get("chips")
    if not isinstance(chips, (list, tuple)) or len(chips) != 2 or list(chips) == [1, 1]:
        return None
    rows, cols = int(chips[0]), int(chips[1])
    if rows < 1 or cols < 1 or grid.shape[0] % rows or grid.shape[1] % cols:
        return None
    return rows, cols


def _heatmap(grid: np.ndarray, title: str, label: str, cmap: str, chips: tuple[int, int] | None = None,
             unit: str = "core") -> Figure:
    """One cell per core (or per chip, ``unit="chip"``); on a board, white lines mark the chip boundaries."""
    fig = Figure(figsize=(min(10, grid.shape[1] * 0.6 + 2), min(8, grid.shape[0] * 0.5 + 1.5)))
    ax = fig.add_subplot()
    image = ax.imshow(grid, cmap=cmap, origin="upper")
    fig.colorbar(image, ax=ax, label=label)
    if chips is not None:
        rows, cols = chips
        for x in range(1, cols):
            ax.axvline(x * grid.shape[1] / cols - 0.5, color="white", linewidth=1.5, gid="chip-boundary")
        for y in range(1, rows):
            ax.axhline(y * grid.shape[0] / rows - 0.5, color="white", linewidth=1.5, gid="chip-boundary")
        title += f"\n(board of {cols} x {rows} chips; white lines: chip boundaries)"
    ax.set_xlabel(f"x [{unit}]")
    ax.set_ylabel(f"y [{unit}]")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _grid(values, mesh) -> np.ndarray | None:
    """A 2-D [Y, X] array from a grid, a [Y, X, direction] grid (summed), or a flat list and mesh dims."""
    if values is None:
        return None
    array = np.asarray(values, dtype=float)
    if array.ndim == 3:
        array = array.sum(axis=2)
    if array.ndim == 1 and mesh is not None and len(mesh) == 2:
        rows, cols = mesh
        per_core = array.size // (rows * cols) if rows * cols else 0
        if per_core == 0 or per_core * rows * cols != array.size:
            return None
        array = array.reshape(rows, cols, per_core).sum(axis=2)
    return array if array.ndim == 2 and array.size else None


def _numbers(mapping) -> dict:
    """name -> number, summing nested mappings; {} when it is not such a mapping."""
    if not isinstance(mapping, dict):
        return {}
    out = {}
    for key, value in mapping.items():
        total = _total(value)
        if total is None:
            return {}
        out[str(key)] = total
    return out


def _total(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        parts = [_total(v) for v in value.values()]
        return None if any(p is None for p in parts) else float(sum(parts))
    return None


def _time_scale(max_s: float) -> tuple[float, str]:
    """Factor from seconds and the unit that keeps the largest bar between 1 and 1000."""
    for factor, unit in ((1.0, "s"), (1e3, "ms"), (1e6, "µs")):
        if max_s * factor >= 1:
            return factor, unit
    return 1e9, "ns"


def _energy_scale(max_pj: float) -> tuple[float, str]:
    """Factor from pJ and the unit that keeps the largest bar between 1 and 1000."""
    for factor, unit in ((1e-12, "J"), (1e-9, "mJ"), (1e-6, "µJ"), (1e-3, "nJ")):
        if max_pj * factor >= 1:
            return factor, unit
    return 1.0, "pJ"


def readable_scale(max_value: float, unit: str) -> tuple[float, str]:
    """Factor and unit that keep ``max_value`` (in ``unit``) between 1 and 1000: seconds and picojoules
    are rescaled (s -> ms/µs/ns, pJ -> nJ/µJ/mJ/J), any other unit is kept."""
    if unit == "s":
        return _time_scale(max_value)
    if unit == "pJ":
        return _energy_scale(max_value)
    return 1.0, unit


def _as_dict(value) -> dict:
    return value if isinstance(value, dict) else {"total": value}


#: Sections whose figures only one chip family has: left out of other families' reports, not shown empty.
FAMILY_SECTIONS = {"Mesh": "manycore", "Engines": "h2learn"}

#: Sections a family's report leaves out when they have nothing to show (a GPU run has no GPU to compare with).
EMPTY_SECTIONS_LEFT_OUT = {"gpu": ("Against the GPU",)}

SINGLE_RESULT_FIGURES = (
    ("vs_gpu", "Against the GPU", "Latency, throughput, energy and area of the chip and the GPU (log scale)", vs_gpu),
    ("energy", "Energy", "Energy by component, stacked by action", energy_breakdown),
    ("area", "Area", "Area by component", area_breakdown),
    ("layers", "Per layer", "Latency and energy per layer", per_layer),
    ("core_utilisation", "Mesh", "Core utilisation on the mesh", core_utilisation),
    ("noc_load", "Mesh", "NoC link load on the mesh", noc_link_load),
    ("timeline", "Engines", "Engine timeline", engine_timeline),
    ("pipeline", "Engines", "Pipeline utilisation per engine", pipeline_utilisation),
    ("sparsity", "Engines", "Measured sparsity per layer", sparsity),
)
