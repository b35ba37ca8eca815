"""Partitioned cuts (METIS): hidden locality is recovered, limits hold, the cut is deterministic and saved."""
import copy
import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from archsim.config import load_chip
from archsim.errors import UserError
from archsim.graph.network import LIF, Dense, Layer, Network, Projection
from archsim.graph.quantize import Precision, quantize
from archsim.mapping import Mapping, core_limits, lower_network, map_network, validate_mapping
from archsim.mapping.partition import _split_in_order, input_groups, split_layer

LIF_ = dict(decay=np.float64(0.9), threshold=np.float64(1.0))
BLOCKS, BLOCK, FAN_IN = 8, 64, 24


def _shuffled_blocks(seed=0):
    """8 blocks of 64 neurons, each neuron reading 24 of its own block's 64 inputs; neuron order shuffled."""
    rng = np.random.default_rng(seed)
    w = np.zeros((BLOCKS * BLOCK, BLOCKS * BLOCK))
    for n in range(BLOCKS * BLOCK):
        block = n // BLOCK
        w[n, block * BLOCK + rng.choice(BLOCK, FAN_IN, replace=False)] = rng.integers(1, 100, FAN_IN)
    shuffle = rng.permutation(BLOCKS * BLOCK)
    net = Network("blocks", {"x": (BLOCKS * BLOCK,)},
                  [Layer("h", (BLOCKS * BLOCK,), (Projection("x", (Dense(w[shuffle]),)),), LIF(**LIF_))], ["h"])
    return net, shuffle // BLOCK                 # the block of each neuron in the layer's (shuffled) order


def with_cuts(chip, cuts):
    """``chip`` with ``mapping.cuts`` set (the shipped configs give no mapping section to override)."""
    given = copy.deepcopy(chip.given if chip.given is not None else chip.params)
    given.setdefault("mapping", {})["cuts"] = list(cuts)
    return dataclasses.replace(chip, params={**chip.params, "mapping": given["mapping"]}, given=given)


def _chip(path):
    """Cores of 64 neurons and 96 axons: a core holds one block, not two blocks' inputs."""
    return load_chip(path).with_overrides({"core.neurons": BLOCK, "core.axons": 96})


def _mapped(net, chip):
    qnet = quantize(net, Precision.from_config(chip.params["precision"]))
    return map_network(net, chip, qnet), qnet


@pytest.mark.parametrize("path", ["chips/loihi.yaml", "chips/tianjic.yaml"])
def test_partitioner_recovers_shuffled_blocks(path):
    """Fewer cores and less traffic than the contiguous cut in the same synapse format."""
    net, block_of = _shuffled_blocks()
    chip = _chip(path)
    mapping, qnet = _mapped(net, chip)
    validate_mapping(mapping, net, chip, qnet)
    assert mapping.orders["h"] == "partitioned"
    perm = mapping.permutations["h"]
    parts = mapping.layer_parts("h")
    assert len(parts) == BLOCKS
    for part in parts:                           # each core holds exactly one hidden block
        assert len(set(block_of[perm[part.neurons[0]:part.neurons[1]]])) == 1
    low = lower_network(net, qnet)["h"]
    limits = core_limits(chip)
    csc = low.matrix.tocsc()
    csc.sort_indices()
    contiguous = _split_in_order(low, csc, limits, "chw", input_groups(low, limits.axons))
    assert len(contiguous.parts(low)) >= 2 * BLOCKS
    partitioned = split_layer(low, limits)
    assert partitioned.runs == [(p.neurons[0], p.neurons[1]) for p in parts]
    assert partitioned.traffic(low) == BLOCKS * BLOCK        # each input reaches its block's one core
    assert contiguous.traffic(low) > 1.5 * BLOCKS * BLOCK


def test_an_overflowing_part_is_split_again_and_every_limit_holds():
    """Cores of 60 neurons cannot hold a block of 64: the parts are cut again until each fits."""
    net, _ = _shuffled_blocks(1)
    chip = load_chip("chips/loihi.yaml").with_overrides({"core.neurons": 60, "core.axons": 96})
    mapping, qnet = _mapped(net, chip)
    validate_mapping(mapping, net, chip, qnet)
    assert mapping.orders["h"] == "partitioned"
    assert all(p.neurons[1] - p.neurons[0] <= 60 for p in mapping.parts)
    assert len(mapping.parts) == 2 * BLOCKS          # each block halved along its own seams


def test_partitioned_mapping_is_deterministic_and_round_trips(tmp_path):
    net, _ = _shuffled_blocks(2)
    chip = _chip("chips/loihi.yaml")
    first, qnet = _mapped(net, chip)
    second, _ = _mapped(net, chip)
    assert first.parts == second.parts
    np.testing.assert_array_equal(first.permutations["h"], second.permutations["h"])
    path = tmp_path / "m.yaml"
    first.save(path)
    loaded = Mapping.load(path)
    np.testing.assert_array_equal(loaded.permutations["h"], first.permutations["h"])
    validate_mapping(loaded, net, chip, qnet, source=str(path))
    broken = path.read_text().replace("permutation: [", "permutation: [0, ", 1)
    path.write_text(broken)
    with pytest.raises(UserError, match=r"layers.h.permutation: not a permutation of the layer's 512 neurons"):
        validate_mapping(Mapping.load(path), net, chip, qnet, source=str(path))


def test_a_layer_without_locality_keeps_the_contiguous_cut():
    """Fully connected: every cut needs the same cores and traffic, so the earlier (contiguous) one stays."""
    rng = np.random.default_rng(3)
    net = Network("dense", {"x": (64,)}, [Layer("h", (200,), (Projection("x", (Dense(rng.normal(size=(200, 64))),)),),
                                                 LIF(**LIF_))], ["h"])
    mapping, _ = _mapped(net, load_chip("chips/loihi.yaml").with_overrides({"core.neurons": 64}))
    assert mapping.orders["h"] == "chw"
    assert len(mapping.parts) == 4


def test_a_sparse_weight_layer_is_partitioned_like_its_dense_twin():
    net, _ = _shuffled_blocks(4)
    w = net.layers[0].projections[0].ops[0].weight
    twin = Network("blocks", {"x": (512,)}, [Layer("h", (512,), (Projection("x", (Dense(sp.csr_matrix(w)),)),),
                                                  LIF(**LIF_))], ["h"])
    chip = _chip("chips/loihi.yaml")
    a, _ = _mapped(net, chip)
    b, _ = _mapped(twin, chip)
    assert a.parts == b.parts
    np.testing.assert_array_equal(a.permutations["h"], b.permutations["h"])


def test_a_partitioned_layer_runs_reference_equals_fast_and_functional():
    """The chip model follows the permutation: engines agree and spikes equal the quantised functional run."""
    from archsim.graph.functional import simulate as functional
    from archsim.graph.workload import Workload
    from archsim.models.manycore import simulate

    rng = np.random.default_rng(7)
    blocks, block, fan_in = 4, 12, 6
    w = np.zeros((blocks * block, blocks * block))
    for n in range(blocks * block):
        w[n, (n // block) * block + rng.choice(block, fan_in, replace=False)] = rng.normal(size=fan_in)
    shuffle = rng.permutation(blocks * block)
    lif = LIF(decay=np.float64(0.875), threshold=np.float64(0.5))
    net = Network("pblocks", {"x": (48,)}, [
        Layer("h", (48,), (Projection("x", (Dense(w[shuffle]),)),), lif),
        Layer("o", (5,), (Projection("h", (Dense(rng.normal(size=(5, 48))),)),), lif)], ["o"])
    chip = load_chip("chips/loihi.yaml").with_overrides({"core.neurons": block, "core.axons": 16,
                                                          "noc.mesh_x": 4, "noc.mesh_y": 4})
    assert map_network(net, chip).orders["h"] == "partitioned"
    x = (rng.random((4, 1, 48)) < 0.5).astype(float)
    work = Workload("pblocks", net, {"x": x}, 4, 1)
    fast, ref = simulate(work, chip, "fast"), simulate(work, chip, "reference")
    assert fast.cycles == ref.cycles and fast.spikes == ref.spikes and fast.actions == ref.actions
    assert fast.noc == ref.noc
    truth = functional(net, {"x": x}, Precision.from_config(chip.params["precision"]))
    np.testing.assert_array_equal(fast.outputs, truth.outputs["o"])


def test_cut_kinds_follow_the_chip_config():
    net, _ = _shuffled_blocks()
    chip = with_cuts(_chip("chips/loihi.yaml"), ["contiguous"])
    mapping, _ = _mapped(net, chip)
    assert mapping.orders["h"] == "chw" and not mapping.permutations
