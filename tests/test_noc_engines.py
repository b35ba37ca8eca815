"""Property tests: the fast NoC kernel equals the reference stepper on random boards and traffic."""
from hypothesis import given, settings
from hypothesis import strategies as st

from archsim.noc import NocConfig, Packets, multicast_tree, simulate

RATES = [1, 2, 0.5, 0.25, 1.5, 2 / 3]


@st.composite
def boards(draw):
    return NocConfig(
        mesh_x=draw(st.integers(1, 4)), mesh_y=draw(st.integers(1, 3)),
        chips_x=draw(st.integers(1, 2)), chips_y=draw(st.integers(1, 2)),
        link_flits_per_cycle=draw(st.sampled_from(RATES)),
        hop_latency_cycles=draw(st.integers(1, 3)),
        router_latency_cycles=draw(st.integers(0, 3)),
        local_flits_per_cycle=draw(st.sampled_from(RATES)),
        local_latency_cycles=draw(st.integers(1, 2)),
        interchip_latency_cycles=draw(st.integers(1, 6)),
        interchip_flits_per_cycle=draw(st.sampled_from(RATES)),
        buffer_flits=draw(st.integers(1, 8)),
        credit_latency_cycles=draw(st.integers(1, 3)),
    )


@st.composite
def traffic(draw):
    config = draw(boards())
    core = st.integers(0, config.n_cores - 1)
    packets = draw(st.lists(
        st.tuples(core, st.lists(core, min_size=1, max_size=4), st.integers(1, 4), st.integers(0, 6)),
        min_size=0, max_size=10))
    return config, Packets.from_list(packets)


@settings(max_examples=120, deadline=None)
@given(traffic())
def test_fast_equals_reference(case):
    config, packets = case
    fast = simulate(packets, config, "fast")
    reference = simulate(packets, config, "reference")
    assert fast == reference
    # Counts that follow from the routes alone.
    trees = [multicast_tree(int(packets.src[p]), packets.destinations(p), config) for p in range(len(packets))]
    flits = [int(f) for f in packets.flits]
    assert fast.hops == sum(len(tree) for tree in trees)
    assert fast.flit_hops == sum(f * len(tree) for f, tree in zip(flits, trees))
    assert fast.router_traversals == sum(f * (len(tree) + 1) for f, tree in zip(flits, trees))
    assert fast.ejected_flits == sum(f * len(set(packets.destinations(p).tolist()))
                                     for p, f in enumerate(flits))
    assert fast.injected_flits == packets.total_flits


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6), st.integers(1, 5), st.integers(0, 3))
def test_hotspot_contention_matches(n_sources, flits, router_latency):
    """Many sources into one core on a 3x3 mesh: heavy contention, identical answers."""
    config = NocConfig(mesh_x=3, mesh_y=3, router_latency_cycles=router_latency)
    packets = Packets.unicast(list(range(n_sources)), 8, flits, [s % 2 for s in range(n_sources)])
    fast = simulate(packets, config, "fast")
    assert fast == simulate(packets, config, "reference")
    assert fast.finish_cycle >= n_sources * flits      # the ejection port serializes every flit


@st.composite
def repeated_routes(draw):
    """Few distinct (source, destination list) routes, many packets on them (as a chip's spikes)."""
    config = draw(boards())
    core = st.integers(0, config.n_cores - 1)
    routes = draw(st.lists(st.tuples(core, st.lists(core, min_size=1, max_size=4)), min_size=1, max_size=3))
    picks = draw(st.lists(st.tuples(st.integers(0, len(routes) - 1), st.integers(1, 3), st.integers(0, 4)),
                          min_size=1, max_size=12))
    return config, Packets.from_list([(*routes[r], flits, cycle) for r, flits, cycle in picks])


@settings(max_examples=60, deadline=None)
@given(repeated_routes())
def test_packets_sharing_routes_match(case):
    """Packets on the same route share one multicast tree in the fast kernel: same answers."""
    config, packets = case
    assert simulate(packets, config, "fast") == simulate(packets, config, "reference")
