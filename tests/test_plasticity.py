"""Global-local learning: the local rule in the trainer, the functional simulator and on the many-core chip.

Held equal: trainer float forward == functional float; the trainer's integer rule and traces == the
functional simulator's integer run; chip (fast == reference, cycles, stalls and actions) == functional
integer run, spikes and final traces; and BPTT through the rule against finite differences.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from archsim.config import load_chip
from archsim.errors import UserError
from archsim.graph.functional import simulate as functional
from archsim.graph.network import LIF, Conv2d, Dense, Layer, Network, Projection
from archsim.graph.nir_io import read_network, write_network
from archsim.graph.plasticity import Plasticity, state_bits_per_synapse
from archsim.graph.quantize import Precision, quantize
from archsim.graph.workload import Workload
from archsim.mapping import core_limits, layer_limits, lower_network, map_network
from archsim.models.manycore import ENGINES, prepare, simulate
from archsim.models.manycore.machine import Machine
from archsim.runner import run
from archsim.units import format_quantity
from workloads import export, zoo
from workloads.model import Builder
from workloads.neurons import LIFCell, Readout, SigmoidSpike
from workloads.plasticity import HebbianLIF, without_rules
from workloads.trainer import encoded_batches

from tests.gradcheck import check_gradients

CHIP = "chips/tianjic.yaml"


def _plastic_model(rng, spike_fn=None, n_in=12, hidden=20, out=6, steps=6):
    lif = lambda: LIFCell(decay=0.8, threshold=0.5, spike_fn=spike_fn) if spike_fn else LIFCell(0.8, 0.5)  # noqa: E731
    b = Builder("gll", {"x": (n_in,)}, steps=steps, rng=rng, input_kind={"x": "values"})
    b.stage("h1", lif(), ("x", [("dense", hidden)]), init_gain=3.0)
    cell = HebbianLIF(lif())
    b.stage("h2", cell, ("h1", [("plastic", out, 0.7, 0.6)]), init_gain=3.0)
    cell.bind(b.model.stages[-1].projections[0].ops[0])
    cell.op.params["alpha"][:] = rng.normal(0, 0.4, cell.op.params["alpha"].shape)
    b.stage("o", Readout(decay=0.9), ("h2", [("dense", 4, True)]))
    return b.model, cell


def test_bptt_through_the_local_rule_matches_finite_differences():
    rng = np.random.default_rng(0)
    model, cell = _plastic_model(rng, SigmoidSpike(steepness=3.0), n_in=5, hidden=7, out=4, steps=4)
    x = {"x": rng.random((4, 3, 5))}
    labels = np.array([0, 3, 1])
    checked = check_gradients(model, x, labels, rng)
    assert checked >= 24 and np.abs(cell.op.grads["alpha"]).max() > 0


def test_trainer_float_forward_equals_functional_float():
    rng = np.random.default_rng(1)
    model, cell = _plastic_model(rng)
    x = rng.random((6, 5, 12))
    values = model.forward({"x": x})
    network = export.to_network(model)
    run = functional(network, {"x": x})
    for name in ("h1", "h2"):
        np.testing.assert_array_equal(run.layer_outputs[name], values[name])
    np.testing.assert_allclose(run.traces[("h2", 0)], cell.final_trace, rtol=1e-12, atol=1e-12)
    assert np.abs(cell.final_trace).max() > 0
    rule_off = functional(without_rules(network), {"x": x})
    assert not np.array_equal(rule_off.layer_outputs["h2"], values["h2"])   # the rule changes what fires


def test_on_chip_and_functional_integer_updates_equal_the_trainers_quantised_update():
    rng = np.random.default_rng(2)
    model, cell = _plastic_model(rng)
    network = export.to_network(model)
    network.metadata["quant"] = export.quant_hints(network, model, 8, {"x": 1 / 16})
    precision = Precision(weight_bits=8)
    qnet = quantize(network, precision)
    rule = qnet.layer("h2").projections[0]
    w_q, k_q, decay_q, frac = cell.quantized_rule(network.metadata["quant"]["weight_scale"]["h2"], 8,
                                            precision.decay_frac_bits)
    np.testing.assert_array_equal(rule.kernel.weight, w_q)
    np.testing.assert_array_equal(rule.plasticity.k_q, k_q)
    assert (rule.plasticity.decay_q, rule.plasticity.trace_frac_bits) == (decay_q, frac) and np.count_nonzero(k_q) > 0
    x = np.floor(rng.random((6, 4, 12)) * 17) / 16
    run = functional(network, {"x": x}, qnet)
    trainer = cell.quantized_traces(run.layer_outputs_q["h1"], run.layer_outputs_q["h2"], k_q, decay_q,
                                    precision.decay_frac_bits)
    np.testing.assert_array_equal(run.traces[("h2", 0)], trainer)
    assert np.abs(trainer).max() > 0
    # the chip's update, after the same samples (its spikes are the functional run's: tested below)
    work = Workload("gll", network, {"x": x}, 6, 4)
    machine, _, _ = _run_machine(work, load_chip(CHIP), "fast")
    si, s = next((si, s) for si, s in enumerate(machine.learning.stages) if len(s))
    post, pre = s.post - machine.stages[si].output_offset["h2"], s.pre - machine.stages[si].input_offset["h2"]
    np.testing.assert_array_equal(s.trace, trainer[-1][post, pre])


def _plastic_network(rng, n_in, hidden, out, decay):
    lif = dict(decay=np.float64(0.875), threshold=np.float64(0.6))
    return Network("gll", {"x": (n_in,)}, [
        Layer("h", (hidden,), (Projection("x", (Dense(rng.normal(size=(hidden, n_in)) * 0.5),)),), LIF(**lif)),
        Layer("o", (out,), (Projection("h", (Dense(rng.normal(size=(out, hidden)) * 0.4),),
                                       plasticity=Plasticity(rng.normal(0, 0.3, (out, hidden)), 0.5, decay)),),
              LIF(**lif)),
    ], ["o"])


def _small_chip(lanes, mac_lanes, neurons, axons, banks, read_cycles, depth):
    return load_chip(CHIP).with_overrides({
        "core.dendrite_lanes": lanes, "core.mac_lanes": mac_lanes, "core.neurons": neurons, "core.axons": axons,
        "core.synapse_banks": banks, "core.synapse_read_cycles": read_cycles, "core.fifo_depth_synapse": depth,
        "core.fifo_depth_writeback": depth, "noc.mesh_x": 8, "noc.mesh_y": 8})


def _run_machine(work, chip, engine):
    """The chip's outputs and, after the last sample, its traces and effective weights per synapse."""
    mapping, prog, qnet = prepare(work, chip, engine)
    core = chip.params["core"]
    machine = Machine(prog, ENGINES[engine](), int(core["neurons"]), int(core["axons"]))
    inputs_q = qnet.quantize_inputs(work.inputs)
    for b in range(work.batch):
        machine.reset_state()
        for t in range(work.steps):
            machine.step({name: x[t, b].reshape(-1) for name, x in inputs_q.items()})
    return machine, prog, qnet


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(3, 20), hidden=st.integers(2, 24), out=st.integers(1, 8),
       lanes=st.sampled_from([1, 3, 16]), mac_lanes=st.sampled_from([1, 4]), neurons=st.sampled_from([4, 32]),
       axons=st.sampled_from([8, 64]), banks=st.sampled_from([1, 2]), read_cycles=st.integers(1, 3),
       depth=st.sampled_from([1, 2, 4]), decay=st.sampled_from([1.0, 0.75]), schedule=st.sampled_from(["serial",
                                                                                                         "pipelined"]),
       fixed=st.booleans())
def test_chip_learning_equals_functional_and_engines_agree(seed, n_in, hidden, out, lanes, mac_lanes, neurons, axons,
                                                           banks, read_cycles, depth, decay, schedule, fixed):
    rng = np.random.default_rng(seed)
    net = _plastic_network(rng, n_in, hidden, out, decay)
    chip = _small_chip(lanes, mac_lanes, neurons, axons, banks, read_cycles, depth)
    chip.params["timing"]["layer_schedule"] = schedule
    if fixed:            # a fixed learn phase, stretched where the work needs longer
        chip.params["timing"]["phase_length"] = "fixed"
        chip.params["timing"]["fixed_phase_cycles"] = {"integrate": 30, "merge": 20, "fire": 20, "learn": 40, "route": 25}
    x = (rng.random((5, 2, n_in)) < 0.5).astype(float)
    work = Workload("gll", net, {"x": x}, 5, 2)
    fast, ref = simulate(work, chip, "fast"), simulate(work, chip, "reference")
    assert fast.cycles == ref.cycles and fast.actions == ref.actions
    assert fast.cycles_breakdown == ref.cycles_breakdown and fast.details["learning"] == ref.details["learning"]
    truth = functional(net, {"x": x}, Precision.from_config(chip.params["precision"]), schedule=schedule)
    np.testing.assert_array_equal(fast.outputs, truth.outputs["o"])
    learning = fast.details["learning"]
    assert fast.cycles_breakdown["per_phase"]["learn"] == learning["cycles"] > 0
    assert learning["synapse_updates"] == learning["plastic_synapses"] * 5 * 2
    assert fast.details["buffers"] == ref.details["buffers"]
    words = sum(int(np.diff(s.word_ptr).sum()) for s in _run_machine(work, chip, "fast")[0].learning.stages)
    assert learning["actions"]["fifo_synapse"] == learning["actions"]["fifo_writeback"] == \
        {"push": words * 5 * 2, "pop": words * 5 * 2}       # every word of every step passes both FIFOs
    # final traces and effective weights (last sample) equal the functional simulator's
    trace = truth.traces[("o", 0)][-1]
    rule = truth.quantized.layer("o").projections[0]
    for engine in ("fast", "reference"):
        machine, prog, _ = _run_machine(work, chip, engine)
        plastic = [(si, s) for si, s in enumerate(machine.learning.stages) if len(s)]
        assert len(plastic) == 1
        si, s = plastic[0]
        neurons_of = s.post - machine.stages[si].output_offset["o"]
        pre_of = s.pre - machine.stages[si].input_offset["o"]
        np.testing.assert_array_equal(s.trace, trace[neurons_of, pre_of])
        w_eff = np.clip(rule.kernel.weight[neurons_of, pre_of] + (trace[neurons_of, pre_of] >> rule.plasticity.trace_frac_bits),
                        -truth.quantized.qmax, truth.quantized.qmax)
        np.testing.assert_array_equal(machine.stages[si].weights[s.entry], w_eff)
        assert len(s) == np.count_nonzero(rule.kernel.weight)     # every stored synapse, and only those


def test_learning_costs_energy_and_is_reported(tmp_path):
    rng = np.random.default_rng(5)
    net = _plastic_network(rng, 16, 24, 8, 0.75)
    x = (rng.random((4, 1, 16)) < 0.5).astype(float)
    np.save(tmp_path / "x.npy", x)
    result = run(net, CHIP, input_path=str(tmp_path / "x.npy"), gpu=None)
    learning = result["learning"]
    assert learning["energy_pj"] > 0 and learning["cycles_per_step"] > 0
    assert learning["energy_per_step_pj"] == pytest.approx(learning["energy_pj"] / 4)
    assert learning["energy_pj"] < result["energy_pj"] - result["static_energy_pj"]
    from archsim.commands.run import render
    from archsim.report import result_page

    assert "learn phase" in render(result)
    section = next(s for s in result_page(result, tmp_path).sections if s.title == "On-chip learning")
    assert section.tables[0].rows[0][1] == format_quantity(learning["cycles_per_step"], "cycles")


def test_rules_survive_a_nir_round_trip(tmp_path):
    net = _plastic_network(np.random.default_rng(3), 6, 5, 3, 0.5)
    write_network(net, tmp_path / "gll.nir")
    back = read_network(tmp_path / "gll.nir")
    rule, again = net.layer("o").projections[0].plasticity, back.layer("o").projections[0].plasticity
    np.testing.assert_allclose(again.alpha, rule.alpha)
    assert (again.eta, again.decay) == (rule.eta, rule.decay) and back.layer("h").projections[0].plasticity is None


def test_plastic_state_is_counted_in_the_mappers_memory():
    rng = np.random.default_rng(4)
    net = _plastic_network(rng, 64, 64, 64, 1.0)
    chip = load_chip(CHIP)
    qnet = quantize(net, Precision.from_config(chip.params["precision"]))
    lowered = lower_network(net, qnet)
    limits = core_limits(chip)
    assert layer_limits(limits, lowered["o"]).weight_bits == limits.weight_bits + state_bits_per_synapse(8)
    assert layer_limits(limits, lowered["h"]).weight_bits <= limits.weight_bits
    small = chip.with_overrides({"core.synapse_memory_kb": 4})   # 64 x 64 synapses: 4 KB static, 16 KB plastic
    mapping = map_network(net, small, qnet)
    parts = {name: sum(1 for p in mapping.parts if p.layer == name) for name in ("h", "o")}
    assert parts["o"] >= 4 * parts["h"]


def test_a_rule_on_a_convolution_is_refused():
    w = np.ones((2, 1, 3, 3))
    net = Network("bad", {"x": (1, 4, 4)}, [
        Layer("c", (2, 2, 2), (Projection("x", (Conv2d(w),), plasticity=Plasticity(np.ones_like(w))),),
              LIF(decay=np.float64(0.5), threshold=np.float64(1.0)))], ["c"])
    with pytest.raises(UserError, match="plastic projection from x"):
        quantize(net, Precision())


def test_gll_digits_exports_its_rule():
    model = zoo.make_model("gll-digits")
    network = export.to_network(model)
    rule = network.layer("plastic").projections[0].plasticity
    assert rule is not None and rule.decay == zoo.GLL_TRACE_DECAY
    seq = next(encoded_batches(np.random.default_rng(0).random((4, 64)), model.steps, "direct"))
    assert functional(network, {"input": seq}).outputs["readout"].shape == (8, 4, 10)


def test_h2learn_refuses_a_plastic_network():
    net = _plastic_network(np.random.default_rng(6), 6, 5, 3, 0.5)
    x = (np.random.default_rng(0).random((3, 2, 6)) < 0.5).astype(float)
    from archsim.models.h2learn import simulate as h2learn

    with pytest.raises(UserError, match="learns locally"):
        h2learn(Workload("gll", net, {"x": x}, 3, 2, mode="train", labels=np.array([0, 1])), load_chip("chips/h2learn.yaml"))


def test_gpu_model_counts_the_rule_each_step():
    from archsim.gpu.kernels import HEBBIAN_EAGER, workload_kernels
    from archsim.gpu.memory import footprint

    net = _plastic_network(np.random.default_rng(8), 6, 5, 3, 0.5)
    x = np.zeros((4, 2, 6))
    work = Workload("gll", net, {"x": x}, 4, 2)
    static = Workload("gll", without_rules(net), {"x": x}, 4, 2)
    for framework in ("eager", "fused"):
        hebb = [k for k in workload_kernels(work, 4, framework) if k.name.startswith("hebb_")]
        assert len(hebb) == 4 * len(HEBBIAN_EAGER) and all(k.layer == "o" for k in hebb)
        assert hebb[-1].bytes_written == 4 * 2 * 3 * 5                  # the new trace: batch x out x in floats
        assert not any(k.name.startswith("hebb_") for k in workload_kernels(static, 4, framework))
    grown = footprint(work, 4, 1e9, 0).components_bytes["state"] - footprint(static, 4, 1e9, 0).components_bytes["state"]
    assert grown == 4 * 2 * 3 * 5


def test_gpu_training_counts_the_backward_through_the_rule():
    """BPTT through the rule: the trace read's backward every step, the update's one step fewer (the last
    trace feeds nothing), its coefficient gradient among them; autograd keeps the read trace and the outer
    product of every step."""
    from archsim.gpu.kernels import HEBBIAN_READ_BACKWARD, HEBBIAN_UPDATE_BACKWARD, workload_kernels
    from archsim.gpu.memory import SAVED_PER_TRACE_ELEMENT, footprint

    net = _plastic_network(np.random.default_rng(8), 6, 5, 3, 0.5)
    x = np.zeros((4, 2, 6))
    work = Workload("gll", net, {"x": x}, 4, 2, mode="train")
    static = Workload("gll", without_rules(net), {"x": x}, 4, 2, mode="train")
    names = [k.name for k in workload_kernels(work, 4, "eager") if k.phase == "backward"]
    assert names.count("hebb_coefficient_grad") == 3 and names.count("hebb_read_grad") == 4
    assert sum(n.startswith("hebb_") for n in names) == 3 * len(HEBBIAN_UPDATE_BACKWARD) + 4 * len(HEBBIAN_READ_BACKWARD) - 1
    assert names.count("grad_add") - [k.name for k in workload_kernels(static, 4, "eager")].count("grad_add") == 3
    grown = footprint(work, 4, 1e9, 0).components_bytes["activations"] - footprint(static, 4, 1e9, 0).components_bytes["activations"]
    assert grown >= 4 * 4 * 2 * SAVED_PER_TRACE_ELEMENT * 3 * 5      # bytes x steps x batch x per element x synapses


def test_the_tianjicx_phase_program_refuses_a_plastic_network():
    net = _plastic_network(np.random.default_rng(6), 6, 5, 3, 0.5)
    x = (np.random.default_rng(0).random((3, 2, 6)) < 0.5).astype(float)
    with pytest.raises(UserError, match="has no learn phase"):
        simulate(Workload("gll", net, {"x": x}, 3, 2), load_chip("chips/tianjicx.yaml"), engine="fast")
