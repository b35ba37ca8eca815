"""Shared assertions of the many-core tests: two runs (fast and reference engines, or two lowerings) agree."""


def assert_engines_agree(fast, ref) -> None:
    """Every figure both engines report is equal: cycles, spikes, actions (in total and per layer), the
    cycle breakdown with stalls by cause, NoC statistics and FIFO high-water marks."""
    assert fast.cycles == ref.cycles
    assert fast.spikes == ref.spikes
    assert fast.actions == ref.actions
    assert fast.actions_by_layer == ref.actions_by_layer
    assert fast.cycles_breakdown == ref.cycles_breakdown
    assert fast.noc == ref.noc
    assert fast.details["buffers"] == ref.details["buffers"]
