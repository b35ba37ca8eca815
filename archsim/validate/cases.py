"""The registry of validation cases: one record per published figure archsim can be held against.

A case names the run (:class:`RunSpec`: network, chip, options of :func:`archsim.api.execute`), how the
quantity is read from the run (its RESULT dict, or its output spikes), the published value with its source,
and its role: ``input`` (the figure went into a config, so the run must reproduce it) or ``prediction``
(nothing was fitted to it; the run reports how far off it lands). Cases that share a RunSpec share one run.
A case whose reference is ``peer`` compares with another simulator's prediction of the same run
(:class:`PeerRun`), where no measurement is published: agreement then says the two models agree, not that
either matches silicon.

Could not be sourced here (no case): Loihi's measured DVS-gesture figures (SANA-FE's paper draws them as
figures only and its measurement files are not public, so the DVS-gesture rows are peer-vs-peer); a published
GPU SNN timing on a V100 or H100 (the SNN-library benchmark's later runs are on an RTX 3090 / 4090, which have
no config; its A100 run is used); the NIR paper's membrane traces as a number (the api returns spikes, so the
single-LIF rows compare spike times).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from archsim.validate.networks import NIR_LIF_DT_S, SANAFE_DVS_STEPS

TIANJIC_PEI = "Pei et al., Nature 572:106-111 (2019)"
TIANJIC_CAS = "IEEE Circuits and Systems Magazine 2022 Q2 survey of Tianjic"
TIANJIC_DENG = "Deng et al., IEEE JSSC 55(8) 2020"
DAVIES = "Davies et al., IEEE Micro 38(1) 2018"
SANAFE_LOIHI = "SANA-FE arch/loihi.yaml (calibrated on Davies et al. 2018)"
H2LEARN = "Liang et al., H2Learn, IEEE TCAD 2022 (arXiv 2107.11746), abstract"
H2LEARN_RANGES = ("7.38x area saving, 5.74-10.20x speed-up and 5.25-7.12x energy saving over a V100 on its "
                  "benchmarks (abstract, as quoted by the arxivlens.com summary of arXiv 2107.11746; the full text "
                  "with the per-benchmark table was not at hand)")
SANAFE_TCAD = "Boyle et al., SANA-FE, IEEE TCAD 2025 (DOI 10.1109/TCAD.2025.3537971)"
SANAFE_PEER = (f"peer: SANA-FE's own prediction (PyPI sanafe, 2.2.9 when recorded; its bundled Loihi model, "
               f"detailed timing) of the same {SANAFE_DVS_STEPS} steps on archsim's placement of the network "
               f"(archsim.validate.sanafe_place); the network is the one {SANAFE_TCAD} "
               f"validated on Loihi (within 12% energy, 25% latency, abstract); its Loihi measurements are drawn as "
               f"figures only")
ONM_A100 = ("Open Neuromorphic, 'SNN library benchmarks' (Lenz et al., 2023), its A100 40 GB run: data.csv at "
            "commit 8895ce7a (2023-10-25) of open-neuromorphic/open-neuromorphic.github.io, content/english/blog/"
            "spiking-neural-network-framework-benchmarking; Linear(512, 512) + LIF, batch 96, 500 steps, fp32, "
            "forward + backward, mean of 100 runs")
NIR_PAPER = ("Pedersen et al., NIR, Nature Communications 15, 8122 (2024): the exact solution paper/01_lif/"
             "lif_exact.csv of neuromorphs/NIR at 7232ada (spikes at steps 460, 510, 710, 760 of 1e-4 s)")


@dataclass(frozen=True)
class RunSpec:
    """One :func:`archsim.api.execute` call: a network name (:func:`archsim.validate.networks.build_network`:
    a zoo name at its untrained shape, so runs do not depend on a cache, or one of that module's), a chip name
    (None: a float functional run), config overrides, options, the input (a name of
    :func:`~archsim.validate.networks.build_input`; empty: synthetic), whether the run is slow (``--quick``
    skips it) and the optional package it needs (empty: none)."""

    network: str
    chip: str | None
    options: tuple = ()
    overrides: tuple = ()
    input: str = ""
    slow: bool = False
    requires: str = ""


@dataclass(frozen=True)
class PeerRun:
    """Another simulator's run of the same workload, standing in for a measurement that is not published."""

    name: str
    requires: str
    execute: Callable[[], dict] = field(compare=False)


@dataclass(frozen=True)
class Case:
    """A published figure and how archsim's figure for it is read from a run."""

    name: str
    quantity: str
    unit: str
    published: float | None                # None: the peer's figure, read at run time
    tolerance: float                       # relative: |predicted - published| / published
    source: str
    role: str                              # "input" or "prediction"
    run: RunSpec
    measure: Callable = field(compare=False)   # RESULT dict -> value, or output spikes when from_outputs
    note: str = ""
    from_outputs: bool = False
    peer: PeerRun | None = None
    peer_measure: Callable[[dict], float] | None = field(default=None, compare=False)

    @property
    def chip(self) -> str:
        return self.run.chip or "none (float)"

    @property
    def reference(self) -> str:
        """``published`` (a figure from a paper or a measurement) or ``peer`` (another simulator's)."""
        return "published" if self.peer is None else "peer"

    @property
    def requires(self) -> str:
        """The optional package the case needs (its run's or its peer's); empty: none."""
        return self.run.requires or (self.peer.requires if self.peer else "")

    @property
    def workload(self) -> str:
        return self.run.network


def _actions(result: dict, component: str, action: str) -> int:
    return result["trace"]["actions"][component][action]


def _pj_per_action(component: str, action: str) -> Callable[[dict], float]:
    return lambda r: r["energy_breakdown_pj"][component][action] / _actions(r, component, action)


def _per_step(key: str, scale: float) -> Callable[[dict], float]:
    return lambda r: r[key] / r["steps"] * scale


def _spike_steps(outputs) -> np.ndarray:
    """The steps at which the (single) output neuron spiked."""
    spikes = np.asarray(outputs)
    return np.nonzero(spikes.reshape(spikes.shape[0], -1)[:, 0])[0]


def _spike_count(outputs) -> float:
    return float(len(_spike_steps(outputs)))


def _last_spike_ms(outputs) -> float:
    steps = _spike_steps(outputs)
    return float(steps[-1]) * NIR_LIF_DT_S * 1e3 if len(steps) else 0.0


def _sanafe_dvs() -> dict:
    """SANA-FE's run of the DVS-gesture network on archsim's own placement of it (the SANAFE_DVS run's chip,
    mapped as that run maps it), so the peer rows compare two models of one network on one placement."""
    import tempfile
    from pathlib import Path

    from archsim.api import resolve_chip
    from archsim.validate import sanafe_dvs, sanafe_place
    from archsim.validate.networks import build_input, build_network

    data, network = sanafe_dvs.load_data(), build_network(SANAFE_DVS.network)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.npy"
        np.save(path, build_input(SANAFE_DVS.input, network))
        cores = sanafe_place.archsim_placement(network, resolve_chip(SANAFE_DVS.chip), str(path))
    return sanafe_dvs.run_sanafe(data, SANAFE_DVS_STEPS, cores)


def _first_layer_cycles(r: dict) -> float:
    return r["trace"]["cycles_breakdown"]["per_layer"]["a"]


def _chip_peak_gsops(r: dict) -> float:
    """Synaptic ops of one full core per cycle of its round, times 156 cores and the clock."""
    return r["synaptic_ops"] / _first_layer_cycles(r) * 156 * r["clock_hz"] / 1e9


FULL_CORE = RunSpec("full-core", "tianjic", options=(("gpu", None),), input="ones")
TIANJIC_SMALL = RunSpec("mlp-digits", "tianjic", options=(("steps", 1), ("gpu", None)))
HYBRID = RunSpec("hybrid-tracker", "tianjic", options=(("steps", 8), ("gpu", None)))
LOIHI = RunSpec("mlp-digits", "loihi", options=(("gpu", None),))
H2LEARN_AREA = RunSpec("mlp-digits", "h2learn", options=(("mode", "train"), ("batch", 64), ("gpu", "v100")))
SANAFE_DVS = RunSpec("sanafe-dvs-gesture", "loihi", options=(("gpu", None),), input="sanafe-dvs-gesture", slow=True,
                     requires="sanafe")
SANAFE_DVS_PEER = PeerRun("sanafe-dvs-gesture", "sanafe", _sanafe_dvs)
LINEAR_LIF_FUSED = RunSpec("linear-lif-512", "a100", options=(("mode", "train"), ("batch", 96), ("steps", 500),
                                                             ("gpu_framework", "fused")))
LINEAR_LIF_EAGER = RunSpec("linear-lif-512", "a100", options=(("mode", "train"), ("batch", 96), ("steps", 500),
                                                             ("gpu_framework", "eager")))
NIR_LIF_FLOAT = RunSpec("nir-lif", None, options=(("precision", "float"), ("dt", NIR_LIF_DT_S)), input="nir-lif")
NIR_LIF_LOIHI = RunSpec("nir-lif", "loihi", options=(("dt", NIR_LIF_DT_S), ("gpu", None)), input="nir-lif")
NIR_LIF_TIANJIC = RunSpec("nir-lif", "tianjic", options=(("dt", NIR_LIF_DT_S), ("gpu", None)), input="nir-lif")
H2LEARN_VGG = RunSpec("vgg-cifar10", "h2learn", options=(("mode", "train"), ("steps", 6), ("batch", 64),
                                                         ("gpu", "v100")), slow=True)

CASES: tuple[Case, ...] = (
    Case("tianjic-clock", "clock", "MHz", 300.0, 0.0, f"{TIANJIC_PEI}, main text", "input", TIANJIC_SMALL,
         lambda r: r["clock_hz"] / 1e6),
    Case("tianjic-die-area", "die area", "mm^2", 14.44, 0.30, f"{TIANJIC_CAS}: 3.8 x 3.8 mm die", "prediction",
         TIANJIC_SMALL, lambda r: r["area_mm2"],
         "bottom-up from the 28 nm tech table's SRAM and logic areas; a miss is the table's density, not the chip's"),
    Case("tianjic-full-core-round", "cycles per round, full 256x256 core", "cycles", 5050.0, 0.05,
         f"{TIANJIC_CAS}", "input", FULL_CORE, _first_layer_cycles,
         "router_cycles_per_packet and barrier_cycles were calibrated on this figure"),
    Case("tianjic-peak-gsops", "peak synaptic ops", "GSOPS", 608.0, 0.10,
         f"{TIANJIC_DENG} (as summarised; conditions not stated)", "input", FULL_CORE, _chip_peak_gsops,
         "dendrite_lanes (16) was derived from this figure; 156 full cores at the full-core round"),
    Case("tianjic-pj-per-sop", "energy per synaptic op (static included)", "pJ/SOP", 1.54, 0.50,
         f"{TIANJIC_DENG}, quoted in Tang et al., Front. Neurosci. 2023 (PMC10326429)", "prediction", HYBRID,
         lambda r: r["energy_per_synaptic_op_pj"],
         "full-chip hybrid-tracker; the published conditions (workload, activity) are not stated"),
    Case("dashnet-fps", "DashNet hybrid tracker frames per second", "FPS", 2083.0, 0.50,
         "Yang et al., DashNet, arXiv 1909.12942 (on Tianjic)", "prediction", HYBRID,
         lambda r: r["throughput_samples_per_s"],
         "zoo hybrid-tracker, DashNet's SNN / ANN / attention / TCF structure; the stored paper text gives "
         "no layer sizes, resolution, steps or FPS counting, so those are the zoo's assumptions"),
    Case("tianjic-average-power", "average power on an application", "mW", 400.0, 0.50,
         f"{TIANJIC_PEI}: ~400 mW average at 0.9 V on its applications", "prediction", HYBRID,
         lambda r: r["energy_pj"] * 1e-12 / r["latency_s"] * 1e3,
         "full-chip hybrid-tracker; the published applications are not the zoo tracker"),
    Case("loihi-die-area", "die area", "mm^2", 60.0, 0.30, f"{DAVIES}", "input", LOIHI, lambda r: r["area_mm2"],
         "the config's per-core areas were apportioned from 60 mm^2 / 128 cores (assumption on the split)"),
    Case("loihi-synaptic-op-pj", "dendrite energy per synaptic add", "pJ", 35.5, 1e-6, SANAFE_LOIHI, "input",
         LOIHI, _pj_per_action("dendrite", "add")),
    Case("loihi-neuron-update-pj", "energy per neuron update", "pJ", 21.6, 1e-6, SANAFE_LOIHI, "input", LOIHI,
         _pj_per_action("soma", "add")),
    Case("loihi-message-pj", "energy per message out (to one receiving core)", "pJ", 111.0, 1e-6, SANAFE_LOIHI,
         "input", LOIHI, _pj_per_action("axon_out", "message")),
    Case("loihi-pj-per-sop", "energy per synaptic op (all in)", "pJ/SOP", 23.6, 0.50,
         f"{DAVIES} (as compiled in Tang et al., Front. Neurosci. 2023)", "prediction", LOIHI,
         lambda r: r["energy_per_synaptic_op_pj"],
         "SANA-FE's dense 35.5 pJ per op already exceeds Davies' 23.6: the per-op figure counts the whole event"),
    Case("h2learn-area-ratio", "V100 die / accelerator area", "x", 7.38, 0.02, H2LEARN, "input", H2LEARN_AREA,
         lambda r: r["vs_gpu"]["area_saving"], "chips/h2learn.yaml was sized from this ratio (bench/size_h2learn.py)"),
    Case("h2learn-speedup", "training speed-up vs V100 (vgg-cifar10, T 6, batch 64)", "x", 7.65, 0.34,
         f"{H2LEARN_RANGES}; the figure is the range's geometric middle", "prediction",
         H2LEARN_VGG, lambda r: r["vs_gpu"]["speedup"],
         "the paper's benchmark networks are not public; vgg-cifar10 is the zoo's, so the range, not a point, is "
         "the published figure"),
    Case("h2learn-energy-saving", "training energy saving vs V100 (vgg-cifar10, T 6, batch 64)", "x", 6.11, 0.17,
         f"{H2LEARN_RANGES}; the figure is the range's geometric middle", "prediction",
         H2LEARN_VGG, lambda r: r["vs_gpu"]["energy_saving"]),
    Case("sanafe-dvs-energy-per-step", "DVS-gesture energy per time step on Loihi", "uJ", None, 0.12, SANAFE_PEER,
         "prediction", SANAFE_DVS, _per_step("energy_pj", 1e-6),
         "tolerance: SANA-FE's own published energy error against Loihi (12%); both models on archsim's "
         "placement (SANA-FE's DVS tutorial places it over twice the cores: bench/results/sanafe_dvs_cores.md)",
         peer=SANAFE_DVS_PEER, peer_measure=lambda p: p["energy_j"] / p["steps"] * 1e6),
    Case("sanafe-dvs-latency-per-step", "DVS-gesture latency per time step on Loihi", "us", None, 0.25, SANAFE_PEER,
         "prediction", SANAFE_DVS, _per_step("latency_s", 1e6),
         "tolerance: SANA-FE's own published latency error against Loihi (25%); both models on archsim's "
         "placement (SANA-FE's DVS tutorial places it over twice the cores: bench/results/sanafe_dvs_cores.md)",
         peer=SANAFE_DVS_PEER, peer_measure=lambda p: p["latency_s"] / p["steps"] * 1e6),
    Case("gpu-spikingjelly-a100", "SpikingJelly (CuPy) forward + backward, Linear+LIF 512, batch 96, T 500, A100",
         "ms", 2.086 + 2.188, 0.50, f"{ONM_A100}: SpikingJelly CuPy 2.086 ms forward + 2.188 ms backward",
         "prediction", LINEAR_LIF_FUSED, lambda r: r["latency_s"] * 1e3,
         "archsim's fused framework style (one kernel over all time steps), SpikingJelly's CuPy backend"),
    Case("gpu-snntorch-a100", "snnTorch forward + backward, Linear+LIF 512, batch 96, T 500, A100", "ms",
         157.09 + 101.74, 0.50, f"{ONM_A100}: snnTorch 0.7.0 157.09 ms forward + 101.74 ms backward",
         "prediction", LINEAR_LIF_EAGER, lambda r: r["latency_s"] * 1e3,
         "archsim's eager framework style (kernels per step), snnTorch's PyTorch loop"),
    Case("nir-lif-spike-count", "NIR single LIF neuron: spikes in 100 ms (float)", "spikes", 4.0, 0.0, NIR_PAPER,
         "prediction", NIR_LIF_FLOAT, _spike_count, "functional run in float, forward Euler at dt 1e-4 s",
         from_outputs=True),
    Case("nir-lif-last-spike", "NIR single LIF neuron: time of the last spike (float)", "ms", 76.0, 0.002,
         NIR_PAPER, "prediction", NIR_LIF_FLOAT, _last_spike_ms, "tolerance: one 0.1 ms step", from_outputs=True),
    Case("nir-lif-last-spike-loihi", "NIR single LIF neuron: time of the last spike (Loihi precision)", "ms", 76.0,
         0.002, NIR_PAPER, "prediction", NIR_LIF_LOIHI, _last_spike_ms,
         "chips/loihi.yaml's integer weights, membrane and fixed-point decay; tolerance: one step", from_outputs=True),
    Case("nir-lif-last-spike-tianjic", "NIR single LIF neuron: time of the last spike (Tianjic precision)", "ms",
         76.0, 0.002, NIR_PAPER, "prediction", NIR_LIF_TIANJIC, _last_spike_ms,
         "chips/tianjic.yaml's integer precision; tolerance: one step", from_outputs=True),
)


def case_names() -> list[str]:
    return [case.name for case in CASES]
