"""TianjicX's phase program (archsim.models.manycore.tianjicx): hand-worked phases, engines equal, zoo runs."""
import copy

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from archsim.config import load_chip
from archsim.errors import UserError
from archsim.graph.functional import simulate as functional
from archsim.graph.network import LIF, Dense, Layer, Network, Projection, ReLU
from archsim.graph.quantize import Precision
from archsim.graph.workload import Workload, make_workload
from archsim.mapping import map_network
from archsim.models.manycore import simulate
from workloads import zoo

from tests.engine_checks import assert_engines_agree

CHIP = "chips/tianjicx.yaml"
LIF_ZERO = dict(decay=np.float64(0.875), threshold=np.float64(1.0), reset="zero")


def _hand_chip(a2s2):
    return load_chip(CHIP).with_overrides({"core.axons": 32, "core.neurons": 32, "core.dendrite_lanes": 8,
                                           "core.mac_lanes": 8, "core.soma_lanes": 1, "noc.mesh_x": 4,
                                           "noc.mesh_y": 4, "timing.a2s2_overlap": a2s2})


def test_a2s2_overlap_saves_the_hand_worked_cycles():
    """40 inputs (all spiking every step) into 8 LIF neurons; 32 axons per core split the fan-in: the owner
    holds inputs 0-31 on core (0, 0), the sender 32-39 on (1, 0), one hop east. Shipped TianjicX timing:
    16 setup cycles, 16 barrier cycles, one-cycle stages, 2-entry FIFOs (no stall); NoC zero load:
    local + router + hops x (hop + router) + local + (flits - 1) = 1 + 1 + 2 + 1 + 3 = 8 for 4 flits.

    compute phase, one word of 8 synapses per axon:
      Axon   owner 16 + 32 words + 2 (fill) = 50; sender 16 + 8 + 2 = 26
      Soma1  sender moves 8 partial sums, one per cycle (soma_lanes 1): 26 + 8 + 2 = 36, its packet
             (8 x 32 bits = 4 flits of 64) is injected then and arrives at 36 + 8 = 44
      Soma2  owner adds 8 received sums, 8 + 2 = 10 cycles, from max(44, Axon 50) = 50 -> 60; with the
             Axon || Soma2 overlap from 44 -> 54, while the owner's Axon ends at 50: the phase is 54
    merged phase: the owner fires 8 neurons: 16 + 8 + 2 = 26; the output layer routes nothing.
    Per step: compute 60 + 16 (default) or 54 + 16 (overlap), merged 26 + 16; the overlap saves 6."""
    net = Network("hand", {"x": (40,)}, [Layer("o", (8,), (Projection("x", (Dense(np.full((8, 40), 0.01)),)),),
                                               LIF(**LIF_ZERO))], ["o"])
    parts = map_network(net, _hand_chip(False)).parts
    assert [(p.core, p.inputs) for p in parts] == [((0, 0), (0, 32)), ((1, 0), (32, 40))]
    work = Workload("hand", net, {"x": np.ones((3, 1, 40))}, 3, 1)
    for a2s2, compute in ((False, 60), (True, 54)):
        for engine in ("reference", "fast"):
            trace = simulate(work, _hand_chip(a2s2), engine)
            assert trace.cycles_breakdown["per_phase"] == {"compute": 3 * (compute + 16), "merged": 3 * (26 + 16)}
            assert trace.cycles == 3 * (compute + 16 + 26 + 16)
    saved = simulate(work, _hand_chip(False), "fast").cycles - simulate(work, _hand_chip(True), "fast").cycles
    assert saved == 3 * 6


def test_soma1_streams_into_the_router_within_one_phase():
    """8 spiking inputs -> 16 LIF (h, core (0, 0)) -> 4 LIF (o, core (1, 0)), one compute phase per stage.
    Shipped TianjicX timing, soma_lanes 1, one word per axon (128 lanes), 2 cycles a packet.

    h: Axon 16 + 8 words + 2 = 26; Soma1's group g (one neuron) leaves the soma line at 26 + 3 + g; all 16
       spike (8 x 0.5 > 1); packet g is injected at max(29 + g, previous + 2) = 29 + 2g: the last at 59 (its
       router free at 61), delivered one hop east after 1 + 1 + 2 + 1 = 5 cycles: 64; + 16 barrier = 80.
       Without point streaming the router would start at Soma1's end 44 and the last packet leave at 74.
    o: Axon 16 + 16 words + 2 = 34; Soma1 4 neurons: 34 + 4 + 2 = 40; nothing to route; + 16 = 56."""
    net = Network("stream", {"x": (8,)}, [
        Layer("h", (16,), (Projection("x", (Dense(np.full((16, 8), 0.5)),)),), LIF(**LIF_ZERO)),
        Layer("o", (4,), (Projection("h", (Dense(np.full((4, 16), 0.1)),)),), LIF(**LIF_ZERO))], ["o"])
    chip = load_chip(CHIP).with_overrides({"core.soma_lanes": 1, "noc.mesh_x": 4, "noc.mesh_y": 4})
    assert [(p.layer, p.core) for p in map_network(net, chip).parts] == [("h", (0, 0)), ("o", (1, 0))]
    work = Workload("stream", net, {"x": np.ones((1, 1, 8))}, 1, 1)
    for engine in ("reference", "fast"):
        trace = simulate(work, chip, engine)
        assert trace.cycles_breakdown["per_layer"] == {"h": 80, "o": 56}
        assert trace.cycles_breakdown["per_phase"] == {"compute": 136, "merged": 0}
        assert trace.noc["packets"] == 16


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(3, 40), hidden=st.integers(1, 24), n_out=st.integers(1, 6),
       lanes=st.sampled_from([1, 3, 16]), soma_lanes=st.sampled_from([1, 4]), axons=st.sampled_from([8, 16, 64]),
       neurons=st.sampled_from([4, 32]), barrier=st.integers(0, 5), fixed=st.booleans(), a2s2=st.booleans(),
       relu=st.booleans(), depth=st.sampled_from([1, 2]), soma_cycles=st.integers(1, 3),
       rcp=st.integers(1, 3), buffer=st.sampled_from([1, 2, 4]), schedule=st.sampled_from(["serial", "pipelined"]))
def test_reference_equals_fast_and_functional(seed, n_in, hidden, n_out, lanes, soma_lanes, axons, neurons, barrier,
                                              fixed, a2s2, relu, depth, soma_cycles, rcp, buffer, schedule):
    rng = np.random.default_rng(seed)
    net = Network("rand", {"x": (n_in,)}, [
        Layer("h", (hidden,), (Projection("x", (Dense(rng.normal(size=(hidden, n_in)) * 0.4),)),),
              ReLU() if relu else LIF(**LIF_ZERO)),
        Layer("o", (n_out,), (Projection("h", (Dense(rng.normal(size=(n_out, hidden))),)),), LIF(**LIF_ZERO)),
    ], ["o"], metadata={"quant": {"activation_scale": {"h": 0.05}}})
    chip = load_chip(CHIP).with_overrides({
        "core.dendrite_lanes": lanes, "core.mac_lanes": lanes, "core.soma_lanes": soma_lanes, "core.axons": axons,
        "core.neurons": neurons, "core.fifo_depth_soma": depth, "core.fifo_depth_writeback": depth,
        "core.soma_update_cycles": soma_cycles, "core.router_cycles_per_packet": rcp, "noc.buffer_flits": buffer,
        "noc.mesh_x": 8, "noc.mesh_y": 8, "timing.barrier_cycles": barrier, "timing.a2s2_overlap": a2s2,
        "timing.layer_schedule": schedule})
    if fixed:
        chip.params["timing"]["phase_length"] = "fixed"
        chip.params["timing"]["fixed_phase_cycles"] = {"compute": 40, "merged": 20}
    x = (rng.random((3, 2, n_in)) < 0.4).astype(float)
    work = Workload("rand", net, {"x": x}, 3, 2)
    fast, ref = simulate(work, chip, "fast"), simulate(work, chip, "reference")
    assert_engines_agree(fast, ref)
    assert set(fast.cycles_breakdown["per_phase"]) == {"compute", "merged"}
    truth = functional(net, {"x": x}, Precision.from_config(chip.params["precision"]), schedule=schedule)
    np.testing.assert_array_equal(fast.outputs, truth.outputs["o"])


def test_overlap_never_slows_a_step():
    rng = np.random.default_rng(3)
    net = Network("split", {"x": (100,)}, [
        Layer("o", (12,), (Projection("x", (Dense(rng.normal(size=(12, 100)) * 0.3),)),), LIF(**LIF_ZERO))], ["o"])
    work = Workload("split", net, {"x": (rng.random((4, 1, 100)) < 0.5).astype(float)}, 4, 1)
    base = load_chip(CHIP).with_overrides({"core.axons": 16, "core.soma_lanes": 1, "noc.mesh_x": 4, "noc.mesh_y": 4})
    off = simulate(work, base, "fast")
    on = simulate(work, base.with_overrides({"timing.a2s2_overlap": True}), "fast")
    assert off.cycles_breakdown["per_phase"]["merged"] > 0
    assert on.cycles <= off.cycles
    assert on.actions == off.actions and on.spikes == off.spikes
    slow = base.with_overrides({"timing.a2s2_overlap": True, "core.soma_update_cycles": 2, "core.fifo_depth_soma": 1,
                                "noc.buffer_flits": 1})                # a congested soma line and NoC
    fast, ref = simulate(work, slow, "fast"), simulate(work, slow, "reference")
    assert fast.cycles_breakdown["stall_cycles"]["compute"]["full_fifo"] > 0
    assert (fast.cycles, fast.cycles_breakdown, fast.actions, fast.noc, fast.details["buffers"]) == \
        (ref.cycles, ref.cycles_breakdown, ref.actions, ref.noc, ref.details["buffers"])


def test_overlap_needs_the_tianjicx_program():
    chip = load_chip(CHIP).with_overrides({"timing.phase_program": "generic", "timing.a2s2_overlap": True})
    net = Network("n", {"x": (4,)}, [Layer("o", (2,), (Projection("x", (Dense(np.ones((2, 4))),)),),
                                           LIF(**LIF_ZERO))], ["o"])
    with pytest.raises(UserError, match="timing.a2s2_overlap"):
        simulate(Workload("n", net, {"x": np.ones((1, 1, 4))}, 1, 1), chip, "fast")


def test_spike_out_cycles_are_refused_by_the_tianjicx_program():
    """A per-spike write-back (Loihi's latency_spike_out) has no place in TianjicX's soma line: the key is
    refused rather than silently ignored."""
    chip = copy.deepcopy(load_chip(CHIP))
    chip.params["core"]["spike_out_cycles"] = 3           # as a user's copy of the YAML would set it
    net = Network("n", {"x": (4,)}, [Layer("o", (2,), (Projection("x", (Dense(np.ones((2, 4))),)),),
                                           LIF(**LIF_ZERO))], ["o"])
    with pytest.raises(UserError, match="core.spike_out_cycles: 3"):
        simulate(Workload("n", net, {"x": np.ones((1, 1, 4))}, 1, 1), chip, "fast")


@pytest.mark.parametrize("name", ["mlp-digits", "conv-digits"])
def test_zoo_networks_run_on_tianjicx_with_its_phases(name):
    trace = simulate(make_workload(zoo.build(name), steps=1), load_chip(CHIP), "fast")
    phases = trace.cycles_breakdown["per_phase"]
    assert set(phases) == {"compute", "merged"}
    assert sum(phases.values()) == trace.cycles > 0
