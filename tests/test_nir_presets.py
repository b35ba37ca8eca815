"""Exporter presets: each framework's NIR files run as that framework runs them.

Files: tests/data/nir/sinabs_* (written by Sinabs, tests/data/nir/make_sinabs.py) and tests/data/nir_paper/
(the NIR paper's single-LIF graphs written by Norse and Rockpool, and every framework's published trace of
them; see tests/data/nir_paper/README.md).
"""
from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest

from archsim.graph.nir_compat import make, read as nir_read
from archsim.errors import UserError
from archsim.graph.functional import simulate
from archsim.graph.nir_io import from_nir_graph, read_network
from archsim.graph.presets import FRAMEWORKS, PRESETS, conventions

DATA = Path(__file__).parent / "data" / "nir"
PAPER = Path(__file__).parent / "data" / "nir_paper"


def _outputs(net, x):
    return simulate(net, {next(iter(net.inputs)): x}).outputs[net.outputs[0]]


@pytest.mark.parametrize("rule", ["multi", "single"])
def test_sinabs_mlp_gives_sinabs_spikes_exactly(rule):
    x = np.load(DATA / "sinabs_mlp.input.npy")
    expected = np.load(DATA / f"sinabs_mlp_{rule}.spikes.npy")
    net = read_network(DATA / f"sinabs_mlp_{rule}.nir", from_="sinabs", spikes=None if rule == "multi" else "single")
    got = _outputs(net, x)
    assert np.array_equal(got, expected)
    assert (expected.max() > 1) == (rule == "multi")      # the multi-spike file really has graded counts
    # NIR's own reading (dt = 1e-4, reset to zero, one spike) does not give Sinabs' spikes
    assert not np.array_equal(_outputs(read_network(DATA / f"sinabs_mlp_{rule}.nir"), x), expected)


def test_sinabs_mlp_takes_its_natural_input_when_the_file_records_a_batch_dimension():
    """Older nirtorch wrote the traced batch into the Input type: (1, 64). The same graph reads as (64,)."""
    graph = nir_read(DATA / "sinabs_mlp_multi.nir")
    graph.nodes["input"] = nir.Input(input_type={"input": np.array([1, 64])})
    graph.nodes["output"] = nir.Output(output_type={"output": np.array([1, 10])})
    net = from_nir_graph(graph, from_="sinabs")
    assert net.inputs == {"input": (64,)}
    assert any("Input input: type (1, 64) read as (64,)" in n for n in net.metadata["import_notes"])
    assert any("Output output" in n for n in net.metadata["import_notes"])
    x = np.load(DATA / "sinabs_mlp.input.npy")
    assert np.array_equal(_outputs(net, x), np.load(DATA / "sinabs_mlp_multi.spikes.npy"))


def test_a_leading_one_that_is_a_channel_is_kept():
    conv = nir.Conv2d(input_shape=(5, 5), weight=np.ones((2, 1, 3, 3)), stride=1, padding=0, dilation=1, groups=1,
                      bias=np.zeros(2))
    lif = make(nir.IF, r=np.ones((2, 3, 3)), v_threshold=np.ones((2, 3, 3)), v_reset=np.zeros((2, 3, 3)))
    graph = make(nir.NIRGraph, nodes={"input": nir.Input({"input": np.array([1, 5, 5])}), "c": conv, "n": lif,
                                "output": nir.Output({"output": np.array([2, 3, 3])})},
                         edges=[("input", "c"), ("c", "n"), ("n", "output")], type_check=False)
    net = from_nir_graph(graph)
    assert net.inputs == {"input": (1, 5, 5)} and "import_notes" not in net.metadata


def test_explicit_dt_reset_and_spikes_win_over_the_preset():
    c = conventions("sinabs", dt=1e-3, reset="subtract", spikes="single")
    assert (c.dt, c.reset, c.spikes) == (1e-3, "subtract", "single")
    assert dict(c.origin) == {"dt": "explicit", "reset": "explicit", "spikes": "explicit"}
    c = conventions("norse")
    assert c.dt == 1e-3 and dict(c.origin)["dt"] == "preset"
    net = read_network(DATA / "sinabs_mlp_multi.nir", from_="sinabs", dt=0.5)
    assert net.metadata["dt"] == 0.5


def test_every_preset_documents_what_it_guesses():
    assert set(FRAMEWORKS) == {"snntorch", "norse", "sinabs", "rockpool", "spyx", "nengo"}
    for name in FRAMEWORKS:
        lines = PRESETS[name].describe()
        assert lines[0].startswith("dt: ")
    assert any("a guess" in line for line in PRESETS["sinabs"].describe())


def test_bad_preset_options_are_one_line():
    for kwargs in ({"from_": "lava"}, {"reset": "half"}, {"spikes": "many"}):
        with pytest.raises(UserError) as info:
            conventions(**kwargs)
        assert "\n" not in str(info.value) and "allowed" in str(info.value)
    with pytest.raises(UserError) as info:
        read_network(DATA / "sinabs_mlp_multi.nir", from_="sinabs", reset="zero")
    assert "multi needs a subtractive reset" in str(info.value)


def test_multi_spike_is_refused_on_chips_in_one_line():
    from archsim.runner import execute

    with pytest.raises(UserError) as info:
        execute(str(DATA / "sinabs_mlp_multi.nir"), "chips/tianjic.yaml", from_="sinabs", steps=2, gpu=None)
    message = str(info.value)
    assert "\n" not in message and "graded multi-spike" in message and "--precision float" in message


# The NIR paper's single LIF neuron (paper/01_lif): the graph Norse wrote, run as each framework runs it at the
# paper's dt = 1e-4 s, against that framework's published trace (columns: input, membrane, spike).
@pytest.mark.parametrize("preset, graph, trace", [
    (None, "lif_norse", "lif_exact"), ("norse", "lif_norse", "lif_norse"), ("snntorch", "lif_norse", "lif_snntorch"),
    ("nengo", "lif_norse", "lif_nengo"), ("sinabs", "lif_norse", "lif_sinabs"),
    ("rockpool", "lif_rockpool", "lif_rockpool")])
def test_paper_lif_spike_times_match_each_framework(preset, graph, trace):
    ref = np.loadtxt(PAPER / f"{trace}.csv", delimiter=",")
    net = read_network(PAPER / f"{graph}.nir", from_=preset, dt=1e-4)
    spikes = _outputs(net, ref[:, 0][:, None, None])[:, 0, 0]
    assert np.array_equal(np.nonzero(spikes)[0], np.nonzero(ref[:, 2])[0])


def test_paper_lif_membrane_matches_norse_and_the_exact_solution():
    ref = np.loadtxt(PAPER / "lif_norse.csv", delimiter=",")
    net = read_network(PAPER / "lif_norse.nir", from_="norse", dt=1e-4)
    run = simulate(net, {"input": ref[:, 0][:, None, None]})
    v, trace = 0.0, []            # the membrane is not an output: replay it from the layer's constants and spikes
    layer = net.layers[0].neuron
    for i, s in zip(ref[:, 0], run.outputs[net.outputs[0]][:, 0, 0]):
        v = layer.decay * v + layer.gain * i
        v = 0.0 if s else v
        trace.append(v)
    np.testing.assert_allclose(trace, ref[:, 1], atol=1e-6)            # Norse's float32 trace
    exact = np.loadtxt(PAPER / "lif_exact.csv", delimiter=",")
    # forward Euler (1 - dt/tau = 0.96) against the exact exp(-dt/tau) = 0.9608: the paper's explained difference,
    # 0.0062 here, stays below what one input spike adds (r dt / tau = 0.04)
    assert np.max(np.abs(np.array(trace) - exact[:, 1])) < layer.gain


def test_spyx_mlp_gives_spyx_spikes_one_step_earlier():
    """Spyx reports a LIF's spikes one step late (it fires on the previous membrane): --from spyx delays what
    every LIF sends on by that step, and the network's output is Spyx's one step earlier."""
    x = np.load(DATA / "spyx_mlp.input.npy")
    expected = np.load(DATA / "spyx_mlp.spikes.npy")
    got = _outputs(read_network(DATA / "spyx_mlp.nir", from_="spyx"), x)
    assert expected.sum() > 0 and not expected[0].any()
    assert np.array_equal(got[:-1], expected[1:])
    assert _outputs(read_network(DATA / "spyx_mlp.nir"), x).sum() == 0     # NIR's dt = 1e-4 reading: silent


@pytest.mark.parametrize("name, reset", [("leaky_zero", None), ("leaky_subtract", "subtract")])
def test_snntorch_preset_on_files_snntorch_wrote(name, reset):
    """--from snntorch reads as snnTorch's importer (reset to zero); Leaky's default reset is told explicitly."""
    x = np.load(DATA / f"{name}.input.npy")
    net = read_network(DATA / f"{name}.nir", from_="snntorch", reset=reset)
    assert net.metadata["dt"] == 1e-4
    assert np.array_equal(_outputs(net, x), np.load(DATA / f"{name}.spikes.npy"))
    if reset is None:
        assert np.array_equal(_outputs(net, x), np.load(DATA / f"{name}.reimport.spikes.npy"))


def test_spyx_preset_runs_on_loihi_and_is_refused_on_tianjic():
    """--from spyx delays what every LIF sends by one step: Loihi holds that delay (its output the quantised
    functional model's), Tianjic has no delay hardware and says so in one line."""
    from archsim.config import load_chip
    from archsim.graph.quantize import Precision
    from archsim.runner import execute

    x = np.load(DATA / "spyx_mlp.input.npy")
    net = read_network(DATA / "spyx_mlp.nir", from_="spyx")
    path = DATA / "spyx_mlp.input.npy"
    outcome = execute(net, "chips/loihi.yaml", input_path=str(path), gpu=None)
    truth = simulate(net, {"input": x}, Precision.from_config(load_chip("chips/loihi.yaml").params["precision"]))
    assert np.array_equal(outcome.outputs, truth.outputs[net.outputs[0]]) and outcome.outputs.any()
    with pytest.raises(UserError) as info:
        execute(net, "chips/tianjic.yaml", input_path=str(path), gpu=None)
    assert "\n" not in str(info.value) and "spikes a step late" in str(info.value)
