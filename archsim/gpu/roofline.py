"""Time of one kernel: a roofline with efficiency curves for small problems, plus launch overhead.

    time = max(FLOPs / (peak x eta_compute), bytes / (bandwidth x eta_memory)) + launch

The bound is ``compute`` or ``memory`` by the larger roofline term, ``launch`` when the launch
overhead exceeds both.

Compute efficiency of a matrix kernel (GEMM, convolution as implicit GEMM, shape M x N x K in
``groups`` independent groups) is the product of three factors, each a physical loss:

* tile fill: the output is cut into tiles of ``gemm_tile_m x gemm_tile_n``; partial tiles compute
  padding: ``M N / (tiles x tile_m x tile_n)``;
* wave quantisation: the tiles run in waves of ``sms x gemm_ctas_per_sm``; the last wave leaves SMs
  idle: ``tiles / (waves x sms x ctas_per_sm)``;
* K-loop amortisation: each tile pays a fixed prologue/epilogue worth ``gemm_k_half`` steps of its K
  loop: ``K / (K + gemm_k_half)``;
* split-K: when the output has too few tiles to fill the GPU (weight gradients: small M x N, long K),
  libraries split the K loop over ``split`` thread blocks (powers of two, up to two waves); the model
  takes the split with the best product above, K padded to ``split x ceil(K / split)``, and neglects
  the small cost of summing the partial outputs;

The library picks the best of three tile sizes (the configured one, halved and quartered in both
dimensions), each assumed to run at the same per-SM rate (assumption: optimistic for small tiles, which
reuse operands less); times ``gemm_max``, the fraction of peak the best library kernels reach on large
problems.
Elementwise kernels compute at ``elementwise_compute_max`` of the FMA peak (one FLOP per lane-cycle).

Memory efficiency follows Little's law: a kernel moving ``b`` bytes to and from DRAM streams at
``memory_max x b / (b + memory_half_bytes)``, which is the same as paying a fixed
``memory_half_bytes / (memory_max x bandwidth)`` of latency before streaming at ``memory_max``. Bytes
served by L2 (:mod:`archsim.gpu.l2`) take ``bytes / l2_bandwidth`` on top.
"""
from __future__ import annotations

import math

from archsim.gpu.kernels import Kernel
from archsim.gpu.l2 import dram_bytes, l2_hit_bytes
from archsim.gpu.spec import GpuSpec


TILE_SHRINKS = (1, 2, 4)   # the library's tile choices: the configured tile, halved, quartered


def gemm_efficiency(m: int, n: int, k: int, groups: int, spec: GpuSpec) -> float:
    """Fraction of peak a matrix kernel of shape (M, N, K) x groups reaches (best tile and split-K)."""
    return spec.gemm_max * max(_tiled_use(m, n, k, groups, spec.gemm_tile_m // shrink, spec.gemm_tile_n // shrink, spec)
                               for shrink in TILE_SHRINKS)


def _tiled_use(m: int, n: int, k: int, groups: int, tile_m: int, tile_n: int, spec: GpuSpec) -> float:
    tile_m, tile_n = max(tile_m, 1), max(tile_n, 1)
    tiles_per_group = math.ceil(m / tile_m) * math.ceil(n / tile_n)
    tiles = tiles_per_group * groups
    fill = (m * n) / (tiles_per_group * tile_m * tile_n)
    slots = spec.sms * spec.gemm_ctas_per_sm
    best, split = 0.0, 1
    while split == 1 or (tiles * split <= 2 * slots and split <= k):
        waves = math.ceil(tiles * split / slots)
        wave_use = tiles * split / (waves * slots)
        k_part = math.ceil(k / split)
        best = max(best, fill * wave_use * k_part / (k_part + spec.gemm_k_half) * k / (k_part * split))
        split *= 2
    return best


def memory_efficiency(nbytes: float, spec: GpuSpec) -> float:
    """Fraction of peak DRAM bandwidth a kernel moving ``nbytes`` reaches."""
    return spec.memory_max * nbytes / (nbytes + spec.memory_half_bytes)


def kernel_time(kernel: Kernel, spec: GpuSpec) -> tuple[float, str]:
    """(seconds, bound) of one kernel."""
    if kernel.gemm is not None:
        base = spec.conv_peak_flop_s if kernel.name.startswith("conv") else spec.dense_peak_flop_s
        peak = base * gemm_efficiency(*kernel.gemm, spec)
    else:
        peak = spec.vector_peak_flop_s * spec.elementwise_compute_max
    compute_s = kernel.flops / peak if kernel.flops else 0.0
    dram = dram_bytes(kernel, spec)
    memory_s = dram / (spec.bandwidth_byte_s * memory_efficiency(dram, spec)) if dram else 0.0
    memory_s += l2_hit_bytes(kernel, spec) / spec.l2_bandwidth_byte_s
    busy_s = max(compute_s, memory_s)
    if spec.kernel_launch_s > busy_s:
        bound = "launch"
    else:
        bound = "compute" if compute_s >= memory_s else "memory"
    return busy_s + spec.kernel_launch_s, bound
