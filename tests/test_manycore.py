"""Many-core chip model: reference == fast (cycles, spikes, actions), functional truth, configs."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from archsim.config import load_chip
from archsim.cost import shared_actions
from archsim.errors import UserError
from archsim.graph.functional import simulate as functional
from archsim.graph.network import LIF, Dense, Layer, Network, Projection, ReLU
from archsim.graph.quantize import Precision
from archsim.graph.workload import Workload
from archsim.mapping import map_network
from archsim.models.manycore import simulate
from archsim.validate.networks import full_core_network

from tests.engine_checks import assert_engines_agree

CHIP = "chips/tianjic.yaml"


def _net(rng, n_in, hidden, n_out, subtract=False, relu_hidden=False):
    lif = dict(decay=np.float64(0.875), threshold=np.float64(1.0), reset="subtract" if subtract else "zero")
    hidden_neuron = ReLU() if relu_hidden else LIF(**lif)
    return Network("rand", {"x": (n_in,)}, [
        Layer("h", (hidden,), (Projection("x", (Dense(rng.normal(size=(hidden, n_in)) * 0.4),)),), hidden_neuron),
        Layer("o", (n_out,), (Projection("h", (Dense(rng.normal(size=(n_out, hidden))),)),), LIF(**lif)),
    ], ["o"], metadata={"quant": {"activation_scale": {"h": 0.05}}})


def _small_chip(lanes, soma_lanes, axons, neurons, barrier, fixed, pipeline=None):
    """A small Tianjic; ``pipeline``: core pipeline keys (FIFO depths, banks, read and soma cycles)."""
    chip = load_chip(CHIP)
    over = {"core.dendrite_lanes": lanes, "core.soma_lanes": soma_lanes, "core.axons": axons,
            "core.neurons": neurons, "timing.barrier_cycles": barrier, "noc.mesh_x": 8, "noc.mesh_y": 8}
    over.update({f"core.{key}": value for key, value in (pipeline or {}).items()})
    chip = chip.with_overrides(over)
    if fixed:
        chip.params["timing"]["phase_length"] = "fixed"
        chip.params["timing"]["fixed_phase_cycles"] = {"integrate": 30, "merge": 20, "fire": 20, "route": 25}
    return chip


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(3, 40), hidden=st.integers(1, 24), n_out=st.integers(1, 6),
       lanes=st.sampled_from([1, 3, 16]), soma_lanes=st.sampled_from([1, 4]), axons=st.sampled_from([16, 64]),
       neurons=st.sampled_from([4, 32]), barrier=st.integers(0, 5), fixed=st.booleans(),
       subtract=st.booleans(), relu=st.booleans(), depth=st.sampled_from([1, 2, 4]),
       banks=st.sampled_from([1, 2]), read_cycles=st.integers(1, 3), soma_cycles=st.integers(1, 3))
def test_reference_equals_fast_and_functional(seed, n_in, hidden, n_out, lanes, soma_lanes, axons, neurons,
                                              barrier, fixed, subtract, relu, depth, banks, read_cycles, soma_cycles):
    rng = np.random.default_rng(seed)
    net = _net(rng, n_in, hidden, n_out, subtract, relu)
    pipeline = {"fifo_depth_axon": depth, "fifo_depth_synapse": depth, "fifo_depth_soma": depth,
                "fifo_depth_writeback": depth, "synapse_banks": banks, "synapse_read_cycles": read_cycles,
                "soma_update_cycles": soma_cycles}
    chip = _small_chip(lanes, soma_lanes, axons, neurons, barrier, fixed, pipeline)
    x = (rng.random((3, 2, n_in)) < 0.4).astype(float)
    work = Workload("rand", net, {"x": x}, 3, 2)
    fast = simulate(work, chip, "fast")
    ref = simulate(work, chip, "reference")
    assert_engines_agree(fast, ref)
    assert list(fast.actions_by_layer) == ["h", "o"]
    assert shared_actions(fast) == {"control": fast.actions["control"]}   # one layer per stage: all but control
    truth = functional(net, {"x": x}, Precision.from_config(chip.params["precision"]))
    np.testing.assert_array_equal(fast.outputs, truth.outputs["o"])


def test_split_fan_in_counts_and_phases():
    rng = np.random.default_rng(1)
    net = _net(rng, 300, 20, 4)
    x = (rng.random((2, 1, 300)) < 0.3).astype(float)
    trace = simulate(Workload("w", net, {"x": x}, 2, 1), load_chip(CHIP), "fast")
    assert trace.cycles_breakdown["per_phase"]["merge"] > 0          # 300 inputs > 256 axons: partial sums
    assert trace.actions["dendrite"]["add"] >= trace.synaptic_ops    # SOPs plus partial-sum adds
    assert trace.noc["packets"] > 0
    assert sum(trace.cycles_breakdown["per_phase"].values()) == trace.cycles
    assert trace.actions_by_layer["h"]["router"]["route"] > 0           # merge traffic: the sending layer's
    assert shared_actions(trace) == {"control": trace.actions["control"]}


def test_full_core_round_near_tianjic_5050_cycles():
    """One 256 x 256 core with every axon firing, on the shipped config: its ternary synapses fit one core
    (2-bit cells, 16 KB); integrate 4,114 + fire 274 + route + barriers: 4,967, ~5,050 (calibration)."""
    net = full_core_network()
    chip = load_chip(CHIP)
    trace = simulate(Workload("full", net, {"x": np.ones((1, 1, 256))}, 1, 1), chip, "fast")
    assert trace.actions_by_layer["a"]["synapse_sram"]["read"] == 256 * 256 // 16   # one core, 16 lanes
    assert trace.details["mapping"]["cores_used"] == 2                             # a on one core, b on another
    first_stage = trace.cycles_breakdown["per_layer"]["a"]
    assert 4_500 <= first_stage <= 5_600, first_stage


def test_weight_cells_narrow_only_when_every_weight_fits():
    """A ternary 256 x 256 layer fits one core in 2-bit cells; the same layer with one weight of 2 needs
    8-bit cells (64 KB), so it is split over 4 cores of 16 KB with partial sums merged."""
    from archsim.mapping import core_limits, layer_limits, lower_network
    from archsim.graph.quantize import quantize
    chip = load_chip(CHIP)
    for peak, bits in ((1, 2), (2, 8)):
        weights = np.ones((256, 256))
        weights[3, 7] = peak
        net = Network("w", {"x": (256,)}, [Layer("a", (256,), (Projection("x", (Dense(weights),)),),
                                                 LIF(decay=np.float64(0.5), threshold=np.float64(50.0)))], ["a"])
        qnet = quantize(net, Precision.from_config(chip.params["precision"]))
        low = lower_network(net, qnet)["a"]
        assert layer_limits(core_limits(chip), low).weight_bits == bits
        cores = map_network(net, chip, qnet).cores_used
        assert cores == (1 if bits == 2 else 4), cores


@pytest.mark.parametrize("override, key", [
    ({"core.neurons": -1}, "core.neurons"),
    ({"noc.mesh_x": 0}, "noc.mesh_x"),
    ({"timing.phase_length": "sometimes"}, "timing.phase_length"),
])
def test_bad_config_one_line(override, key):
    with pytest.raises(UserError) as err:
        load_chip(CHIP).with_overrides(override)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_unknown_key_and_tiny_core(tmp_path):
    text = open(CHIP).read()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("  axons: 256", "  axons: 256\n  axon: 3"))
    with pytest.raises(UserError, match="core.axon: unknown key"):
        load_chip(bad)
    chip = load_chip(CHIP).with_overrides({"core.synapse_memory_kb": 0.0001})
    from archsim.mapping import core_limits
    with pytest.raises(UserError, match="core.synapse_memory_kb"):
        core_limits(chip)


def test_folded_core_rereads_inputs_every_pass():
    """16 neurons on one core of 4-neuron passes (max_fold 8): 4 passes, each reads all 20 inputs."""
    net = Network("fold", {"x": (20,)}, [
        Layer("h", (16,), (Projection("x", (Dense(np.full((16, 20), 0.01)),)),),
              LIF(decay=np.float64(0.5), threshold=np.float64(1e9)))], ["h"])
    chip = _small_chip(16, 1, 64, 4, 0, False)
    work = Workload("fold", net, {"x": np.ones((1, 1, 20))}, 1, 1)
    fast, ref = simulate(work, chip, "fast"), simulate(work, chip, "reference")
    assert fast.details["cores_used"] == 1
    assert fast.actions == ref.actions and fast.cycles == ref.cycles
    assert fast.actions["axon_sram"]["read"] == 4 * 20                # one read per input per pass
    assert fast.actions["synapse_sram"]["read"] == 4 * 20              # 4 synapses per input and pass: 1 lane cycle
    # setup + 80 words, one per cycle, + 2 cycles for the last word to cross the 3-stage line; no barrier
    assert fast.cycles_breakdown["per_phase"]["integrate"] == 16 + 80 + 2


def _branching_net(rng, n_in=20, a=6, b=5, n_out=3):
    """Two layers in one stage (both read x), merged by the output: their route phase is shared."""
    lif = LIF(decay=np.float64(0.875), threshold=np.float64(0.5))
    return Network("branch", {"x": (n_in,)}, [
        Layer("a", (a,), (Projection("x", (Dense(rng.normal(size=(a, n_in))),)),), lif),
        Layer("b", (b,), (Projection("x", (Dense(rng.normal(size=(b, n_in))),)),), lif),
        Layer("o", (n_out,), (Projection("a", (Dense(rng.normal(size=(n_out, a))),)),
                              Projection("b", (Dense(rng.normal(size=(n_out, b))),))), lif),
    ], ["o"])


def test_per_layer_actions_add_up_and_shared_noc_stays_unattributed():
    rng = np.random.default_rng(3)
    net = _branching_net(rng)
    x = (rng.random((4, 1, 20)) < 0.5).astype(float)
    work = Workload("w", net, {"x": x}, 4, 1)
    chip = _small_chip(16, 4, 64, 32, 2, False)
    fast, ref = simulate(work, chip, "fast"), simulate(work, chip, "reference")
    assert fast.actions_by_layer == ref.actions_by_layer
    assert fast.details["stages"] == [["a", "b"], ["o"]]
    by_layer = fast.actions_by_layer
    for name in ("a", "b", "o"):                       # every layer integrates and fires
        assert by_layer[name]["synapse_sram"]["read"] > 0 and by_layer[name]["soma"]["add"] > 0
    shared = shared_actions(fast)
    assert shared["control"] == fast.actions["control"]
    assert shared["router_table"]["read"] > 0           # a and b route in the same phase: shared
    assert "router_table" not in by_layer["a"] and "router_table" not in by_layer["b"]
    for component, actions in fast.actions.items():    # layers plus shared give the run's counts
        for action, count in actions.items():
            in_layers = sum(by_layer[n].get(component, {}).get(action, 0) for n in by_layer)
            assert in_layers + shared.get(component, {}).get(action, 0) == count
