"""``archsim run``: simulate a network on a chip and print it side by side with the GPU."""
from __future__ import annotations

import sys
import time

import numpy as np

from archsim import result as result_mod
from archsim.atomic import write_atomically
from archsim.errors import UserError
from archsim.guard.outputs import check_output_file
from archsim.runner import DEFAULT_GPU, execute
from archsim.units import format_quantity


def main(args) -> int:
    """Run, then save the outputs and the result where asked, and print the table or the JSON."""
    check_output_file(args.out, "--out")
    check_output_file(args.save_outputs, "--save-outputs")
    outcome = execute(args.network, args.chip, mode=args.mode, steps=args.steps, batch=args.batch,
                      engine=args.engine, precision=args.precision, gpu=args.gpu or DEFAULT_GPU,
                      seed=args.seed, input_path=args.input, mapping=args.mapping, dt=args.dt, reset=args.reset,
                      from_=args.from_, spikes=args.spikes, iso_node=args.iso_node,
                      gpu_framework=args.gpu_framework, gpu_numerics=args.gpu_numerics,
                      prune_density=args.prune_density, accuracy=args.accuracy,
                      log=None if args.quiet or args.json else stage_logger())
    written = []
    if args.save_outputs:
        written.append(f"outputs {_save_outputs(args.save_outputs, outcome, args.input)}")
    if args.out:
        result_mod.write(outcome.result, args.out)
        written.append(f"result {args.out}")
    if args.json:
        print(result_mod.to_json(outcome.result))
    else:
        print(render(outcome.result))
    if written:   # on stderr with --json, so that stdout stays one JSON document
        print(f"wrote {', '.join(written)}", file=sys.stderr if args.json else sys.stdout)
    return 0


def stage_logger():
    """Print each stage with the elapsed time, on stderr so that stdout stays the result."""
    start = time.perf_counter()
    return lambda message: print(f"[{time.perf_counter() - start:6.1f} s] {message}", file=sys.stderr, flush=True)


def _save_outputs(path: str, outcome, input_path: str | None) -> str:
    """Save (T, B, ...) outputs, or (T, ...) when the input file had no batch axis; return the path and shape."""
    if outcome.outputs is None:
        raise UserError(f"--save-outputs: {outcome.result['family']} runs produce no output values")
    outputs = np.asarray(outcome.outputs)
    network = outcome.workload.network
    if input_path is not None:
        input_shape = network.inputs[next(iter(network.inputs))]
        if np.load(input_path, mmap_mode="r").ndim == 1 + len(input_shape):
            outputs = outputs[:, 0]
    target = path if path.endswith(".npy") else path + ".npy"   # where np.save(path) would write
    write_atomically(target, lambda tmp: _save_npy(tmp, outputs))
    schedule = outcome.result.get("layer_schedule")
    semantics = f", {schedule} layer schedule" if schedule else ""
    return f"{target} (shape {'x'.join(map(str, outputs.shape))}){semantics}"


def _save_npy(path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array)


def render(result: dict) -> str:
    """A short human-readable table: the chip, and the GPU beside it where there is one.

    Each ratio reads one way ("chip better by Nx" / "GPU better by Nx", :func:`archsim.result.verdicts`); the GPU at its batch of least energy per sample follows on its own lines."""
    if result.get("family") == "functional":
        return (f"{result['workload']}: functional run in {result.get('precision', 'float')}, no chip "
                f"({result['mode']}, T={result['steps']}, batch={result['batch']})\n"
                f"{'spikes':14}{result['spikes']:>20,}" + "".join("\n" + line for line in _workload_facts(result)))
    head = f"{result['workload']} on {result['chip']}  ({result['mode']}, T={result['steps']}, batch={result['batch']}, engine={result['engine']})"
    rows = [("latency", "latency_s", "s"), ("throughput", "throughput_samples_per_s", "samples/s"),
            ("energy", "energy_pj", "pJ"), ("area", "area_mm2", "mm^2")]
    gpu = result.get("gpu")
    lines = [head]
    if gpu:
        lines.append(f"GPU: {gpu['name']} ({result_mod.gpu_style(gpu)}), same batch")
    lines.append(f"{'':14}{result['chip']:>20}" + (f"{gpu['name']:>20}  {'chip vs GPU'}" if gpu else ""))
    summary = result_mod.verdicts(result.get("vs_gpu") or {})
    for label, key, unit in rows:
        line = f"{label:14}{format_quantity(result[key], unit):>20}"
        if gpu:
            gpu_value = result["batch"] / gpu["latency_s"] if key == "throughput_samples_per_s" else gpu.get(key)
            line += f"{format_quantity(gpu_value, unit):>20}  {summary.get(label) or '-'}"
        lines.append(line)
    best = result.get("gpu_best_batch")
    if best:
        vs = result.get("vs_gpu_best_batch") or {}
        lines.append(f"{gpu['name'] if gpu else best['name']} at its batch of least energy per sample "
                     f"(batch {result_mod.batch_label(best['batch'])}): {format_quantity(best['energy_per_sample_pj'], 'pJ')}/sample, "
                     f"{format_quantity(best['throughput_samples_per_s'], 'samples/s')}: energy per sample "
                     f"{result_mod.verdicts(vs).get('energy per sample') or '-'}, "
                     f"throughput {result_mod.verdicts(vs).get('throughput') or '-'}")
    for label, key in (("cycles", "cycles"), ("synaptic ops", "synaptic_ops"), ("spikes", "spikes")):
        if result.get(key) is not None:
            lines.append(f"{label:14}{result[key]:>20,}")
    if result.get("energy_per_synaptic_op_pj"):
        lines.append(f"{'pJ/synaptic op':14}{result['energy_per_synaptic_op_pj']:>20.3g}")
    learning = result.get("learning")
    if learning:
        lines.append(f"{'learn phase':14}{format_quantity(learning['cycles_per_step'], 'cycles'):>20}/step, "
                     f"{format_quantity(learning['energy_per_step_pj'], 'pJ')}/step dynamic "
                     f"({learning['synapse_updates_per_step']:,.0f} synapse updates/step, "
                     f"{100 * learning['latency_share']:.1f}% of the cycles)")
    lines += _workload_facts(result)
    if result.get("family") == "gpu":
        lines.append(f"numerics {result['gpu_detail']['numerics']}, framework {result['gpu_detail']['framework']}")
        lines += _kernel_table(result["gpu_detail"])
    return "\n".join(lines)


def _workload_facts(result: dict) -> list[str]:
    """The workload's transforms and measured accuracy, when the run has them."""
    lines = []
    density = (result.get("workload_transforms") or {}).get("prune_density")
    if density is not None:
        lines.append(f"{'pruned to':14}{density:>19.3g} of each layer's synapses (largest |w| kept)")
    accuracy = result.get("accuracy")
    if accuracy:
        lines.append(f"{'test accuracy':14}{100 * accuracy['value']:>19.2f}% ({accuracy['precision']}, "
                     f"{accuracy['samples']} samples, {accuracy['data']})")
    return lines


def _kernel_table(gpu: dict) -> list[str]:
    """Where the GPU's time goes, by kernel kind and by what bounds it."""
    lines = ["time by kernel:"]
    for name, seconds in sorted(gpu.get("time_by_kernel_s", {}).items(), key=lambda kv: -kv[1]):
        lines.append(f"  {name:24}{format_quantity(seconds, 's'):>12}")
    bounds = ", ".join(f"{k} {format_quantity(v, 's')}" for k, v in gpu.get("time_by_bound_s", {}).items())
    if bounds:
        lines.append(f"time by bound: {bounds}")
    return lines
