"""A GPU config turned into the SI numbers the model uses, with the energy per FLOP and per byte derived.

Power follows AccelWattch's structure (Kandiah et al., MICRO 2021): P = P_const + P_static + P_dynamic.
``power.idle_w`` is the board at rest (always paid); ``power.sm_active_w`` is the constant + static
power the SMs add while a kernel is busy (clock tree, pipeline latches, leakage at load; paid for a
kernel's busy time, not for launch gaps); the dynamic part is activity x energy per action. The energy
of each action (FMA, register-file, shared-memory and L2 bits, DRAM bits, on-die transport, warp issue)
comes from the shared technology table at the GPU's node (:mod:`archsim.gpu.energy`), and an operation
costs its arithmetic plus the overhead of delivering its operands and its instruction (Horowitz's
framing, ISSCC 2014):

* one FMA (2 FLOPs) on CUDA cores or tensor cores::

      fma_pj = arithmetic (table add + mult)
             + register_bits_per_fma x register pJ/bit      register file
             + shared_bits_per_fma x shared pJ/bit          shared memory / L1 (GEMMs)
             + instruction pJ / 32 (/ FMAs per lane instruction)   warp issue

  FP32 work on CUDA cores reads 3 and writes 1 32-bit register per FMA; a GEMM also loads its
  operands from shared memory into registers (``shared_bits_per_fma``; elementwise kernels do not). A
  tensor-core MMA reuses its operand tiles: far fewer register and shared-memory bits per FMA, and one
  warp instruction does a whole m8n8k4 MMA (256 FMAs per lane-group of 32: counted as 8 FMAs per
  lane). TF32 and BF16 are counted as FP16 arithmetic with the same operand traffic (assumption).
  ``power.sm_active_w`` is set by one rule, a large SGEMM at 80% of TDP (:func:`sgemm_power_w`).
* one DRAM byte = 8 x (DRAM pJ/bit + on-die transport pJ/bit); one byte served by L2 (see
  :mod:`archsim.gpu.l2`) = 8 x (L2 pJ/bit + on-die transport pJ/bit).

Total power stays capped at TDP (the board's power limiter throttles clocks).

``runtime.numerics`` (PyTorch's defaults: PyTorch docs, "CUDA semantics: TensorFloat-32 (TF32) on Ampere
(and later) devices", https://pytorch.org/docs/stable/notes/cuda.html; convolutions may use TF32 since
PyTorch 1.7, ``torch.backends.cudnn.allow_tf32 = True``; matmuls do not since 1.12,
``torch.backends.cuda.matmul.allow_tf32 = False``): ``fp32`` (CUDA cores for everything; the default
on Volta, which has no TF32), ``tf32_conv`` (convolutions on TF32 tensor cores, matmuls in FP32: the
default on Ampere and later), ``fp16`` (AMP: all matrix work on FP16 tensor cores, 2-byte
activations), ``bf16`` (as fp16 on BF16 tensor cores, where ``compute.tensor_bf16_tflops`` says the
GPU has them). ``runtime.framework``: ``eager`` or ``fused`` (see :mod:`archsim.gpu.kernels`).

Calibration (see :mod:`archsim.gpu.calibration`) may replace the efficiency parameters and the launch
overhead; ``sources`` says, for every parameter that can be calibrated, where its value came from.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from archsim.config import Chip
from archsim.errors import UserError
from archsim.gpu.energy import ActionEnergies, action_energies

FRAMEWORKS = ("eager", "fused")
NUMERICS = ("fp32", "tf32_conv", "fp16", "bf16")
SGEMM_TDP_FRACTION = 0.8       # the rule that sets power.sm_active_w (assumption; see sgemm_power_w)
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
    numerics: str                 # one of NUMERICS
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


def fma_energy_pj(arithmetic_pj: float, register_bits: float, shared_bits: float,
                  fmas_per_lane_instruction: float, actions: ActionEnergies) -> float:
    """Energy of one FMA on the GPU's node: arithmetic, register and shared-memory traffic, warp issue."""
    return (arithmetic_pj + register_bits * actions.register_pj_per_bit + shared_bits * actions.shared_pj_per_bit
            + actions.instruction_pj / LANES_PER_WARP / fmas_per_lane_instruction)


def sgemm_fma_pj(chip: Chip, actions: ActionEnergies | None = None) -> float:
    """Energy of one FMA of a large FP32 GEMM on CUDA cores (registers, shared memory, issue included)."""
    energy = chip.params["energy"]
    actions = actions or action_energies(chip)
    return fma_energy_pj(actions.fma_fp32_pj, energy["register_bits_per_fma"], energy["shared_bits_per_fma"], 1,
                         actions)


def sgemm_power_w(chip: Chip, sm_active_w: float | None = None) -> float:
    """Board power of a large SGEMM at ``efficiency.gemm_max`` of the FP32 peak: idle + busy SMs + FMAs.

    ``power.sm_active_w`` is not published; each shipped config sets it so that this power is
    ``SGEMM_TDP_FRACTION`` of TDP (assumption: a large SGEMM runs a board near, not at, its power limit), and a test
    holds the configs to that rule with the energies of the shared tables."""
    params = chip.params
    flops_s = params["efficiency"]["gemm_max"] * params["compute"]["fp32_tflops"] * 1e12
    active = params["power"]["sm_active_w"] if sm_active_w is None else sm_active_w
    return params["power"]["idle_w"] + active + flops_s / 2 * sgemm_fma_pj(chip) * 1e-12


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
    actions = action_energies(chip)
    gemm_fp32_fma_pj = sgemm_fma_pj(chip, actions)
    vector_fma_pj = fma_energy_pj(actions.fma_fp32_pj, energy["register_bits_per_fma"], 0, 1, actions)
    tensor_fma_pj = fma_energy_pj(actions.fma_fp16_pj, energy["tensor_register_bits_per_fma"],
                                  energy["tensor_shared_bits_per_fma"], TENSOR_FMAS_PER_LANE_INSTRUCTION, actions)
    fp32_peak = compute["fp32_tflops"] * 1e12
    tensor_peak = {"fp16": "tensor_fp16_tflops", "bf16": "tensor_bf16_tflops", "tf32_conv": "tensor_tf32_tflops"}
    if numerics in tensor_peak and not compute.get(tensor_peak[numerics]):
        have = [n for n in NUMERICS if n not in tensor_peak or compute.get(tensor_peak[n])]
        raise UserError(f"{chip.path}: runtime.numerics: {numerics!r} needs compute.{tensor_peak[numerics]} > 0 "
                        f"(allowed on {chip.name}: {', '.join(have)})")
    if numerics in ("fp16", "bf16"):
        dense = conv = (compute[tensor_peak[numerics]] * 1e12, tensor_fma_pj)
        element_bytes = 2
    elif numerics == "tf32_conv":
        dense, conv = (fp32_peak, gemm_fp32_fma_pj), (compute["tensor_tf32_tflops"] * 1e12, tensor_fma_pj)
        element_bytes = 4
    else:
        dense = conv = (fp32_peak, gemm_fp32_fma_pj)
        element_bytes = 4
    dram_byte_pj = 8 * (actions.dram_pj_per_bit + actions.onchip_pj_per_bit)
    l2_byte_pj = 8 * (actions.l2_pj_per_bit + actions.onchip_pj_per_bit)
    framework = params["runtime"]["framework"]
    sources["energy.flop_pj"] = ("derived: arithmetic + energy.register_bits_per_fma x register + "
                                 "energy.shared_bits_per_fma x shared + issue, per 2 FLOPs")
    sources["energy.l2_byte_pj"] = "derived: 8 x (l2 + onchip pJ/bit)"
    sources["energy.dram_byte_pj"] = "derived: 8 x (dram + onchip pJ/bit)"
    sources["energy.actions"] = dict(actions.sources)
    sources["runtime.framework"] = framework
    sources["runtime.numerics"] = numerics
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
