"""Compression as a workload transform: magnitude pruning, the accuracy it costs, and sweeps over it."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from archsim.errors import UserError
from archsim.graph.compress import check_density, prune
from archsim.graph.network import Conv2d, Dense, LIF, Layer, Network, Projection
from archsim.runner import recost, run


def _network(weights: dict[str, object]) -> Network:
    lif = LIF(decay=np.float64(0.5), threshold=np.float64(1.0))
    layers, source = [], "input"
    for name, weight in weights.items():
        op = Conv2d(weight=weight) if np.ndim(weight) == 4 else Dense(weight=weight)
        shape = (weight.shape[0], 4, 4) if np.ndim(weight) == 4 else (weight.shape[0],)
        layers.append(Layer(name, shape, (Projection(source, (op,)),), lif))
        source = name
    first = next(iter(weights.values()))
    inputs = {"input": (first.shape[1], 6, 6) if np.ndim(first) == 4 else (first.shape[1],)}
    return Network("toy", inputs, layers, [source])


def _kept(op) -> np.ndarray:
    return op.weight.toarray() if sp.issparse(op.weight) else np.asarray(op.weight)


def test_prune_keeps_the_largest_weights_of_each_op():
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(20, 30))
    dense[dense.__abs__() < 0.2] = 0.0            # some weights already absent
    conv = rng.normal(size=(4, 3, 3, 3))
    pruned = prune(_network({"a": dense}), 0.3).layers + prune(_network({"b": conv}), 0.3).layers
    for original, layer in zip((dense, conv), pruned):
        w = _kept(layer.projections[0].ops[0])
        existing = np.count_nonzero(original)
        assert np.count_nonzero(w) == math.ceil(0.3 * existing)
        survivors = w != 0
        assert np.array_equal(w[survivors], original[survivors])          # values kept as they were
        assert np.abs(original[survivors]).min() >= np.abs(original[~survivors]).max()
    assert prune(_network({"a": dense}), 0.3).metadata["transforms"] == {"prune_density": 0.3}


def test_prune_of_a_sparse_layer_stays_sparse_and_density_one_is_identity():
    weight = sp.random(50, 40, density=0.1, random_state=2, format="csr")
    network = _network({"a": weight})
    pruned = prune(network, 0.5)
    op = pruned.layers[0].projections[0].ops[0]
    assert sp.issparse(op.weight) and op.weight.nnz == math.ceil(0.5 * weight.nnz)
    assert prune(network, 1.0) is network


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, float("nan"), "half", None])
def test_density_outside_zero_one_is_a_user_error(bad):
    with pytest.raises(UserError, match=r"--prune-density: .* \(allowed: a fraction"):
        check_density(bad)


def test_pruned_network_costs_fewer_synaptic_ops_on_loihi():
    rng = np.random.default_rng(3)
    network = _network({"hidden": rng.normal(size=(64, 48)) * 0.6, "out": rng.normal(size=(10, 64)) * 0.6})
    full = run(network, "loihi", steps=6, batch=1, gpu=None)
    tenth = run(prune(network, 0.1), "loihi", steps=6, batch=1, gpu=None)
    assert tenth["workload_transforms"] == {"prune_density": 0.1}
    assert tenth["synaptic_ops"] < 0.2 * full["synaptic_ops"]
    assert tenth["energy_pj"] < full["energy_pj"]


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("ARCHSIM_CACHE", str(tmp_path / "cache"))


def test_accuracy_is_measured_at_the_chip_precision_and_survives_recost(fresh_cache):
    full = run("mlp-digits", "tianjic", gpu=None, accuracy=True)
    pruned = run("mlp-digits", "tianjic", gpu=None, accuracy=True, prune_density=0.1)
    assert full["accuracy"]["precision"] == "int8" and full["accuracy"]["samples"] > 300
    assert full["accuracy"]["value"] > 0.9                         # the trained digits MLP
    assert pruned["accuracy"]["value"] < full["accuracy"]["value"] - 0.2   # one-shot pruning to 10% hurts
    again = recost(pruned, "tianjic")
    assert again["accuracy"] == pruned["accuracy"]
    assert again["workload_transforms"] == {"prune_density": 0.1}


def test_accuracy_of_an_untrained_shape_is_refused(fresh_cache):
    with pytest.raises(UserError, match="accuracy needs a trained zoo network"):
        run("dvs-gesture", "tianjic-board", gpu=None, accuracy=True, steps=1)


def test_sweep_puts_workload_axes_into_the_workload(tmp_path):
    from archsim.sweep import load_sweep
    from archsim.sweep.points import expand_points

    sweep = tmp_path / "s.yaml"
    chips = __import__("archsim.shipped", fromlist=["CHIPS_DIR"]).CHIPS_DIR
    sweep.write_text(f"chip: {chips / 'loihi.yaml'}\n"
                     "workloads: [{network: mlp-digits, accuracy: true}]\n"
                     "axes: {workload.prune_density: [1.0, 0.25], precision.weight_bits: [8, 4]}\n")
    points = expand_points(load_sweep(sweep))
    assert len(points) == 4 and len({p.hash for p in points}) == 4
    assert {p.workload["prune_density"] for p in points} == {1.0, 0.25}
    assert all("workload.prune_density" not in p.overrides and p.workload["accuracy"] for p in points)
    for bad, message in (("workload.prune_density: [0]", "axes.workload.prune_density: '0' is not allowed"),
                         ("workload.depth: [2]", "no such workload transform")):
        sweep.write_text(f"chip: {chips / 'loihi.yaml'}\nworkloads: [{{network: mlp-digits}}]\naxes: {{{bad}}}\n")
        with pytest.raises(UserError, match=message):
            load_sweep(sweep)


def test_cli_prints_pruning_and_accuracy(fresh_cache, capsys):
    from archsim.cli import main

    assert main(["run", "mlp-digits", "--chip", "loihi", "--gpu", "none", "--prune-density", "0.5",
                 "--accuracy"]) == 0
    out = capsys.readouterr().out
    assert "pruned to" in out and "0.5 of each layer's synapses" in out
    assert "test accuracy" in out and "int8" in out
    assert main(["run", "mlp-digits", "--chip", "loihi", "--prune-density", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--prune-density: '2.0' is not allowed" in err[0]


def test_a_sweep_names_its_base_chip_by_a_shipped_name(tmp_path):
    from archsim.sweep import load_sweep

    sweep = tmp_path / "s.yaml"
    sweep.write_text("chip: loihi\nworkloads: [{network: mlp-digits}]\naxes: {workload.prune_density: [0.5]}\n")
    assert load_sweep(sweep).base_chip.name == "loihi"
    sweep.write_text("chip: loihii\nworkloads: [{network: mlp-digits}]\naxes: {workload.prune_density: [0.5]}\n")
    with pytest.raises(UserError, match=r"chip: no such file 'loihii' \(allowed: a path relative to the sweep file, or a shipped name: h2learn"):
        load_sweep(sweep)
