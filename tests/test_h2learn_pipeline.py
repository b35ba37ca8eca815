"""h2learn pipeline: the SimPy engines, queues and DRAM channel equal the clock-by-clock reference stepper
(total cycles, busy / DRAM-stall / queue-stall cycles per engine, channel busy cycles, timeline), pipelined
and in sequence, on random step lists and on real small networks through the simulator's entry point."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from archsim.models.h2learn.pipeline import ENGINES, Step, chunk_cycles, run_pipeline
from archsim.models.h2learn.pipeline_refstep import pipeline_reference
from tests.test_h2learn import chip, conv_net, dense_case, workload

simulate_module = importlib.import_module("archsim.models.h2learn.simulate")

steps_st = st.lists(st.builds(Step, st.just("l"), st.integers(0, 12), st.sampled_from([0, 0, 1, 5, 16, 40, 130])),
                    max_size=3)
tile_st = st.fixed_dictionaries({e: steps_st for e in ENGINES})


@settings(max_examples=25, deadline=None)
@given(tiles=st.lists(tile_st, min_size=1, max_size=4), update=steps_st, pipelined=st.booleans(),
       tiles_in_flight=st.integers(1, 2), bits_per_cycle=st.sampled_from([0.7, 1.0, 3.0, 8.0, 16.0]))
def test_simpy_pipeline_equals_reference_stepper(tiles, update, pipelined, tiles_in_flight, bits_per_cycle):
    args = (tiles, update, pipelined, tiles_in_flight, bits_per_cycle)
    assert run_pipeline(*args) == pipeline_reference(*args)


def test_contended_channel_goes_to_the_oldest_request_ties_in_engine_order():
    """Hand-worked: BE (tile 1) and WUE (tile 0) both ask for the channel at edge 10; BE, earlier in engine
    order, wins the tie; from then on the older request wins, so they alternate chunk by chunk."""
    tiles = [{"fe": [Step("l", 2, 0)], "be": [Step("l", 0, 16)], "wue": [Step("l", 0, 8)]},
             {"fe": [Step("l", 2, 0)], "be": [Step("l", 0, 8)], "wue": []}]
    args = (tiles, [], True, 1, 2.0)    # 8 chunks of 2 (BE tile 0) or 1 bits: one cycle each
    sched = run_pipeline(*args)
    assert sched == pipeline_reference(*args)
    # BE tile 0 alone on the channel 2-10; then BE gets 10, 12, ..., 24 and WUE 11, 13, ..., 25
    assert sched.timeline == [["fe", 0, 0, 2], ["fe", 1, 2, 4], ["be", 0, 2, 10], ["be", 1, 10, 25],
                              ["wue", 0, 10, 26], ["wue", 1, 26, 26], ["wue", "update", 26, 26]]
    assert sched.cycles == 26 and sched.dram_busy_cycles == 24
    assert sched.stall_cycles == {"fe": 0, "be": 8 + 15, "wue": 16}


def test_tie_at_one_edge_goes_to_the_earlier_engine():
    """FE (tile 1) and BE (tile 0) both start a 4-chunk transfer at edge 3: FE takes 3-4, BE 4-5, FE 5-6,
    ... so FE ends at 10 and BE at 11 (the other way round if BE won the tie)."""
    tiles = [{"fe": [Step("l", 3, 0)], "be": [Step("l", 0, 4)], "wue": []},
             {"fe": [Step("l", 0, 4)], "be": [], "wue": []}]
    args = (tiles, [], True, 2, 1.0)
    sched = run_pipeline(*args)
    assert sched == pipeline_reference(*args)
    rows = {(row[0], row[1]): row[2:] for row in sched.timeline}
    assert rows[("fe", 1)] == [3, 10] and rows[("be", 0)] == [3, 11] and sched.cycles == 11


def test_chunks_round_up_per_chunk():
    assert chunk_cycles(0, 4.0) == []
    assert chunk_cycles(3, 4.0) == [1, 1, 1]            # ceil(3/8) = 1 bit per chunk: three chunks
    assert chunk_cycles(17, 2.0) == [2] * 5 + [1]      # chunks of 3 bits: 3,3,3,3,3,2
    assert chunk_cycles(130, 0.7) == [25] * 7 + [16]   # chunks of 17 bits, the last 11


def test_full_queue_stalls_the_producer():
    """A slow BE behind a queue of one tile: FE finishes tile 2 at 3 but tile 1 stays queued until BE
    takes it at 11, so FE waits 8 cycles on the queue."""
    tiles = [{"fe": [Step("l", 1, 0)], "be": [Step("l", 10, 0)], "wue": []} for _ in range(3)]
    args = (tiles, [], True, 1, 1.0)
    sched = run_pipeline(*args)
    assert sched == pipeline_reference(*args)
    assert sched.queue_stall_cycles == {"fe": 8, "be": 0, "wue": 0}
    assert sched.cycles == 31 and sched.busy_cycles["be"] == 30


@pytest.mark.parametrize("pipelined", [True, False])
def test_real_networks_pipeline_equals_reference_stepper(monkeypatch, pipelined):
    """The step lists the simulator builds from real data (pipelined, and engines in sequence), run by both."""
    seen = []

    def run_and_check(*args):
        sched = run_pipeline(*args)
        assert sched == pipeline_reference(*args)
        seen.append(sched)
        return sched

    monkeypatch.setattr(simulate_module, "run_pipeline", run_and_check)
    rng = np.random.default_rng(3)
    cases = [(workload(conv_net(rng), rng, steps=3, batch=3), {"tiling.tile_samples": 1}),
             (dense_case(0.3)[1], {"tiling.tile_samples": 2, "tiling.tiles_in_flight": 1})]
    for wl, over in cases:
        trace = simulate_module.simulate(wl, chip(pipeline=pipelined, **over))
        assert trace.cycles == seen[-1].cycles
        assert trace.details["timeline"] == seen[-1].timeline
    assert len(seen) == 2
