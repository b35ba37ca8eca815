"""``archsim validate --quick``: every case runs (or is skipped as slow or needing an optional package),
inputs are reproduced.

Predictions are reported in the table and validation.json, not asserted: how far off they land is the
finding, not a test failure.
"""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from archsim.cli import main
from archsim.validate import CASES
from archsim.validate.networks import NIR_LIF_DT_S, NIR_LIF_EXACT, NIR_LIF_PATH, nir_lif_exact
from archsim.validate.run import run_cases


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("validation")
    assert main(["validate", "--quick", "--quiet", "--out", str(out)]) == 0
    return out, json.loads((out / "validation.json").read_text())["cases"]


def test_every_case_runs_or_is_skipped_as_slow(quick_report):
    _, rows = quick_report
    assert [row["name"] for row in rows] == [case.name for case in CASES]
    not_quick = {case.name for case in CASES if case.run.slow or case.requires}
    for row in rows:
        assert row["status"] == ("skipped" if row["name"] in not_quick else "ran"), row
        if row["status"] == "ran":
            assert row["predicted"] is not None and row["predicted"] > 0
            assert row["error"] == pytest.approx((row["predicted"] - row["published"]) / row["published"])
        else:
            assert row["skip_reason"] and row["predicted"] is None
        for key in ("quantity", "published", "tolerance", "within_tolerance", "role", "reference", "source"):
            assert key in row
    assert {row["reference"] for row in rows} == {"published", "peer"}


def test_inputs_are_reproduced(quick_report):
    _, rows = quick_report
    inputs = [row for row in rows if row["role"] == "input"]
    assert len(inputs) >= 5
    for row in inputs:
        assert row["within_tolerance"], row


def test_report_files_and_figure(quick_report, capsys):
    out, rows = quick_report
    page = (out / "index.html").read_text()
    assert "validation.png" in page and all(row["name"] in page for row in rows)
    assert (out / "validation.png").stat().st_size > 1000
    assert "| tianjic-clock |" in (out / "summary.md").read_text()


def test_nir_lif_published_figures_are_the_shipped_exact_trace():
    """The single-LIF cases' published numbers are what data/lif_exact.csv says, and the data ships inside
    the package (setup.cfg's package_data), so a regular install finds it."""
    spikes = np.nonzero(nir_lif_exact()[:, 2])[0]
    by_name = {case.name: case for case in CASES}
    assert by_name["nir-lif-spike-count"].published == len(spikes) == 4
    for name in ("nir-lif-last-spike", "nir-lif-last-spike-loihi", "nir-lif-last-spike-tianjic"):
        assert by_name[name].published == pytest.approx(spikes[-1] * NIR_LIF_DT_S * 1e3)
    package = Path(__import__("archsim").__file__).parent
    assert NIR_LIF_EXACT.is_relative_to(package) and NIR_LIF_PATH.is_relative_to(package) and NIR_LIF_PATH.exists()
    setup = (package.parent / "setup.cfg").read_text()
    assert "validate/data/*" in setup
    assert (package / "validate" / "data" / "LICENSE.NIR").exists()


def test_cases_needing_a_missing_package_are_skipped_with_one_line(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sanafe" else real(name, *a))
    needing = [case for case in CASES if case.requires == "sanafe"]
    assert len(needing) == 2
    lines = []
    rows = run_cases(needing, log=lines.append)
    assert [row["status"] for row in rows] == ["skipped", "skipped"]
    assert len(lines) == 1 and "pip install sanafe" in lines[0] and all(c.name in lines[0] for c in needing)


def _sanafe_conv_neuron(flat_kernel, shape, stride, source, c_out, y, x):
    """One output neuron's input by SANA-FE's documented indexing: neurons numbered channel, row, column; the
    flattened kernel entry of (ky, kx, c_in, c_out) at ((ky * kw + kx) * C_in + c_in) * C_out + c_out."""
    kh, kw, c_in_count, c_out_count = shape
    _, height, width = source.shape
    flat_source = source.reshape(-1)
    total = 0.0
    for c_in in range(c_in_count):
        for ky in range(kh):
            for kx in range(kw):
                weight = flat_kernel[((ky * kw + kx) * c_in_count + c_in) * c_out_count + c_out]
                total += weight * flat_source[c_in * height * width + (y * stride + ky) * width + (x * stride + kx)]
    return total


@pytest.mark.skipif(importlib.util.find_spec("sanafe") is None, reason="needs the optional package sanafe")
def test_sanafe_dvs_layout_follows_sanafe_conventions():
    """archsim's convolutions give what SANA-FE's indexing connects (checked on sampled neurons of conv1 and
    conv2), and every projection between layers reads the previous step (SANA-FE's one-step delivery)."""
    from archsim.graph.ops import apply_ops
    from archsim.validate import sanafe_dvs

    data = sanafe_dvs.load_data()
    net = sanafe_dvs.network(data)
    rng = np.random.default_rng(0)
    source = rng.integers(0, 2, (1, 32, 32)).astype(np.float64)
    for layer, (name, stride) in zip(net.layers[:2], sanafe_dvs.LAYERS[:2]):
        got = apply_ops(layer.projections[0].ops, source[None])[0]
        for c, y, x in zip(*(rng.integers(0, n, 12) for n in layer.shape)):
            want = _sanafe_conv_neuron(data[name].reshape(-1), data[name].shape, stride, source, c, y, x)
            assert got[c, y, x] == want, (name, c, y, x)
        source = rng.integers(0, 2, layer.shape).astype(np.float64)
    assert [p.recurrent for layer in net.layers[1:] for p in layer.projections] == [True] * 4


def test_unknown_case_is_bad_input(capsys):
    assert main(["validate", "--only", "no-such-case"]) == 2
    err = capsys.readouterr().err
    assert "--only" in err and "tianjic-clock" in err and "\n" == err[-1] and err.count("\n") == 1


def test_sanafe_place_maps_2x2_router_blocks_onto_sanafe_tiles():
    """archsim's 16 x 8 routers onto SANA-FE's 128 cores one to one, each 2 x 2 block one tile, tiles x-major."""
    from archsim.validate.sanafe_place import sanafe_core

    cores = {(x, y): sanafe_core(x, y) for x in range(16) for y in range(8)}
    assert sorted(cores.values()) == list(range(128))
    for x in range(0, 16, 2):
        for y in range(0, 8, 2):
            tiles = {cores[x + dx, y + dy] // 4 for dx in (0, 1) for dy in (0, 1)}
            assert tiles == {(x // 2) * 4 + y // 2}


class _Neuron:
    def map_to_core(self, core):
        self.core = core


def test_sanafe_place_puts_the_input_population_on_free_cores_and_digests_the_placement():
    from archsim.validate.sanafe_place import digest, map_to_cores

    layer, inputs = [_Neuron() for _ in range(3)], [_Neuron() for _ in range(8)]
    placement = {"a": np.array([0, 0, 5])}
    map_to_cores({"a": layer}, inputs, placement, [f"core{i}" for i in range(8)])
    assert [n.core for n in layer] == ["core0", "core0", "core5"]
    assert [n.core for n in inputs] == ["core1", "core1", "core2", "core2", "core3", "core3", "core4", "core4"]
    assert digest(placement) == digest({"a": np.array([0, 0, 5])}) != digest({"a": np.array([0, 5, 0])})
    assert digest(None) == "sanafe-own"


def test_sanafe_place_follows_archsim_mapping_on_loihi_only():
    """Every neuron gets the SANA-FE core of the archsim core that holds it; a chip other than Loihi's one-chip
    16 x 8 mesh has no correspondence (None)."""
    from archsim.api import resolve_chip
    from archsim.graph.network import LIF, Dense, Layer, Network, Projection
    from archsim.validate.sanafe_place import archsim_placement

    rng = np.random.default_rng(0)

    def layer(name, source, shape):
        weight = Dense(rng.integers(-3, 4, shape).astype(float))
        return Layer(name, shape[:1], (Projection(source, (weight,)),), LIF(decay=1.0, threshold=8.0))

    net = Network("two-dense", {"x": (100,)}, [layer("a", "x", (1200, 100)), layer("b", "a", (20, 1200))], ["b"])
    cores = archsim_placement(net, resolve_chip("loihi"))
    assert set(cores) == {"a", "b"} and len(cores["a"]) == 1200 and len(cores["b"]) == 20
    assert all(((c >= 0) & (c < 128)).all() for c in cores.values())
    assert len(set(cores["a"].tolist())) > 1 and not set(cores["a"].tolist()) & set(cores["b"].tolist())
    assert archsim_placement(net, resolve_chip("tianjic")) is None
