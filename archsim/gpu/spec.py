"""A GPU config turned into the SI numbers the model uses, with the energy per FLOP and per byte derived.

Energy per operation is not published for GPUs, so it is derived from technology facts kept in the
config (``energy:``), not guessed as one opaque number:

* one FMA (2 FLOPs) = arithmetic + operand delivery::

      fma_pj = fma_45nm_pj * logic_energy_scale + register_bits_per_fma * register_pj_per_bit_45nm
                                                    * sram_energy_scale

  (Horowitz's 45 nm adder/multiplier and 8 KB SRAM figures, scaled to the GPU's node with separate
  logic and SRAM factors so that advanced nodes are not flattered: SRAM scales far less than logic.)
  FP32 work on CUDA cores reads 3 and writes 1 32-bit register per FMA; a tensor-core MMA reuses
  its operand tiles, hence far fewer register bits per FMA (TF32 is counted as FP16 arithmetic with
  the same register traffic: an assumption).

``runtime.numerics``: ``fp32`` (CUDA cores for everything), ``tf32_conv`` (convolutions on TF32 tensor
cores, matmuls in FP32: PyTorch's defaults on Ampere and later, ``torch.backends.cudnn.allow_tf32 =
True`` and ``torch.backends.cuda.matmul.allow_tf32 = False``), ``fp16`` (AMP: all matrix work on FP16
tensor cores, 2-byte activations).
* one DRAM byte = 8 x (DRAM core + interface pJ/bit + on-chip transport pJ/bit).

Calibration (see :mod:`archsim.gpu.calibration`) may replace the efficiency parameters and the launch
overhead; ``sources`` says, for every parameter that can be calibrated, where its value came from.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from archsim.config import Chip
from archsim.errors import UserError

CALIBRATABLE = ("efficiency.gemm_max", "efficiency.memory_max", "runtime.kernel_launch_s")


@dataclass(frozen=True)
class GpuSpec:
    """Peak rates, capacities, efficiency parameters and derived energies of one GPU."""

    name: str
    node_nm: float
    die_area_mm2: float
    sms: int
    numerics: str                 # "fp32", "tf32_conv" or "fp16"
    dense_peak_flop_s: float      # matmul (dense layer) peak for the chosen numerics
    conv_peak_flop_s: float       # convolution peak for the chosen numerics
    vector_peak_flop_s: float     # FMA peak of the CUDA cores for elementwise work
    bandwidth_byte_s: float
    memory_capacity_bytes: float
    framework_memory_bytes: float
    l2_bytes: float
    tdp_w: float
    idle_w: float
    kernel_launch_s: float
    gemm_max: float
    gemm_tile_m: int
    gemm_tile_n: int
    gemm_ctas_per_sm: int
    gemm_k_half: float
    memory_max: float
    memory_half_bytes: float
    elementwise_compute_max: float
    dense_flop_pj: float          # energy per FLOP of matmul work
    conv_flop_pj: float           # energy per FLOP of convolution work
    vector_flop_pj: float         # energy per FLOP of elementwise work (CUDA cores, fp32)
    dram_byte_pj: float
    element_bytes: int            # bytes per activation/weight element in the kernels
    sources: dict = field(default_factory=dict)


def fma_energy_pj(fma_45nm_pj: float, register_bits: float, energy: dict) -> float:
    """Energy of one FMA on the GPU's node: scaled arithmetic plus its register traffic."""
    arithmetic = fma_45nm_pj * energy["logic_energy_scale"]
    operands = register_bits * energy["register_pj_per_bit_45nm"] * energy["sram_energy_scale"]
    return arithmetic + operands


def gpu_spec(chip: Chip, overrides: dict | None = None, override_source: str = "") -> GpuSpec:
    """Read a validated GPU chip into a :class:`GpuSpec`; ``overrides`` (dotted keys) come from calibration."""
    params = chip.params
    overrides = overrides or {}

    def value(dotted: str):
        return overrides[dotted] if dotted in overrides else chip.get(dotted)

    sources = {key: (f"measured: {override_source}" if key in overrides else f"default (assumption): {chip.path}")
                    for key in CALIBRATABLE}
    compute, energy = params["compute"], params["energy"]
    numerics = params["runtime"]["numerics"]
    fp32_fma_pj = fma_energy_pj(energy["fma_fp32_45nm_pj"], energy["register_bits_per_fma"], energy)
    tensor_fma_pj = fma_energy_pj(energy["fma_fp16_45nm_pj"], energy["tensor_register_bits_per_fma"], energy)
    fp32_peak = compute["fp32_tflops"] * 1e12
    if numerics == "fp16":
        dense = conv = (compute["tensor_fp16_tflops"] * 1e12, tensor_fma_pj)
        element_bytes = 2
    elif numerics == "tf32_conv":
        if not compute.get("tensor_tf32_tflops"):
            raise UserError(f"{chip.path}: runtime.numerics: 'tf32_conv' needs compute.tensor_tf32_tflops > 0 "
                            "(allowed without it: fp32, fp16)")
        dense, conv = (fp32_peak, fp32_fma_pj), (compute["tensor_tf32_tflops"] * 1e12, tensor_fma_pj)
        element_bytes = 4
    else:
        dense = conv = (fp32_peak, fp32_fma_pj)
        element_bytes = 4
    dram_byte_pj = 8 * (energy["dram_pj_per_bit"] + energy["onchip_pj_per_bit"])
    sources["energy.flop_pj"] = "derived from energy.* (Horowitz 45 nm x node scaling + register traffic)"
    sources["energy.dram_byte_pj"] = "derived: 8 x (energy.dram_pj_per_bit + energy.onchip_pj_per_bit)"
    return GpuSpec(
        name=chip.name,
        node_nm=float(params["technology"]["node_nm"]),
        die_area_mm2=float(params["technology"]["die_area_mm2"]),
        sms=int(compute["sms"]),
        numerics=numerics,
        dense_peak_flop_s=dense[0],
        conv_peak_flop_s=conv[0],
        vector_peak_flop_s=compute["fp32_tflops"] * 1e12,
        bandwidth_byte_s=params["memory"]["bandwidth_gb_s"] * 1e9,
        memory_capacity_bytes=params["memory_gb"] * 2**30,
        framework_memory_bytes=params["runtime"]["framework_memory_gb"] * 2**30,
        l2_bytes=params["memory"]["l2_mb"] * 2**20,
        tdp_w=float(params["power"]["tdp_w"]),
        idle_w=float(params["power"]["idle_w"]),
        kernel_launch_s=float(value("runtime.kernel_launch_s")),
        gemm_max=float(value("efficiency.gemm_max")),
        gemm_tile_m=int(params["efficiency"]["gemm_tile_m"]),
        gemm_tile_n=int(params["efficiency"]["gemm_tile_n"]),
        gemm_ctas_per_sm=int(params["efficiency"]["gemm_ctas_per_sm"]),
        gemm_k_half=float(params["efficiency"]["gemm_k_half"]),
        memory_max=float(value("efficiency.memory_max")),
        memory_half_bytes=float(params["efficiency"]["memory_half_bytes"]),
        elementwise_compute_max=float(params["efficiency"]["elementwise_compute_max"]),
        dense_flop_pj=dense[1] / 2,
        conv_flop_pj=conv[1] / 2,
        vector_flop_pj=fp32_fma_pj / 2,
        dram_byte_pj=dram_byte_pj,
        element_bytes=element_bytes,
        sources=sources,
    )
