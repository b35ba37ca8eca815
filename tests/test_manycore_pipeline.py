"""The core pipeline (stages, FIFOs, synapse banks): the clocked reference against the fast recurrence,
hand-worked stalls, and congested whole networks where both engines must agree on every stall."""
import numpy as np
from hypothesis import given, settings, strategies as st

from archsim.graph.workload import Workload
from archsim.models.manycore import simulate
from archsim.models.manycore.kernels import line_item, line_state
from archsim.models.manycore.pipeline import run_line
from tests.test_manycore import _net, _small_chip


def _recurrence(banks, start, service, depths, bank_stage=-1, n_banks=1, bank_cycles=1):
    """The fast engine's line (kernels.line_item) over ``banks``: (finish, full FIFO, busy port, high water)."""
    service, depths = np.array(service, np.int64), np.array(depths, np.int64)
    d_prev, s_hist, pop_ptr, port_free = line_state(len(service), depths, n_banks)
    stalls, high = np.zeros((1, 2), np.int64), np.zeros((1, len(service) - 1), np.int64)
    finish = start
    for n, bank in enumerate(banks):
        finish = line_item(n, start, bank, service, depths, d_prev, s_hist, pop_ptr, port_free, bank_cycles,
                           bank_stage, stalls, high, 0)
    return finish, int(stalls[0, 0]), int(stalls[0, 1]), high[0].tolist()


def _clocked(*args, **kwargs):
    line = run_line(*args, **kwargs)
    return line.finish, line.full_fifo, line.busy_port, line.high_water


def test_full_fifo_hand_worked():
    """A 1-cycle stage feeding a 3-cycle stage through a 1-entry FIFO, 4 items from cycle 0.

    Stage 1 starts items at 1, 4, 7, 10 and is done at 13. Stage 0 finishes item 1 at 2 and pushes it
    (FIFO empty); item 2 is done at 3 but the FIFO holds item 1 until stage 1 takes it at 4, a slot
    stage 0 sees at 5: stalls at 3 and 4. Item 3 likewise (done 6, pushed 8): 4 full-FIFO stall cycles.
    """
    expected = (13, 4, 0, [1])
    assert _clocked([-1] * 4, 0, (1, 3), (1,)) == expected
    assert _recurrence([-1] * 4, 0, (1, 3), (1,)) == expected
    # a FIFO deep enough for the backlog removes the stalls, not the bottleneck
    assert _clocked([-1] * 4, 0, (1, 3), (4,)) == (13, 0, 0, [2])


def test_busy_port_hand_worked():
    """Three reads, banks 0, 0, 1, each read holding its bank's one port 3 cycles (2 banks).

    Item 0 reads bank 0 at cycle 1 (port busy until 4); item 1 (bank 0) reaches the read stage at 2
    and waits 2 cycles for the port; item 2 (bank 1) reads at 5, the cycle after item 1 leaves the
    stage. The synapse FIFO behind the front end held items 1 and 2 at the end of cycle 3.
    """
    expected = (7, 0, 2, [2, 0])
    assert _clocked([0, 0, 1], 0, (1, 1, 1), (2, 2), bank_stage=1, n_banks=2, bank_cycles=3) == expected
    assert _recurrence([0, 0, 1], 0, (1, 1, 1), (2, 2), bank_stage=1, n_banks=2, bank_cycles=3) == expected


def test_uncontended_line_is_one_item_per_cycle():
    """Every stage 1 cycle and one bank read per cycle: n items leave at start + n + stages - 1, no stall."""
    assert _clocked([0] * 50, 16, (1, 1, 1), (1, 1), bank_stage=1) == (16 + 50 + 2, 0, 0, [0, 0])


def _random_line(seed):
    """A congested line on purpose: 2-4 stages of 1-3 cycles, slower ones downstream (where FIFOs fill),
    FIFOs of depth 1 or 2, 1-2 banks whose single port a read holds 1-3 cycles, 2-25 items."""
    rng = np.random.default_rng(seed)
    stages = int(rng.integers(2, 5))
    n_banks = int(rng.integers(1, 3))
    banks = rng.integers(0, n_banks, int(rng.integers(2, 26))).tolist()
    return (banks, int(rng.integers(0, 5)), tuple(sorted(rng.integers(1, 4, stages).tolist())),
            tuple(rng.integers(1, 3, stages - 1).tolist()), int(rng.integers(0, stages)), n_banks,
            int(rng.integers(1, 4)))


def _check_line(seed) -> bool:
    """Recurrence == clock on the seed's line; whether it stalled."""
    banks, start, service, depths, bank_stage, n_banks, bank_cycles = _random_line(seed)
    clocked = _clocked(banks, start, service, depths, bank_stage=bank_stage, n_banks=n_banks,
                       bank_cycles=bank_cycles)
    assert _recurrence(banks, start, service, depths, bank_stage, n_banks, bank_cycles) == clocked
    assert max(clocked[3]) <= max(depths)
    return clocked[1] + clocked[2] > 0


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_line_recurrence_equals_clocked_line(seed):
    _check_line(seed)


def test_most_generated_lines_stall():
    """The generator above makes congestion: of 200 of its lines, most stall (measured: 160)."""
    stalled = sum(_check_line(seed) for seed in range(200))
    assert stalled >= 140, stalled


CONGESTED = {"fifo_depth_axon": 1, "fifo_depth_synapse": 2, "fifo_depth_soma": 1, "fifo_depth_writeback": 2,
             "synapse_banks": 1, "synapse_read_cycles": 2, "soma_update_cycles": 2}


def test_congested_networks_stall_and_engines_agree():
    """Random two-layer networks on cores with depth-1/2 FIFOs, one bank held 2 cycles a read and a
    2-cycle soma: both engines agree on every stall, and most runs stall (busy port and full FIFO)."""
    stalled = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        n_in, hidden = int(rng.integers(5, 40)), int(rng.integers(2, 20))
        net = _net(rng, n_in, hidden, 3)
        chip = _small_chip(int(rng.choice([1, 4])), 1, 64, 16, 2, False, CONGESTED)
        x = (rng.random((2, 1, n_in)) < 0.5).astype(float)
        work = Workload("congested", net, {"x": x}, 2, 1)
        fast, ref = simulate(work, chip, "fast"), simulate(work, chip, "reference")
        assert fast.cycles == ref.cycles and fast.cycles_breakdown == ref.cycles_breakdown
        assert fast.details["buffers"] == ref.details["buffers"]
        stalls = fast.cycles_breakdown["stall_cycles"]
        stalled += stalls["integrate"]["busy_port"] > 0 and stalls["fire"]["full_fifo"] > 0
        per_core = fast.cycles_breakdown["stall_cycles_per_core"]
        assert sum(c["busy_port"] for c in per_core.values()) == sum(s["busy_port"] for s in stalls.values())
    assert stalled >= 6, stalled


def test_deeper_fifos_and_more_banks_never_slow_a_core():
    """The same network: 2 banks and 4-deep FIFOs take at most the cycles of 1 bank and 1-deep FIFOs."""
    rng = np.random.default_rng(5)
    net = _net(rng, 30, 12, 3)
    x = (rng.random((2, 1, 30)) < 0.6).astype(float)
    work = Workload("w", net, {"x": x}, 2, 1)
    tight = simulate(work, _small_chip(4, 1, 64, 16, 2, False, CONGESTED), "fast")
    roomy = dict(CONGESTED, synapse_banks=2, fifo_depth_axon=4, fifo_depth_synapse=4, fifo_depth_soma=4,
                 fifo_depth_writeback=4)
    loose = simulate(work, _small_chip(4, 1, 64, 16, 2, False, roomy), "fast")
    assert loose.cycles_breakdown["per_phase"]["integrate"] < tight.cycles_breakdown["per_phase"]["integrate"]
    assert loose.cycles <= tight.cycles
    assert tight.details["buffers"]["fifo_axon"]["high_water"] == 1 == tight.details["buffers"]["fifo_axon"]["depth"]


def test_merge_adds_words_as_their_packets_arrive():
    """Owner 0 gets words at 5, 5 and 9 (two senders), owner 1 one word at 2: the adder takes one word a
    cycle once it has arrived (cycles 5, 6 and 9), so owner 0 is done at 10, owner 1 at 3; the clocked
    line agrees with the fast one."""
    from archsim.models.manycore.kernels import arrival_lines
    owner, arrival = np.array([0, 0, 0, 1]), np.array([5, 5, 9, 2])
    fast = arrival_lines(owner, arrival, 2, np.array([1]), np.zeros(0, np.int64)).tolist()
    clocked = [run_line([-1] * 3, 0, (1,), (), arrivals=[5, 5, 9]).finish,
               run_line([-1], 0, (1,), (), arrivals=[2]).finish]
    assert fast == clocked == [10, 3]


def test_split_fan_in_merge_engines_agree_with_congestion():
    """300 inputs over 64-axon cores: partial sums merged from several senders; both engines agree on
    the merge phase, its barrier waits and the stalls of the congested integrate line."""
    rng = np.random.default_rng(11)
    net = _net(rng, 300, 20, 4)
    x = (rng.random((2, 1, 300)) < 0.4).astype(float)
    work = Workload("split", net, {"x": x}, 2, 1)
    chip = _small_chip(4, 1, 64, 32, 2, False, CONGESTED)
    fast, ref = simulate(work, chip, "fast"), simulate(work, chip, "reference")
    assert fast.cycles_breakdown == ref.cycles_breakdown and fast.actions == ref.actions
    assert fast.cycles_breakdown["per_phase"]["merge"] > 0
    assert fast.cycles_breakdown["stall_cycles"]["merge"]["barrier_wait"] > 0
