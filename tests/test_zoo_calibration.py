"""Untrained zoo shapes are calibrated to trained spike rates: none is silent past its first layer."""
from __future__ import annotations

import numpy as np
import pytest

from archsim.api import load_network
from archsim.graph.functional import simulate
from archsim.graph.workload import synthetic_inputs
from workloads import calibrate, zoo

STEPS = 2  # short runs keep the deep shapes fast (the calibration runs on the same T as the check)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSIM_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("name", ["dvs-gesture", "vgg-cifar10", "hybrid-tracker", "conv-digits"])
def test_no_zoo_shape_is_silent_past_its_first_layer(name):
    network = zoo.build(name, steps=STEPS)
    run = simulate(network, synthetic_inputs(network, STEPS, 1, seed=0))
    spiking = [layer.name for layer in network.layers if layer.spiking]
    calibration = network.metadata["stats"]["calibration"]
    for layer in spiking:
        assert run.spike_counts[layer] > 0, layer
        rate = run.spike_counts[layer] / (STEPS * int(np.prod(network.shape_of(layer))))
        # archsim's own simulator reproduces the calibrated trainer rates it records
        assert rate == pytest.approx(calibration["rates"][layer], abs=1e-9), layer
        assert abs(rate - calibration["targets"][layer]) <= 0.02, (layer, rate, calibration["targets"][layer])


def test_targets_follow_the_trained_rates():
    network = zoo.build("dvs-gesture", steps=STEPS)
    targets = network.metadata["stats"]["calibration"]["targets"]
    rates = calibrate.TRAINED_RATES
    assert targets["conv2"] == targets["conv4"] == rates["conv"] and targets["fc"] == rates["dense"]
    # a first layer on events fires in proportion to them (0.93 spikes per event, trained conv-digits)
    assert targets["conv1"] == pytest.approx(rates["first"] / calibrate.TRAINED_INPUT_MEAN * zoo.EVENT_RATE, rel=0.05)
    assert zoo.build("vgg-cifar10", steps=STEPS).metadata["stats"]["calibration"]["targets"]["conv1"] == rates["first"]


def test_calibration_is_deterministic():
    first = zoo._calibration.__wrapped__("hybrid-tracker", 0, STEPS)
    again = zoo._calibration.__wrapped__("hybrid-tracker", 0, STEPS)
    assert first == again
    a, b = zoo.build("hybrid-tracker", steps=STEPS), zoo.build("hybrid-tracker", steps=STEPS)
    w = lambda net: net.layer("fuse").projections[1].ops[-1].weight  # noqa: E731
    np.testing.assert_array_equal(w(a), w(b))


def test_loading_a_shape_says_so_once_on_stderr(capsys, monkeypatch):
    from archsim import api

    monkeypatch.setattr(api, "_announced", set())
    load_network("hybrid-tracker")
    load_network("hybrid-tracker")
    api.flush_notices()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hybrid-tracker: untrained shape, weights calibrated")
    assert "fuse 0.263" in err[0] and "conv-digits" in err[0]


def test_info_shows_calibrated_rates(capsys, monkeypatch):
    from archsim import api
    from archsim.cli import main

    monkeypatch.setattr(api, "_announced", set())
    assert main(["info", "hybrid-tracker"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("hybrid-tracker: untrained shape") and captured.err.count("\n") == 1
    out = captured.out
    fuse = next(line for line in out.splitlines() if line.startswith("fuse"))
    assert "0.26" in fuse
