"""Hand-checked NoC cases: numbering, routes, one packet's timing, contention, multicast counts."""
import numpy as np
import pytest

from archsim.errors import UserError
from archsim.noc import (NocConfig, NocStats, Packets, core_coords, core_id, hop_distance, link_grid,
                         multicast_tree, simulate, topology, xy_route)

ENGINES = ("fast", "reference")


def both(packets, config):
    """Run both engines, check they agree, return the stats."""
    fast = simulate(packets, config, "fast")
    reference = simulate(packets, config, "reference")
    assert fast == reference
    return fast


def test_core_numbering_is_chip_major_then_y_then_x():
    config = NocConfig(mesh_x=3, mesh_y=2, chips_x=2, chips_y=2)
    assert core_id(config, 0, 0, 1, 0) == 1
    assert core_id(config, 0, 0, 0, 1) == 3
    assert core_id(config, 1, 0, 0, 0) == 6
    assert core_id(config, 0, 1, 0, 0) == 12
    for core in range(config.n_cores):
        assert core_id(config, *core_coords(config, core)) == core
    topo = topology(config)
    assert (topo.router_x[7], topo.router_y[7]) == (4, 0)      # chip (1, 0), x = 1, y = 0
    assert (topo.router_x[21], topo.router_y[21]) == (3, 3)    # chip (1, 1), x = 0, y = 1


def test_xy_route_goes_x_first_and_crosses_chips():
    config = NocConfig(mesh_x=2, mesh_y=2, chips_x=2, chips_y=1)
    # core 0 = board (0, 0); core 7 = chip 1, (1, 1) = board (3, 1).
    route = xy_route(0, 7, config)
    assert route == [4 * 0 + 0, 4 * 1 + 0, 4 * 4 + 0, 4 * 5 + 2]
    topo = topology(config)
    assert [bool(topo.link_interchip[link]) for link in route] == [False, True, False, False]
    assert hop_distance(config, 0, 7) == len(route)
    assert xy_route(3, 3, config) == []


def test_single_packet_arrives_at_documented_cycle():
    # Buffers of 6 flits cover the credit round trip of a link (2 + 3 + 1 cycles): no credit stall.
    config = NocConfig(mesh_x=5, mesh_y=4, hop_latency_cycles=2, router_latency_cycles=3,
                       local_latency_cycles=1, buffer_flits=6)
    src, dst, flits, t0 = 0, core_id(config, 0, 0, 4, 3), 6, 7
    hops = 7
    stats = both(Packets.unicast(src, dst, flits, t0), config)
    assert stats.finish_cycle == t0 + (flits - 1) + 2 * 1 + (hops + 1) * 3 + hops * 2
    assert stats.hops == hops and stats.flit_hops == hops * flits
    assert stats.router_traversals == (hops + 1) * flits
    assert stats.stall_cycles == 0
    assert stats.inject_wait_cycles == sum(range(flits))     # flit k waits k cycles at the source
    assert stats.injected_flits == stats.ejected_flits == flits


def test_two_packets_sharing_a_link_serialize():
    config = NocConfig(mesh_x=4, mesh_y=1)
    packets = Packets.from_list([(0, 3, 4, 0), (1, 3, 4, 0)])
    # Alone, the last flit of packet 0 arrives at 3 + 2 + 4 + 3 = 12. Together, link 1->2 grants
    # B0@2 B1@3 A0@4 B2@5 A1@6 B3@7 A2@8 A3@9 (first come first served, ties to packet 0), so A3
    # reaches core 3 at 9 + 1 + 1 + 1 + 1 + 1 = 14 after waiting 8 flit-cycles in all.
    assert both(Packets.unicast(0, 3, 4), config).finish_cycle == 12
    stats = both(packets, config)
    assert stats.finish_cycle == 14
    assert stats.stall_cycles == 8
    link_1_to_2 = 4 * 1 + 0
    assert stats.link_flits[link_1_to_2] == 8
    assert stats.link_stall_cycles[link_1_to_2] == 8
    # Left waiting after cycles 4..9: {B2}, {A1 B3}, {B3 A2}, {A2 A3}, {A3}, {}: at most 2.
    assert stats.link_peak_waiting_flits[link_1_to_2] == stats.peak_waiting_flits == 2
    assert list(stats.packet_finish_cycles) == [14, 12]   # B3 granted at 7, +5


def test_multicast_tree_shares_segments():
    config = NocConfig(mesh_x=4, mesh_y=4)
    dsts = [3, 15, 12]
    tree = multicast_tree(0, dsts, config)
    assert len(tree) == 9                 # row 0 (3 links), column 3 (3), column 0 (3)
    stats = both(Packets.from_list([(0, dsts, 2, 0)]), config)
    assert stats.hops == 9
    assert stats.flit_hops == 18
    assert stats.injected_flits == 2 and stats.ejected_flits == 6
    assert stats.router_traversals == 10 * 2
    assert set(np.flatnonzero(stats.link_flits)) == set(tree)
    assert list(np.flatnonzero(stats.eject_flits)) == sorted(dsts)


def test_loopback_and_duplicate_destinations():
    config = NocConfig(mesh_x=2, mesh_y=2)
    stats = both(Packets.from_list([(1, [1, 1, 3], 1, 0)]), config)
    assert stats.hops == 1 and stats.ejected_flits == 2
    assert stats.eject_flits[1] == 1 and stats.eject_flits[3] == 1


def test_fractional_interchip_link_slots():
    config = NocConfig(mesh_x=1, mesh_y=1, chips_x=2, interchip_flits_per_cycle=0.25,
                       interchip_latency_cycles=20)
    stats = both(Packets.unicast(0, 1, 3, 0), config)
    # Requests at 2, 3, 4 get the 0.25-rate slots of cycles 4, 8, 12; then +20 on the link,
    # +1 router, +1 ejection port.
    assert stats.finish_cycle == 12 + 20 + 1 + 1
    assert stats.interchip_flits == 3 and stats.interchip_bits == 3 * 64
    assert stats.stall_cycles == (4 - 2) + (8 - 3) + (12 - 4)


def test_empty_phase_and_to_dict():
    config = NocConfig(mesh_x=2, mesh_y=2)
    stats = both(Packets.empty(), config)
    assert stats.finish_cycle == 0 and stats.flit_hops == 0
    summary = stats.to_dict()
    assert summary["busiest_link"] == -1 and "link_flits" not in summary
    assert len(stats.to_dict(arrays=True)["link_flits"]) == 16


def test_stats_of_successive_phases_add():
    config = NocConfig(mesh_x=3, mesh_y=1)
    a = simulate(Packets.unicast(0, 2, 2), config)
    b = simulate(Packets.unicast(2, 0, 1), config)
    total = a + b
    assert total.finish_cycle == a.finish_cycle + b.finish_cycle
    assert total.flit_hops == 6 and total.packets == 2
    assert total.peak_waiting_flits == max(a.peak_waiting_flits, b.peak_waiting_flits)
    assert isinstance(total, NocStats)


def test_link_grid_places_links_on_the_board():
    config = NocConfig(mesh_x=2, mesh_y=1, chips_x=1, chips_y=2)
    values = np.arange(4 * config.n_cores)
    grid = link_grid(values, config)
    assert grid.shape == (2, 2, 4)
    assert list(grid[1, 0]) == list(values[8:12])          # core 2: chip (0, 1), x 0 -> board (0, 1)


def test_from_params_and_errors():
    config = NocConfig.from_params({"mesh_x": 16, "mesh_y": 10, "interchip_flits_per_cycle": 0.5})
    assert config.n_cores == 160 and config.link_flits_per_cycle == 1.0
    bad = [
        ({"mesh_x": 2}, "noc.mesh_y: required"),
        ({"mesh_x": 2, "mesh_y": 2, "colour": 1}, "noc.colour: unknown key"),
        ({"mesh_x": 0, "mesh_y": 2}, "noc.mesh_x: 0 is too small"),
        ({"mesh_x": 2, "mesh_y": 2, "hop_latency_cycles": 1.5}, "not an integer"),
        ({"mesh_x": 2, "mesh_y": 2, "link_flits_per_cycle": 0}, "too small"),
        ({"mesh_x": 2, "mesh_y": 2, "link_flits_per_cycle": 3.14159265}, "ratio of small integers"),
        ({"mesh_x": 2, "mesh_y": 2, "buffer_flits": 0}, "noc.buffer_flits: 0 is too small"),
        ({"mesh_x": 2, "mesh_y": 2, "credit_latency_cycles": 0}, "noc.credit_latency_cycles: 0 is too small"),
    ]
    for params, message in bad:
        with pytest.raises(UserError, match=message):
            NocConfig.from_params(params)


def test_bad_packets_and_engine():
    config = NocConfig(mesh_x=2, mesh_y=2)
    with pytest.raises(ValueError):
        simulate(Packets.unicast(0, 4), config)
    with pytest.raises(ValueError):
        Packets.unicast(0, 1, flits=0)
    with pytest.raises(ValueError):
        simulate(Packets.unicast(0, 1), config, engine="slow")


def test_engines_agree_on_a_long_congested_phase():
    """Thousands of flits, cycles and same-cycle requests: exercises every growth path of the kernel."""
    config = NocConfig(mesh_x=2, mesh_y=2, chips_x=2, chips_y=2, interchip_flits_per_cycle=0.5)
    rng = np.random.default_rng(7)
    many = 1500
    packets = Packets.from_list(
        [(0, 15, 3000, 0)]
        + [(int(s), [int(d) for d in rng.integers(0, 16, 2)], 1, 5) for s in rng.integers(0, 16, many)])
    stats = both(packets, config)
    assert stats.finish_cycle > 3000
    assert stats.injected_flits == 3000 + many
