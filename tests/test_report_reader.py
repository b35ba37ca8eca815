"""Reports as a reader sees them, for every kind of report: a run on one many-core chip, on a board, on
Loihi, an H2Learn training run, a GPU run, a sweep (with a failed point and points that coincide in
the Pareto view) and the validation page.

Every page parses as HTML with each tag closed in order; every image it shows exists with a sane size
and shape. Every figure the report saved is checked as drawn (the Figure objects, captured as they
are saved): a numeric axis says its unit in brackets, colours that tell things apart come with a
legend or a colour bar, a legend hides no point; heatmaps of a board mark its chip boundaries; the
Pareto figure numbers the points the headline counts.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.category import StrCategoryFormatter
from matplotlib.ticker import LogFormatter, ScalarFormatter

from archsim import api, result as result_mod
from archsim.report import write_report
from archsim.report.figures import SPARSITY_NAMES, breakdown_name, breakdown_title, readable_kind
from archsim.sweep import ResultStore, load_sweep, run_sweep
from archsim.sweep.executors import InProcessExecutor
from archsim.validate.report import write_validation
from archsim.validate.run import run_cases, select

MAX_ASPECT = 8.0
CHIPS = Path(__file__).resolve().parents[1] / "chips"
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_ATOMIC_TMP = re.compile(r"^\.(?P<name>.+)\.\d+\.[0-9a-f]+\.tmp$")   # archsim.atomic's temporary names


class _Page(HTMLParser):
    """Images, headings and text of a page, and every tag that was closed out of order or never."""

    def __init__(self):
        super().__init__()
        self.images, self.headings, self.text, self.problems, self._open = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs).get("src"))
        if tag in ("h1", "h2", "h3"):
            self.headings.append("")
        if tag not in VOID_TAGS:
            self._open.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        if not self._open or self._open[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self._open[-1] if self._open else 'nothing'}>")
        else:
            self._open.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self._open and self._open[-1] in ("h1", "h2", "h3"):
            self.headings[-1] += data

    def close(self):
        super().close()
        self.problems += [f"<{tag}> never closed" for tag in self._open]


def parse(index: Path) -> _Page:
    page = _Page()
    page.feed(index.read_text(encoding="utf-8"))
    page.close()
    return page


@contextmanager
def saved_figures():
    """{file name: Figure} of every figure saved inside the block (matplotlib's savefig, whoever calls it)."""
    saved, original = {}, Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        name = Path(fname).name
        match = _ATOMIC_TMP.match(name)
        saved[match["name"] if match else name] = self
        return original(self, fname, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Figure, "savefig", savefig)
        yield saved


# --- the reports -------------------------------------------------------------------------------------

RUNS = {
    "tianjic": ("mlp-digits", "tianjic", {"gpu": "v100"}),
    "board": ("mlp-digits", "tianjic-board", {"gpu": "v100"}),
    "loihi": ("mlp-digits", "loihi", {"gpu": None}),
    "h2learn": ("mlp-digits", "h2learn", {"mode": "train", "batch": 2, "gpu": "v100"}),
    "gpu": ("mlp-digits", "gpu/v100", {"gpu": None}),
}

SWEEP = f"""
name: reader-sweep
chip: {CHIPS / 'tianjic.yaml'}
workloads:
  - {{network: mlp-digits, mode: infer, batch: 1, steps: 2}}
axes:
  noc.mesh_x: [13, 1]
  noc.mesh_y: [12, 1]
objectives: [latency_s, energy_pj, area_mm2]
run: {{gpu: null}}
"""


def _run_report(kind: str, folder: Path) -> Path:
    network, chip, options = RUNS[kind]
    result = api.run(network, chip, steps=2, **options)
    result_mod.write(result, folder / "result.json")
    return write_report(folder / "result.json", folder / "report")


def _sweep_report(folder: Path) -> Path:
    (folder / "sweep.yaml").write_text(SWEEP)
    with ResultStore(folder / "sweep.db") as store:
        run_sweep(load_sweep(folder / "sweep.yaml"), store, executor=InProcessExecutor(), progress=False)
    return write_report(folder / "sweep.db", folder / "report")


def _validation_report(folder: Path) -> Path:
    rows = run_cases(select(["tianjic-clock", "tianjic-die-area", "loihi-die-area", "h2learn-speedup"]), quick=True)
    return write_validation(rows, folder / "validation")


_BUILT: dict = {}


def built(kind: str, tmp_path_factory) -> tuple[str, Path, dict]:
    """(kind, index.html, {figure file name: Figure}) of one report kind, written once per test session."""
    if kind not in _BUILT:
        folder = tmp_path_factory.mktemp(kind)
        with saved_figures() as figures:
            if kind == "sweep":
                index = _sweep_report(folder)
            elif kind == "validate":
                index = _validation_report(folder)
            else:
                index = _run_report(kind, folder)
        _BUILT[kind] = (kind, index, figures)
    return _BUILT[kind]


@pytest.fixture(params=[*RUNS, "sweep", "validate"])
def report(request, tmp_path_factory):
    return built(request.param, tmp_path_factory)


@pytest.fixture(params=list(RUNS))
def single_report(request, tmp_path_factory):
    return built(request.param, tmp_path_factory)


# --- what every report must do -----------------------------------------------------------------------

def test_html_parses_with_every_tag_closed(report):
    _, index, _ = report
    assert parse(index).problems == []


def test_every_image_exists_with_a_sane_size_and_shape(report):
    kind, index, figures = report
    page = parse(index)
    assert page.images or kind == "gpu" and figures, kind
    for src in page.images:
        path = index.parent / src
        assert path.is_file(), src
        height, width = matplotlib.image.imread(path).shape[:2]
        assert 200 <= width <= 4000 and 150 <= height <= 4000, (src, width, height)
        assert max(width / height, height / width) <= MAX_ASPECT, (src, width, height)
        assert path.name in figures, f"{src}: not saved as a figure this test could inspect"


def test_every_figure_reads_as_a_reader_needs(report):
    _, _, figures = report
    assert figures
    problems = [f"{name}: {problem}" for name, fig in figures.items() if name.endswith(".png")
                for problem in reader_problems(fig)]
    assert problems == []


def test_single_run_headings_are_words_and_no_family_section_is_empty(single_report):
    kind, index, _ = single_report
    headings = " | ".join(parse(index).headings[1:])
    assert "by per" not in headings and "_" not in headings, headings
    assert ("Engines" in headings) == (kind == "h2learn"), headings
    assert ("Mesh" in headings) == (kind in ("tianjic", "board", "loihi")), headings
    assert ("Against the GPU" in headings) == (kind != "gpu"), headings   # a GPU run has no GPU to compare with


# --- what each kind must show ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["board", "tianjic"])
def test_board_heatmaps_mark_the_chip_boundaries_and_a_chip_has_none(kind, tmp_path_factory):
    _, _, figures = built(kind, tmp_path_factory)
    for name in ("core_utilisation.png", "noc_load.png"):
        ax = figures[name].axes[0]
        boundaries = [line for line in ax.lines if line.get_gid() == "chip-boundary"]
        assert len(boundaries) == (4 if kind == "board" else 0), name   # a 3 x 3 board: 2 + 2 lines
        if kind == "board":
            assert "chip boundaries" in ax.get_title()


def test_h2learn_timeline_and_sparsity_legends_name_what_they_show(tmp_path_factory):
    _, _, figures = built("h2learn", tmp_path_factory)
    timeline = [t.get_text() for t in figures["timeline.png"].axes[0].get_legend().get_texts()]
    assert "tile 0" in timeline and "weight update (all layers)" in timeline
    sparsity = [t.get_text() for t in figures["sparsity.png"].axes[0].get_legend().get_texts()]
    assert sparsity and all("_" not in s for s in sparsity) and set(sparsity) <= set(SPARSITY_NAMES.values())


def test_sweep_pareto_figure_numbers_what_the_headline_counts(tmp_path_factory):
    _, index, figures = built("sweep", tmp_path_factory)
    page = parse(index)
    headline = "".join(page.text)
    count, numbers = re.search(r"(\d+) on the Pareto front \(([#\d, ]+)\)", headline).groups()
    front = {int(n) for n in re.findall(r"#(\d+)", numbers)}
    assert len(front) == int(count) >= 1
    ax = figures["pareto.png"].axes[0]
    labels = [t.get_text() for t in ax.texts if t.get_gid() == "point-numbers"]
    marked = set()
    for text in labels:
        if "(front)" in text:
            marked |= {int(n) for n in re.findall(r"#(\d+) \(front\)", text)}
        elif any(t.get_color() == "tab:red" for t in ax.texts if t.get_text() == text):
            marked |= {int(n) for n in re.findall(r"#(\d+)", text)}
    assert marked == front, labels
    shown = {int(n) for text in labels for n in re.findall(r"#(\d+)", text)}
    assert shown == {0, 1, 2}   # every successful point is numbered, the coinciding ones in one label
    assert not [line for line in ax.lines if len(line.get_xdata()) > 1], "the front is no line in a 2-D view"
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert f"Pareto front of latency, energy, area: {count} point" in legend


def test_sweep_effect_panels_name_their_axes_and_errors_are_shown_whole(tmp_path_factory):
    _, index, figures = built("sweep", tmp_path_factory)
    panels = figures["axis_effects.png"].axes
    assert len(panels) == 3 * 2
    for ax in panels:
        sweep_axis = ax.get_title().rsplit(" by ", 1)[1]
        assert sweep_axis in ("noc.mesh_x", "noc.mesh_y") and sweep_axis in ax.get_xlabel()
        assert re.search(r"\[.+\]", ax.get_ylabel()), ax.get_ylabel()
    text = "".join(parse(index).text)
    assert "Failed points" in text and "needs 2 cores but" in text and "would hold that many" in text


def test_reader_names():
    assert breakdown_name("per_phase") == "phase" and breakdown_title("per_core_busy") == "Busy cycles per core"
    assert readable_kind("du_zero_fraction") == "zero dL/du skipped by the BE"
    assert readable_kind("grad_zero_fraction") == "grad zero"   # an unknown kind still loses its field syntax


def test_core_bars_in_core_order_and_stalls_named():
    from archsim.report.figures import other_breakdowns

    result = {"trace": {"cycles_breakdown": {"per_core_busy": {"1": 5, "0": 9, "10": 2, "2": 7},
                                             "stall_cycles": {"integrate": 3, "fire": 1}}}}
    figures = other_breakdowns(result)
    ax = figures["per_core_busy"].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "10"]
    assert figures["stall_cycles"].axes[0].get_title() == "Stall cycles per phase"


# --- reading a figure ---------------------------------------------------------------------------------

def reader_problems(fig: Figure) -> list[str]:
    """What a reader would miss in ``fig``: an axis without its unit, colours without a legend, a
    legend over a point, a heatmap without a colour bar."""
    problems = []
    colour_bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        if ax in colour_bars:
            if not _has_unit(ax.get_ylabel() or ax.get_xlabel()):
                problems.append(f"colour bar without a unit: {ax.get_ylabel()!r}")
            continue
        for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
            # numbers matplotlib wrote on the axis (not names a figure set: components, layers, axis values)
            numeric = axis.get_visible() and isinstance(axis.get_major_formatter(), (ScalarFormatter, LogFormatter))
            if numeric and not (_has_unit(label) or axis is ax.yaxis and _has_unit(ax.get_title())):
                problems.append(f"{ax.get_title()!r}: numeric axis without a unit: {label!r}")
        if ax.images and not colour_bars:
            problems.append(f"{ax.get_title()!r}: a heatmap without a colour bar")
        legend = any(a.get_legend() for a in ax.get_shared_x_axes().get_siblings(ax)) or fig.legends   # twins share one
        if len(_data_colours(ax)) > 1 and not legend and not _bars_named_by_ticks(ax):
            problems.append(f"{ax.get_title()!r}: {len(_data_colours(ax))} colours and no legend")
        problems += _points_under_the_legend(ax)
    return problems


def _has_unit(label: str) -> bool:
    return bool(re.search(r"\[[^\]]+\]", label or ""))


def _data_colours(ax) -> set[str]:
    """The face colours of the bars and points drawn (not the frame, not the chip-boundary lines)."""
    colours = {to_hex(p.get_facecolor()) for p in ax.patches if p.get_visible() and p.get_height() and p.get_width()}
    for collection in ax.collections:
        colours |= {to_hex(c) for c in collection.get_facecolors()}
    return colours


def _bars_named_by_ticks(ax) -> bool:
    """One bar per tick label, each its own colour (the chip and the GPU): the ticks name the colours."""
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    return isinstance(ax.xaxis.get_major_formatter(), StrCategoryFormatter) and len(ax.patches) == len(ticks)


def _points_under_the_legend(ax) -> list[str]:
    legend = ax.get_legend()
    if legend is None:
        return []
    box = legend.get_window_extent()
    hidden = [tuple(xy) for collection in ax.collections for xy in collection.get_offset_transform().transform(
        collection.get_offsets()) if box.contains(*xy)]
    return [f"{ax.get_title()!r}: {len(hidden)} points under the legend"] if hidden else []
