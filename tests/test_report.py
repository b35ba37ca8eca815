"""Reports from synthetic RESULT dicts of each family and from a small result store.

Each test parses the written HTML and checks that every figure it references exists and is non-empty,
that every PNG is a PNG with its SVG beside it, and that the page opens with the headline.
"""
from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from archsim import result as result_mod
from archsim.report import figures, headline, write_report
from archsim.sweep import ResultStore, run_sweep
from archsim.sweep.executors import InProcessExecutor


def base_result(chip: str, family: str, workload: str, mode: str) -> dict:
    """The archsim.result/1 keys, with plausible numbers."""
    return {
        "schema": "archsim.result/1", "chip": chip, "family": family, "workload": workload, "mode": mode,
        "engine": "fast", "steps": 8, "batch": 4, "cycles": 120_000, "clock_hz": 300e6, "latency_s": 4e-4,
        "throughput_samples_per_s": 1e4, "energy_pj": 2.5e6, "static_energy_pj": 3e5, "area_mm2": 14.4,
        "energy_breakdown_pj": {"synapse_sram": {"read": 1.2e6, "leakage": 1e5}, "dendrite": {"add": 8e5},
                                "router": {"route": 3e5}, "control": {"cycle": 1e5}},
        "area_breakdown_mm2": {"synapse_sram": 8.0, "dendrite": 3.2, "router": 2.0, "control": 1.2},
        "cost_sources": {"synapse_sram": {"read": "tech/28nm.yaml: sram_read_pj_per_bit (CACTI 7)"},
                         "dendrite": {"add": "tech/28nm.yaml: add_pj_16b (Horowitz 2014, scaled)"}},
        "synaptic_ops": 1_000_000, "spikes": 50_000, "energy_per_synaptic_op_pj": 2.5,
        "gpu": {"name": "V100", "latency_s": 2e-3, "energy_pj": 6e8, "area_mm2": 815.0},
        "vs_gpu": {"speedup": 5.0, "energy_saving": 240.0, "area_saving": 56.6},
        "trace": {"chip": chip, "family": family, "cycles_breakdown": {}, "noc": {}, "details": {}, "actions": {}},
    }


def manycore_result() -> dict:
    result = base_result("tianjic", "manycore", "dvs-gesture", "infer")
    trace = result["trace"]
    trace["cycles_breakdown"] = {"per_layer": {"conv1": 40_000, "conv2": 50_000, "fc": 30_000},
                                 "per_phase": {"integrate": 70_000, "fire": 20_000, "route": 30_000}}
    trace["details"] = {"core_utilisation": [[(x * y) % 7 / 7 for x in range(13)] for y in range(12)],
                        "layers": {"conv1": {"energy_pj": 1e6}, "conv2": {"energy_pj": 1.2e6}, "fc": {"energy_pj": 3e5}}}
    trace["noc"] = {"link_flits_grid": [[[x + y, x, y, 1] for x in range(13)] for y in range(12)], "packets": 900}
    return result


def h2learn_result() -> dict:
    result = base_result("h2learn", "h2learn", "vgg-cifar10", "train")
    result["energy_breakdown_pj"] = {"fe_lut": {"read": 9e5}, "be_mac": {"mac": 1.1e6}, "dram": {"read": 5e5, "write": 2e5}}
    result["area_breakdown_mm2"] = {"fe_lut": 3.0, "be_mac": 5.0, "wue_lut": 2.5}
    result["vs_gpu"]["speedup"] = 0.5  # slower than the GPU: the headline must say so
    trace = result["trace"]
    trace["cycles_breakdown"] = {"per_engine": {"FE": 50_000, "BE": 90_000, "WUE": 40_000}}
    trace["details"] = {
        "timeline": [{"engine": e, "start_cycle": s, "end_cycle": s + d} for e, s, d in
                     (("FE", 0, 50_000), ("BE", 20_000, 90_000), ("WUE", 60_000, 40_000))],
        "engine_utilisation": {"FE": 0.42, "BE": 0.75, "WUE": 0.33},
        "sparsity": {"conv1": {"input_spikes": 0.8, "grad": 0.6}, "fc": {"input_spikes": 0.9, "grad": 0.7}},
    }
    return result


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.refs.append(attrs["src"])
        if tag == "a" and attrs.get("href", "").startswith("figures/"):
            self.refs.append(attrs["href"])


def check_report(out: Path) -> tuple[str, list[str]]:
    """Every referenced figure exists and is non-empty; returns the HTML and its figure references."""
    html = (out / "index.html").read_text()
    parser = _Refs()
    parser.feed(html)
    assert parser.refs, "the report references no figure"
    for ref in parser.refs:
        path = out / ref
        assert path.is_file() and path.stat().st_size > 0, ref
        if ref.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert path.with_suffix(".svg").read_text().lstrip().startswith("<?xml")
    assert (out / "summary.md").read_text().startswith("# archsim")
    return html, parser.refs


def test_manycore_report_has_mesh_heatmaps_and_sources(tmp_path):
    result_mod.write(manycore_result(), tmp_path / "r.json")
    write_report(tmp_path / "r.json", tmp_path / "out")
    html, refs = check_report(tmp_path / "out")
    for stem in ("vs_gpu", "energy", "area", "layers", "core_utilisation", "noc_load", "cycles_per_phase"):
        assert f"figures/{stem}.png" in refs, stem
    assert "latency chip better by 5x, energy chip better by 240x" in html
    assert html.index("class=\"headline\"") < html.index("<h2>")
    assert "CACTI 7" in html and "Horowitz 2014" in html
    assert "Engine timeline" not in html and "<h2>Engines</h2>" not in html  # another family's section is left out


def test_h2learn_report_has_engine_figures(tmp_path):
    result_mod.write(h2learn_result(), tmp_path / "r.json")
    write_report(tmp_path / "r.json", tmp_path / "out")
    html, refs = check_report(tmp_path / "out")
    for stem in ("timeline", "pipeline", "sparsity", "cycles_per_engine"):
        assert f"figures/{stem}.png" in refs, stem
    assert "latency GPU better by 2x" in html
    assert "Core utilisation on the mesh" not in html and "<h2>Mesh</h2>" not in html


def test_minimal_result_without_gpu_or_details(tmp_path):
    result = base_result("toy", "manycore", "mlp-digits", "infer")
    for key in ("gpu", "vs_gpu", "cost_sources"):
        del result[key]
    assert headline(result).startswith("On toy, mlp-digits (infer, batch 4, 8 steps) takes 400 us")
    result_mod.write(result, tmp_path / "r.json")
    write_report(tmp_path / "r.json", tmp_path / "out")
    html, refs = check_report(tmp_path / "out")
    assert "No GPU comparison" in html and "lists no cost sources" in html


def fake_run(network, chip, **options):
    """A RESULT that depends on the overrides (the report test needs a store, not a model)."""
    result = copy.deepcopy(manycore_result())
    neurons, node = chip.params["core"]["neurons"], chip.params["technology"]["node_nm"]
    if neurons == 13:
        raise ValueError("13 neurons do not fit")
    result["latency_s"] = 1e-4 * 256 / neurons
    result["energy_pj"] = 1e6 * neurons / 64 * (node / 28) ** 2
    result["area_mm2"] = 0.05 * neurons
    return result


def test_store_report_has_pareto_axis_effects_and_sortable_table(tmp_path):
    from tests.test_sweep import ToyChip, TOY_CHIP, write_sweep  # the sweep tests' toy chip

    path = write_sweep(tmp_path, """
        name: report-sweep
        chip: toy.yaml
        workloads: [{network: dvs-gesture}]
        axes: {core.neurons: [13, 32, 64, 128], technology.node_nm: [28, 45]}
        objectives: [latency_s, energy_pj, area_mm2]
        constraints: [{metric: area_mm2, max: 5}]
    """)
    from archsim.sweep import load_sweep

    spec = load_sweep(path, chip=ToyChip("toy", "manycore", path.parent / "toy.yaml", copy.deepcopy(TOY_CHIP)))
    with ResultStore(tmp_path / "s.db") as store:
        run_sweep(spec, store, executor=InProcessExecutor(), run_fn=fake_run, recost_fn=lambda r, c: fake_run("", c),
                  progress=False)
    write_report(tmp_path / "s.db", tmp_path / "out")
    html, refs = check_report(tmp_path / "out")
    assert "figures/pareto.png" in refs and "figures/axis_effects.png" in refs
    assert 'class="sortable"' in html and "addEventListener" in html
    assert html.count("<tr>") >= 8 + 1  # every point has a row
    assert "ValueError: 13 neurons do not fit" in html
    assert "Constraints: area_mm2 &lt;= 5 mm²" in html
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "| latency_s [s] |" in md or "latency_s [s]" in md


def test_cli_report_and_bad_source(tmp_path, capsys):
    from archsim.cli import main

    result_mod.write(h2learn_result(), tmp_path / "r.json")
    assert main(["report", str(tmp_path / "r.json"), "--out", str(tmp_path / "out")]) == 0
    assert "index.html" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "bad.json").write_text(json.dumps({"schema": "other"}))
    assert main(["report", str(tmp_path / "bad.json"), "--out", str(tmp_path / "o")]) == 2
    assert "schema" in capsys.readouterr().err


@pytest.mark.parametrize("make", [manycore_result, h2learn_result])
def test_report_survives_odd_trace_shapes(tmp_path, make):
    """Details in unexpected shapes skip their figure instead of failing the report."""
    result = make()
    result["trace"]["details"] = {"core_utilisation": [1, 2, 3], "layers": [1, 2], "timeline": [],
                                  "sparsity": {"a": "high"}}
    result["trace"]["noc"] = {"link_flits": [1, 2, 3], "mesh": [2, 2]}
    result["trace"]["cycles_breakdown"] = {"per_core": [1, 2], "per_phase": {"a": {"b": 1, "c": 2}}}
    result_mod.write(result, tmp_path / "r.json")
    write_report(tmp_path / "r.json", tmp_path / "out")
    check_report(tmp_path / "out")


def test_same_result_gives_the_same_report_bytes(tmp_path):
    path = tmp_path / "r.json"
    result_mod.write(manycore_result(), path)
    first, second = write_report(path, tmp_path / "a").parent, write_report(path, tmp_path / "b").parent
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert any(p.suffix == ".svg" for p in files)
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def _bar_heights(ax) -> list[float]:
    return [round(p.get_height(), 9) for p in ax.patches]


def test_per_layer_figure_puts_latency_and_energy_side_by_side_in_network_order():
    result = manycore_result()
    result["clock_hz"] = 1e9
    result["energy_by_layer_pj"] = {"conv1": 2e6, "conv2": 3e6, "fc": 1e6, "shared": 5e5}
    fig = figures.per_layer(result)
    latency_ax, energy_ax = fig.axes
    assert [t.get_text() for t in latency_ax.get_xticklabels()] == ["conv1", "conv2", "fc", "shared"]
    assert _bar_heights(latency_ax) == [40.0, 50.0, 30.0]            # µs at 1 GHz
    assert _bar_heights(energy_ax) == [2.0, 3.0, 1.0, 0.5]            # µJ; shared last
    assert "µs" in latency_ax.get_ylabel() and "µJ" in energy_ax.get_ylabel()
    assert latency_ax.patches[0].get_x() < energy_ax.patches[0].get_x()   # side by side, latency first


def test_per_layer_figure_stacks_h2learn_engines_and_skips_what_is_absent():
    result = h2learn_result()
    result["clock_hz"] = 1e6
    result["trace"]["cycles_breakdown"]["layer"] = {"hidden": {"fe": 3, "be": 1, "wue": 2}, "readout": {"fe": 1}}
    fig = figures.per_layer(result)
    assert len(fig.axes) == 1 and "busy time" in fig.axes[0].get_ylabel()   # no per-layer energy: one axis
    assert _bar_heights(fig.axes[0]) == [3.0, 1.0, 1.0, 0.0, 2.0, 0.0]      # fe, be, wue stacked, in s
    assert "layer" not in figures.other_breakdowns(result)                  # drawn here, not twice
    result["trace"]["cycles_breakdown"] = {}
    result["energy_by_layer_pj"] = {"hidden": 4e6, "readout": 1e6, "shared": 0.0}
    fig = figures.per_layer(result)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["hidden", "readout"]   # no shared: 0 pJ
    result["energy_by_layer_pj"] = {}
    assert isinstance(figures.per_layer(result), str)


def test_a_gpu_run_on_its_own_has_no_empty_comparison_columns(tmp_path):
    from archsim import api

    result = api.run("mlp-digits", "gpu/v100", steps=2)
    result_mod.write(result, tmp_path / "r.json")
    summary = (write_report(tmp_path / "r.json", tmp_path / "rep").parent / "summary.md").read_text()
    assert "(the GPU model on its own)" in headline(result) and "no GPU comparison" not in summary
    table = summary.split("## Key numbers")[1].split("##")[0]
    assert "| quantity | v100 |\n" in table and "| - |" not in table
