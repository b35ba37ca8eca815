"""Graphs exported by snnTorch run in archsim as snnTorch runs them (and where they cannot, exactly how not).

tests/data/nir/ holds networks exported by snnTorch 1.0.0 (``export_to_nir`` + ``nir.write``), a fixed
input and snnTorch's own output spikes; tests/data/nir/make_snntorch.py made them (it needs torch and
is not run here). snnTorch computes in float32, archsim in float64: the script guarantees that no
membrane comes within 1e-4 of its threshold, so spikes must be equal, not merely close.

What snnTorch 1.0.0 writes for ``Leaky(beta, threshold, reset_mechanism=...)``: a plain NIR ``LIF``
with ``tau = 1e-4 / (1 - beta)``, ``r = tau / 1e-4``, ``v_leak = 0``, ``v_reset = 0`` and no node or
graph metadata, whatever the reset mechanism; ``Synaptic`` becomes a ``CubaLIF`` with also
``tau_syn = 1e-4 / (1 - alpha)`` and ``w_in = tau_syn / 1e-4``. Hence:

* ``reset_mechanism="zero"`` (Leaky): snnTorch's ``v[t] = beta * (1 - s[t-1]) * v[t-1] + I[t]`` is
  NIR's reset-to-``v_reset`` right after the spike: archsim reproduces it exactly.
* ``reset_mechanism="subtract"`` (snnTorch's default): snnTorch computes
  ``v[t] = beta * v[t-1] + I[t] - threshold * s[t-1]``, which is archsim's LIF ``reset="subtract"``.
  The file is the same as for "zero", so no reader can tell: told ``reset="subtract"`` (``--reset
  subtract``) archsim reproduces it exactly; untold it runs it as reset to zero, as NIR says and as
  snnTorch's own ``import_from_nir`` does.
* With 16-bit integers (``--precision chip``, many-core chip model included) the same spikes come out.
* ``Synaptic`` with "zero": snnTorch zeroes the whole update of the step after a spike,
  ``v[t] = (1 - s[t-1]) * (beta * v[t-1] + i[t])``, so a neuron cannot fire twice in a row; NIR's
  CubaLIF (archsim, and snnTorch's own re-import) restarts from zero and adds ``i[t]``.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nir
import numpy as np
import pytest

from archsim.graph.nir_compat import read as nir_read
from archsim.graph.functional import simulate
from archsim.graph.network import LIF, CubaLIF
from archsim.config import load_chip
from archsim.errors import UserError
from archsim.graph.nir_io import read_network, write_network
from archsim.graph.ops import apply_ops
from archsim.graph.quantize import Precision
from archsim.graph.workload import Workload
from archsim.models.manycore import simulate as simulate_chip

DATA = Path(__file__).parent / "data" / "nir"
DT_SNNTORCH_S = 1e-4


def load(name: str, reset: str | None = None):
    network = read_network(DATA / f"{name}.nir", dt=DT_SNNTORCH_S, reset=reset)
    x = np.load(DATA / f"{name}.input.npy")
    return network, x


def archsim_spikes(network, x) -> np.ndarray:
    (input_name,) = network.inputs
    run = simulate(network, {input_name: x.astype(np.float64)}, precision=None)
    (out,) = network.outputs
    return run.outputs[out]


def snntorch_semantics(network, x, reset: str) -> np.ndarray:
    """Output spikes under snnTorch's documented update (reset_delay=True), from archsim's parsed layers.

    ``reset="subtract"``: ``v = beta v + I - threshold s_prev`` (Leaky); ``reset="zero"`` on a CubaLIF:
    ``v = (1 - s_prev) (beta v + i)`` with ``i = alpha i + I`` (Synaptic).
    """
    (input_name,) = network.inputs
    steps, batch = x.shape[:2]
    state = {layer.name: dict(v=np.zeros((batch, *layer.shape)), i=np.zeros((batch, *layer.shape)),
                              s=np.zeros((batch, *layer.shape))) for layer in network.layers}
    outputs = []
    for t in range(steps):
        values = {input_name: x[t].astype(np.float64)}
        for layer in network.layers:
            (proj,) = layer.projections
            current = apply_ops(proj.ops, values[proj.source]).reshape(batch, *layer.shape)
            n, st = layer.neuron, state[layer.name]
            if isinstance(n, CubaLIF):
                st["i"] = n.syn_decay * st["i"] + n.syn_gain * current
                current = st["i"]
            v = n.decay * st["v"] + n.gain * current
            if reset == "subtract":
                v = v - n.threshold * st["s"]
            elif isinstance(n, CubaLIF):
                v = (1.0 - st["s"]) * v
            else:
                raise AssertionError("Leaky with reset to zero is NIR's own semantics")
            st["v"], st["s"] = v, (v > n.threshold).astype(np.float64)
            values[layer.name] = st["s"]
        outputs.append(values[network.outputs[0]])
    return np.stack(outputs)


@pytest.mark.parametrize("name", ["leaky_zero", "conv_leaky"])
def test_leaky_reset_to_zero_runs_as_in_snntorch(name):
    network, x = load(name)
    assert all(isinstance(layer.neuron, LIF) and layer.neuron.reset == "zero" for layer in network.layers)
    expected = np.load(DATA / f"{name}.spikes.npy")
    got = archsim_spikes(network, x)
    assert got.shape == expected.shape and expected.sum() > 10
    np.testing.assert_array_equal(got, expected)


def test_snntorch_parameters_read_as_beta_and_unit_gain():
    network, _ = load("leaky_zero")
    hidden, out = network.layers
    np.testing.assert_allclose(hidden.neuron.decay, np.linspace(0.6, 0.95, 12), atol=1e-6)
    np.testing.assert_allclose(out.neuron.decay, 0.8, atol=1e-6)
    for layer in network.layers:
        np.testing.assert_allclose(layer.neuron.gain, 1.0, atol=1e-6)
        np.testing.assert_array_equal(layer.neuron.v_reset, 0.0)


@pytest.mark.parametrize("name", ["leaky_zero", "leaky_subtract", "synaptic_zero"])
def test_same_spikes_as_snntorchs_own_reading_of_the_file(name):
    network, x = load(name)
    np.testing.assert_array_equal(archsim_spikes(network, x), np.load(DATA / f"{name}.reimport.spikes.npy"))


def test_leaky_subtract_runs_as_in_snntorch_when_told():
    network, x = load("leaky_subtract", reset="subtract")
    assert all(isinstance(layer.neuron, LIF) and layer.neuron.reset == "subtract" for layer in network.layers)
    expected = np.load(DATA / "leaky_subtract.spikes.npy")
    got = archsim_spikes(network, x)
    assert expected.sum() > 10 and not np.array_equal(expected, np.load(DATA / "leaky_zero.spikes.npy"))
    np.testing.assert_array_equal(got, expected)


WIDE = {"precision.weight_bits": 16, "precision.membrane_bits": 32, "precision.decay_frac_bits": 16}


@pytest.mark.parametrize("name, reset", [("leaky_zero", None), ("leaky_subtract", "subtract"), ("conv_leaky", None)])
def test_integer_arithmetic_with_16_bit_weights_reproduces_snntorch(name, reset):
    """snnTorch's per-neuron gains (1 to float32 rounding) fold into one; 16-bit integers keep every spike."""
    network, x = load(name, reset=reset)
    (input_name,), (out,) = network.inputs, network.outputs
    precision = Precision(**{key.split(".")[1]: value for key, value in WIDE.items()})
    got = simulate(network, {input_name: x.astype(np.float64)}, precision=precision).outputs[out]
    np.testing.assert_array_equal(got, np.load(DATA / f"{name}.spikes.npy"))


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_manycore_chip_runs_snntorch_subtract_network_as_snntorch(engine):
    network, x = load("leaky_subtract", reset="subtract")
    chip = load_chip(Path(__file__).parents[1] / "chips" / "tianjic.yaml").with_overrides(WIDE)
    trace = simulate_chip(Workload("leaky_subtract", network, {"input": x.astype(np.float64)}, *x.shape[:2]),
                          chip, engine)
    np.testing.assert_array_equal(trace.outputs, np.load(DATA / "leaky_subtract.spikes.npy"))


def test_reset_option_applies_only_to_nodes_without_archsim_reset(tmp_path):
    network, x = load("leaky_zero", reset="zero")
    np.testing.assert_array_equal(archsim_spikes(network, x), np.load(DATA / "leaky_zero.spikes.npy"))
    synaptic, _ = load("synaptic_zero", reset="subtract")
    assert all(isinstance(layer.neuron, CubaLIF) for layer in synaptic.layers)
    # archsim's own files record each LIF's reset, which the option does not override.
    written = tmp_path / "zero.nir"
    write_network(network, written)
    back = read_network(written, dt=DT_SNNTORCH_S, reset="subtract")
    assert [layer.neuron.reset for layer in back.layers] == ["zero", "zero"]
    with pytest.raises(UserError, match="--reset"):
        read_network(DATA / "leaky_zero.nir", reset="delayed")


def test_subtract_reset_is_not_in_the_file_and_runs_as_reset_to_zero_untold():
    zero, subtract = (nir_read(DATA / f"{name}.nir") for name in ("leaky_zero", "leaky_subtract"))
    assert sorted(zero.edges) == sorted(subtract.edges) and not zero.metadata and not subtract.metadata
    for key, node in zero.nodes.items():
        other = subtract.nodes[key]
        assert type(node) is type(other) and not getattr(node, "metadata", None) and not getattr(other, "metadata", None)
        for attr, value in vars(node).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(value, getattr(other, attr))
    network, x = load("leaky_subtract")
    got = archsim_spikes(network, x)
    snntorch_subtract = np.load(DATA / "leaky_subtract.spikes.npy")
    # archsim runs the file as NIR says: reset to v_reset = 0, i.e. as snnTorch's "zero" network.
    np.testing.assert_array_equal(got, np.load(DATA / "leaky_zero.spikes.npy"))
    assert not np.array_equal(got, snntorch_subtract)
    # snnTorch's subtract reset is exactly the documented recurrence, which the file cannot express.
    np.testing.assert_array_equal(snntorch_semantics(network, x, "subtract"), snntorch_subtract)
    np.testing.assert_array_equal(archsim_spikes(load("leaky_subtract", reset="subtract")[0], x), snntorch_subtract)


def test_synaptic_reset_to_zero_differs_by_the_documented_step():
    network, x = load("synaptic_zero")
    assert all(isinstance(layer.neuron, CubaLIF) for layer in network.layers)
    for layer in network.layers:
        np.testing.assert_allclose(layer.neuron.syn_gain, 1.0, atol=1e-6)
        np.testing.assert_allclose(layer.neuron.syn_decay, 0.5, atol=1e-6)
    snntorch_zero = np.load(DATA / "synaptic_zero.spikes.npy")
    assert not np.array_equal(archsim_spikes(network, x), snntorch_zero)
    np.testing.assert_array_equal(snntorch_semantics(network, x, "zero"), snntorch_zero)
    # snnTorch's Synaptic never fires on the step right after a spike.
    assert not np.any(snntorch_zero[1:] * snntorch_zero[:-1])


@pytest.mark.parametrize("name, reset", [("leaky_zero", []), ("leaky_subtract", ["--reset", "subtract"])])
def test_cli_run_reproduces_snntorch(tmp_path, name, reset):
    y = tmp_path / "y.npy"
    proc = subprocess.run([sys.executable, "-m", "archsim.cli", "run", str(DATA / f"{name}.nir"), "--precision",
                           "float", "--input", str(DATA / f"{name}.input.npy"), "--save-outputs", str(y), *reset],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(y), np.load(DATA / f"{name}.spikes.npy"))


def test_info_and_map_take_reset(capsys):
    from archsim import cli

    path = str(DATA / "leaky_subtract.nir")
    assert cli.main(["info", path, "--reset", "subtract"]) == 0
    assert cli.main(["map", path, "--chip", "tianjic", "--reset", "subtract"]) == 0
    assert "cores" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        cli.main(["info", path, "--reset", "delayed"])
    assert exc.value.code == 2
