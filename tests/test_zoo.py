"""The model zoo and the ``archsim train`` command."""
from __future__ import annotations

import json

import numpy as np
import pytest

from archsim.cli import main as cli_main
from archsim.graph.functional import simulate
from archsim.graph.quantize import Precision
from archsim.graph.workload import synthetic_inputs
from workloads import zoo


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSIM_CACHE", str(tmp_path / "cache"))


def _chain_shape(network, projection):
    shape = network.shape_of(projection.source)
    for op in projection.ops:
        shape = tuple(op.output_shape(shape))
    return shape


@pytest.fixture(scope="module")
def built():
    return {name: zoo.build(name) for name in zoo.names()}


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_shapes_are_consistent(built, name):
    network = built[name]
    steps = network.metadata["steps"]
    for layer in network.layers:
        for projection in layer.projections:
            assert _chain_shape(network, projection) == layer.shape, (layer.name, projection.source)
    assert set(network.metadata["input_kind"]) == set(network.inputs)
    stats = network.metadata["stats"]
    spiking = [layer.name for layer in network.layers if layer.spiking]
    assert sorted(stats["spike_rates"]) == sorted(spiking)
    assert all(len(rates) == steps for rates in stats["spike_rates"].values())
    assert set(stats["input_rate"]) == set(network.inputs)
    assert set(stats["window_fraction"]) == set(spiking) == set(stats["zero_grad_fraction"])
    assert set(network.metadata["quant"]["weight_scale"]) <= {layer.name for layer in network.layers}


def test_zoo_documented_shapes(built):
    vgg = built["vgg-cifar10"]
    assert vgg.metadata["steps"] == 6 and vgg.inputs["input"] == (3, 32, 32)
    convs = [layer for layer in vgg.layers if layer.name.startswith("conv")]
    assert [layer.shape[0] for layer in convs] == [128, 128, 128, 256, 256, 256, 512, 512, 512]
    assert vgg.layer("fc1").projections[0].ops[-1].weight.shape == (1024, 8192)
    assert [vgg.layer(n).shape for n in ("fc1", "fc2", "readout")] == [(1024,), (512,), (10,)]
    lif = vgg.layer("conv1").neuron
    assert float(lif.decay) == 0.25 and float(lif.threshold) == 0.25
    assert built["dvs-gesture"].metadata["steps"] == 16 and built["dvs-gesture"].layer("readout").shape == (11,)
    hybrid = built["hybrid-tracker"]
    assert hybrid.metadata["input_kind"] == {"frames": "values", "events": "spikes"}
    assert [p.source for p in hybrid.layer("fuse").projections] == ["ann2", "attention"]
    assert built["mlp-digits"].layer("hidden").shape == (128,)


@pytest.mark.parametrize("name", ["mlp-digits", "conv-digits", "dvs-gesture", "hybrid-tracker"])
def test_zoo_networks_run_float_and_quantised(built, name):
    network = built[name]
    inputs = synthetic_inputs(network, 3, 2, seed=1)
    float_run = simulate(network, inputs)
    chip_run = simulate(network, inputs, precision=Precision())
    out = network.outputs[0]
    assert float_run.outputs[out].shape == chip_run.outputs[out].shape
    assert sum(float_run.spike_counts.values()) > 0


def test_build_is_deterministic(built):
    again = zoo.build("conv-digits")
    other = zoo.build("conv-digits", seed=1)
    w = lambda net: net.layer("conv2").projections[0].ops[-1].weight  # noqa: E731
    np.testing.assert_array_equal(w(again), w(built["conv-digits"]))
    assert not np.array_equal(w(other), w(again))


def test_load_prefers_cached_trained_graph():
    assert zoo.load("mlp-digits").metadata["trained"] is False
    network, stats = zoo.train("mlp-digits")
    assert zoo.cache_path("mlp-digits").exists()
    loaded = zoo.load("mlp-digits")
    assert loaded.metadata["trained"] is True
    assert stats["accuracy"]["float"] >= 0.95
    assert abs(stats["accuracy"]["float"] - stats["accuracy"]["quantized"]) <= 0.01


def test_cli_train_writes_nir_and_stats(tmp_path, capsys):
    out = tmp_path / "m.nir"
    assert cli_main(["train", "mlp-digits", "--epochs", "1", "--out", str(out), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "quantized" in printed and "training time" in printed
    stats = json.loads(out.with_suffix(".stats.json").read_text())
    assert stats["seed"] == 3 and stats["epochs"] == 1 and stats["steps"] == 8
    import nir

    assert nir.read(str(out)) is not None
    assert not list(tmp_path.glob(".*tmp"))


def test_cli_untrained_shape(tmp_path):
    out = tmp_path / "h.nir"
    assert cli_main(["train", "hybrid-tracker", "--epochs", "0", "--out", str(out)]) == 0
    from archsim.graph.nir_io import read_network

    back = read_network(out)
    assert [layer.name for layer in back.layers] == [layer.name for layer in zoo.build("hybrid-tracker").layers]
    assert json.loads(out.with_suffix(".stats.json").read_text())["trained"] is False


def test_cli_errors(capsys):
    assert cli_main(["train", "no-such-net"]) == 2
    assert cli_main(["train", "vgg-cifar10", "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no-such-net" in err[0] and "vgg-cifar10" in err[1]
    with pytest.raises(SystemExit):
        cli_main(["train", "--help"])
    listing = capsys.readouterr().out
    assert all(name in listing for name in zoo.names())
