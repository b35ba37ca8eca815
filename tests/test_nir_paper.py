"""The NIR paper's reference graphs (tests/data/nir_paper/README.md) run in float exactly as an independent NumPy
interpreter of NIR (tests/nir_reference.py, which does not import archsim) runs them, and on Tianjic and Loihi
exactly as their quantised functional model says (the chip's own truth; how far that lies from float is
printed with ``-s``: the agreement is a property of the chips' precision, not a pass mark)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from archsim.graph.nir_compat import read as nir_read
from archsim.graph.functional import simulate
from archsim.graph.nir_io import read_network
from tests.nir_reference import Interpreter

PAPER = Path(__file__).parent / "data" / "nir_paper"
# (file, dt, input shape, steps): the Braille graphs at the paper's dt = 1e-4 s; the Sinabs CNN's IF neurons
# at dt = 1 (Sinabs steps in whole units; at 1e-4 an IF adds 1e-4 of its input per step and never fires).
GRAPHS = [("braille_noDelay_bias_zero", 1e-4, (12,), 64), ("braille_noDelay_noBias_subtract", 1e-4, (12,), 64),
          ("cnn_sinabs", 1.0, (2, 34, 34), 12)]


def _spikes(shape, steps, seed=0):
    return (np.random.default_rng(seed).random((steps, 2, *shape)) < 0.3).astype(np.float64)


@pytest.mark.parametrize("name, dt, shape, steps", GRAPHS)
def test_paper_graph_float_equals_independent_interpreter(name, dt, shape, steps):
    x = _spikes(shape, steps)
    reference = Interpreter(nir_read(PAPER / f"{name}.nir"), dt).run(x)
    net = read_network(PAPER / f"{name}.nir", dt=dt)
    run = simulate(net, {"input": x})
    for layer in net.layers:
        got = run.layer_outputs[layer.name]
        assert np.array_equal(got, reference[layer.name].reshape(got.shape)), layer.name
    assert all(run.spike_counts[layer.name] > 0 for layer in net.layers)      # every layer is exercised


@pytest.mark.parametrize("chip", ["chips/tianjic.yaml", "chips/loihi.yaml"])
@pytest.mark.parametrize("name, dt, shape, steps", GRAPHS)
def test_paper_graph_on_chips(tmp_path, chip, name, dt, shape, steps):
    """Each paper graph at chip precision equals the chip's quantised functional model; its agreement with
    float (output entries equal, and output spikes chip / float) is printed (``-s``) for the record."""
    from archsim.graph.quantize import Precision
    from archsim.runner import execute, resolve_chip

    x = _spikes(shape, steps).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    outcome = execute(str(PAPER / f"{name}.nir"), chip, input_path=str(tmp_path / "x.npy"), dt=dt, gpu=None)
    net = outcome.workload.network
    chip_out = np.asarray(outcome.outputs).reshape(steps, 2, -1)
    precision = Precision.from_config(resolve_chip(chip).params["precision"])
    truth = simulate(net, {"input": x.astype(np.float64)}, precision).outputs[net.outputs[0]]
    assert np.array_equal(chip_out, truth.reshape(chip_out.shape))
    float_out = simulate(net, {"input": x.astype(np.float64)}).outputs[net.outputs[0]].reshape(chip_out.shape)
    print(f"{name} on {Path(chip).stem}: output entries agree with float in {np.mean(chip_out == float_out):.1%}; "
          f"output spikes {int(chip_out.sum())} on the chip, {int(float_out.sum())} in float")
