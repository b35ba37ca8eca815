"""L2 reuse: which of a kernel's bytes come from L2 instead of DRAM.

The kernel list (:mod:`archsim.gpu.kernels`) marks the reads a cache could serve
(``l2_reuse_bytes``: a tensor written or read by a recent kernel) and how many bytes were touched
since (``reuse_distance_bytes``). With LRU replacement a reused line is still in L2 when the reuse
distance is below the capacity; the model takes ``memory.l2_usable_fraction`` of ``memory.l2_mb`` as
that capacity (associativity conflicts, other live data, and the split L2 of A100/H100, which
duplicates lines read from the far partition). A kernel whose reuse fits reads those bytes from L2;
everything else, and every write, goes to DRAM (writes are assumed written back: conservative, as a
temporary freed and overwritten in L2 would never reach DRAM).

Both sides of the boundary matter for SNNs on GPUs: an eager neuron update of a small layer chains
eight kernels through L2 and a small network's weights stay in L2 from step to step, while a large
convolutional layer at batch 64 streams every intermediate through DRAM.
"""
from __future__ import annotations

from archsim.gpu.kernels import Kernel
from archsim.gpu.spec import GpuSpec


def l2_hit_bytes(kernel: Kernel, spec: GpuSpec) -> int:
    """Bytes of ``kernel``'s reads served by L2 (its reuse fits in the usable L2), else 0."""
    if kernel.l2_reuse_bytes and kernel.reuse_distance_bytes <= spec.l2_usable_bytes:
        return kernel.l2_reuse_bytes
    return 0


def dram_bytes(kernel: Kernel, spec: GpuSpec) -> int:
    """Bytes ``kernel`` moves to and from DRAM after L2 hits."""
    return kernel.bytes - l2_hit_bytes(kernel, spec)
