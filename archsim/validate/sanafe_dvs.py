"""SANA-FE's DVS-gesture network, built twice: as an archsim Network and as a SANA-FE run on its Loihi model.

The network is the one SANA-FE validated against Loihi (Boyle et al., IEEE TCAD 2025, DOI
10.1109/TCAD.2025.3537971): a 32 x 32 input of bias-driven neurons, four 3 x 3 convolutions (16, 32, 64 and
11 channels; the first with stride 2) and a dense layer of 11, all integrate-and-fire without leak, hard
reset to 0, spike when ``v > threshold``. Its weights, thresholds and input biases are SANA-FE's
``examples/dvs_challenge.npz``, read from the installed ``sanafe`` package at run time: SANA-FE is GPL-3.0,
so nothing of it is copied here and the package is an optional, benchmark-only dependency.

Layouts, from SANA-FE's documented conventions: kernels are stored (kh, kw, C_in, C_out); neurons of a
layer are numbered channel, then row, then column (archsim's (C, H, W) order); the dense weights are
(inputs, outputs). SANA-FE delivers a spike one time step after it is sent, so every archsim projection
between layers reads the previous step and the input spike train is shifted by one step; the input
neurons themselves are simulated here (``v += bias``; spike when ``v > threshold``; reset to 0) since an
archsim network input is a spike train.

The Loihi measurements SANA-FE's paper compares with are drawn as figures only (its measurement files
are not public), so the case built on this compares archsim with SANA-FE's prediction: peer against peer,
SANA-FE's neurons placed where archsim's mapper puts them (:mod:`archsim.validate.sanafe_place`) so that the
two models run one placement; SANA-FE's DVS tutorial placement (``SANAFE_CORES_PER_LAYER``) is kept for
``bench/sanafe_dvs_cores.py``.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from contextlib import contextmanager

import numpy as np

from archsim.errors import UserError

PACKAGE = "sanafe"
LAYERS = (("conv1", 2), ("conv2", 1), ("conv3", 1), ("conv4", 1))
INPUT_SIDE = 32
# Cores per layer (input, conv1-4, dense), each layer split evenly over its cores: the mapping of SANA-FE's DVS
# tutorial; archsim maps with its own partitioner.
SANAFE_CORES_PER_LAYER = (1, 4, 16, 16, 4, 1)


def available() -> bool:
    """Whether the optional ``sanafe`` package is installed."""
    return importlib.util.find_spec(PACKAGE) is not None


def load_data() -> dict[str, np.ndarray]:
    """The arrays of ``sanafe/examples/dvs_challenge.npz`` (conv1-4, dense1, thresholds, inputs)."""
    if not available():
        raise UserError(f"{PACKAGE}: not installed (the SANA-FE cases need it: pip install {PACKAGE})")
    from importlib.resources import files

    with files(f"{PACKAGE}.examples").joinpath("dvs_challenge.npz").open("rb") as handle:
        data = np.load(handle)
        return {key: np.asarray(data[key]) for key in data.files}


def network(data: dict[str, np.ndarray]):
    """The DVS-gesture network as archsim layers (every projection one step late, as in SANA-FE)."""
    from archsim.graph.network import LIF, Conv2d, Dense, Flatten, Layer, Network, Projection

    thresholds = data["thresholds"].astype(np.float64)
    layers, source, shape = [], "x", (1, INPUT_SIDE, INPUT_SIDE)
    for index, (name, stride) in enumerate(LAYERS):
        conv = Conv2d(data[name].transpose(3, 2, 0, 1).astype(np.float64), stride=(stride, stride))
        shape = conv.output_shape(shape)
        layers.append(Layer(name, shape, (Projection(source, (conv,), recurrent=source != "x"),),
                            LIF(decay=np.float64(1.0), threshold=thresholds[index + 1])))
        source = name
    dense = Dense(data["dense1"].T.astype(np.float64))
    layers.append(Layer("dense1", (dense.weight.shape[0],), (Projection(source, (Flatten(), dense), recurrent=True),),
                        LIF(decay=np.float64(1.0), threshold=thresholds[len(LAYERS) + 1])))
    return Network("sanafe-dvs-gesture", {"x": (1, INPUT_SIDE, INPUT_SIDE)}, layers, ["dense1"])


def input_spikes(data: dict[str, np.ndarray], steps: int) -> np.ndarray:
    """The input neurons' spikes as archsim's input, (steps, 1, 32, 32): sent at SANA-FE step t, read at t + 1."""
    bias, threshold = data["inputs"].astype(np.float64), float(data["thresholds"][0])
    v = np.zeros_like(bias)
    spikes = np.zeros((steps, bias.size), dtype=np.float32)
    for t in range(1, steps):
        v = v + bias
        fired = v > threshold
        spikes[t] = fired
        v[fired] = 0.0
    return spikes.reshape(steps, 1, INPUT_SIDE, INPUT_SIDE)


@contextmanager
def _stdout_to_stderr():
    """SANA-FE's C++ core prints progress on file descriptor 1; send it to stderr so stdout keeps the table."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def run_sanafe(data: dict[str, np.ndarray], steps: int, placement: dict[str, np.ndarray] | None = None) -> dict:
    """SANA-FE's own prediction (its bundled Loihi model, "detailed" timing) of ``steps`` steps of the network;
    ``placement``: each layer's SANA-FE core per neuron (:func:`archsim.validate.sanafe_place.placement`, the
    input population on the cores it leaves free), else SANA-FE's DVS tutorial (``SANAFE_CORES_PER_LAYER``)."""
    import sanafe
    import sanafe.layers as layers

    from archsim.validate import sanafe_place

    arch = sanafe.load_loihi()
    net = sanafe.Network()
    thresholds = [float(t) for t in data["thresholds"]]
    group = layers.Input2D(net, INPUT_SIDE, INPUT_SIDE, threshold=thresholds[0])
    built = [group]
    for index, (name, stride) in enumerate(LAYERS):
        group = layers.Conv2D(net, group, data[name], stride_width=stride, stride_height=stride,
                              threshold=thresholds[index + 1])
        built.append(group)
    built.append(layers.Dense(net, group, data["dense1"].shape[1], data["dense1"], threshold=thresholds[-1]))
    for neuron, bias in zip(built[0], data["inputs"]):
        neuron.set_attributes(model_attributes={"bias": float(bias)})
    if placement is None:
        cores = iter(arch.cores())
        for layer, count in zip(built, SANAFE_CORES_PER_LAYER):
            for part in np.array_split(np.arange(len(layer)), count):
                core = next(cores)
                for index in part:
                    layer[int(index)].map_to_core(core)
    else:
        names = [name for name, _ in LAYERS] + ["dense1"]
        sanafe_place.map_to_cores({name: list(layer) for name, layer in zip(names, built[1:])}, list(built[0]),
                                  placement, list(arch.cores()))
    chip = sanafe.SpikingChip(arch)
    chip.load(net)
    with _stdout_to_stderr():
        result = chip.sim(steps, timing_model="detailed", processing_threads=1)
    return {"steps": steps, "energy_j": float(result["energy"]["total"]), "latency_s": float(result["sim_time"]),
            "energy_by_unit_j": {k: float(v) for k, v in result["energy"].items()},
            "neurons_fired": int(result["neurons_fired"]), "synaptic_events": int(result["spikes"]),
            "packets": int(result["packets_sent"]), "placement": sanafe_place.digest(placement)}


def spike_agreement(data: dict[str, np.ndarray], steps: int) -> dict:
    """Neuron spikes of the layers (input neurons left out) over ``steps`` SANA-FE steps: archsim's float
    functional run against SANA-FE's, which must be equal (integer weights and thresholds, no leak)."""
    from archsim.graph.functional import simulate

    run = simulate(network(data), {"x": input_spikes(data, steps)[:, None].astype(np.float64)})
    theirs = run_sanafe(data, steps)
    inputs = int(input_spikes(data, steps + 1).sum())          # SANA-FE counts its input neurons' spikes too
    return {"steps": steps, "archsim": int(sum(run.spike_counts.values())), "sanafe": theirs["neurons_fired"] - inputs}
