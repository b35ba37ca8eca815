"""The numbers of an h2learn chip config that the model uses, read once into a plain dataclass.

PE counts, LUT sizes, buffer sizes and the DRAM channel come from the ``components`` block (one source
of truth for both the cycle model and the cost model); behaviour switches from ``fe``/``be``/``wue``.
"""
from __future__ import annotations

from dataclasses import dataclass

from archsim.config import Chip
from archsim.errors import UserError


@dataclass(frozen=True)
class H2LearnParams:
    clock_hz: float
    pipeline: bool
    weight_bits: int
    activation_bits: int
    membrane_bits: int
    decay_frac_bits: int
    grad_bits: int
    grad_frac_bits: int
    accumulator_bits: int
    surrogate_width: float
    learning_rate: float
    fe_lut: bool
    fe_group: int
    fe_pes: int
    fe_lut_entries: int
    fe_neuron_lanes: int
    be_sparsity: bool
    be_pes: int
    be_neuron_lanes: int
    be_index_lanes: int
    wue_lut: bool
    wue_steps: int
    wue_pes: int
    wue_lut_entries: int
    wue_update_lanes: int
    tile_samples: int
    tiles_in_flight: int
    weight_buffer_bits: int
    activation_buffer_bits: int
    gradient_buffer_bits: int
    buffer_width_bits: int
    dram_width_bits: int
    dram_bits_per_cycle: float

    @property
    def qmax_weight(self) -> int:
        return 2 ** (self.weight_bits - 1) - 1


def read_params(chip: Chip) -> H2LearnParams:
    """Extract the model's parameters; check the few cross-key rules a schema cannot express."""
    if chip.family != "h2learn":
        raise UserError(f"{chip.path}: family: {chip.family!r} is not allowed here (allowed: h2learn)")
    p = chip.params
    comp = p["components"]
    prec = p["precision"]
    clock_hz = float(p["clock_mhz"]) * 1e6
    params = H2LearnParams(
        clock_hz=clock_hz,
        pipeline=bool(p["pipeline"]),
        weight_bits=prec["weight_bits"],
        activation_bits=prec["activation_bits"],
        membrane_bits=prec["membrane_bits"],
        decay_frac_bits=prec["decay_frac_bits"],
        grad_bits=prec["grad_bits"],
        grad_frac_bits=prec["grad_frac_bits"],
        accumulator_bits=prec["accumulator_bits"],
        surrogate_width=float(p["training"]["surrogate_width"]),
        learning_rate=float(p["training"]["learning_rate"]),
        fe_lut=bool(p["fe"]["lut"]),
        fe_group=int(p["fe"]["lut_group"]),
        fe_pes=int(comp["fe_lut"]["count"]),
        fe_lut_entries=int(comp["fe_lut"]["entries"]),
        fe_neuron_lanes=int(p["fe"]["neuron_lanes"]),
        be_sparsity=bool(p["be"]["sparsity"]),
        be_pes=int(comp["be_mac"]["count"]),
        be_neuron_lanes=int(p["be"]["neuron_lanes"]),
        be_index_lanes=int(comp["be_index"]["count"]),
        wue_lut=bool(p["wue"]["lut"]),
        wue_steps=int(p["wue"]["lut_steps"]),
        wue_pes=int(comp["wue_lut"]["count"]),
        wue_lut_entries=int(comp["wue_lut"]["entries"]),
        wue_update_lanes=int(comp["wue_mul"].get("count", 1)),
        tile_samples=int(p["tiling"]["tile_samples"]),
        tiles_in_flight=int(p["tiling"]["tiles_in_flight"]),
        weight_buffer_bits=int(float(comp["weight_buffer"]["size_kb"]) * 8192),
        activation_buffer_bits=int(float(comp["activation_buffer"]["size_kb"]) * 8192),
        gradient_buffer_bits=int(float(comp["gradient_buffer"]["size_kb"]) * 8192),
        buffer_width_bits=int(comp["activation_buffer"]["width_bits"]),
        dram_width_bits=int(comp["dram"]["width_bits"]),
        dram_bits_per_cycle=float(comp["dram"]["bandwidth_gb_s"]) * 8e9 / clock_hz,
    )
    if params.fe_lut and params.fe_lut_entries < 2 ** params.fe_group:
        raise UserError(f"{chip.path}: components.fe_lut.entries: {params.fe_lut_entries} cannot hold one table of "
                        f"2^fe.lut_group = {2 ** params.fe_group} entries (allowed: >= {2 ** params.fe_group})")
    if params.wue_lut and params.wue_lut_entries < 2 ** params.wue_steps:
        raise UserError(f"{chip.path}: components.wue_lut.entries: {params.wue_lut_entries} cannot hold one table of "
                        f"2^wue.lut_steps = {2 ** params.wue_steps} entries (allowed: >= {2 ** params.wue_steps})")
    return params
