"""Mapper: partition limits, placement, mapping files, validation, does-not-fit errors."""
import os

import numpy as np
import pytest

from archsim.config import load_chip
from archsim.errors import UserError
from archsim.graph.network import LIF, Conv2d, Dense, Flatten, Layer, Network, Projection
from archsim.mapping import Mapping, map_network, validate_mapping

CHIP = "chips/tianjic.yaml"
LIF_ = dict(decay=np.float64(0.9), threshold=np.float64(1.0))


def _mlp(n_in=784, hidden=300):
    rng = np.random.default_rng(0)
    return Network("mlp", {"x": (n_in,)}, [
        Layer("h", (hidden,), (Projection("x", (Dense(rng.normal(size=(hidden, n_in))),)),), LIF(**LIF_)),
        Layer("o", (10,), (Projection("h", (Dense(rng.normal(size=(10, hidden))),)),), LIF(**LIF_))], ["o"])


def test_fan_in_split_and_limits_hold():
    chip = load_chip(CHIP)
    mapping = map_network(_mlp(), chip)
    assert "h" in mapping.summary["split_layers"]
    assert mapping.input_groups["h"] == [0, 256, 512, 768, 784]
    for part in mapping.parts:
        assert part.neurons[1] - part.neurons[0] <= 256
    validate_mapping(mapping, _mlp(), chip)
    assert len({p.core for p in mapping.parts}) == len(mapping.parts)


def test_save_load_and_hand_edit(tmp_path):
    chip = load_chip(CHIP)
    net = _mlp(100, 50)
    mapping = map_network(net, chip)
    path = tmp_path / "m.yaml"
    mapping.save(path)
    loaded = Mapping.load(path)
    validate_mapping(loaded, net, chip)
    assert loaded.parts == mapping.parts
    text = path.read_text().replace("neurons: [0, 50]", "neurons: [0, 40]", 1)
    path.write_text(text)
    with pytest.raises(UserError, match="layers.h.parts: neuron 40"):
        validate_mapping(Mapping.load(path), net, chip, source=str(path))


def test_conv_folded_and_does_not_fit():
    rng = np.random.default_rng(0)
    conv = Network("conv", {"x": (2, 16, 16)}, [
        Layer("c", (8, 16, 16), (Projection("x", (Conv2d(rng.normal(size=(8, 2, 3, 3)), padding=(1, 1)),)),), LIF(**LIF_)),
        Layer("o", (10,), (Projection("c", (Flatten(), Dense(rng.normal(size=(10, 2048))))),), LIF(**LIF_))], ["o"])
    chip = load_chip(CHIP)
    mapping = map_network(conv, chip)
    validate_mapping(mapping, conv, chip)
    tiny = chip.with_overrides({"noc.mesh_x": 2, "noc.mesh_y": 2})
    with pytest.raises(UserError, match=r"needs \d+ cores but .* has 4"):
        map_network(conv, tiny)


def test_one_cut_serves_any_board_that_holds_it():
    """The cut depends on the cores, not the board: a cut made on one board, placed on a larger one,
    gives the mapping made there from scratch; on a board too small it is refused with its count."""
    from archsim.mapping import cut_network

    net = _mlp(600, 300)
    chip = load_chip(CHIP)
    cut = cut_network(net, chip)
    assert cut.cores == len(map_network(net, chip).parts)
    board = load_chip("chips/tianjic-board.yaml")
    assert map_network(net, board, cut=cut).parts == map_network(net, board).parts
    tiny = chip.with_overrides({"noc.mesh_x": 2, "noc.mesh_y": 2})
    with pytest.raises(UserError, match=rf"needs {cut.cores} cores but .* has 4"):
        map_network(net, tiny, cut=cut)


def test_layers_split_in_worker_processes_as_in_one(monkeypatch):
    """Above the size threshold the layers are split in forked workers, largest first: the same splits,
    in layer order, as one process makes (conv-digits has conv, pool and dense layers)."""
    from archsim.mapping import cut_network, parallel_cut
    from workloads import zoo

    net = zoo.build("conv-digits")
    chip = load_chip("chips/tianjic-board.yaml")
    alone = cut_network(net, chip)
    split_here = parallel_cut.split_layer

    def split_and_sign(*args):
        split = split_here(*args)
        split.made_by = os.getpid()
        return split

    monkeypatch.setattr(parallel_cut, "split_layer", split_and_sign)
    monkeypatch.setattr(parallel_cut, "PARALLEL_NEURONS", 0)
    monkeypatch.setattr(parallel_cut, "_cpus", lambda: 2)
    forked = cut_network(net, chip)
    assert all(split.made_by != os.getpid() for split in forked.splits.values())
    assert list(forked.splits) == list(alone.splits) and forked.specs == alone.specs
    for name, split in alone.splits.items():
        other = forked.splits[name]
        assert (other.order, other.input_groups, other.runs) == (split.order, split.input_groups, split.runs)


def test_placed_routes_equal_routes_built_for_the_placed_mapping():
    """map_network routes the draft once and moves its parts to their placed cores: the same routes as
    routing the placed mapping from scratch."""
    from archsim.graph.quantize import Precision, quantize
    from archsim.mapping import kernel_candidates, lower_network
    from archsim.mapping.routing import build_routes
    from workloads import zoo

    net = zoo.build("conv-digits")
    chip = load_chip("chips/tianjic-board.yaml")
    qnet = quantize(net, Precision.from_config(chip.params["precision"]))
    mapping = map_network(net, chip, qnet)
    _, lowered, placed = mapping.handover
    fresh = build_routes(mapping, lower_network(net, qnet, kernel_candidates(net, qnet, chip, mapping.orders)))
    assert len({p.core for p in placed.parts}) == len(placed.parts) > 1
    assert [(p.core, p.owner, p.inputs) for p in placed.parts] == [(p.core, p.owner, p.inputs) for p in fresh.parts]
    for a, b in zip(placed.parts, fresh.parts):
        np.testing.assert_array_equal(a.axon_rows, b.axon_rows)
    for name in fresh.dest_parts:
        np.testing.assert_array_equal(placed.dest_parts[name], fresh.dest_parts[name])
        np.testing.assert_array_equal(placed.dest_ptr[name], fresh.dest_ptr[name])
