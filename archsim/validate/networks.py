"""The networks and inputs validation cases run that are not in the zoo, each named as a RunSpec names it.

* ``full-core``: one Tianjic core with all 256 x 256 weights, every axon firing (a full round);
* ``linear-lif-512``: the Open Neuromorphic SNN-library benchmark's network, one Linear(512, 512) into 512 LIF
  neurons (its weights and LIF constants do not enter a dense GPU time, so they are arbitrary here);
* ``nir-lif``: the NIR paper's single LIF neuron (``data/lif_norse.nir``), driven by the paper's input;
* ``sanafe-dvs-gesture``: SANA-FE's DVS-gesture network (:mod:`archsim.validate.sanafe_dvs`).

An input name says what drives the run: ``ones`` (every input spikes at one step), ``nir-lif`` (the input
column of ``data/lif_exact.csv``), ``sanafe-dvs-gesture`` (the bias-driven input neurons' spikes); none: the
workload's own synthetic input.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from archsim.graph.network import LIF, Dense, Layer, Network, Projection
from archsim.validate import sanafe_dvs

DATA = Path(__file__).resolve().parent / "data"
NIR_LIF_PATH = DATA / "lif_norse.nir"
NIR_LIF_EXACT = DATA / "lif_exact.csv"
NIR_LIF_DT_S = 1e-4                      # the paper's step (data/README.md)
SANAFE_DVS_STEPS = 128                   # SANA-FE's DVS-gesture runs: 128 time steps per input frame


def full_core_network() -> Network:
    """One 256 x 256 Tianjic core with every weight stored, driven with every axon firing (a full round).

    Its weights are ternary (all +1, integers: stored exactly in 2-bit cells), so the 65,536 synapses
    fit one core's 16 KB (``core.synapse_cell_bits`` in chips/tianjic.yaml)."""
    return Network("full-core", {"x": (256,)}, [
        Layer("a", (256,), (Projection("x", (Dense(np.ones((256, 256))),)),),
              LIF(decay=np.float64(0.5), threshold=np.float64(50.0))),
        Layer("b", (1,), (Projection("a", (Dense(np.ones((1, 256))),)),),
              LIF(decay=np.float64(0.5), threshold=np.float64(1e9)))], ["b"])


def linear_lif_network(neurons: int) -> Network:
    """One dense layer of ``neurons`` x ``neurons`` weights into as many LIF neurons."""
    weight = np.random.default_rng(0).uniform(-0.1, 0.1, (neurons, neurons))
    return Network(f"linear-lif-{neurons}", {"x": (neurons,)}, [
        Layer("lif", (neurons,), (Projection("x", (Dense(weight),)),),
              LIF(decay=np.float64(0.9), threshold=np.float64(1.0)))], ["lif"])


def nir_lif_exact() -> np.ndarray:
    """The published exact trace, (steps, 3): input, membrane, spike."""
    return np.loadtxt(NIR_LIF_EXACT, delimiter=",")


def build_network(name: str):
    """The network a RunSpec names: one of this module's, a NIR path, or a zoo name."""
    if name == "full-core":
        return full_core_network()
    if name == "linear-lif-512":
        return linear_lif_network(512)
    if name == "nir-lif":
        return str(NIR_LIF_PATH)
    if name == "sanafe-dvs-gesture":
        return sanafe_dvs.network(sanafe_dvs.load_data())
    from workloads import zoo

    return zoo.build(name)


def build_input(name: str, network) -> np.ndarray:
    """The input array a RunSpec names, (T, B, *input shape) or (T, *input shape)."""
    if name == "ones":
        return np.ones((1, 1, *network.inputs[next(iter(network.inputs))]), dtype=np.float32)
    if name == "nir-lif":
        return nir_lif_exact()[:, 0].reshape(-1, 1, 1).astype(np.float32)
    if name == "sanafe-dvs-gesture":
        return sanafe_dvs.input_spikes(sanafe_dvs.load_data(), SANAFE_DVS_STEPS)
    raise ValueError(f"no validation input named {name!r}")
