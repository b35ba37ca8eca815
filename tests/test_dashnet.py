"""The zoo's hybrid-tracker is DashNet's structure: SNN on events, ANN on frames, attention fusion, TCF read-out."""
from __future__ import annotations

import numpy as np
import pytest

from archsim.graph.functional import simulate
from archsim.graph.network import LI, LIF, ReLU
from archsim.graph.ops import apply_ops
from archsim.graph.workload import synthetic_inputs
from archsim.validate.cases import CASES
from workloads import zoo

STEPS = 3


@pytest.fixture(scope="module")
def tracker():
    network = zoo.build("hybrid-tracker", steps=STEPS)
    return network, simulate(network, synthetic_inputs(network, STEPS, 2, seed=0))


def _upstream_inputs(network, name: str) -> set[str]:
    """The network inputs that reach layer ``name``."""
    sources = set()
    for projection in network.layer(name).projections:
        if projection.source in network.inputs:
            sources.add(projection.source)
        else:
            sources |= _upstream_inputs(network, projection.source)
    return sources


def test_branches_are_an_snn_on_events_and_an_ann_on_frames(tracker):
    network, _ = tracker
    for name in ("snn1", "snn2"):
        assert isinstance(network.layer(name).neuron, LIF) and _upstream_inputs(network, name) == {"events"}
    for name in ("ann1", "ann2"):
        assert isinstance(network.layer(name).neuron, ReLU) and _upstream_inputs(network, name) == {"frames"}
    # the attention map is computed from the SNN's features alone, and the fused layer sees both inputs
    assert isinstance(network.layer("attention").neuron, ReLU)
    assert _upstream_inputs(network, "attention") == {"events"}
    assert _upstream_inputs(network, "fuse") == {"events", "frames"}


def _projection_current(network, run, layer: str, source: str) -> np.ndarray:
    projection = next(p for p in network.layer(layer).projections if p.source == source)
    values = run.layer_outputs[source]
    out = np.stack([apply_ops(projection.ops, values[t]) for t in range(values.shape[0])])
    return out.reshape(values.shape[0], values.shape[1], *network.shape_of(layer))


def test_attention_is_added_to_the_ann_features(tracker):
    """fuse's membrane input is the ANN features plus the attention map broadcast to every channel."""
    network, run = tracker
    attention = _projection_current(network, run, "fuse", "attention")
    channels = network.shape_of("fuse")[0]
    weights = next(p for p in network.layer("fuse").projections if p.source == "attention").ops[0].weight
    expected = weights.reshape(channels)[None, None, :, None, None] * run.layer_outputs["attention"]
    np.testing.assert_allclose(attention, expected, rtol=1e-12, atol=1e-12)
    assert run.spike_counts["fuse"] > 0 and np.any(run.layer_outputs["attention"] > 0)


def test_tcf_is_a_leaky_integral_of_the_fused_and_snn_responses(tracker):
    network, run = tracker
    tcf = network.layer("tcf")
    assert isinstance(tcf.neuron, LI) and float(tcf.neuron.decay) == zoo.TCF_DECAY
    assert {p.source for p in tcf.projections} == {"fuse", "snn2"}
    drive = _projection_current(network, run, "tcf", "fuse") + _projection_current(network, run, "tcf", "snn2")
    v = np.zeros(drive.shape[1:])
    for t in range(STEPS):
        v = zoo.TCF_DECAY * v + drive[t]
        np.testing.assert_allclose(run.layer_outputs["tcf"][t], v, rtol=1e-9, atol=1e-12)


def test_dashnet_case_is_a_prediction_on_the_zoo_shape_without_overrides():
    case = next(c for c in CASES if c.name == "dashnet-fps")
    assert case.role == "prediction" and case.published == 2083.0
    assert case.run.network == "hybrid-tracker" and case.run.chip == "tianjic" and case.run.overrides == ()
