"""One run of a workload on a chip: load, build the workload, simulate, cost, compare, assemble.

This is ``archsim run`` without the printing, and the function a sweep evaluates at each point.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from archsim import result as result_mod
from archsim.config import Chip, load_chip
from archsim.errors import UserError
from archsim.graph.compress import check_density, prune
from archsim.graph.network import Network
from archsim.graph.workload import Workload

from archsim.shipped import CHIPS_DIR, chip_names, shipped_chip

DEFAULT_GPU = "v100"
#: result keys that describe the workload run (its transforms, its measured accuracy), not its cost
WORKLOAD_FACTS = ("workload_transforms", "accuracy")


def resolve_chip(spec: str | Path | Chip) -> Chip:
    """A Chip from a loaded Chip, a YAML path, or a shipped name (``tianjic``, ``gpu/v100``, ``v100``)."""
    if isinstance(spec, Chip):
        return spec
    path = Path(spec)
    if not path.exists():
        path = shipped_chip(str(spec)) or path
    if not path.exists():
        raise UserError(f"{spec}: no such chip config (a YAML path, or a shipped name: {', '.join(chip_names())})")
    return load_chip(path)


@dataclass
class RunOutcome:
    """A RESULT dict plus what does not belong in JSON: the output layer's values."""

    result: dict
    outputs: np.ndarray | None
    workload: Workload


def execute(network: str | Network, chip: str | Path | Chip | None, *, mode: str = "infer",
            steps: int | None = None, batch: int | None = None, engine: str = "fast",
            precision: str = "chip", gpu: str | Path | Chip | None = DEFAULT_GPU, seed: int = 0,
            input_path: str | None = None, mapping=None, dt: float | None = None, reset: str | None = None,
            from_: str | None = None, spikes: str | None = None, iso_node: bool = False, gpu_framework: str | None = None,
            prune_density: float | None = None, accuracy: bool = False,
            gpu_numerics: str | None = None, gpu_best_batch: bool = True,
            log: Callable[[str], None] | None = None) -> RunOutcome:
    """Simulate ``network`` on ``chip`` and return the result with the outputs.

    ``dt``, ``reset``, ``from_`` and ``spikes`` say how a NIR file's neurons are read
    (:func:`archsim.api.load_network`).
    ``chip=None`` with ``precision="float"`` is a functional run only (no timing, no cost); ``gpu=None``
    (or ``"none"``) leaves out the GPU comparison; ``iso_node`` compares with the GPU's die redrawn at
    the chip's technology node (the result says which); ``gpu_framework`` (``eager`` or ``fused``)
    overrides the GPU config's framework style and ``gpu_numerics`` (``fp32``, ``tf32_conv``, ``fp16``,
    ``bf16``) its numerics; ``gpu_best_batch`` adds the GPU at the batch that minimises its energy per
    sample (``vs_gpu_best_batch``). ``prune_density`` keeps that fraction of each layer's
    synapses (largest |w|, :func:`archsim.graph.compress.prune`) before anything is mapped; ``accuracy``
    adds the test accuracy of the (pruned) network at the chip's precision on the zoo's shipped test set
    (a trainable zoo name is trained and cached first). ``log`` receives a line as each stage starts.
    Everything the user gave is checked before the long work starts.
    """
    from archsim.api import load_network
    from archsim.graph.chip_support import check_chip_runnable
    from archsim.graph.workload import make_workload

    log = log or (lambda message: None)
    if batch is not None and batch < 1:
        raise UserError(f"--batch: {batch} is not allowed (allowed: >= 1)")
    if steps is not None and steps < 1:
        raise UserError(f"--steps: {steps} is not allowed (allowed: >= 1)")
    if isinstance(gpu, str) and gpu.lower() == "none":
        gpu = None
    if chip is None and precision != "float":
        raise UserError("--chip: required unless --precision float (a functional run)")
    if chip is not None:
        chip = resolve_chip(chip)
        if mode == "train" and chip.family == "manycore":
            raise UserError(f"--mode: train is not allowed on {chip.name} (a many-core chip runs inference only; "
                            "allowed: infer, or train on an h2learn chip or a GPU)")
        if precision == "float" and chip.family != "gpu":
            raise UserError(f"--precision float: {chip.family} chips compute in their own integer precision "
                            "(allowed with a chip: chip; leave out --chip for a float functional run)")
    gpu_chip = _gpu_chip(gpu) if gpu is not None and chip is not None and chip.family != "gpu" else None
    if prune_density is not None:
        prune_density = check_density(prune_density)
    if isinstance(network, str):
        if accuracy:
            from workloads import zoo

            zoo.ensure_trained(network, log)
        log(f"loading {network}")
        network = load_network(network, dt=dt, reset=reset, from_=from_, spikes=spikes)
    if prune_density is not None:
        log(f"pruning to {prune_density:g} of each layer's synapses (largest |w|)")
        network = prune(network, prune_density)
    if chip is not None and chip.family != "gpu":
        check_chip_runnable(network, chip.name, int(chip.params.get("core", {}).get("max_delay_steps", 0)))
    _check_memory(network, chip, steps, batch, input_path)
    accuracy_block = _accuracy(network, chip, log) if accuracy else None
    workload = make_workload(network, input_path=input_path, steps=steps, batch=batch, mode=mode, seed=seed)
    outcome = _outcome(workload, chip, gpu_chip, engine=engine, mapping=mapping, iso_node=iso_node,
                       gpu_framework=gpu_framework, gpu_numerics=gpu_numerics, gpu_best_batch=gpu_best_batch, log=log)
    return _with_workload_facts(outcome, network, accuracy_block)


def _outcome(workload: Workload, chip: Chip | None, gpu_chip: Chip | None, *, engine, mapping, iso_node,
             gpu_framework, gpu_numerics, gpu_best_batch, log) -> RunOutcome:
    """The run itself once everything is checked: functional, GPU alone, or a chip beside the GPU."""
    if chip is None:
        log("functional run (float)")
        return _functional(workload)
    if chip.family == "gpu":
        log(f"estimating {workload.name} on {chip.name}")
        return _gpu_alone(workload, chip, gpu_framework, gpu_numerics)
    log(f"simulating {workload.name} on {chip.name} ({engine} engine, {workload.steps} steps, batch {workload.batch})")
    trace = _simulate(workload, chip, engine, mapping, log)
    from archsim.cost import evaluate

    log("costing energy and area")
    cost = evaluate(trace, chip)
    gpu_estimate = gpu_best = None
    if gpu_chip is not None:
        from archsim.gpu import estimate
        from archsim.gpu.estimate import best_batch

        log(f"estimating the same work on {gpu_chip.name}")
        node_nm = chip.params["technology"]["node_nm"] if iso_node else None
        gpu_estimate = estimate(workload, gpu_chip, iso_node_nm=node_nm, framework=gpu_framework,
                                numerics=gpu_numerics)
        if gpu_best_batch:
            log(f"searching {gpu_chip.name}'s batch of least energy per sample")
            gpu_best = best_batch(workload, gpu_chip, framework=gpu_framework, numerics=gpu_numerics,
                                  iso_node_nm=node_nm)
            if not gpu_best.fits_in_memory:
                log(f"no batch fits in {gpu_chip.name}'s memory: {gpu_best.memory_message}")
                gpu_best = None
    result = result_mod.build(trace, cost, gpu_estimate, gpu_best)
    return RunOutcome(result=result, outputs=trace.outputs, workload=workload)


def _accuracy(network: Network, chip: Chip | None, log) -> dict:
    """The network's test accuracy at ``chip``'s integer precision (a GPU or no chip: float)."""
    from workloads import zoo
    from archsim.graph.quantize import Precision

    integer = chip is not None and chip.family != "gpu"
    precision = Precision.from_config(chip.params["precision"]) if integer else None
    log("measuring test accuracy" + (f" at int{precision.weight_bits}" if integer else " in float"))
    return zoo.labelled_accuracy(network, precision)


def _with_workload_facts(outcome: RunOutcome, network: Network, accuracy_block: dict | None) -> RunOutcome:
    """Record in the result the transforms applied to the workload and its measured accuracy."""
    transforms = network.metadata.get("transforms")
    if transforms:
        outcome.result["workload_transforms"] = dict(transforms)
    if accuracy_block is not None:
        outcome.result["accuracy"] = accuracy_block
    return outcome


def run(network: str | Network, chip: str | Path | Chip | None, **options) -> dict:
    """The RESULT dict of :func:`execute` (what a sweep stores)."""
    return execute(network, chip, **options).result


def recost(result: dict, chip: str | Path | Chip) -> dict:
    """Cost a stored result's Trace again with ``chip``'s technology and energy tables (no new simulation).

    Re-costing may change only those tables, so ``chip`` must be the chip the Trace was simulated on
    (same name, family and clock; a sweep's cost-only variants keep them): another micro-architecture
    is a UserError. The result's ``recosted_with`` names the config and technology table used.
    """
    from archsim.cost import evaluate
    from archsim.cost.technology import load_technology
    from archsim.trace import Trace

    chip = resolve_chip(chip)
    trace = Trace.from_dict(result["trace"])
    if (chip.name, chip.family, float(chip.params["clock_mhz"]) * 1e6) != (trace.chip, trace.family, float(trace.clock_hz)):
        raise UserError(f"{chip.path}: name: {chip.name!r} is not the chip this result was simulated on "
                        f"(allowed: {trace.chip!r} with other technology or energy tables; run the workload "
                        f"again on {chip.name} instead)")
    recosted = result_mod.build(trace, evaluate(trace, chip), result.get("gpu"), result.get("gpu_best_batch"))
    recosted["recosted"] = True
    for key in WORKLOAD_FACTS:  # facts of the workload, which a change of cost tables leaves as they are
        if key in result:
            recosted[key] = result[key]
    recosted["recosted_with"] = {"config": str(chip.path), "technology_table": load_technology(chip).path}
    return recosted


def _check_memory(network: Network, chip: Chip | None, steps: int | None, batch: int | None,
                  input_path: str | None) -> None:
    """Refuse, before any array is made, a run that would not fit in memory (:mod:`archsim.guard.memory`)."""
    from archsim.graph.workload import DEFAULT_STEPS
    from archsim.guard.memory import check_run
    from archsim.guard.npy_files import read_header

    if input_path is not None:
        shape = read_header(input_path, "shape (T, *input_shape) or (T, B, *input_shape)")[0]
        steps = shape[0] if shape else 1
        batch = shape[1] if len(shape) == 2 + len(next(iter(network.inputs.values()), ())) else 1
    steps = int(steps if steps is not None else network.metadata.get("steps", DEFAULT_STEPS))
    check_run(network, chip, steps=steps, batch=int(batch or 1), what=f"{network.name} ({steps} steps, batch {batch or 1})")


def _simulate(workload: Workload, chip: Chip, engine: str, mapping, log=None):
    if chip.family == "manycore":
        from archsim.models.manycore import simulate

        return simulate(workload, chip, engine=engine, mapping=mapping, log=log)
    if chip.family == "h2learn":
        from archsim.models.h2learn import simulate

        return simulate(workload, chip, engine=engine)
    raise UserError(f"{chip.path}: family: {chip.family!r} cannot be simulated (allowed: manycore, h2learn, gpu)")


def _gpu_chip(gpu) -> Chip:
    gpu_chip = resolve_chip(gpu)
    if gpu_chip.family != "gpu":
        raise UserError(f"{gpu_chip.path}: family: {gpu_chip.family!r} is not a GPU (allowed: gpu)")
    return gpu_chip


def _gpu_alone(workload: Workload, chip: Chip, framework: str | None, numerics: str | None) -> RunOutcome:
    from archsim.gpu import estimate

    est = estimate(workload, chip, require_fit=True, framework=framework, numerics=numerics)
    gpu = est.to_dict()
    result = {
        "schema": result_mod.SCHEMA, "chip": chip.name, "family": "gpu", "workload": workload.name,
        "mode": workload.mode, "engine": "model", "steps": workload.steps, "batch": workload.batch,
        "cycles": int(round(est.latency_s * chip.params["clock_mhz"] * 1e6)),
        "clock_hz": chip.params["clock_mhz"] * 1e6, "latency_s": est.latency_s,
        "throughput_samples_per_s": workload.batch / est.latency_s if est.latency_s else 0.0,
        "energy_pj": est.energy_pj, "energy_breakdown_pj": est.energy_breakdown_pj,
        "static_energy_pj": est.static_energy_pj, "area_mm2": est.area_mm2,
        "area_breakdown_mm2": est.area_breakdown_mm2, "cost_sources": est.sources,
        # the GPU model sees no activity, so it has no synaptic_ops (README: existing synapses reached by a
        # spike); the dense forward MACs it performs are gpu_detail.forward_macs
        "synaptic_ops": None, "spikes": None,
        "gpu_detail": gpu,
    }
    return RunOutcome(result=result, outputs=None, workload=workload)


def _functional(workload: Workload) -> RunOutcome:
    from archsim.graph.functional import simulate

    run = simulate(workload.network, workload.inputs, precision=None)
    name = workload.network.outputs[0]
    spikes = int(sum(run.spike_counts.values()))
    result = {"schema": result_mod.SCHEMA, "chip": None, "family": "functional", "workload": workload.name,
              "mode": workload.mode, "engine": "functional", "precision": "float", "steps": workload.steps,
              "batch": workload.batch, "spikes": spikes, "layer_schedule": "serial"}
    return RunOutcome(result=result, outputs=run.outputs[name], workload=workload)
