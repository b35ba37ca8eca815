"""``estimate``: latency, energy, area and memory of a workload on a GPU model, kernel by kernel.

Energy, kernel by kernel (AccelWattch's constant + static + dynamic split, derivation in
:mod:`archsim.gpu.spec`) = idle power x time + busy-SM power x busy time (the kernel's time less its
launch gap) + e_flop x FLOPs + e_byte x (DRAM bytes, L2-served bytes), each kernel capped at TDP x its
time; ``power_capped`` says whether the cap bound any kernel. ``framework`` (``eager`` or ``fused``)
and ``numerics`` (``fp32``, ``tf32_conv``, ``fp16``, ``bf16``) override the config's ``runtime.framework``
and ``runtime.numerics``; the estimate names both.

:func:`best_batch` searches the batch that minimises the GPU's energy per sample within its memory
(powers of two up to the largest batch that fits, and that largest batch itself), so that a chip can be
compared with the GPU at the GPU's own best operating point as well as at the same batch. Area = die area, or, with ``iso_node_nm``, the die redrawn at that node (``area_node_nm``
says which).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from archsim.config import Chip, load_chip
from archsim.errors import UserError
from archsim.graph.workload import Workload
from archsim.gpu.calibration import load_calibration
from archsim.gpu.kernels import Kernel, workload_kernels
from archsim.gpu.l2 import dram_bytes, l2_hit_bytes
from archsim.gpu.memory import footprint
from archsim.gpu.roofline import kernel_time
from archsim.gpu.scaling import scale_area_mm2
from archsim.gpu.spec import FRAMEWORKS, NUMERICS, GpuSpec, gpu_spec

from archsim.shipped import CHIPS_DIR as _SHIPPED

CHIPS_DIR = _SHIPPED / "gpu"


def default_gpu_path() -> Path:
    """The default GPU baseline config (V100)."""
    return CHIPS_DIR / "v100.yaml"


@dataclass
class GpuEstimate:
    """What one workload costs on one GPU. ``kernels`` lists every launch; ``to_dict`` aggregates them."""

    name: str
    mode: str
    steps: int
    batch: int
    numerics: str
    framework: str
    latency_s: float
    energy_pj: float
    energy_breakdown_pj: dict
    static_energy_pj: float
    area_mm2: float
    area_breakdown_mm2: dict
    area_node_nm: float
    iso_node: bool
    memory_bytes: float
    memory_capacity_bytes: float
    memory_breakdown_bytes: dict
    fits_in_memory: bool
    memory_message: str
    power_capped: bool
    average_power_w: float
    flops: int
    dram_bytes: int
    forward_macs: int            # dense forward MACs the GPU performs, zeros included: not synaptic_ops
    kernels: list = field(repr=False)
    time_by_kernel_s: dict = field(default_factory=dict)
    time_by_bound_s: dict = field(default_factory=dict)
    time_by_phase_s: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)

    def kernel_summary(self) -> list[dict]:
        """Kernels aggregated by (name, layer): launches, FLOPs, bytes, time, and launches per bound."""
        groups: dict = {}
        for k in self.kernels:
            row = groups.setdefault((k["name"], k["layer"]), {
                "name": k["name"], "layer": k["layer"], "launches": 0, "flops": 0, "bytes": 0, "time_s": 0.0,
                "bound": defaultdict(int)})
            row["launches"] += 1
            row["flops"] += k["flops"]
            row["bytes"] += k["bytes"]
            row["time_s"] += k["time_s"]
            row["bound"][k["bound"]] += 1
        return [dict(row, bound=dict(row["bound"])) for row in groups.values()]

    def to_dict(self) -> dict:
        """JSON-able summary; the kernel list is aggregated by kernel name and layer."""
        skip = {"kernels"}
        data = {key: value for key, value in self.__dict__.items() if key not in skip}
        data["kernel_launches"] = len(self.kernels)
        data["kernels"] = self.kernel_summary()
        return data


def _resolve(gpu_chip) -> Chip:
    if isinstance(gpu_chip, Chip):
        chip = gpu_chip
    else:
        chip = load_chip(gpu_chip if gpu_chip is not None else default_gpu_path())
    if chip.family != "gpu":
        raise UserError(f"{chip.path}: family: {chip.family!r} is not a GPU (allowed: gpu)")
    return chip


def spec_for(chip: Chip) -> GpuSpec:
    """The chip's spec, with measured efficiencies when its config names a calibration file."""
    calibration_file = chip.params.get("calibration")
    if not calibration_file:
        return gpu_spec(chip)
    calibration = load_calibration(chip.resolve(calibration_file))
    return gpu_spec(chip, calibration.overrides, calibration.label)


def kernel_energy_pj(spec: GpuSpec, kernel: Kernel, time_s: float) -> tuple[dict, bool]:
    """Energy of one kernel (component -> action -> pJ, idle included) and whether TDP capped it."""
    flop_pj = (spec.vector_flop_pj if kernel.kind != "gemm" else
               spec.conv_flop_pj if kernel.name.startswith("conv") else spec.dense_flop_pj)
    flop_action = "elementwise_flop" if kernel.kind != "gemm" else (
        "conv_flop" if kernel.name.startswith("conv") else "dense_flop")
    hits = l2_hit_bytes(kernel, spec)
    busy_s = max(time_s - spec.kernel_launch_s, 0.0)
    dynamic = {"sm": {flop_action: kernel.flops * flop_pj, "busy": spec.sm_active_w * busy_s * 1e12},
               "l2": {"byte": hits * spec.l2_byte_pj},
               "dram": {"byte": (kernel.bytes - hits) * spec.dram_byte_pj}}
    idle_pj = spec.idle_w * time_s * 1e12
    dynamic_pj = sum(v for actions in dynamic.values() for v in actions.values())
    cap_pj = spec.tdp_w * time_s * 1e12
    capped = idle_pj + dynamic_pj > cap_pj
    if capped:
        share = max(cap_pj - idle_pj, 0.0) / dynamic_pj
        dynamic = {c: {a: v * share for a, v in actions.items()} for c, actions in dynamic.items()}
    return {**dynamic, "idle": {"time": idle_pj}}, capped


def _add_into(total: dict, part: dict) -> None:
    for component, actions in part.items():
        into = total.setdefault(component, {})
        for action, value in actions.items():
            into[action] = into.get(action, 0.0) + value


def _with_numerics(chip: Chip, numerics: str | None) -> Chip:
    if numerics is None:
        return chip
    if numerics not in NUMERICS:
        raise UserError(f"numerics: {numerics!r} is not allowed (allowed: {', '.join(NUMERICS)})")
    return chip.with_overrides({"runtime.numerics": numerics})


def estimate(workload: Workload, gpu_chip=None, iso_node_nm: float | None = None,
             require_fit: bool = False, framework: str | None = None, numerics: str | None = None) -> GpuEstimate:
    """Model ``workload`` on ``gpu_chip`` (a Chip, a config path, or None for the default V100).

    ``iso_node_nm`` redraws the die at another node for an iso-node area comparison.
    ``require_fit`` raises a one-line UserError when the batch does not fit in GPU memory (for a run
    of the GPU alone); otherwise the estimate carries ``fits_in_memory`` and ``memory_message``.
    ``framework`` (``eager`` or ``fused``) replaces the config's ``runtime.framework``, ``numerics``
    its ``runtime.numerics``.
    """
    if workload.mode not in ("infer", "train"):
        raise UserError(f"mode: {workload.mode!r} is not allowed (allowed: infer, train)")
    chip = _with_numerics(_resolve(gpu_chip), numerics)
    spec = spec_for(chip)
    if framework is not None:
        if framework not in FRAMEWORKS:
            raise UserError(f"framework: {framework!r} is not allowed (allowed: {', '.join(FRAMEWORKS)})")
        spec = replace(spec, framework=framework, sources={**spec.sources, "runtime.framework": framework})
    kernels = workload_kernels(workload, spec.element_bytes, spec.framework)
    breakdown, capped = {}, False
    rows, time_by_kernel, time_by_bound, time_by_phase = [], defaultdict(float), defaultdict(float), defaultdict(float)
    for k in kernels:
        time_s, bound = kernel_time(k, spec)
        rows.append({"name": k.name, "layer": k.layer, "step": k.step, "phase": k.phase, "flops": k.flops,
                     "bytes": k.bytes, "dram_bytes": dram_bytes(k, spec), "time_s": time_s, "bound": bound})
        energy, kernel_capped = kernel_energy_pj(spec, k, time_s)
        _add_into(breakdown, energy)
        capped = capped or kernel_capped
        time_by_kernel[k.name] += time_s
        time_by_bound[bound] += time_s
        time_by_phase[k.phase] += time_s
    latency_s = sum(time_by_kernel.values())
    idle_pj = breakdown.get("idle", {}).get("time", 0.0)
    energy_pj = sum(v for actions in breakdown.values() for v in actions.values())

    memory = footprint(workload, spec.element_bytes, spec.memory_capacity_bytes, spec.framework_memory_bytes)
    message = f"{chip.path}: {memory.message(workload.batch)}"
    if require_fit and not memory.fits:
        raise UserError(f"--batch: {message} (allowed: a smaller batch)")

    area_node = float(iso_node_nm) if iso_node_nm is not None else spec.node_nm
    area_mm2 = scale_area_mm2(spec.die_area_mm2, spec.node_nm, area_node) if iso_node_nm is not None else spec.die_area_mm2
    sources = dict(spec.sources)
    sources["config"] = str(chip.path)
    sources["area"] = (f"die {spec.die_area_mm2} mm2 at {spec.node_nm:g} nm scaled to {area_node:g} nm as logic "
                       "(Stillmaker & Baas 2017; flatters SRAM and I/O)" if iso_node_nm is not None
                       else f"die area at the GPU's own node ({spec.node_nm:g} nm)")
    return GpuEstimate(
        name=spec.name, mode=workload.mode, steps=workload.steps, batch=workload.batch,
        numerics=spec.numerics, framework=spec.framework,
        latency_s=latency_s, energy_pj=energy_pj, energy_breakdown_pj=breakdown, static_energy_pj=idle_pj,
        area_mm2=area_mm2, area_breakdown_mm2={"die": area_mm2}, area_node_nm=area_node,
        iso_node=iso_node_nm is not None,
        memory_bytes=memory.total_bytes, memory_capacity_bytes=memory.capacity_bytes,
        memory_breakdown_bytes=memory.components_bytes, fits_in_memory=memory.fits, memory_message=message,
        power_capped=capped, average_power_w=energy_pj * 1e-12 / latency_s if latency_s else 0.0,
        flops=sum(k.flops for k in kernels), dram_bytes=sum(row["dram_bytes"] for row in rows),
        forward_macs=sum(k.gemm[0] * k.gemm[1] * k.gemm[2] * k.gemm[3] for k in kernels
                         if k.phase == "forward" and k.gemm is not None),
        kernels=rows, time_by_kernel_s=dict(time_by_kernel), time_by_bound_s=dict(time_by_bound),
        time_by_phase_s=dict(time_by_phase), sources=sources,
    )


BATCH_SEARCH_LIMIT = 2 ** 20   # assumption: no SNN framework run batches more than ~1M samples at once


def best_batch(workload: Workload, gpu_chip=None, framework: str | None = None,
               numerics: str | None = None, iso_node_nm: float | None = None) -> GpuEstimate:
    """The estimate at the batch that minimises energy per sample among those that fit in GPU memory.

    Candidates: 1, 2, 4, ... while the batch fits (up to ``BATCH_SEARCH_LIMIT``), and the largest batch
    that fits (found by bisection past the last power of two). Only the batch changes: the GPU kernels
    depend on the network, steps, mode and batch, not on the input values. A batch of 1 that does not
    fit is returned as it is (its ``fits_in_memory`` says so)."""
    chip = _with_numerics(_resolve(gpu_chip), numerics)

    def at(batch: int) -> GpuEstimate:
        return estimate(replace(workload, batch=batch, inputs={}, labels=None), chip, iso_node_nm=iso_node_nm,
                        framework=framework)

    best = first = at(1)
    if not first.fits_in_memory:
        return first
    batch, last_fit = 1, 1
    while batch < BATCH_SEARCH_LIMIT:
        candidate = at(batch * 2)
        if not candidate.fits_in_memory:
            break
        batch = last_fit = batch * 2
        best = min(best, candidate, key=lambda e: e.energy_pj / e.batch)
    else:
        return best
    low, high = last_fit, batch * 2          # low fits, high does not
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if at(middle).fits_in_memory else (low, middle)
    if low != last_fit:
        best = min(best, at(low), key=lambda e: e.energy_pj / e.batch)
    return best
