"""One training iteration (or one forward pass) of a workload on an h2learn chip -> Trace.

Order of work: the batch is cut into tiles of ``tiling.tile_samples``; for each tile the FE runs every
layer forward (membranes and spikes go to DRAM, as BPTT needs them), the BE runs the layers backward
(dL/du via the gradient unit, W^T dL/du into each projection's source layer), the WUE accumulates dL/dW
per projection (a layer whose accumulators the dataflow blocks runs its WUE pass after the last tile,
before the weight update: :mod:`.dataflow`). The arithmetic
is real (:mod:`.datapath`, or :mod:`.refstep` with ``engine="reference"``), the engines' work is counted on
that data (:mod:`.engines`), and the SimPy pipeline (:mod:`.pipeline`) turns work and DRAM traffic into
cycles. Gradients equal the golden quantised BPTT (:mod:`.golden`) bit for bit.

Per-layer actions (``Trace.actions_by_layer``): each engine's work on a layer is that layer's; DRAM
accesses are the layer's bits in whole ``dram_width_bits`` words (rounded down); left shared: the
control cycles and the DRAM words that rounding the per-layer bits down leaves over (at most one per
layer and direction).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archsim.config import Chip
from archsim.errors import UserError
from archsim.graph.quantize import input_is_valued
from archsim.graph.plasticity import plastic_projections
from archsim.models.h2learn import dataflow, datapath, engines, fixed, refstep
from archsim.models.h2learn.layers import TrainLayer, build_layers
from archsim.models.h2learn.params import H2LearnParams, read_params
from archsim.models.h2learn.pipeline import ENGINES, Step, run_pipeline
from archsim.trace import Trace


@dataclass
class Iteration:
    """A simulated iteration: its Trace, the weight gradients (network weight shapes), the tdBN gradients,
    and the layers (``weight_q`` and tdBN's gamma and beta updated in place when ``apply_update`` was asked)."""

    trace: Trace
    dweights: list
    dbiases: list
    loss: float | None
    layers: list
    dbn: list = None     # per projection, layers in order: (dgamma, dbeta) of its tdBN, or None


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
    def input_bits(layer):    # a tdBN projection's currents also wait there between the FE's two passes
        return sum(p.source_size * p.source_planes for p in layer.projections) \
            + sum(sc.size * sc.planes for sc in layer.shortcuts) \
            + sum(p.out_size * params.membrane_bits for p in layer.projections if p.bn is not None)

    per_sample = steps * max(input_bits(layer) for layer in layers)
    if per_sample > params.activation_buffer_bits:
        worst = max(layers, key=input_bits)
        raise UserError(
            f"{chip.path}: components.activation_buffer.size_kb: {params.activation_buffer_bits / 8192:g} KB cannot "
            f"hold one tile (one sample) of layer {worst.name!r} (needs {per_sample / 8192:g} KB: "
            f"T x inputs and tdBN currents; "
            f"allowed: >= {per_sample / 8192:g})")
    for layer in layers:
        need = (sum(p.in_size for p in layer.projections) + sum(sc.size for sc in layer.shortcuts)
                + layer.out_size) * params.grad_bits
        if mode == "train" and need > params.gradient_buffer_bits:
            raise UserError(
                f"{chip.path}: components.gradient_buffer.size_kb: {params.gradient_buffer_bits / 8192:g} KB cannot hold "
                f"one step of dL/du and dL/ds of layer {layer.name!r} (allowed: >= {need / 8192:g})")
        need = max(int(np.prod(p.kernel_shape[1:])) for p in layer.projections) * params.weight_bits
        if need > params.weight_buffer_bits:
            raise UserError(f"{chip.path}: components.weight_buffer.size_kb: {params.weight_buffer_bits / 8192:g} KB "
                            f"cannot hold one output channel's kernel of layer {layer.name!r} (allowed: >= {need / 8192:g})")
    return max(1, min(params.tile_samples, params.activation_buffer_bits // per_sample))


OP_KEYS = ("forward_macs_dense", "forward_macs_performed", "backward_macs_dense", "backward_macs_performed",
           "update_macs_dense", "update_macs_performed", "lut_builds", "lut_reads", "pool_adds", "shortcut_adds",
           "fork_adds", "bn_elements")


def _ops(tally) -> dict:
    """Per-layer op counts: the MAC counts (dense = the arithmetic K*C*R*S*E*F*T*B on the pooled shape,
    padded taps included; performed = on non-zero operands: a non-zero input for the forward, a non-zero
    dL/du and an open source window for the backward, a non-zero dL/du and a non-zero input for the update),
    LUT entries written (``lut_builds``) and read, FE and WUE together, the pool adds, the identity shortcuts'
    FE adds (``shortcut_adds``), the BE's fork sums (``fork_adds``), the neuron-steps tdBN normalised
    (``bn_elements``), and DRAM bytes by tensor."""
    out = {}
    for name, ops in tally.ops.items():
        acts = tally.actions_by_layer[name]
        row = {key: int(ops[key]) for key in OP_KEYS}
        row["lut_builds"] = acts.get("fe_lut", {}).get("write", 0) + acts.get("wue_lut", {}).get("write", 0)
        row["lut_reads"] = acts.get("fe_lut", {}).get("read", 0) + acts.get("wue_lut", {}).get("read", 0)
        row["dram_bytes"] = {t: ops["dram_bits"][t] // 8 for t in dataflow.TENSORS}
        out[name] = row
    return out


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


@dataclass
class _Tally:
    """What one iteration accumulates over its tiles: the fixed context (layers, params, engine) and the
    actions, DRAM bits, per-layer statistics and cycles, and the gradients."""

    layers: list
    params: H2LearnParams
    engine: str
    train_mode: bool
    weights_resident: bool
    shapes: tuple = ()
    mappings: tuple = ()
    actions: dict = field(default_factory=dict)
    dram_read: int = 0
    dram_write: int = 0
    actions_by_layer: dict = field(default_factory=dict)
    dram_bits_by_layer: dict = field(default_factory=dict)
    synaptic_ops: int = 0
    spikes: int = 0
    loss_sum: float = 0.0
    stats: dict = field(default_factory=dict)
    per_layer: dict = field(default_factory=dict)
    dkernels: list = field(default_factory=list)
    dbiases: list = field(default_factory=list)
    blocked: dict = field(default_factory=dict)     # layer -> the WUE's blocked pass (all tiles' work)
    pe_blocks: dict = field(default_factory=dict)   # engine -> blocked phases' busiest-PE and even cycles

    def __post_init__(self):
        self.index = {layer.name: li for li, layer in enumerate(self.layers)}
        self.stats = {l.name: {"input_nonzero": 0, "inputs": 0, "du_nonzero": 0, "du_total": 0, "open_below": 0,
                               "open_total": 0, "macs": 0, "macs_dense": 0} for l in self.layers}
        self.per_layer = {l.name: {e: 0 for e in ENGINES} for l in self.layers}
        self.pe_blocks = {e: {"busiest_cycles": 0, "even_cycles": 0} for e in ENGINES}
        self.ops = {l.name: dict({key: 0 for key in OP_KEYS}, dram_bits=dict.fromkeys(dataflow.TENSORS, 0))
                    for l in self.layers}
        self.actions_by_layer = {l.name: {} for l in self.layers}
        self.dram_bits_by_layer = {l.name: {"read": 0, "write": 0} for l in self.layers}
        self.dkernels = [[np.zeros(p.kernel_shape, dtype=np.int64) for p in l.projections] for l in self.layers]
        self.dbiases = [None if l.bias_q is None else np.zeros(l.bias_q.shape, dtype=np.int64) for l in self.layers]
        self.dbn = [[None if p.bn is None else [np.zeros(p.bn.gamma_q.shape, dtype=np.int64),
                                                np.zeros(p.bn.gamma_q.shape, dtype=np.int64)]
                     for p in l.projections] for l in self.layers]

    def step_traffic(self, engine: str, layer, work, bits: dict) -> Step:
        """:meth:`step` with DRAM bits by tensor ({"read"|"write": {tensor: bits}}), booked per tensor."""
        tensors = self.ops[layer.name]["dram_bits"]
        for rw in bits.values():
            for tensor, n in rw.items():
                tensors[tensor] += n
        return self.step(engine, layer, work, sum(bits["read"].values()), sum(bits["write"].values()))

    def step(self, engine: str, layer, work, read_bits: int, write_bits: int) -> Step:
        """Book one engine's work on one layer of a tile; the pipeline Step that stands for it."""
        _merge(self.actions, work.actions)
        _merge(self.actions_by_layer[layer.name], work.actions)
        self.dram_read += read_bits
        self.dram_write += write_bits
        self.dram_bits_by_layer[layer.name]["read"] += read_bits
        self.dram_bits_by_layer[layer.name]["write"] += write_bits
        self.per_layer[layer.name][engine] += work.cycles
        self.pe_blocks[engine]["busiest_cycles"] += int(work.stats.get("block_cycles", 0))
        self.pe_blocks[engine]["even_cycles"] += int(work.stats.get("even_cycles", 0))
        return Step(layer.name, work.cycles, read_bits + write_bits)


def _forward_tile(tally: _Tally, acts: dict, n: int, first_tile: bool) -> tuple[list, list, list, dict]:
    """FE over every layer of one tile; ``acts`` (network inputs) gains each layer's output.
    Returns the membranes, the outputs, the FE's pipeline steps and the tdBN state ((layer, projection)
    -> (x_hat, 1/sigma)) the BE needs."""
    params, fast = tally.params, tally.engine == "fast"
    us, ss, steps, bn_state = [], [], [], {}
    for li, layer in enumerate(tally.layers):
        lut = engines.fe_uses_lut(layer, params)
        fe, cur = engines.EngineWork(), 0
        st, ops = tally.stats[layer.name], tally.ops[layer.name]
        for pi, p in enumerate(layer.projections):
            x = p.gather(acts[p.source])
            fe.merge(engines.fe_pool_work(p, n, params))
            if fast:
                part, work = datapath.currents(p, x), engines.fe_work(p, x, lut, params)
            else:
                work, part = refstep.fe_reference(p, x, lut, params)
            fe.merge(work)
            if p.bn is not None:
                part, bn_state[li, pi] = _bn_forward(tally, fe, layer, p, part)
                ops["bn_elements"] += int(part.size)
            cur = cur + part
            st["input_nonzero"] += int(np.count_nonzero(x))
            st["inputs"] += int(x.size)
            ops["forward_macs_dense"] += engines.dense_macs(p, n)
            ops["forward_macs_performed"] += engines.forward_macs_performed(p, x)
            ops["pool_adds"] += n * p.pool_adds_per_sample_step
        for sc in layer.shortcuts:
            x = acts[sc.source]
            if fast:
                part, work = sc.current(x), engines.fe_shortcut_work(sc, x, params)
            else:
                work, part = refstep.fe_shortcut_reference(sc, x, params)
            cur = cur + part
            fe.merge(work)
            ops["shortcut_adds"] += work.stats["shortcut_adds"]
        if fast:
            u, s = datapath.neuron_forward(layer, cur, params)
            work = engines.EngineWork()
            engines.fe_neurons(work, layer, n, params)
        else:
            work, u, s = refstep.fe_neuron_reference(layer, cur, params)
        fe.merge(work)
        if tally.train_mode and tally.mappings[li].window == "mask" and not layer.readout:
            fe.add("fe_neuron_cmp", "compare", 2 * n * layer.out_size)   # the window test |u - V| < a/2
        us.append(u)
        ss.append(s)
        acts[layer.name] = s
        tally.synaptic_ops += fe.stats["synaptic_ops"]
        if not layer.relu:
            tally.spikes += int(s.sum())
        bits = dataflow.traffic(tally.shapes[li], tally.mappings[li], n, first_tile, tally.train_mode,
                                tally.weights_resident, params)["fe"]
        steps.append(tally.step_traffic("fe", layer, fe, bits))
    return us, ss, steps, bn_state


def _backward_tile(tally: _Tally, acts: dict, us: list, ss: list, labels: np.ndarray, n: int,
                   first_tile: bool, bn_state: dict) -> tuple[list, list]:
    """BE and WUE over the layers of one tile, last layer first; the BE's and the WUE's pipeline steps."""
    params, layers, fast = tally.params, tally.layers, tally.engine == "fast"
    d_out = {}
    d_out[layers[-1].name], loss = fixed.output_gradient(layers[-1], us[-1], ss[-1], labels, params)
    tally.loss_sum += loss * len(labels)
    be_steps, wue_steps = [], []
    for li in range(len(layers) - 1, -1, -1):
        layer = layers[li]
        ops = tally.ops[layer.name]
        ds = d_out.pop(layer.name, None)
        du = datapath.membrane_gradient(layer, np.zeros(us[li].shape, dtype=np.int64) if ds is None else ds,
                                        us[li], ss[li], params)
        be = engines.be_unit_work(layer, du, params) if fast else refstep.be_unit_reference(layer, du, params)
        wue = engines.EngineWork()
        layer_du = du
        for pi, p in enumerate(layer.projections):
            x = p.gather(acts[p.source])
            du = layer_du
            if p.bn is not None:       # dL/d(current) of this projection, through its tdBN
                du = _bn_backward(tally, be, li, pi, layer_du, bn_state[li, pi])
            if fast:
                wue.merge(engines.wue_work(p, du, x, params))
                tally.dkernels[li][pi] += datapath.weight_gradient(p, du, x)
            else:
                work, dk = refstep.wue_reference(p, du, x, params)
                wue.merge(work)
                tally.dkernels[li][pi] += dk
            ops["update_macs_dense"] += engines.dense_macs(p, n)
            ops["update_macs_performed"] += engines.update_macs_performed(p, du, x)
            if p.source not in tally.index:
                continue   # a network input needs no gradient
            si = tally.index[p.source]
            open_src = fixed.output_open(layers[si], us[si])
            open_in = p.gather_open(open_src)
            if fast:
                work, sums = engines.be_spatial_work(p, du, open_in, params), datapath.backward_sums(p, du)
            else:
                work, sums = refstep.be_spatial_reference(p, du, open_in, params)
            be.merge(work)
            ops["backward_macs_dense"] += engines.dense_macs(p, n)
            ops["backward_macs_performed"] += work.stats["macs"]
            part = fixed.spatial_gradient(p.scatter(sums), layer, params, layers[si],
                                          open_src.reshape(us[si].shape)).reshape(us[si].shape)
            _send(tally, be, d_out, p.source, part, open_src)
        du = layer_du
        for sc in layer.shortcuts:
            if sc.source not in tally.index:
                continue
            si = tally.index[sc.source]
            open_src = fixed.output_open(layers[si], us[si])
            if fast:
                work, sums = engines.be_shortcut_work(sc, du, params), sc.backward_sums(du)
            else:
                work, sums = refstep.be_shortcut_reference(sc, du, params)
            be.merge(work)
            part = fixed.spatial_gradient(sums.reshape(us[si].shape), layer, params, layers[si], open_src)
            _send(tally, be, d_out, sc.source, part, open_src)
        ops["fork_adds"] += int(be.stats.get("fork_adds", 0))
        if tally.dbiases[li] is not None:
            tally.dbiases[li] += du.sum(axis=(0, 1, 3, 4))
        for key in ("du_nonzero", "du_total", "open_below", "open_total", "macs", "macs_dense"):
            tally.stats[layer.name][key] += int(be.stats.get(key, 0))
        bits = dataflow.traffic(tally.shapes[li], tally.mappings[li], n, first_tile, True, tally.weights_resident,
                                params)
        be_steps.append(tally.step_traffic("be", layer, be, bits["be"]))
        step = tally.step_traffic("wue", layer, wue, bits["wue"])
        if tally.mappings[li].dw == "blocked":   # its accumulators are not on chip while the tiles go by
            done = tally.blocked.setdefault(layer.name, Step(layer.name, 0, 0))
            done.compute_cycles += step.compute_cycles
            done.dram_bits += step.dram_bits
        else:
            wue_steps.append(step)
    return be_steps, wue_steps


def _bn_forward(tally: _Tally, fe: engines.EngineWork, layer, proj, part: np.ndarray) -> tuple[np.ndarray, tuple]:
    """tdBN of one projection's tile currents on the FE (booked on ``fe``): (normalised currents, the state
    (x_hat, 1/sigma) its backward needs)."""
    params = tally.params
    if tally.engine == "fast":
        mean_q, inv_q = fixed.bn_statistics(part, proj.bn.eps_q)
        y, xhat = fixed.bn_forward(part, mean_q, inv_q, proj.bn, layer.threshold_q, params)
        work, state = engines.fe_bn_work(int(part.size), params), (xhat, inv_q)
    else:
        work, y, state = refstep.fe_bn_reference(proj, part, layer, params)
    fe.merge(work)
    return y, state


def _bn_backward(tally: _Tally, be: engines.EngineWork, li: int, pi: int, du: np.ndarray, state: tuple) -> np.ndarray:
    """tdBN backward of projection ``pi`` of layer ``li`` on the BE (booked on ``be``): dL/d(its current);
    dgamma and dbeta accumulate for the update."""
    layer = tally.layers[li]
    proj, params = layer.projections[pi], tally.params
    if tally.engine == "fast":
        dx, dgamma, dbeta = fixed.bn_backward(du, *state, proj.bn, layer.threshold_q, layer.exp, params)
        work = engines.be_bn_work(int(du.size), params)
    else:
        work, dx, dgamma, dbeta = refstep.be_bn_reference(proj, du, state, layer, params)
    be.merge(work)
    tally.dbn[li][pi][0] += dgamma
    tally.dbn[li][pi][1] += dbeta
    return dx


def _send(tally: _Tally, be: engines.EngineWork, d_out: dict, source: str, part: np.ndarray,
          open_src: np.ndarray) -> None:
    """Add one consumer's gradient part to ``source``'s dL/ds; a second or later part is a fork sum on the
    BE (:func:`.engines.be_fork_work`), booked on this consumer's BE work."""
    if source in d_out:
        fork = engines.be_fork_work(open_src, tally.params) if tally.engine == "fast" \
            else refstep.be_fork_reference(open_src, tally.params)
        be.merge(fork)
    d_out[source] = fixed.add_gradients(d_out.get(source), part, tally.params)


def _update(tally: _Tally, dweights: list, apply_update: bool) -> list:
    """The WUE's work after the last tile (its pipeline steps): the blocked layers' passes over the batch
    (in the order the backward reached them), then the weight update of every layer, applied to the
    layers if asked."""
    params = tally.params
    steps = list(tally.blocked.values())
    for li, layer in enumerate(tally.layers):
        bits = dataflow.update_traffic(tally.shapes[li], tally.mappings[li])
        steps.append(tally.step_traffic("wue", layer, engines.update_work(layer, params), bits))
    if apply_update:
        lr_q = int(round(params.learning_rate * 2 ** fixed.LEARNING_RATE_FRAC_BITS))
        for layer, dws, db in zip(tally.layers, dweights, tally.dbiases):
            for p, dw in zip(layer.projections, dws):
                p.weight_q = fixed.updated_weights(p.weight_q, dw, layer, params)
            if db is not None:
                layer.bias_q = layer.bias_q - fixed.round_shift(
                    db * lr_q, params.grad_frac_bits + fixed.LEARNING_RATE_FRAC_BITS - layer.exp)
        for layer, bns in zip(tally.layers, tally.dbn):
            for p, d in zip(layer.projections, bns):
                if d is not None:
                    fixed.bn_updated(p.bn, d[0], d[1], layer.exp, params)
    return steps


def run_iteration(workload, chip: Chip, engine: str = "fast", layers: list | None = None,
                  apply_update: bool = False) -> Iteration:
    """The work behind :func:`simulate`, with gradients; ``layers`` continues from an earlier iteration.

    ``Iteration.dweights`` lists one gradient per projection (the network weight's shape), layers in
    order and each layer's projections in order; ``dbiases`` one per layer."""
    params, x_raw = _check(workload, chip, engine)
    plastic = plastic_projections(workload.network)
    if plastic:
        layer, _, proj = plastic[0]
        raise UserError(f"{workload.network.name} on {chip.name}: layer {layer.name}'s projection from {proj.source} "
                        "learns locally, which this accelerator's BPTT engines do not model (allowed: a many-core "
                        "chip, which runs the rule in its learn phase)")
    valued = {name for name, x in x_raw.items()   # recorded as values, or not 0/1 data
              if input_is_valued(workload.network, name) or np.any((x != 0) & (x != 1))}
    train_mode = workload.mode == "train"
    if layers is None:
        layers = build_layers(workload.network, params, valued_inputs=valued, batch_norm=train_mode)
    steps, batch = workload.steps, workload.batch
    tile_samples = _tile_samples(layers, params, chip, steps, workload.mode)
    x_q = {name: fixed.quantize_input(x, params.activation_bits if name in valued else 1) for name, x in x_raw.items()}
    labels = None if workload.labels is None else np.asarray(workload.labels, dtype=np.int64)
    weight_bits_total = sum(int(p.weight_q.size) for l in layers for p in l.projections) * params.weight_bits
    resident = weight_bits_total <= params.weight_buffer_bits
    by_name = {layer.name: layer for layer in layers}
    shapes = tuple(dataflow.layer_shape(layer, by_name, params, li == len(layers) - 1) for li, layer in enumerate(layers))
    tile_steps = tuple(steps * (min(b0 + tile_samples, batch) - b0) for b0 in range(0, batch, tile_samples))
    mappings = dataflow.search(shapes, tile_steps, train_mode, resident, params)
    tally = _Tally(layers, params, engine, train_mode, weights_resident=resident, shapes=shapes, mappings=mappings)

    tiles, outputs = [], []
    for b0 in range(0, batch, tile_samples):
        b1 = min(b0 + tile_samples, batch)
        acts = {name: x[:, b0:b1].reshape((steps, b1 - b0) + tuple(workload.network.inputs[name]))
                for name, x in x_q.items()}
        n = steps * (b1 - b0)
        us, ss, fe_steps, bn_state = _forward_tile(tally, acts, n, first_tile=b0 == 0)
        outputs.append(ss[-1])
        be_steps, wue_steps = _backward_tile(tally, acts, us, ss, labels[b0:b1], n, b0 == 0, bn_state) \
            if train_mode else ([], [])
        tiles.append({"fe": fe_steps, "be": be_steps, "wue": wue_steps})

    dweights = [[p.reduce_kernel(dk) for p, dk in zip(layer.projections, dks)]
                for layer, dks in zip(layers, tally.dkernels)]
    update_steps = _update(tally, dweights, apply_update) if train_mode else []

    sched = run_pipeline(tiles, update_steps, params.pipeline, params.tiles_in_flight, params.dram_bits_per_cycle)
    actions = tally.actions
    actions.setdefault("dram", {})
    actions["dram"]["read"] = engines.ceil_div(tally.dram_read, params.dram_width_bits)
    actions["dram"]["write"] = engines.ceil_div(tally.dram_write, params.dram_width_bits)
    actions["control"] = {"cycle": sched.cycles}
    by_layer = tally.actions_by_layer
    for name, bits in tally.dram_bits_by_layer.items():
        words = {action: n // params.dram_width_bits for action, n in bits.items()}
        if any(words.values()):
            by_layer[name]["dram"] = words
    cycles = max(sched.cycles, 1)
    fractions, backward_macs = _sparsity(tally.stats, train_mode)
    details = {
        "loss": tally.loss_sum / batch if train_mode else None,
        "weights_resident": tally.weights_resident,
        "tile_samples": tile_samples,
        "sparsity": fractions,
        "backward_macs": backward_macs,
        "utilisation": {e: sched.busy_cycles[e] / cycles for e in ENGINES},
        "pe_blocks": tally.pe_blocks,
        "dram_utilisation": sched.dram_busy_cycles / cycles,
        "stall_cycles": {e: {"dram": sched.stall_cycles[e], "queue": sched.queue_stall_cycles[e]} for e in ENGINES},
        "timeline": sched.timeline,
        "dram_bytes": {"read": tally.dram_read // 8, "write": tally.dram_write // 8},
        "mapping": {layer.name: m.describe() for layer, m in zip(layers, mappings)},
        "gradient_buffer_bits_used": dataflow.gradient_buffer_use(shapes, mappings, len(tile_steps),
                                                                  max(tile_steps), params)
        if train_mode else 0,
        "ops": _ops(tally),
        # beside synaptic_ops (forward events on existing synapses): the dense forward MACs, zeros included
        # (gpu_detail.forward_macs of the GPU model), and the training work, never folded into synaptic_ops
        "forward_macs": sum(ops["forward_macs_dense"] for ops in tally.ops.values()),
        "training_macs": {"backward": sum(ops["backward_macs_performed"] for ops in tally.ops.values()),
                          "update": sum(ops["update_macs_performed"] for ops in tally.ops.values())}
        if train_mode else None,
    }
    trace = Trace(
        chip=chip.name, family="h2learn", workload=workload.name, mode=workload.mode, engine=engine,
        steps=steps, batch=batch, cycles=sched.cycles, clock_hz=params.clock_hz, actions=actions,
        actions_by_layer=by_layer, synaptic_ops=int(tally.synaptic_ops), spikes=int(tally.spikes),
        cycles_breakdown={"engine": dict(sched.busy_cycles), "dram_busy": sched.dram_busy_cycles,
                          "layer": tally.per_layer},
        details=details,
        outputs=np.concatenate(outputs, axis=1).reshape((steps, batch) + tuple(workload.network.layers[-1].shape)),
    )
    return Iteration(trace, [dw for per_layer in dweights for dw in per_layer], tally.dbiases, details["loss"], layers,
                     [None if d is None else tuple(d) for per_layer in tally.dbn for d in per_layer])
