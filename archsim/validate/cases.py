"""The registry of validation cases: one record per published figure archsim can be held against.

A case names the run (:class:`RunSpec`: network, chip, options of :func:`archsim.api.execute`), how the
quantity is read from the run's RESULT dict, the published value with its source, and its role:
``input`` (the figure went into a config, so the run must reproduce it) or ``prediction`` (nothing was fitted
to it; the run reports how far off it lands). Cases that share a RunSpec share one run.

Could not be sourced here (no case): Loihi's measured DVS-gesture figures (SANA-FE's measurement files are
not public), published GPU SNN timings on a GPU archsim models (SpikingJelly's 1.5 ms figure is on an RTX
2070, which has no config), the NIR paper's LIF traces.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from archsim.graph.network import LIF, Dense, Layer, Network, Projection

TIANJIC_PEI = "Pei et al., Nature 572:106-111 (2019)"
TIANJIC_CAS = "IEEE Circuits and Systems Magazine 2022 Q2 survey of Tianjic"
TIANJIC_DENG = "Deng et al., IEEE JSSC 55(8) 2020"
DAVIES = "Davies et al., IEEE Micro 38(1) 2018"
SANAFE_LOIHI = "SANA-FE arch/loihi.yaml (calibrated on Davies et al. 2018)"
H2LEARN = "Liang et al., H2Learn, IEEE TCAD 2022 (arXiv 2107.11746), abstract"


def full_core_network() -> Network:
    """One 256 x 256 Tianjic core with every weight stored, driven with every axon firing (a full round).

    Its weights are ternary (all +1, integers: stored exactly in 2-bit cells), so the 65,536 synapses
    fit one core's 16 KB (``core.synapse_cell_bits`` in chips/tianjic.yaml)."""
    return Network("full-core", {"x": (256,)}, [
        Layer("a", (256,), (Projection("x", (Dense(np.ones((256, 256))),)),),
              LIF(decay=np.float64(0.5), threshold=np.float64(50.0))),
        Layer("b", (1,), (Projection("a", (Dense(np.ones((1, 256))),)),),
              LIF(decay=np.float64(0.5), threshold=np.float64(1e9)))], ["b"])


@dataclass(frozen=True)
class RunSpec:
    """One :func:`archsim.api.execute` call: a zoo name (its untrained shape, so runs do not depend on a
    cache) or ``full-core``, a chip name, config overrides, options, and the input (``ones`` or synthetic)."""

    network: str
    chip: str
    options: tuple = ()
    overrides: tuple = ()
    input_ones: bool = False
    slow: bool = False


@dataclass(frozen=True)
class Case:
    """A published figure and how archsim's figure for it is read from a run."""

    name: str
    quantity: str
    unit: str
    published: float
    tolerance: float                       # relative: |predicted - published| / published
    source: str
    role: str                              # "input" or "prediction"
    run: RunSpec
    measure: Callable[[dict], float] = field(compare=False)
    note: str = ""

    @property
    def chip(self) -> str:
        return self.run.chip

    @property
    def workload(self) -> str:
        return self.run.network


def _actions(result: dict, component: str, action: str) -> int:
    return result["trace"]["actions"][component][action]


def _pj_per_action(component: str, action: str) -> Callable[[dict], float]:
    return lambda r: r["energy_breakdown_pj"][component][action] / _actions(r, component, action)


def _first_layer_cycles(r: dict) -> float:
    return r["trace"]["cycles_breakdown"]["per_layer"]["a"]


def _chip_peak_gsops(r: dict) -> float:
    """Synaptic ops of one full core per cycle of its round, times 156 cores and the clock."""
    return r["synaptic_ops"] / _first_layer_cycles(r) * 156 * r["clock_hz"] / 1e9


FULL_CORE = RunSpec("full-core", "tianjic", options=(("gpu", None),), input_ones=True)
TIANJIC_SMALL = RunSpec("mlp-digits", "tianjic", options=(("steps", 1), ("gpu", None)))
HYBRID = RunSpec("hybrid-tracker", "tianjic", options=(("steps", 8), ("gpu", None)))
LOIHI = RunSpec("mlp-digits", "loihi", options=(("gpu", None),))
H2LEARN_AREA = RunSpec("mlp-digits", "h2learn", options=(("mode", "train"), ("batch", 64), ("gpu", "v100")))
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
         "zoo hybrid-tracker: DashNet's layer sizes are not public, so its sizes are assumptions"),
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
    Case("loihi-message-pj", "energy per message out", "pJ", 111.0, 1e-6, SANAFE_LOIHI, "input", LOIHI,
         _pj_per_action("router_table", "read")),
    Case("loihi-pj-per-sop", "energy per synaptic op (all in)", "pJ/SOP", 23.6, 0.50,
         f"{DAVIES} (as compiled in Tang et al., Front. Neurosci. 2023)", "prediction", LOIHI,
         lambda r: r["energy_per_synaptic_op_pj"],
         "SANA-FE's dense 35.5 pJ per op already exceeds Davies' 23.6: the per-op figure counts the whole event"),
    Case("h2learn-area-ratio", "V100 die / accelerator area", "x", 7.38, 0.02, H2LEARN, "input", H2LEARN_AREA,
         lambda r: r["vs_gpu"]["area_saving"], "chips/h2learn.yaml was sized from this ratio (bench/size_h2learn.py)"),
    Case("h2learn-speedup", "training speed-up vs V100 (vgg-cifar10, T 6, batch 64)", "x", 7.65, 0.34,
         f"{H2LEARN}: 5.74-10.20x over benchmarks (geometric middle; recalled from the abstract)", "prediction",
         H2LEARN_VGG, lambda r: r["vs_gpu"]["speedup"]),
    Case("h2learn-energy-saving", "training energy saving vs V100 (vgg-cifar10, T 6, batch 64)", "x", 6.11, 0.17,
         f"{H2LEARN}: 5.25-7.12x over benchmarks (geometric middle; recalled from the abstract)", "prediction",
         H2LEARN_VGG, lambda r: r["vs_gpu"]["energy_saving"]),
)


def case_names() -> list[str]:
    return [case.name for case in CASES]
