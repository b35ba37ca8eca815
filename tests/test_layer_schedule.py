"""timing.layer_schedule: serial (same-step) and pipelined (every edge between layers one step late) give the
same outputs on the chip, in both engines, as the functional simulator under the same schedule, bit for bit."""
import glob

import numpy as np
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from archsim.config import load_chip
from archsim.errors import UserError
from archsim.graph.functional import simulate as functional
from archsim.graph.network import LIF, Dense, Layer, Network, Projection, ReLU
from archsim.graph.quantize import Precision
from archsim.graph.schedule import scheduled
from archsim.graph.workload import Workload
from archsim.models.manycore import simulate


def _lif(decay=0.875):
    return LIF(decay=np.float64(decay), threshold=np.float64(1.0))


def _net(rng, n_in, a, b, n_out, recurrent, relu):
    """x -> a -> b -> o with a skip a -> o and, optionally, a recurrent b -> a."""
    a_projs = [Projection("x", (Dense(rng.normal(size=(a, n_in)) * 0.6),))]
    if recurrent:
        a_projs.append(Projection("b", (Dense(rng.normal(size=(a, b)) * 0.4),), recurrent=True))
    return Network("sched", {"x": (n_in,)}, [
        Layer("a", (a,), tuple(a_projs), _lif()),
        Layer("b", (b,), (Projection("a", (Dense(rng.normal(size=(b, a))),)),), ReLU() if relu else _lif()),
        Layer("o", (n_out,), (Projection("b", (Dense(rng.normal(size=(n_out, b))),)),
                              Projection("a", (Dense(rng.normal(size=(n_out, a)) * 0.5),))), _lif()),
    ], ["o"], metadata={"quant": {"activation_scale": {"b": 0.05}}})


def _chip(path, schedule, neurons, axons):
    return load_chip(path).with_overrides({"timing.layer_schedule": schedule, "core.neurons": neurons,
                                           "core.axons": axons, "noc.mesh_x": 4, "noc.mesh_y": 4})


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(2, 16), a=st.integers(1, 10), b=st.integers(1, 10),
       n_out=st.integers(1, 4), recurrent=st.booleans(), relu=st.booleans(),
       schedule=st.sampled_from(["serial", "pipelined"]), path=st.sampled_from(["chips/tianjic.yaml", "chips/loihi.yaml"]),
       neurons=st.sampled_from([4, 64]), axons=st.sampled_from([8, 64]))
def test_chip_equals_functional_in_both_schedules(seed, n_in, a, b, n_out, recurrent, relu, schedule, path,
                                                  neurons, axons):
    rng = np.random.default_rng(seed)
    net = _net(rng, n_in, a, b, n_out, recurrent, relu and not recurrent)
    chip = _chip(path, schedule, neurons, axons)
    x = (rng.random((7, 2, n_in)) < 0.5).astype(float)
    work = Workload("sched", net, {"x": x}, 7, 2)
    fast, ref = simulate(work, chip, "fast"), simulate(work, chip, "reference")
    assert (fast.cycles, fast.spikes, fast.actions, fast.noc) == (ref.cycles, ref.spikes, ref.actions, ref.noc)
    truth = functional(net, {"x": x}, Precision.from_config(chip.params["precision"]), schedule=schedule)
    np.testing.assert_array_equal(fast.outputs, truth.outputs["o"])
    assert fast.details["layer_schedule"] == schedule
    assert len(fast.details["stages"]) == (1 if schedule == "pipelined" else 3)


def test_pipelined_chain_is_the_serial_one_later_by_its_depth_minus_one():
    """A feed-forward chain of D layers: pipelined outputs are the serial ones D - 1 steps later (float)."""
    rng = np.random.default_rng(2)
    sizes = [5, 6, 4, 3]
    layers = [Layer(f"l{i}", (m,), (Projection("x" if i == 0 else f"l{i - 1}",
                                               (Dense(np.abs(rng.normal(size=(m, n))) * 0.9),)),), _lif(1.0))
              for i, (n, m) in enumerate(zip([4] + sizes[:-1], sizes))]
    net = Network("chain", {"x": (4,)}, layers, [layers[-1].name])
    x = (rng.random((20, 2, 4)) < 0.6).astype(float)
    serial = functional(net, {"x": x}).outputs["l3"]
    piped = functional(net, {"x": x}, schedule="pipelined").outputs["l3"]
    depth = len(sizes)
    assert serial.any()
    np.testing.assert_array_equal(piped[depth - 1:], serial[:-(depth - 1)])
    assert not piped[:depth - 1].any()


def test_result_and_saved_outputs_say_which_schedule_ran(tmp_path, capsys):
    from archsim.cli import main

    chip = load_chip("chips/loihi.yaml").with_overrides({"timing.layer_schedule": "pipelined"})
    path = tmp_path / "loihi-pipelined.yaml"
    path.write_text(yaml.safe_dump(chip.params))
    code = main(["run", "mlp-digits", "--chip", str(path), "--steps", "3", "--gpu", "none", "--quiet",
                 "--out", str(tmp_path / "r.json"), "--save-outputs", str(tmp_path / "y.npy")])
    assert code == 0
    assert "pipelined layer schedule" in capsys.readouterr().out
    import json

    assert json.loads((tmp_path / "r.json").read_text())["layer_schedule"] == "pipelined"


def test_every_shipped_many_core_chip_states_its_schedule_with_a_source():
    for path in glob.glob("chips/*.yaml"):
        text = open(path).read()
        if "layer_schedule" not in text and "family: manycore" not in text:
            continue
        line = next((l for l in text.splitlines() if l.strip().startswith("layer_schedule:")), None)
        assert line is not None and "#" in line, path
        assert line.split(":")[1].split("#")[0].strip() in ("serial", "pipelined"), path


def test_bad_schedule_is_one_line():
    with pytest.raises(UserError) as info:
        scheduled(Network("n", {"x": (1,)}, [], []), "eager")
    assert "timing.layer_schedule" in str(info.value) and "pipelined" in str(info.value)
