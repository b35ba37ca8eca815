"""A GPU config turned into the SI numbers the model uses, with the energy per FLOP and per byte derived.

Power follows AccelWattch's structure (Kandiah et al., MICRO 2021): P = P_const + P_static + P_dynamic.
``power.idle_w`` is the board at rest (always paid); ``power.sm_active_w`` is the constant + static
power the SMs add while a kernel is busy (clock tree, pipeline latches, leakage at load; paid for a
kernel's busy time, not for launch gaps); the dynamic part is activity x energy per action. Energy per
action is not published for GPUs, so it is derived from technology facts kept in the config
(``energy:``), following Horowitz's framing (ISSCC 2014) that an operation costs its arithmetic plus
the overhead of delivering its operands and its instruction:

* one FMA (2 FLOPs) on CUDA cores or tensor cores::

      fma_pj = fma_45nm_pj x logic_energy                                      arithmetic
             + register_bits_per_fma x register_pj_per_bit_45nm x sram_energy register file
             + shared_bits x shared_pj_per_bit_45nm x sram_energy             shared memory / L1 (GEMMs)
             + instruction_pj_45nm x logic_energy / 32 (/ fmas per instruction)   warp issue

  Horowitz's 45 nm figures scaled to the GPU's node with separate logic and SRAM factors so that
  advanced nodes are not flattered (SRAM scales far less than logic). FP32 work on CUDA cores reads 3
  and writes 1 32-bit register per FMA; a GEMM also loads its operands from shared memory into
  registers (``shared_bits_per_fma``; elementwise kernels do not). A tensor-core MMA reuses its
  operand tiles: far fewer register and shared-memory bits per FMA, and one warp instruction does a
  whole m8n8k4 MMA (256 FMAs per lane-group of 32: counted as 8 FMAs per lane). TF32 is counted as
  FP16 arithmetic with the same operand traffic (an assumption).

  V100, large SGEMM (12 nm table: logic 0.14, SRAM 0.41): 0.64 (arithmetic) + 8.2 (registers) + 1.0
  (shared) + 0.22 (issue) = 10.0 pJ per FMA; at 0.85 x 15.7 TFLOP/s that is 67 W dynamic, + 138 W busy
  SMs + 35 W board = ~240 W, 80% of the
  300 W TDP (measured SGEMM power on V100 boards is ~250-300 W). A streaming kernel at 0.85 x 900 GB/s:
  765 GB/s x 39 pJ/B = 30 W of DRAM + 138 + 35 W = ~203 W, about two thirds of TDP (assumption: the model's
  range, not a measurement held here).
* one DRAM byte = 8 x (DRAM core + interface pJ/bit + on-chip transport pJ/bit); one byte served by
  L2 (see :mod:`archsim.gpu.l2`) = 8 x (L2 SRAM pJ/bit + on-chip transport pJ/bit).

Total power stays capped at TDP (the board's power limiter throttles clocks).

``runtime.numerics``: ``fp32`` (CUDA cores for everything), ``tf32_conv`` (convolutions on TF32 tensor
cores, matmuls in FP32: PyTorch's defaults on Ampere and later, ``torch.backends.cudnn.allow_tf32 =
True`` and ``torch.backends.cuda.matmul.allow_tf32 = False``), ``fp16`` (AMP: all matrix work on FP16
tensor cores, 2-byte activations). ``runtime.framework``: ``eager`` or ``fused`` (see
:mod:`archsim.gpu.kernels`).

Calibration (see :mod:`archsim.gpu.calibration`) may replace the efficiency parameters and the launch
overhead; ``sources`` says, for every parameter that can be calibrated, where its value came from.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from archsim.config import Chip
from archsim.cost.technology import table_path
from archsim.errors import UserError

FRAMEWORKS = ("eager", "fused")
LANES_PER_WARP = 32
TENSOR_FMAS_PER_LANE_INSTRUCTION = 8   # m8n8k4 MMA: 256 FMAs per 32 lanes
CALIBRATABLE = ("efficiency.gemm_max", "efficiency.memory_max", "runtime.kernel_launch_s")


@dataclass(frozen=True)
class GpuSpec:
    """Peak rates, capacities, efficiency parameters and derived energies of one GPU."""

    name: str
    node_nm: float
    die_area_mm2: float
    sms: int
    numerics: str                 # "fp32", "tf32_conv" or "fp16"
    framework: str                # "eager" or "fused"
    dense_peak_flop_s: float      # matmul (dense layer) peak for the chosen numerics
    conv_peak_flop_s: float       # convolution peak for the chosen numerics
    vector_peak_flop_s: float     # FMA peak of the CUDA cores for elementwise work
    bandwidth_byte_s: float
    memory_capacity_bytes: float
    framework_memory_bytes: float
    l2_bytes: float
    l2_usable_bytes: float        # the share of L2 a reused tensor can count on
    l2_bandwidth_byte_s: float
    tdp_w: float
    idle_w: float
    sm_active_w: float            # constant + static power of busy SMs, on top of idle
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
    l2_byte_pj: float             # a byte read from L2 instead of DRAM
    element_bytes: int            # bytes per activation/weight element in the kernels
    sources: dict = field(default_factory=dict)


def node_scaling(chip: Chip) -> dict:
    """The 45 nm -> node factors of the shared technology table at the GPU's node (chips/tech/<node>nm.yaml),
    so that GPUs and chips scale logic and SRAM energy by one rule."""
    with open(table_path(chip)) as handle:
        return yaml.safe_load(handle)["scaling"]


def fma_energy_pj(fma_45nm_pj: float, register_bits: float, shared_bits: float, fmas_per_lane_instruction: float,
                  energy: dict, scaling: dict) -> float:
    """Energy of one FMA on the GPU's node: arithmetic, register and shared-memory traffic, warp issue."""
    arithmetic = fma_45nm_pj * scaling["logic_energy"]
    registers = register_bits * energy["register_pj_per_bit_45nm"] * scaling["sram_energy"]
    shared = shared_bits * energy["shared_pj_per_bit_45nm"] * scaling["sram_energy"]
    issue = energy["instruction_pj_45nm"] * scaling["logic_energy"] / LANES_PER_WARP / fmas_per_lane_instruction
    return arithmetic + registers + shared + issue


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
    scaling = node_scaling(chip)
    gemm_fp32_fma_pj = fma_energy_pj(energy["fma_fp32_45nm_pj"], energy["register_bits_per_fma"],
                                     energy["shared_bits_per_fma"], 1, energy, scaling)
    vector_fma_pj = fma_energy_pj(energy["fma_fp32_45nm_pj"], energy["register_bits_per_fma"], 0, 1, energy, scaling)
    tensor_fma_pj = fma_energy_pj(energy["fma_fp16_45nm_pj"], energy["tensor_register_bits_per_fma"],
                                  energy["tensor_shared_bits_per_fma"], TENSOR_FMAS_PER_LANE_INSTRUCTION, energy,
                                  scaling)
    fp32_peak = compute["fp32_tflops"] * 1e12
    if numerics == "fp16":
        dense = conv = (compute["tensor_fp16_tflops"] * 1e12, tensor_fma_pj)
        element_bytes = 2
    elif numerics == "tf32_conv":
        if not compute.get("tensor_tf32_tflops"):
            raise UserError(f"{chip.path}: runtime.numerics: 'tf32_conv' needs compute.tensor_tf32_tflops > 0 "
                            "(allowed without it: fp32, fp16)")
        dense, conv = (fp32_peak, gemm_fp32_fma_pj), (compute["tensor_tf32_tflops"] * 1e12, tensor_fma_pj)
        element_bytes = 4
    else:
        dense = conv = (fp32_peak, gemm_fp32_fma_pj)
        element_bytes = 4
    dram_byte_pj = 8 * (energy["dram_pj_per_bit"] + energy["onchip_pj_per_bit"])
    l2_byte_pj = 8 * (energy["l2_pj_per_bit"] + energy["onchip_pj_per_bit"])
    framework = params["runtime"]["framework"]
    sources["energy.flop_pj"] = ("derived from energy.* (Horowitz 45 nm x the logic/SRAM factors of "
                                 f"{table_path(chip).name}: arithmetic, registers, "
                                 "shared memory, warp issue)")
    sources["energy.l2_byte_pj"] = "derived: 8 x (energy.l2_pj_per_bit + energy.onchip_pj_per_bit)"
    sources["runtime.framework"] = framework
    sources["energy.dram_byte_pj"] = "derived: 8 x (energy.dram_pj_per_bit + energy.onchip_pj_per_bit)"
    return GpuSpec(
        name=chip.name,
        node_nm=float(params["technology"]["node_nm"]),
        die_area_mm2=float(params["technology"]["die_area_mm2"]),
        sms=int(compute["sms"]),
        numerics=numerics,
        framework=framework,
        dense_peak_flop_s=dense[0],
        conv_peak_flop_s=conv[0],
        vector_peak_flop_s=compute["fp32_tflops"] * 1e12,
        bandwidth_byte_s=params["memory"]["bandwidth_gb_s"] * 1e9,
        memory_capacity_bytes=params["memory_gb"] * 2**30,
        framework_memory_bytes=params["runtime"]["framework_memory_gb"] * 2**30,
        l2_bytes=params["memory"]["l2_mb"] * 2**20,
        l2_usable_bytes=params["memory"]["l2_mb"] * 2**20 * params["memory"]["l2_usable_fraction"],
        l2_bandwidth_byte_s=params["memory"]["l2_bandwidth_gb_s"] * 1e9,
        tdp_w=float(params["power"]["tdp_w"]),
        idle_w=float(params["power"]["idle_w"]),
        sm_active_w=float(params["power"]["sm_active_w"]),
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
        vector_flop_pj=vector_fma_pj / 2,
        dram_byte_pj=dram_byte_pj,
        l2_byte_pj=l2_byte_pj,
        element_bytes=element_bytes,
        sources=sources,
    )
