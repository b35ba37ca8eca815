"""NIR Delay on the many-core chips: axon delays read from a history ring, equal in both engines and to the
integer functional simulator bit for bit; refused on Tianjic (no delay hardware) naming the node and the chip."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from archsim.config import load_chip
from archsim.errors import UserError
from archsim.graph.delays import DelayLine, source_delay
from archsim.graph.functional import simulate as functional
from archsim.graph.network import LIF, Delay, Dense, Flatten, Layer, Network, Projection, ReLU
from archsim.graph.quantize import Precision
from archsim.graph.workload import Workload
from archsim.models.manycore import simulate

LOIHI = "chips/loihi.yaml"


def _lif(subtract=False, decay=0.875):
    return LIF(decay=np.float64(decay), threshold=np.float64(1.0), reset="subtract" if subtract else "zero")


def _delayed_net(rng, n_in, hidden, n_out, d_in, d_rec, d_out, d_skip, relu_hidden, subtract, per_target=False):
    """x -> h (one delay per input element) -> o (after the weights: one delay for all, or one per target),
    h -> h recurrent with a delay, x -> o skip with a delay: every place a Delay can stand."""
    out_delay = rng.integers(0, d_out + 1, size=n_out) if per_target else np.int64(d_out)
    per_input = rng.integers(0, d_in + 1, size=n_in) if d_in else np.int64(0)
    hidden_neuron = ReLU() if relu_hidden else _lif(subtract)
    h_projs = [Projection("x", (Delay(steps=per_input, node="d_in"), Dense(rng.normal(size=(hidden, n_in)) * 0.5)))]
    if not relu_hidden:
        h_projs.append(Projection("h", (Dense(rng.normal(size=(hidden, hidden)) * 0.3),
                                        Delay(steps=np.int64(d_rec), node="d_rec")), recurrent=True))
    layers = [Layer("h", (hidden,), tuple(h_projs), hidden_neuron),
              Layer("o", (n_out,), (Projection("h", (Dense(rng.normal(size=(n_out, hidden))),
                                                     Delay(steps=out_delay, node="d_out"))),
                                    Projection("x", (Delay(steps=np.int64(d_skip), node="d_skip"), Flatten(),
                                                     Dense(rng.normal(size=(n_out, n_in)) * 0.3)))), _lif(subtract))]
    return Network("delayed", {"x": (n_in,)}, layers, ["o"], metadata={"quant": {"activation_scale": {"h": 0.05}}})


def _loihi(neurons, axons, schedule="serial"):
    return load_chip(LOIHI).with_overrides({"core.neurons": neurons, "core.axons": axons, "noc.mesh_x": 4,
                                             "noc.mesh_y": 4, "timing.barrier_cycles": 3,
                                             "timing.layer_schedule": schedule})


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(2, 20), hidden=st.integers(1, 12), n_out=st.integers(1, 4),
       d_in=st.integers(0, 4), d_rec=st.integers(0, 3), d_out=st.integers(0, 3), d_skip=st.integers(0, 5),
       neurons=st.sampled_from([4, 64]), axons=st.sampled_from([8, 64]), relu=st.booleans(), subtract=st.booleans(),
       per_target=st.booleans(), schedule=st.sampled_from(["serial", "pipelined"]))
def test_delayed_graph_chip_equals_functional_in_both_engines(seed, n_in, hidden, n_out, d_in, d_rec, d_out, d_skip,
                                                              neurons, axons, relu, subtract, per_target, schedule):
    rng = np.random.default_rng(seed)
    net = _delayed_net(rng, n_in, hidden, n_out, d_in, d_rec, d_out, d_skip, relu, subtract, per_target)
    chip = _loihi(neurons, axons, schedule)
    steps = 8
    x = (rng.random((steps, 2, n_in)) < 0.5).astype(float)
    work = Workload("delayed", net, {"x": x}, steps, 2)
    fast = simulate(work, chip, "fast")
    ref = simulate(work, chip, "reference")
    assert (fast.cycles, fast.spikes, fast.actions, fast.noc) == (ref.cycles, ref.spikes, ref.actions, ref.noc)
    truth = functional(net, {"x": x}, Precision.from_config(chip.params["precision"]), schedule=schedule)
    np.testing.assert_array_equal(fast.outputs, truth.outputs["o"])
    np.testing.assert_array_equal(ref.outputs, truth.outputs["o"])


def test_delay_shifts_the_output_by_whole_steps_on_the_chip():
    """A chain x -> o through a delay of 3: o's spikes are the undelayed ones three steps later."""
    def net(d):
        ops = (Dense(np.eye(3) * 2.0),) + ((Delay(steps=np.int64(d), node="d"),) if d else ())
        return Network("shift", {"x": (3,)}, [Layer("o", (3,), (Projection("x", ops),), _lif())], ["o"])
    x = (np.random.default_rng(1).random((10, 1, 3)) < 0.5).astype(float)
    chip = _loihi(64, 64)
    plain = simulate(Workload("s", net(0), {"x": x}, 10, 1), chip).outputs
    late = simulate(Workload("s", net(3), {"x": x}, 10, 1), chip).outputs
    np.testing.assert_array_equal(late[3:], plain[:-3])
    assert not late[:3].any() and plain.any()


def test_float_functional_agrees_with_source_side_delays():
    """The integer path moves delays to the source; the float simulator keeps them where the file puts
    them. On integer weights and IF neurons (exact on the chip) the two give the same spikes."""
    rng = np.random.default_rng(3)
    net = _delayed_net(rng, 6, 5, 3, 3, 2, 2, 4, False, False)
    integral = Network(net.name, net.inputs, [
        Layer(l.name, l.shape, tuple(Projection(p.source, tuple(Dense(np.rint(op.weight * 3)) if isinstance(op, Dense)
                                                               else op for op in p.ops), p.recurrent)
                                     for p in l.projections), _lif(decay=1.0)) for l in net.layers], net.outputs)
    x = (rng.random((12, 2, 6)) < 0.5).astype(float)
    chip = functional(integral, {"x": x}, Precision(weight_bits=8, activation_bits=8, membrane_bits=24))
    exact = functional(integral, {"x": x})
    np.testing.assert_array_equal(chip.outputs["o"], exact.outputs["o"])
    assert exact.outputs["o"].any()


def test_tianjic_refuses_a_delay_naming_node_and_chip():
    net = Network("d", {"x": (3,)}, [Layer("o", (3,), (Projection("x", (Delay(steps=np.int64(2), node="late"),
                                                                          Dense(np.eye(3)))),), _lif())], ["o"])
    work = Workload("d", net, {"x": np.ones((2, 1, 3))}, 2, 1)
    with pytest.raises(UserError) as info:
        simulate(work, load_chip("chips/tianjic.yaml"))
    message = str(info.value)
    assert "\n" not in message and "late" in message and "tianjic" in message.lower()
    assert "core.max_delay_steps: 0" in message


def test_loihi_refuses_a_delay_beyond_its_range():
    net = Network("d", {"x": (3,)}, [Layer("o", (3,), (Projection("x", (Delay(steps=np.int64(63), node="far"),
                                                                          Dense(np.eye(3)))),), _lif())], ["o"])
    with pytest.raises(UserError, match="far.*63 steps.*max_delay_steps: 62"):
        simulate(Workload("d", net, {"x": np.ones((2, 1, 3))}, 2, 1), load_chip(LOIHI))


def test_per_target_delays_behind_a_dense_run_on_loihi_exactly():
    """One delay per target neuron after the weights (Loihi's per-synapse case) is split into one projection
    per delay value; with integer weights and IF neurons chip, integer functional and float agree exactly."""
    rng = np.random.default_rng(7)
    targets = np.array([0, 2, 2, 5, 1])
    net = Network("t", {"x": (6,)}, [Layer("o", (5,), (
        Projection("x", (Dense(rng.integers(-1, 3, size=(5, 6)).astype(float)), Delay(steps=targets, node="syn"))),),
        _lif(decay=1.0))], ["o"])
    x = (rng.random((12, 2, 6)) < 0.5).astype(float)
    chip = load_chip(LOIHI)
    for engine in ("fast", "reference"):
        out = simulate(Workload("t", net, {"x": x}, 12, 2), chip, engine).outputs
        np.testing.assert_array_equal(out, functional(net, {"x": x}).outputs["o"])
    assert out.any()


def test_per_target_delay_behind_a_conv_is_one_line():
    from archsim.graph.network import Conv2d

    ops = (Conv2d(weight=np.ones((2, 1, 1, 1))), Delay(steps=np.arange(8).reshape(2, 2, 2), node="per_target"))
    with pytest.raises(UserError) as info:
        source_delay(ops, (1, 2, 2), "o")
    assert "per_target" in str(info.value) and "Conv2d" in str(info.value) and "\n" not in str(info.value)


def test_delay_line_per_element_and_batch():
    line = DelayLine(np.array([0, 1, 3]), (2, 3))
    seen = [line(np.full((2, 3), t)) for t in range(1, 6)]
    assert seen[0].tolist() == [[1, 0, 0], [1, 0, 0]]
    assert seen[4].tolist() == [[5, 4, 2], [5, 4, 2]]


def test_delay_ring_counts_against_the_core_memory():
    """A long delay on many value axons does not fit a small synapse memory beside the synapses."""
    n = 64
    net = Network("m", {"x": (n,)}, [Layer("o", (4,), (Projection("x", (Delay(steps=np.int64(60), node="ring"),
                                                                          Dense(np.ones((4, n))))),), _lif())], ["o"])
    work = Workload("m", net, {"x": np.ones((2, 1, n)) * 0.5}, 2, 1)
    small = load_chip(LOIHI).with_overrides({"core.synapse_memory_kb": 0.5})
    with pytest.raises(UserError, match="delay ring"):
        simulate(work, small)
