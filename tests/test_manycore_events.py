"""Per-event costs of a many-core core (neuron-state read, message in, spike out, message out): each one
hand-counted on a network where it happens once, both engines equal with them, and Loihi's values equal
SANA-FE's published Loihi architecture file."""
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from archsim.config import load_chip
from archsim.cost import evaluate
from archsim.graph.network import LIF, Dense, Layer, Network, Projection
from archsim.graph.workload import Workload
from archsim.models.manycore import simulate
from archsim.models.manycore.kernels import line_item, line_state
from archsim.models.manycore.pipeline import run_line
from tests.engine_checks import assert_engines_agree
from tests.test_manycore import _net, _small_chip

EVENTS = {"neuron_read_cycles": 7, "axon_in_cycles": 11, "spike_out_cycles": 13, "message_out_cycles": 400}
PRICED = {"spike_out": {"class": "fixed", "count": 64, "energy_pj": {"spike": 5.0}, "source": "test"},
          "axon_out": {"class": "fixed", "count": 64, "energy_pj": {"message": 3.0}, "source": "test"}}


def _chain():
    """x (1 input) -> h (1 LIF) -> o (1 LIF): with x spiking, h and o spike in the same step (weights 2,
    thresholds 1); h's one spike is one route packet to o's core."""
    lif = LIF(decay=np.float64(1.0), threshold=np.float64(1.0))
    return Network("chain", {"x": (1,)}, [
        Layer("h", (1,), (Projection("x", (Dense(np.array([[2.0]])),)),), lif),
        Layer("o", (1,), (Projection("h", (Dense(np.array([[2.0]])),)),), lif)], ["o"])


def _with_events(chip, events: dict):
    """``chip`` with the optional per-event keys set (optional keys: not overridable by dotted path)."""
    chip.params["core"].update(events)
    chip.params["components"].update(PRICED)
    return chip


def _chip(events: bool):
    chip = _small_chip(1, 1, 16, 4, 0, False)
    return _with_events(chip, EVENTS) if events else chip


def test_line_extra_cycles_hand_worked():
    """Stages of 6, 4 and 1 cycles, 2-entry FIFOs, three items from 0; the last stage works 30 cycles more
    on item 1. Item 0 leaves at 11; item 1 enters the last stage at 16 and leaves at 47; item 2 waits in
    the FIFO from 22 (no stall: a slot was free) and leaves at 48."""
    expected = (48, 0, 0, [0, 1])
    line = run_line([-1] * 3, 0, (6, 4, 1), (2, 2), extra=[0, 30, 0], extra_stage=2)
    assert (line.finish, line.full_fifo, line.busy_port, line.high_water) == expected
    service, depths = np.array([6, 4, 1]), np.array([2, 2])
    d_prev, s_hist, pop_ptr, port_free = line_state(3, depths, 1)
    stalls, high = np.zeros((1, 2), np.int64), np.zeros((1, 2), np.int64)
    finish = [line_item(n, 0, -1, service, depths, d_prev, s_hist, pop_ptr, port_free, 1, -1, stalls, high, 0,
                        extra, 2) for n, extra in enumerate([0, 30, 0])]
    assert (finish[-1], int(stalls[0, 0]), int(stalls[0, 1]), high[0].tolist()) == expected


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_line_with_per_item_extra_cycles_engines_agree(seed):
    """Random congested lines with per-item extra cycles on a random stage: the recurrence equals the clock."""
    rng = np.random.default_rng(seed)
    stages = int(rng.integers(2, 5))
    n = int(rng.integers(1, 20))
    service = tuple(rng.integers(1, 4, stages).tolist())
    depths = tuple(rng.integers(1, 3, stages - 1).tolist())
    banks = rng.integers(-1, 2, n).tolist()
    extra = rng.integers(0, 6, n).tolist()
    extra_stage, bank_stage, bank_cycles = int(rng.integers(0, stages)), int(rng.integers(0, stages)), int(rng.integers(1, 4))
    line = run_line(banks, 2, service, depths, bank_stage=bank_stage, n_banks=2, bank_cycles=bank_cycles,
                    extra=extra, extra_stage=extra_stage)
    s, d = np.array(service, np.int64), np.array(depths, np.int64)
    d_prev, s_hist, pop_ptr, port_free = line_state(stages, d, 2)
    stalls, high = np.zeros((1, 2), np.int64), np.zeros((1, stages - 1), np.int64)
    finish = 2
    for k in range(n):
        finish = line_item(k, 2, banks[k], s, d, d_prev, s_hist, pop_ptr, port_free, bank_cycles, bank_stage,
                           stalls, high, 0, extra[k], extra_stage)
    assert (finish, int(stalls[0, 0]), int(stalls[0, 1]), high[0].tolist()) == \
        (line.finish, line.full_fifo, line.busy_port, line.high_water)


def test_each_event_once_hand_counted():
    """One step of x -> h -> o, every event once or twice, against the same run without the costs.

    Per phase (one core each, uncontended): integrate of h and of o each read one axon, whose first
    word costs axon_in_cycles more (2 x 11); fire of h and o each read one neuron's state
    (neuron_read_cycles - 1 = 6 more than the 1-cycle read) and write back one spike (13): 2 x 19; route: h's one
    packet to one receiving core holds the router 400 cycles (more than its NoC delivery), so the phase
    is phase_setup_cycles + 400 + router_cycles_per_packet long where it was set-up + delivery. Energy: 2 spikes x 5 pJ and 1
    message x 3 pJ more; nothing else moves.
    """
    work = Workload("chain", _chain(), {"x": np.ones((1, 1, 1))}, 1, 1)
    base, with_events = (simulate(work, _chip(e), "reference") for e in (False, True))
    assert with_events.spikes == base.spikes == 2
    b, e = base.cycles_breakdown["per_phase"], with_events.cycles_breakdown["per_phase"]
    assert e["integrate"] - b["integrate"] == 2 * 11
    assert e["fire"] - b["fire"] == 2 * (7 - 1 + 13)
    core = _chip(True).params["core"]
    cpp, setup = int(core["router_cycles_per_packet"]), int(core["phase_setup_cycles"])
    assert b["route"] < 400 and e["route"] == setup + 400 + cpp
    assert with_events.cycles - base.cycles == 2 * 11 + 2 * 19 + setup + 400 + cpp - b["route"]
    assert with_events.actions["spike_out"] == {"spike": 2} and with_events.actions["axon_out"] == {"message": 1}
    assert {c: a for c, a in with_events.actions.items() if c not in PRICED and c != "control"} == \
        {c: a for c, a in base.actions.items() if c != "control"}
    chip = _chip(True)
    energy = evaluate(with_events, chip).energy_breakdown_pj
    assert energy["spike_out"]["spike"] == pytest.approx(2 * 5.0)
    assert energy["axon_out"]["message"] == pytest.approx(3.0)
    fast = simulate(work, chip, "fast")
    assert fast.cycles == with_events.cycles and fast.actions == with_events.actions
    assert fast.cycles_breakdown == with_events.cycles_breakdown


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(3, 30), hidden=st.integers(1, 20), n_out=st.integers(1, 5),
       lanes=st.sampled_from([1, 3]), soma_lanes=st.sampled_from([1, 4]), neurons=st.sampled_from([4, 32]),
       depth=st.sampled_from([1, 2]), read=st.integers(1, 4), axon_in=st.integers(0, 5), spike_out=st.integers(0, 5),
       message_out=st.integers(0, 4), relu=st.booleans())
def test_engines_agree_with_event_costs(seed, n_in, hidden, n_out, lanes, soma_lanes, neurons, depth, read, axon_in,
                                        spike_out, message_out, relu):
    rng = np.random.default_rng(seed)
    net = _net(rng, n_in, hidden, n_out, relu_hidden=relu)
    pipeline = {"fifo_depth_axon": depth, "fifo_depth_synapse": depth, "fifo_depth_soma": depth,
                "fifo_depth_writeback": depth, "synapse_read_cycles": 2}
    chip = _with_events(_small_chip(lanes, soma_lanes, 64, neurons, 1, False, pipeline),
                        {"neuron_read_cycles": read, "axon_in_cycles": axon_in, "spike_out_cycles": spike_out,
                         "message_out_cycles": message_out})
    x = (rng.random((3, 1, n_in)) < 0.5).astype(float)
    work = Workload("rand", net, {"x": x}, 3, 1)
    fast, ref = simulate(work, chip, "fast"), simulate(work, chip, "reference")
    assert_engines_agree(fast, ref)
    assert fast.actions.get("spike_out", {}).get("spike", 0) == fast.spikes


def test_without_event_keys_nothing_changes():
    """A config without the new keys runs as one that states their defaults (1 read cycle, 0 extras)."""
    rng = np.random.default_rng(3)
    net = _net(rng, 20, 10, 3)
    work = Workload("w", net, {"x": (rng.random((2, 1, 20)) < 0.5).astype(float)}, 2, 1)
    plain = simulate(work, _small_chip(1, 1, 64, 16, 2, False), "fast")
    stated_chip = _small_chip(1, 1, 64, 16, 2, False)
    stated_chip.params["core"].update(neuron_read_cycles=1, axon_in_cycles=0, spike_out_cycles=0, message_out_cycles=0)
    stated = simulate(work, stated_chip, "fast")
    assert plain.cycles == stated.cycles and plain.actions == stated.actions
    assert "spike_out" not in plain.actions and "axon_out" not in plain.actions


SANAFE_ARCH = Path(__file__).resolve().parent.parent / "chips" / "loihi.yaml"


def _sanafe_attributes() -> dict:
    """Every attribute of SANA-FE's Loihi architecture file (the installed package's copy), by unit name."""
    sanafe = pytest.importorskip("sanafe")
    arch = yaml.safe_load((Path(sanafe.__file__).parent / "examples" / "loihi.yaml").read_text())["architecture"]
    tile = arch["tile"][0]
    core = tile["core"][0]
    units = {"tile": tile["attributes"], "chip": arch["attributes"]}
    for section in ("axon_in", "soma", "synapse", "axon_out"):
        for unit in core[section]:
            units[unit["name"]] = unit["attributes"]
    return units


def test_loihi_config_is_sanafe_arch_file():
    """chips/loihi.yaml's per-event energies (pJ) and latencies (cycles of its 0.1 ns clock) are SANA-FE's."""
    sf = _sanafe_attributes()
    chip = load_chip(SANAFE_ARCH)
    ns = 1e3 / float(chip.params["clock_mhz"])              # ns per cycle
    core, comp = chip.params["core"], chip.params["components"]
    lif, syn, tile = sf["loihi_lif"], sf["loihi_dense_synapse"], sf["tile"]

    def cycles(seconds):
        return round(seconds * 1e9 / ns, 6)

    assert core["neuron_read_cycles"] == cycles(lif["latency_access_neuron"])
    assert core["soma_update_cycles"] == cycles(lif["latency_update_neuron"])
    assert core["spike_out_cycles"] == cycles(lif["latency_spike_out"])
    assert core["axon_in_cycles"] == cycles(sf["loihi_in"]["latency_message_in"])
    assert core["message_out_cycles"] == cycles(sf["loihi_out"]["latency_message_out"])
    assert core["synapse_read_cycles"] == cycles(syn["latency_process_spike"])
    hops = [tile[f"latency_{d}_hop"] for d in ("east", "north")]
    assert chip.params["noc"]["hop_latency_cycles"] == cycles(sum(hops) / 2)
    assert chip.params["timing"]["barrier_cycles"] == cycles(sf["chip"]["latency_sync"][1])
    pj = 1e12
    assert comp["neuron_sram"]["energy_pj"]["read"] == pytest.approx(lif["energy_access_neuron"] * pj)
    assert comp["soma"]["energy_pj"]["add"] == pytest.approx(lif["energy_update_neuron"] * pj)
    assert comp["spike_out"]["energy_pj"]["spike"] == pytest.approx(lif["energy_spike_out"] * pj)
    assert comp["axon_out"]["energy_pj"]["message"] == pytest.approx(sf["loihi_out"]["energy_message_out"] * pj)
    assert comp["axon_sram"]["energy_pj"]["write"] == pytest.approx(sf["loihi_in"]["energy_message_in"] * pj)
    assert comp["dendrite"]["energy_pj"]["add"] == pytest.approx(syn["energy_process_spike"] * pj)
    assert comp["link"]["energy_pj"]["transfer"] == pytest.approx((tile["energy_east_hop"] + tile["energy_north_hop"]) / 2 * pj)
