"""The registry of validation cases: one small declarative record per published figure.

A case names a shipped chip config and a zoo workload, the run options, the result key it reads
(``quantity``, a key of the RESULT dict of :func:`archsim.api.run`, ``vs_gpu.KEY`` for the GPU
comparison), the published value, its tolerance (relative), the source and whether the figure was an
input of the config (a calibration: the case checks it is reproduced) or a prediction (reported, not
fitted). Nothing here is a model: the numbers come from the ordinary API, so a model change moves them.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    """One published figure and how archsim predicts it."""

    name: str
    chip: str                      # shipped chip name (resolved like ``--chip``)
    workload: str                  # zoo name
    quantity: str                  # RESULT key, or ``vs_gpu.speedup`` etc.
    published: float
    tolerance: float               # relative, |predicted - published| / published
    source: str                    # paper, page/table
    role: str                      # "input" (calibration) or "prediction"
    options: dict = field(default_factory=dict)   # keyword options of archsim.api.run
    quick: bool = True             # part of ``--quick``
    note: str = ""                 # what a miss means, which model change would close it


TIANJIC_DIE = "Pei et al., Nature 572:106-111 (2019), 3.8 x 3.8 mm die (reference tianjic.md, die row)"
TIANJIC_SOP = ("Deng et al., IEEE JSSC 55(8) 2020, 1.54 pJ/SOP and 608 GSOPS (quoted in Tang et al., "
               "Front. Neurosci. 2023, PMC10326429)")

CASES: list[Case] = [
    Case("tianjic-clock", "tianjic", "mlp-digits", "clock_hz", 300e6, 0.0,
         "Pei et al., Nature 572:106-111 (2019): 300 MHz", "input",
         options={"steps": 1, "gpu": None},
         note="an input: the config's clock_mhz."),
    Case("tianjic-die-area", "tianjic", "mlp-digits", "area_mm2", 14.44, 0.15, TIANJIC_DIE, "prediction",
         options={"steps": 1, "gpu": None},
         note="bottom-up area from the technology table; a miss means the per-core SRAM/lane areas "
              "(not the die) are off."),
    Case("tianjic-pj-per-sop-mlp", "tianjic", "mlp-digits", "energy_per_synaptic_op_pj", 1.54, 0.25,
         TIANJIC_SOP, "prediction", options={"steps": 8, "gpu": None},
         note="untrained 2-core SNN, static energy included; the published figure's workload is not stated."),
    Case("dashnet-fps", "tianjic", "hybrid-tracker", "throughput_samples_per_s", 2083.0, 0.25,
         "Yang et al., DashNet, arXiv 1909.12942: 2,083 FPS hybrid tracker on Tianjic", "prediction",
         options={"steps": 2, "gpu": None}, quick=False,
         note="zoo hybrid-tracker is a stand-in for DashNet's network (its exact layers are not published)."),
    Case("tianjic-pj-per-sop-full-chip", "tianjic", "hybrid-tracker", "energy_per_synaptic_op_pj", 1.54, 0.25,
         TIANJIC_SOP, "prediction", options={"steps": 2, "gpu": None}, quick=False,
         note="full-chip workload (138 cores), static energy included."),
    Case("loihi-pj-per-sop-mlp", "loihi", "mlp-digits", "energy_per_synaptic_op_pj", 23.6, 0.25,
         "Davies et al., IEEE Micro 38(1) 2018, Table 1: 23.6 pJ per synaptic spike op (as compiled in "
         "reference energy_and_gpus.md)", "prediction", options={"steps": 8, "gpu": None},
         note="per-event energies are SANA-FE's Loihi figures; the total per SOP adds neuron updates, "
              "spike routing and static energy, so it is a prediction on this workload."),
]


def by_name(names: list[str] | None) -> list[Case]:
    """The cases named in ``names`` (all when None); an unknown name is a UserError."""
    from archsim.errors import UserError

    if not names:
        return list(CASES)
    known = {case.name: case for case in CASES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"--only {unknown[0]}: no such validation case (one of: {', '.join(known)})")
    return [known[n] for n in names]
