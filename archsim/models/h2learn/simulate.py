"""One training iteration (or one forward pass) of a workload on an h2learn chip -> Trace.

Order of work: the batch is cut into tiles of ``tiling.tile_samples``; for each tile the FE runs every
layer forward (membranes and spikes go to DRAM, as BPTT needs them), the BE runs the layers backward
(dL/du via the gradient unit, W^T dL/du into each projection's source layer), the WUE accumulates dL/dW
per projection. The arithmetic
is real (:mod:`.datapath`, or :mod:`.refstep` with ``engine="reference"``), the engines' work is counted on
that data (:mod:`.engines`), and the SimPy pipeline (:mod:`.pipeline`) turns work and DRAM traffic into
cycles. Gradients equal the golden quantised BPTT (:mod:`.golden`) bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.config import Chip
from archsim.errors import UserError
from archsim.graph.quantize import input_is_valued
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


def _check(workload, chip: Chip, engine: str) -> tuple[H2LearnParams, dict]:
    if engine not in ("fast", "reference"):
        raise UserError(f"--engine: {engine!r} is not allowed (allowed: fast, reference)")
    if workload.mode not in ("train", "infer"):
        raise UserError(f"--mode: {workload.mode!r} is not allowed (allowed: infer, train)")
    if workload.batch < 1 or workload.steps < 1:
        raise UserError(f"workload {workload.name!r}: batch {workload.batch} and steps {workload.steps} "
                        f"must be at least 1 (allowed: >= 1)")
    params = read_params(chip)
    missing = sorted(set(workload.network.inputs) - set(workload.inputs))
    if missing:
        raise UserError(f"workload {workload.name!r}: no data for network input {missing[0]!r} "
                        f"(allowed inputs: {', '.join(workload.network.inputs)})")
    inputs = {}
    for name in workload.network.inputs:
        x = np.asarray(workload.inputs[name])
        if x.shape[:2] != (workload.steps, workload.batch):
            raise UserError(f"workload {workload.name!r}: input {name!r} shape {x.shape} does not start with "
                            f"(steps {workload.steps}, batch {workload.batch})")
        inputs[name] = x
    if workload.mode == "train":
        if workload.labels is None or len(workload.labels) != workload.batch:
            raise UserError(f"workload {workload.name!r}: training needs labels, one per sample (--batch)")
    return params, inputs


def _tile_samples(layers: list[TrainLayer], params: H2LearnParams, chip: Chip, steps: int, mode: str) -> int:
    """Samples per tile: ``tiling.tile_samples``, lowered until the largest layer's inputs over T fit the
    activation buffer; a one-line error when even one sample (or one step's gradients) does not fit."""
    def input_bits(layer):
        return sum(p.in_size * p.input_planes for p in layer.projections)

    per_sample = steps * max(input_bits(layer) for layer in layers)
    if per_sample > params.activation_buffer_bits:
        worst = max(layers, key=input_bits)
        raise UserError(
            f"{chip.path}: components.activation_buffer.size_kb: {params.activation_buffer_bits / 8192:g} KB cannot "
            f"hold one tile (one sample) of layer {worst.name!r} (needs {per_sample / 8192:g} KB: T x inputs; "
            f"allowed: >= {per_sample / 8192:g})")
    for layer in layers:
        need = (sum(p.in_size for p in layer.projections) + layer.out_size) * params.grad_bits
        if mode == "train" and need > params.gradient_buffer_bits:
            raise UserError(
                f"{chip.path}: components.gradient_buffer.size_kb: {params.gradient_buffer_bits / 8192:g} KB cannot hold "
                f"one step of dL/du and dL/ds of layer {layer.name!r} (allowed: >= {need / 8192:g})")
        need = max(int(np.prod(p.kernel_shape[1:])) for p in layer.projections) * params.weight_bits
        if need > params.weight_buffer_bits:
            raise UserError(f"{chip.path}: components.weight_buffer.size_kb: {params.weight_buffer_bits / 8192:g} KB "
                            f"cannot hold one output channel's kernel of layer {layer.name!r} (allowed: >= {need / 8192:g})")
    return max(1, min(params.tile_samples, params.activation_buffer_bits // per_sample))


def _merge(total: dict, actions: dict) -> None:
    for comp, acts in actions.items():
        slot = total.setdefault(comp, {})
        for act, count in acts.items():
            slot[act] = slot.get(act, 0) + int(count)


def _fraction(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _sparsity(stats: dict, train_mode: bool) -> tuple[dict, dict]:
    """(fractions of zeros per layer, the backward MAC counts behind them).

    Fractions, each in [0, 1]: ``input_zero_fraction`` (zero spikes or input codes the FE sees),
    ``du_zero_fraction`` (zero dL/du the BE skips: input sparsity), ``source_closed_window_fraction``
    (neurons of the source layers whose surrogate window is closed, or u <= 0 for ReLU: output sparsity),
    ``skipped_backward_mac_fraction`` (backward MACs not performed out of the dense count). A kind a layer
    does not have (no backward in inference; no layer source) is left out."""
    fractions, macs = {}, {}
    for name, st in stats.items():
        row = {"input_zero_fraction": 1.0 - _fraction(st["input_nonzero"], st["inputs"])}
        if train_mode:
            row["du_zero_fraction"] = 1.0 - _fraction(st["du_nonzero"], st["du_total"])
            if st["open_total"]:
                row["source_closed_window_fraction"] = 1.0 - _fraction(st["open_below"], st["open_total"])
                row["skipped_backward_mac_fraction"] = 1.0 - _fraction(st["macs"], st["macs_dense"])
                macs[name] = {"performed": st["macs"], "dense": st["macs_dense"]}
        fractions[name] = row
    return fractions, macs


def run_iteration(workload, chip: Chip, engine: str = "fast", layers: list | None = None,
                  apply_update: bool = False) -> Iteration:
    """The work behind :func:`simulate`, with gradients; ``layers`` continues from an earlier iteration.

    ``Iteration.dweights`` lists one gradient per projection (the network weight's shape), layers in
    order and each layer's projections in order; ``dbiases`` one per layer."""
    params, x_raw = _check(workload, chip, engine)
    valued = {name for name, x in x_raw.items()   # recorded as values, or not 0/1 data
              if input_is_valued(workload.network, name) or np.any((x != 0) & (x != 1))}
    if layers is None:
        layers = build_layers(workload.network, params, valued_inputs=valued)
    train_mode = workload.mode == "train"
    steps, batch = workload.steps, workload.batch
    tile_samples = _tile_samples(layers, params, chip, steps, workload.mode)
    planes = {name: (params.activation_bits if name in valued else 1) for name in x_raw}
    x_q = {name: fixed.quantize_input(x, planes[name]) for name, x in x_raw.items()}
    labels = None if workload.labels is None else np.asarray(workload.labels, dtype=np.int64)
    index = {layer.name: li for li, layer in enumerate(layers)}

    weight_bits_total = sum(int(p.weight_q.size) for l in layers for p in l.projections) * params.weight_bits
    weights_resident = weight_bits_total <= params.weight_buffer_bits
    gbits, mbits, wbits = params.grad_bits, params.membrane_bits, params.weight_bits
    actions: dict = {}
    dram_read = dram_write = 0
    dkernels = [[np.zeros(p.kernel_shape, dtype=np.int64) for p in l.projections] for l in layers]
    dbiases = [None if l.bias_q is None else np.zeros(l.bias_q.shape, dtype=np.int64) for l in layers]
    per_layer = {l.name: {e: 0 for e in ENGINES} for l in layers}
    stats = {l.name: {"input_nonzero": 0, "inputs": 0, "du_nonzero": 0, "du_total": 0, "open_below": 0,
                      "open_total": 0, "macs": 0, "macs_dense": 0} for l in layers}
    tiles, loss_sum, synaptic_ops, spikes = [], 0.0, 0, 0
    outputs = []

    for b0 in range(0, batch, tile_samples):
        b1 = min(b0 + tile_samples, batch)
        tb = b1 - b0
        n = steps * tb
        tile_steps = {e: [] for e in ENGINES}
        acts = {name: x[:, b0:b1].reshape((steps, tb) + tuple(workload.network.inputs[name]))
                for name, x in x_q.items()}
        us, ss = [], []
        for li, layer in enumerate(layers):
            lut = engines.fe_uses_lut(layer, params)
            fe, cur = engines.EngineWork(), 0
            read = 0
            st = stats[layer.name]
            for p in layer.projections:
                x = acts[p.source]
                if engine == "fast":
                    part, work = datapath.currents(p, x), engines.fe_work(p, x, lut, params)
                else:
                    work, part = refstep.fe_reference(p, x, lut, params)
                cur = cur + part
                fe.merge(work)
                st["input_nonzero"] += int(np.count_nonzero(x))
                st["inputs"] += int(x.size)
                read += n * p.in_size * p.input_planes
                if not weights_resident or b0 == 0:
                    read += int(p.weight_q.size) * wbits
            if engine == "fast":
                u, s = datapath.neuron_forward(layer, cur, params)
                work = engines.EngineWork()
                engines.fe_neurons(work, layer, n, params)
            else:
                work, u, s = refstep.fe_neuron_reference(layer, cur, params)
            fe.merge(work)
            us.append(u)
            ss.append(s)
            acts[layer.name] = s
            _merge(actions, fe.actions)
            synaptic_ops += fe.stats["synaptic_ops"]
            if not layer.relu:
                spikes += int(s.sum())
            out_bits = params.activation_bits if layer.relu else 1
            write = n * layer.out_size * ((mbits + out_bits) if train_mode else out_bits)
            dram_read, dram_write = dram_read + read, dram_write + write
            tile_steps["fe"].append(Step(layer.name, fe.cycles, read + write))
            per_layer[layer.name]["fe"] += fe.cycles
        outputs.append(ss[-1])
        if not train_mode:
            tiles.append(tile_steps)
            continue

        d_out = {}
        d_out[layers[-1].name], loss = fixed.output_gradient(layers[-1], us[-1], ss[-1], labels[b0:b1], params)
        loss_sum += loss * tb
        for li in range(len(layers) - 1, -1, -1):
            layer = layers[li]
            ds = d_out.pop(layer.name, None)
            du = datapath.membrane_gradient(layer, np.zeros(us[li].shape, dtype=np.int64) if ds is None else ds,
                                            us[li], ss[li], params)
            be = engines.be_unit_work(layer, du, params) if engine == "fast" else \
                refstep.be_unit_reference(layer, du, params)
            wue = engines.EngineWork()
            # BE: reads u, s (and ds from the layers above), writes du; per layer source it reads that
            # source's membrane (the window) and writes its dL/d(output)
            be_read = n * layer.out_size * (mbits + 1) + (n * layer.out_size * gbits if li < len(layers) - 1 else 0)
            be_write = n * layer.out_size * gbits
            wue_read = wue_write = 0
            for pi, p in enumerate(layer.projections):
                x = acts[p.source]
                if engine == "fast":
                    wue.merge(engines.wue_work(p, du, x, params))
                    dkernels[li][pi] += datapath.weight_gradient(p, du, x)
                else:
                    work, dk = refstep.wue_reference(p, du, x, params)
                    wue.merge(work)
                    dkernels[li][pi] += dk
                # WUE: reads du and the projection's input; dW accumulators round-trip through DRAM unless they fit
                wue_read += n * layer.out_size * gbits + n * p.in_size * p.input_planes
                acc_bits = int(np.prod(p.kernel_shape)) * params.accumulator_bits
                if acc_bits > params.gradient_buffer_bits:
                    wue_read += acc_bits if b0 else 0
                    wue_write += acc_bits
                if p.source not in index:
                    continue
                si = index[p.source]
                open_src = fixed.output_open(layers[si], us[si])
                if engine == "fast":
                    work, sums = engines.be_spatial_work(p, du, open_src, params), datapath.backward_sums(p, du)
                else:
                    work, sums = refstep.be_spatial_reference(p, du, open_src, params)
                be.merge(work)
                part = fixed.spatial_gradient(sums, layer, params, layers[si], open_src).reshape(us[si].shape)
                d_out[p.source] = fixed.add_gradients(d_out.get(p.source), part, params)
                be_read += n * p.in_size * mbits
                be_write += n * p.in_size * gbits
                if not weights_resident:
                    be_read += int(p.weight_q.size) * wbits
            if dbiases[li] is not None:
                dbiases[li] += du.sum(axis=(0, 1, 3, 4))
            _merge(actions, be.actions)
            _merge(actions, wue.actions)
            for key in ("du_nonzero", "du_total", "open_below", "open_total", "macs", "macs_dense"):
                stats[layer.name][key] += int(be.stats.get(key, 0))
            dram_read += be_read + wue_read
            dram_write += be_write + wue_write
            tile_steps["be"].append(Step(layer.name, be.cycles, be_read + be_write))
            tile_steps["wue"].append(Step(layer.name, wue.cycles, wue_read + wue_write))
            per_layer[layer.name]["be"] += be.cycles
            per_layer[layer.name]["wue"] += wue.cycles
        tiles.append(tile_steps)

    update_steps = []
    dweights = [[p.reduce_kernel(dk) for p, dk in zip(layer.projections, dks)] for layer, dks in zip(layers, dkernels)]
    if train_mode:
        for layer in layers:
            work = engines.update_work(layer, params)
            _merge(actions, work.actions)
            count = sum(int(p.weight_q.size) for p in layer.projections)
            acc_bits = sum(int(np.prod(p.kernel_shape)) * params.accumulator_bits for p in layer.projections)
            read = count * wbits + (acc_bits if acc_bits > params.gradient_buffer_bits else 0)
            write = count * wbits
            dram_read, dram_write = dram_read + read, dram_write + write
            update_steps.append(Step(layer.name, work.cycles, read + write))
            per_layer[layer.name]["wue"] += work.cycles
        if apply_update:
            lr_q = int(round(params.learning_rate * 2 ** fixed.LEARNING_RATE_FRAC_BITS))
            for layer, dws, db in zip(layers, dweights, dbiases):
                for p, dw in zip(layer.projections, dws):
                    p.weight_q = fixed.updated_weights(p.weight_q, dw, layer, params)
                if db is not None:
                    layer.bias_q = layer.bias_q - fixed.round_shift(
                        db * lr_q, params.grad_frac_bits + fixed.LEARNING_RATE_FRAC_BITS - layer.exp)

    sched = run_pipeline(tiles, update_steps, params.pipeline, params.tiles_in_flight, params.dram_bits_per_cycle)
    actions.setdefault("dram", {})
    actions["dram"]["read"] = engines.ceil_div(dram_read, params.dram_width_bits)
    actions["dram"]["write"] = engines.ceil_div(dram_write, params.dram_width_bits)
    actions["control"] = {"cycle": sched.cycles}
    cycles = max(sched.cycles, 1)
    fractions, backward_macs = _sparsity(stats, train_mode)
    details = {
        "loss": loss_sum / batch if train_mode else None,
        "weights_resident": weights_resident,
        "tile_samples": tile_samples,
        "sparsity": fractions,
        "backward_macs": backward_macs,
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
    return Iteration(trace, [dw for per_layer in dweights for dw in per_layer], dbiases, details["loss"], layers)
