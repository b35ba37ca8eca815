"""One training iteration (or one forward pass) of a workload on an h2learn chip -> Trace.

Order of work: the batch is cut into tiles of ``tiling.tile_samples``; for each tile the FE runs every
layer forward (membranes and spikes go to DRAM, as BPTT needs them), the BE runs the layers backward
(dL/du via the gradient unit, W^T dL/du into the layer below), the WUE accumulates dL/dW. The arithmetic
is real (:mod:`.datapath`, or :mod:`.refstep` with ``engine="reference"``), the engines' work is counted on
that data (:mod:`.engines`), and the SimPy pipeline (:mod:`.pipeline`) turns work and DRAM traffic into
cycles. Gradients equal the golden quantised BPTT (:mod:`.golden`) bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.config import Chip
from archsim.errors import UserError
from archsim.models.h2learn import datapath, engines, fixed, refstep
from archsim.models.h2learn.layers import TrainLayer, build_layers
from archsim.models.h2learn.params import H2LearnParams, read_params
from archsim.models.h2learn.pipeline import ENGINES, Step, run_pipeline
from archsim.trace import Trace


@dataclass
class Iteration:
    """A simulated iteration: its Trace, the weight gradients (network weight shapes), and the layers
    (``weight_q`` updated in place when ``apply_update`` was asked)."""

    trace: Trace
    dweights: list
    dbiases: list
    loss: float | None
    layers: list


def simulate(workload, chip: Chip, engine: str = "fast") -> Trace:
    """Simulate ``workload`` (mode ``train``: one training iteration over its batch; ``infer``: FE only)."""
    return run_iteration(workload, chip, engine).trace


def train(workload, chip: Chip, iterations: int, engine: str = "fast") -> list[Iteration]:
    """Several iterations on the same batch, each applying the accelerator's weight update."""
    layers = None
    runs = []
    for _ in range(iterations):
        run = run_iteration(workload, chip, engine, layers=layers, apply_update=True)
        layers = run.layers
        runs.append(run)
    return runs


def _check(workload, chip: Chip, engine: str) -> tuple[H2LearnParams, np.ndarray]:
    if engine not in ("fast", "reference"):
        raise UserError(f"--engine: {engine!r} is not allowed (allowed: fast, reference)")
    if workload.mode not in ("train", "infer"):
        raise UserError(f"--mode: {workload.mode!r} is not allowed (allowed: infer, train)")
    if workload.batch < 1 or workload.steps < 1:
        raise UserError(f"workload {workload.name!r}: batch {workload.batch} and steps {workload.steps} "
                        f"must be at least 1 (allowed: >= 1)")
    params = read_params(chip)
    if len(workload.inputs) != 1:
        raise UserError(f"workload {workload.name!r}: h2learn takes one input, got {len(workload.inputs)}")
    x = np.asarray(next(iter(workload.inputs.values())))
    if x.shape[:2] != (workload.steps, workload.batch):
        raise UserError(f"workload {workload.name!r}: input shape {x.shape} does not start with "
                        f"(steps {workload.steps}, batch {workload.batch})")
    if workload.mode == "train":
        if workload.labels is None or len(workload.labels) != workload.batch:
            raise UserError(f"workload {workload.name!r}: training needs labels, one per sample (--batch)")
    return params, x


def _tile_samples(layers: list[TrainLayer], params: H2LearnParams, chip: Chip, steps: int, mode: str) -> int:
    """Samples per tile: ``tiling.tile_samples``, lowered until the largest layer's input spikes over T fit
    the activation buffer; a one-line error when even one sample (or one step's gradients) does not fit."""
    per_sample = max(steps * layer.in_size * layer.input_planes for layer in layers)
    if per_sample > params.activation_buffer_bits:
        worst = max(layers, key=lambda l: l.in_size * l.input_planes)
        raise UserError(
            f"{chip.path}: components.activation_buffer.size_kb: {params.activation_buffer_bits / 8192:g} KB cannot "
            f"hold one tile (one sample) of layer {worst.name!r} (needs {per_sample / 8192:g} KB: T x inputs; "
            f"allowed: >= {per_sample / 8192:g})")
    for layer in layers:
        need = (layer.in_size + layer.out_size) * params.grad_bits
        if mode == "train" and need > params.gradient_buffer_bits:
            raise UserError(
                f"{chip.path}: components.gradient_buffer.size_kb: {params.gradient_buffer_bits / 8192:g} KB cannot hold "
                f"one step of dL/du and dL/ds of layer {layer.name!r} (allowed: >= {need / 8192:g})")
        need = int(np.prod(layer.kernel_shape[1:])) * params.weight_bits
        if need > params.weight_buffer_bits:
            raise UserError(f"{chip.path}: components.weight_buffer.size_kb: {params.weight_buffer_bits / 8192:g} KB "
                            f"cannot hold one output channel's kernel of layer {layer.name!r} (allowed: >= {need / 8192:g})")
    return max(1, min(params.tile_samples, params.activation_buffer_bits // per_sample))


def _merge(total: dict, actions: dict) -> None:
    for comp, acts in actions.items():
        slot = total.setdefault(comp, {})
        for act, count in acts.items():
            slot[act] = slot.get(act, 0) + int(count)


def run_iteration(workload, chip: Chip, engine: str = "fast", layers: list | None = None,
                  apply_update: bool = False) -> Iteration:
    """The work behind :func:`simulate`, with gradients; ``layers`` continues from an earlier iteration."""
    params, x_raw = _check(workload, chip, engine)
    valued = bool(np.any((x_raw != 0) & (x_raw != 1)))
    if layers is None:
        layers = build_layers(workload.network, params, input_valued=valued)
    train_mode = workload.mode == "train"
    steps, batch = workload.steps, workload.batch
    tile_samples = _tile_samples(layers, params, chip, steps, workload.mode)
    x_q = fixed.quantize_input(x_raw, layers[0].input_planes).reshape((steps, batch) + layers[0].in_shape)
    labels = None if workload.labels is None else np.asarray(workload.labels, dtype=np.int64)

    weight_bits_total = sum(int(l.weight_q.size) for l in layers) * params.weight_bits
    weights_resident = weight_bits_total <= params.weight_buffer_bits
    gbits, mbits, wbits = params.grad_bits, params.membrane_bits, params.weight_bits
    actions: dict = {}
    dram_read = dram_write = 0
    dkernels = [np.zeros(l.kernel_shape, dtype=np.int64) for l in layers]
    dbiases = [None if l.bias_q is None else np.zeros(l.bias_q.shape, dtype=np.int64) for l in layers]
    per_layer = {l.name: {e: 0 for e in ENGINES} for l in layers}
    stats = {l.name: {"input_spikes": 0, "inputs": 0, "du_nonzero": 0, "du_total": 0, "open_below": 0,
                      "open_total": 0, "macs": 0, "macs_dense": 0} for l in layers}
    tiles, loss_sum, synaptic_ops, spikes = [], 0.0, 0, 0
    outputs = []

    for b0 in range(0, batch, tile_samples):
        b1 = min(b0 + tile_samples, batch)
        tb = b1 - b0
        n = steps * tb
        tile_steps = {e: [] for e in ENGINES}
        xs, us, ss = [], [], []
        x = x_q[:, b0:b1]
        for li, layer in enumerate(layers):
            xs.append(x)
            if engine == "fast":
                u, s = datapath.forward(layer, x, params)
                work = engines.fe_work(layer, x, params)
            else:
                work, u, s = refstep.fe_reference(layer, x, params)
            us.append(u)
            ss.append(s)
            _merge(actions, work.actions)
            synaptic_ops += work.stats["synaptic_ops"]
            spikes += int(s.sum())
            st = stats[layer.name]
            st["input_spikes"] += int(np.count_nonzero(x))
            st["inputs"] += int(x.size)
            read = n * layer.in_size * layer.input_planes
            if not weights_resident or b0 == 0:
                read += int(layer.weight_q.size) * wbits
            write = n * layer.out_size * ((mbits + 1) if train_mode else 1)
            dram_read, dram_write = dram_read + read, dram_write + write
            tile_steps["fe"].append(Step(layer.name, work.cycles, read + write))
            per_layer[layer.name]["fe"] += work.cycles
            x = s
        outputs.append(ss[-1])
        if not train_mode:
            tile_steps["be"], tile_steps["wue"] = [], []
            tiles.append(tile_steps)
            continue

        ds, loss = fixed.output_gradient(layers[-1], us[-1], ss[-1], labels[b0:b1], params)
        loss_sum += loss * tb
        for li in range(len(layers) - 1, -1, -1):
            layer = layers[li]
            below = layers[li - 1] if li > 0 else None
            u_below = us[li - 1] if li > 0 else None
            du = datapath.membrane_gradient(layer, ds, us[li], ss[li], params)
            if engine == "fast":
                be = engines.be_work(layer, du, u_below, below, params)
                wue = engines.wue_work(layer, du, xs[li], params)
                dkernels[li] += datapath.weight_gradient(layer, du, xs[li])
                sums = datapath.backward_sums(layer, du) if below is not None else None
            else:
                be, sums = refstep.be_reference(layer, du, u_below, below, params)
                wue, dk = refstep.wue_reference(layer, du, xs[li], params)
                dkernels[li] += dk
            if dbiases[li] is not None:
                dbiases[li] += du.sum(axis=(0, 1, 3, 4))
            if below is not None:
                open_below = fixed.window_open(u_below, below.threshold_q, below.half_window_q)
                ds = fixed.spatial_gradient(sums, layer, params, open_below).reshape(us[li - 1].shape)
            _merge(actions, be.actions)
            _merge(actions, wue.actions)
            for key in ("du_nonzero", "du_total", "open_below", "open_total", "macs", "macs_dense"):
                stats[layer.name][key] += int(be.stats.get(key, 0))
            # BE: reads u, s (and ds from the layer above), the window of the layer below; writes du and ds below
            read = n * layer.out_size * (mbits + 1) + (n * layer.out_size * gbits if li < len(layers) - 1 else 0)
            write = n * layer.out_size * gbits
            if below is not None:
                read += n * layer.in_size * mbits
                write += n * layer.in_size * gbits
                if not weights_resident:
                    read += int(layer.weight_q.size) * wbits
            dram_read, dram_write = dram_read + read, dram_write + write
            tile_steps["be"].append(Step(layer.name, be.cycles, read + write))
            # WUE: reads du and the layer's input; dW accumulators round-trip through DRAM unless they fit
            read = n * layer.out_size * gbits + n * layer.in_size * layer.input_planes
            write = 0
            acc_bits = int(np.prod(layer.kernel_shape)) * params.accumulator_bits
            if acc_bits > params.gradient_buffer_bits:
                read += acc_bits if b0 else 0
                write += acc_bits
            dram_read, dram_write = dram_read + read, dram_write + write
            tile_steps["wue"].append(Step(layer.name, wue.cycles, read + write))
            per_layer[layer.name]["be"] += be.cycles
            per_layer[layer.name]["wue"] += wue.cycles
        tiles.append(tile_steps)

    update_steps = []
    dweights = [layer.reduce_kernel(dk) for layer, dk in zip(layers, dkernels)]
    if train_mode:
        for layer in layers:
            work = engines.update_work(layer, params)
            _merge(actions, work.actions)
            count = int(layer.weight_q.size)
            acc_bits = int(np.prod(layer.kernel_shape)) * params.accumulator_bits
            read = count * wbits + (acc_bits if acc_bits > params.gradient_buffer_bits else 0)
            write = count * wbits
            dram_read, dram_write = dram_read + read, dram_write + write
            update_steps.append(Step(layer.name, work.cycles, read + write))
            per_layer[layer.name]["wue"] += work.cycles
        if apply_update:
            for layer, dw, db in zip(layers, dweights, dbiases):
                layer.weight_q = fixed.updated_weights(layer.weight_q, dw, layer, params)
                if db is not None:
                    layer.bias_q = layer.bias_q - fixed.round_shift(
                        db * int(round(params.learning_rate * 2 ** fixed.LEARNING_RATE_FRAC_BITS)),
                        params.grad_frac_bits + fixed.LEARNING_RATE_FRAC_BITS - layer.exp)

    sched = run_pipeline(tiles, update_steps, params.pipeline, params.tiles_in_flight, params.dram_bits_per_cycle)
    actions.setdefault("dram", {})
    actions["dram"]["read"] = engines.ceil_div(dram_read, params.dram_width_bits)
    actions["dram"]["write"] = engines.ceil_div(dram_write, params.dram_width_bits)
    actions["control"] = {"cycle": sched.cycles}
    cycles = max(sched.cycles, 1)
    details = {
        "loss": loss_sum / batch if train_mode else None,
        "weights_resident": weights_resident,
        "tile_samples": tile_samples,
        "sparsity": {
            name: {
                "input_spike_rate": st["input_spikes"] / st["inputs"] if st["inputs"] else 0.0,
                "du_density": st["du_nonzero"] / st["du_total"] if st["du_total"] else None,
                "open_window_fraction_below": st["open_below"] / st["open_total"] if st["open_total"] else None,
                "backward_macs": st["macs"], "backward_macs_dense": st["macs_dense"],
            } for name, st in stats.items()},
        "utilisation": {e: sched.busy_cycles[e] / cycles for e in ENGINES},
        "dram_utilisation": sched.dram_busy_cycles / cycles,
        "stall_cycles": {e: {"dram": sched.stall_cycles[e], "queue": sched.queue_stall_cycles[e]} for e in ENGINES},
        "timeline": sched.timeline,
        "dram_bytes": {"read": dram_read // 8, "write": dram_write // 8},
    }
    trace = Trace(
        chip=chip.name, family="h2learn", workload=workload.name, mode=workload.mode, engine=engine,
        steps=steps, batch=batch, cycles=sched.cycles, clock_hz=params.clock_hz, actions=actions,
        synaptic_ops=int(synaptic_ops), spikes=int(spikes),
        cycles_breakdown={"engine": dict(sched.busy_cycles), "dram_busy": sched.dram_busy_cycles, "layer": per_layer},
        details=details,
        outputs=np.concatenate(outputs, axis=1).reshape((steps, batch) + tuple(workload.network.layers[-1].shape)),
    )
    return Iteration(trace, dweights, dbiases, details["loss"], layers)
