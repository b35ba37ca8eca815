"""The kernels a PyTorch-style SNN framework launches for a workload, with exact FLOPs and bytes.

Two framework styles (``runtime.framework`` in the GPU config):

* ``eager`` (the default: snnTorch, the most used SNN library, and Norse run this way): the network
  runs one time step at a time; at every step every layer launches its synapse kernels (one GEMM,
  convolution, pooling or scaling per linear op; Flatten is a view), an ``add`` per extra projection,
  and then the neuron update as PyTorch eager code launches it, one small elementwise kernel per
  tensor operation (``EAGER_FORWARD``: for LIF, decay, gain, integrate, threshold shift, compare,
  cast, one-minus, reset: 8 kernels, the code of ``bench/gpu_measure.py``; snnTorch's ``Leaky`` with
  subtract reset launches about as many). Autograd's backward of those operations is listed in
  ``EAGER_BACKWARD`` (the fast-sigmoid surrogate alone is 5 kernels: abs, scale, add, square,
  divide). Step 0 is counted like the others (its decay of a zero state is one kernel too many).
* ``fused`` (SpikingJelly's multi-step mode with its CuPy neuron kernels): each layer runs over the
  whole sequence at once: every linear op is one kernel over ``T x B`` samples, the neuron update one
  kernel over all ``T`` steps (state kept in registers; reads the input current, writes the output,
  plus the pre-reset membrane h when training), and backward one kernel over all steps with the
  surrogate fused in. Weight gradients then need no per-step accumulation. A network with a
  recurrent projection cannot be run layer by layer: it runs step by step with one fused neuron
  kernel per layer and step (``NEURON_UPDATE`` / ``NEURON_BACKWARD`` with a separate ``surrogate``).

Training (BPTT) then walks the steps backwards: gradient sums, surrogate, the neuron's temporal
backward, and the data- and weight-gradient kernels of every op, with PyTorch's per-use accumulation
of parameter gradients; after the loss (time-summed output, softmax cross-entropy) one Adam kernel per
parameter tensor.

L2 reuse (``l2_reuse_bytes`` of a kernel's reads could be served by L2 when the bytes touched since
they were last used, ``reuse_distance_bytes``, fit in its usable share; :mod:`archsim.gpu.l2` decides):
a tensor written by an earlier kernel of the same layer's chain at the same step (the synapse output
read by the neuron update, each intermediate of the eager neuron update) has the chain's total
traffic as reuse distance; a weight read again at the next step (forward GEMMs and data-gradient
GEMMs from step to step) has one whole step's traffic; ``grad_accumulate`` reads the weight gradient
just written. These distances are upper bounds (traffic counted, not distinct bytes).

Counting rules (tests re-derive them by hand). ``B`` batch, ``e`` bytes per element (4 for fp32,
2 for fp16), ``N`` a layer's neurons, bytes = every tensor element a kernel reads plus every one it
writes, each once (all traffic to and from the memory hierarchy; which of it reaches DRAM is
:mod:`archsim.gpu.l2`'s call):

* ``dense`` (out x in): FLOPs ``2 B in out (+ B out bias)``; reads ``e (B in + in out (+ out))``,
  writes ``e B out``. ``conv``: MACs = ``B C_out OH OW C_in/g kh kw``, FLOPs ``2 MACs (+ B C_out OH OW)``,
  reads input, weight (and bias), writes output. ``pool``: ``B C OH OW kh kw`` FLOPs, reads input,
  writes output. ``scale``: ``B N`` FLOPs, reads input (and a per-element scale), writes output.
* fused neuron update per step (recurrent networks), per element (FLOPs; tensors read; tensors written):
  LIF (decay multiply, gain multiply-add, compare, reset: 5; current and v; v and spikes, plus the
  pre-reset membrane h kept for BPTT when training), CubaLIF (8; current, i, v; i, v, spikes, + h),
  LI (3; current, v; v), Threshold (1; current; spikes), ReLU (1; input; output), Identity (none).
* backward per step: ``surrogate`` (fast-sigmoid derivative, 6 FLOPs/element; reads h, writes it),
  ``<neuron>_backward`` (LIF: 4 FLOPs; reads dL/ds, surrogate and dL/dh of step t+1 (not at the last
  step); writes dL/dh and dL/dcurrent), ``dense_dgrad`` / ``conv_dgrad`` (same FLOPs as forward without
  bias; reads output gradient and weight, writes input gradient; only where the input comes from a
  layer), ``dense_wgrad`` / ``conv_wgrad`` (same FLOPs; reads output gradient and saved input, writes
  the weight gradient), ``bias_grad`` (reduction), ``grad_accumulate`` (adds a parameter's gradient of
  this step into the one of later steps: every step but the first processed), ``grad_add`` (sums the
  gradients reaching one layer output from several consumers).
* once per iteration: ``loss_time_sum`` (reads T B N, writes B N), ``cross_entropy`` (5 FLOPs per
  logit, int64 labels), ``cross_entropy_backward`` (3 FLOPs per logit), ``adam`` per parameter tensor
  (12 FLOPs per element; reads parameter, gradient, m, v and writes parameter, m, v, all fp32: 28 bytes).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from archsim.graph import network as nw
from archsim.graph.workload import Workload

ADAM_FLOPS_PER_ELEMENT = 12
ADAM_READ_BYTES = 16          # parameter, gradient, m, v: fp32 each
ADAM_WRITE_BYTES = 12         # parameter, m, v
LABEL_BYTES = 8               # int64 class indices
SURROGATE_FLOPS = 6           # fast sigmoid derivative 1 / (1 + k |h - threshold|)^2

# neuron class -> (kernel name, FLOPs per element, tensors read, tensors written, extra written for BPTT)
NEURON_UPDATE = {
    nw.LIF: ("lif_update", 5, 2, 2, 1),
    nw.CubaLIF: ("cuba_lif_update", 8, 3, 3, 1),
    nw.LI: ("li_update", 3, 2, 1, 0),
    nw.Threshold: ("threshold", 1, 1, 1, 0),
    nw.ReLU: ("relu", 1, 1, 1, 0),
}
# neuron class -> (kernel name, FLOPs per element, tensors read at t < T-1, at t = T-1, written, surrogate?)
NEURON_BACKWARD = {
    nw.LIF: ("lif_backward", 4, 3, 2, 2, True),
    nw.CubaLIF: ("cuba_lif_backward", 7, 4, 2, 3, True),
    nw.LI: ("li_backward", 3, 2, 1, 2, False),
    nw.Threshold: ("threshold_backward", 1, 2, 2, 1, True),
    nw.ReLU: ("relu_backward", 1, 2, 2, 1, False),
}


@dataclass(frozen=True)
class ElementwiseOp:
    """One eager elementwise kernel of a neuron update, per element: FLOPs, tensors read and written.

    ``reads`` come from earlier steps or layers, ``chained_reads`` were written earlier in the same
    layer's chain at this step; ``bool_*`` are 1-byte masks (comparison results).
    """

    name: str
    flops: int
    reads: int
    chained_reads: int
    writes: int
    bool_reads: int = 0
    bool_writes: int = 0
    skip_at_last_step: bool = False   # backward: no gradient arrives from step T yet


E = ElementwiseOp
LIF_EAGER = (E("lif_decay", 1, 1, 0, 1),             # v * decay (state of the previous step)
             E("lif_gain", 1, 0, 1, 1),              # gain * current (just written by the synapse)
             E("lif_integrate", 1, 0, 2, 1),         # v = decayed + gained
             E("lif_shift", 1, 0, 1, 1),             # h = v - threshold (autograd keeps it for BPTT)
             E("lif_compare", 1, 0, 1, 0, 0, 1),     # h > 0: a bool mask
             E("lif_cast", 0, 0, 0, 1, 1, 0),        # mask -> float spikes
             E("lif_one_minus", 1, 0, 1, 1),         # 1 - spikes (detached reset)
             E("lif_reset", 1, 0, 2, 1))             # v * (1 - spikes): the state for the next step
SYNAPSE_EAGER = (E("cuba_syn_decay", 1, 1, 0, 1), E("cuba_syn_gain", 1, 0, 1, 1), E("cuba_syn_integrate", 1, 0, 2, 1))
SURROGATE_EAGER = (E("surrogate_abs", 1, 1, 0, 1),    # |h| (saved h)
                   E("surrogate_scale", 1, 0, 1, 1),  # k |h|
                   E("surrogate_add", 1, 0, 1, 1),    # 1 + k |h|
                   E("surrogate_square", 1, 0, 1, 1),
                   E("surrogate_div", 1, 1, 1, 1))    # dL/ds / (1 + k |h|)^2
LIF_BACKWARD_EAGER = (E("lif_reset_backward", 1, 2, 0, 1, skip_at_last_step=True),   # dL/dv(next) x (1 - s)
                      *SURROGATE_EAGER,
                      E("lif_grad_add", 1, 0, 2, 1, skip_at_last_step=True),          # the two paths into v
                      E("lif_gain_backward", 1, 0, 1, 1),                             # -> dL/dcurrent
                      E("lif_decay_backward", 1, 0, 1, 1))                            # -> dL/dv(previous)
# a plastic projection (archsim.graph.plasticity) in eager PyTorch, per element of its (B, out, in) trace:
# y += einsum(P, pre); P = decay * P + coef * einsum(post, pre), after the layer's neuron update
HEBBIAN_EAGER = (E("hebb_trace_matvec", 2, 1, 0, 0),     # P x pre into the current (the trace read)
                 E("hebb_outer", 1, 0, 0, 1),            # post (x) pre
                 E("hebb_coefficient", 1, 1, 1, 1),      # coef * outer (coef: a weight-shaped tensor)
                 E("hebb_decay", 1, 1, 0, 1),            # decay * P
                 E("hebb_add", 1, 0, 2, 1))              # the new trace
# its BPTT backward (autograd of the forward above), per element of the (B, out, in) trace; the trace
# after the last step feeds nothing, so the update's backward starts one step before it
HEBBIAN_UPDATE_BACKWARD = (E("hebb_coefficient_grad", 1, 2, 0, 1, skip_at_last_step=True),  # dP x saved outer
                           E("hebb_coefficient_reduce", 1, 0, 1, 0, skip_at_last_step=True),  # sum over the batch
                           E("hebb_outer_grad", 1, 1, 1, 1, skip_at_last_step=True),          # dP x coef
                           E("hebb_post_grad", 2, 0, 1, 0, skip_at_last_step=True),           # -> dL/dpost
                           E("hebb_pre_grad", 2, 0, 1, 0, skip_at_last_step=True),            # -> dL/dpre
                           E("hebb_decay_grad", 1, 1, 0, 1, skip_at_last_step=True))          # decay x dP
HEBBIAN_READ_BACKWARD = (E("hebb_read_grad", 1, 0, 0, 1),                         # dL/dcurrent (x) pre
                         E("hebb_read_accumulate", 1, 0, 2, 1, skip_at_last_step=True),  # + the decay path's
                         E("hebb_read_pre_grad", 2, 1, 0, 0))                     # P^T dL/dcurrent (P saved)
EAGER_FORWARD = {
    nw.LIF: LIF_EAGER,
    nw.CubaLIF: SYNAPSE_EAGER + LIF_EAGER,
    nw.LI: (E("li_decay", 1, 1, 0, 1), E("li_gain", 1, 0, 1, 1), E("li_integrate", 1, 0, 2, 1)),
    nw.Threshold: (E("threshold_shift", 1, 0, 1, 1), E("threshold_compare", 1, 0, 1, 0, 0, 1),
                   E("threshold_cast", 0, 0, 0, 1, 1, 0)),
    nw.ReLU: (E("relu", 1, 0, 1, 1),),
}
EAGER_BACKWARD = {
    nw.LIF: LIF_BACKWARD_EAGER,
    nw.CubaLIF: LIF_BACKWARD_EAGER + (E("cuba_syn_grad_add", 1, 1, 1, 1, skip_at_last_step=True),
                                      E("cuba_syn_gain_backward", 1, 0, 1, 1),
                                      E("cuba_syn_decay_backward", 1, 0, 1, 1)),
    nw.LI: (E("li_grad_add", 1, 2, 0, 1, skip_at_last_step=True), E("li_gain_backward", 1, 1, 0, 1),
            E("li_decay_backward", 1, 0, 1, 1)),
    nw.Threshold: SURROGATE_EAGER,
    nw.ReLU: (E("relu_backward", 1, 2, 0, 1),),
}
# fused multi-step: neuron class -> (kernel, FLOPs per element and step, tensors read, written, + saved
# for BPTT) and its backward (kernel, FLOPs with the surrogate fused in, tensors read, written)
MULTISTEP_FORWARD = {
    nw.LIF: ("lif_multistep", 5, 1, 1, 1),
    nw.CubaLIF: ("cuba_lif_multistep", 8, 1, 1, 1),
    nw.LI: ("li_multistep", 3, 1, 1, 0),
    nw.Threshold: ("threshold", 1, 1, 1, 0),
    nw.ReLU: ("relu", 1, 1, 1, 0),
}
MULTISTEP_BACKWARD = {
    nw.LIF: ("lif_multistep_backward", 4 + SURROGATE_FLOPS, 2, 1),
    nw.CubaLIF: ("cuba_lif_multistep_backward", 7 + SURROGATE_FLOPS, 2, 1),
    nw.LI: ("li_multistep_backward", 3, 1, 1),
    nw.Threshold: ("threshold_backward", 1 + SURROGATE_FLOPS, 2, 1),
    nw.ReLU: ("relu_backward", 1, 2, 1),
}
GEMM_NAMES = ("dense", "conv", "dense_dgrad", "dense_wgrad", "conv_dgrad", "conv_wgrad")


@dataclass(frozen=True)
class Kernel:
    """One kernel launch. ``gemm`` is (M, N, K, groups) for matrix kernels, else None."""

    name: str
    layer: str
    step: int | None          # None: once per iteration (loss, optimizer)
    phase: str                # forward | backward | loss | optimizer
    flops: int
    bytes_read: int
    bytes_written: int
    gemm: tuple[int, int, int, int] | None = None
    l2_reuse_bytes: int = 0      # bytes of its reads last used recently (candidates for L2 hits)
    reuse_distance_bytes: int = 0  # bytes touched since those were last used

    @property
    def bytes(self) -> int:
        """Bytes moved to and from memory (read + written)."""
        return self.bytes_read + self.bytes_written

    @property
    def kind(self) -> str:
        """``gemm`` for matrix work (tensor cores / FMA pipes), ``elementwise`` for everything else."""
        return "gemm" if self.name in GEMM_NAMES else "elementwise"


def _size(shape) -> int:
    return int(np.prod(shape))


# ----------------------------------------------------------------------------------------------
# Linear ops: forward and backward kernels of one op at one step
# ----------------------------------------------------------------------------------------------
def op_forward(op, in_shape, batch: int, e: int, layer: str, step: int) -> Kernel | None:
    """The forward kernel of one linear op (None for a view)."""
    out_shape = op.output_shape(in_shape)
    n_in, n_out = _size(in_shape), _size(out_shape)
    if isinstance(op, nw.Flatten):
        return None
    if isinstance(op, nw.Dense):
        has_bias = op.bias is not None
        flops = 2 * batch * n_in * n_out + (batch * n_out if has_bias else 0)
        read = e * (batch * n_in + n_in * n_out + (n_out if has_bias else 0))
        return Kernel("dense", layer, step, "forward", flops, read, e * batch * n_out, (batch, n_out, n_in, 1))
    if isinstance(op, nw.Conv2d):
        c_out, c_in_g, kh, kw = op.weight.shape
        _, oh, ow = out_shape
        has_bias = op.bias is not None
        macs = batch * c_out * oh * ow * c_in_g * kh * kw
        flops = 2 * macs + (batch * n_out if has_bias else 0)
        read = e * (batch * n_in + op.weight.size + (c_out if has_bias else 0))
        gemm = (batch * oh * ow, c_out // op.groups, c_in_g * kh * kw, op.groups)
        return Kernel("conv", layer, step, "forward", flops, read, e * batch * n_out, gemm)
    if isinstance(op, (nw.AvgPool2d, nw.SumPool2d)):
        flops = batch * n_out * op.kernel[0] * op.kernel[1]
        return Kernel("pool", layer, step, "forward", flops, e * batch * n_in, e * batch * n_out)
    if isinstance(op, nw.Scale):
        scale_elems = int(np.size(op.scale)) if np.size(op.scale) > 1 else 0
        return Kernel("scale", layer, step, "forward", batch * n_in, e * (batch * n_in + scale_elems),
                      e * batch * n_out)
    if isinstance(op, nw.Conv1d):
        c_out, c_in_g, k = op.weight.shape
        length = out_shape[1]
        has_bias = op.bias is not None
        flops = 2 * batch * c_out * length * c_in_g * k + (batch * n_out if has_bias else 0)
        read = e * (batch * n_in + op.weight.size + (c_out if has_bias else 0))
        gemm = (batch * length, c_out // op.groups, c_in_g * k, op.groups)
        return Kernel("conv", layer, step, "forward", flops, read, e * batch * n_out, gemm)
    if isinstance(op, nw.Delay):
        # assumption: a framework delays through a ring of past values: one write and one read per element and step
        return Kernel("delay", layer, step, "forward", 0, e * batch * n_in, e * batch * n_out)
    raise TypeError(f"unknown linear op {type(op).__name__}")


def op_backward(op, in_shape, batch: int, e: int, layer: str, step: int, input_needs_grad: bool) -> list[Kernel]:
    """Data-gradient (when the input needs it) and weight/bias-gradient kernels of one op."""
    out_shape = op.output_shape(in_shape)
    n_in, n_out = _size(in_shape), _size(out_shape)
    kernels = []
    if isinstance(op, nw.Dense):
        flops = 2 * batch * n_in * n_out
        if input_needs_grad:
            kernels.append(Kernel("dense_dgrad", layer, step, "backward", flops, e * (batch * n_out + n_in * n_out),
                                  e * batch * n_in, (batch, n_in, n_out, 1)))
        kernels.append(Kernel("dense_wgrad", layer, step, "backward", flops, e * (batch * n_out + batch * n_in),
                              e * n_in * n_out, (n_out, n_in, batch, 1)))
        if op.bias is not None:
            kernels.append(Kernel("bias_grad", layer, step, "backward", batch * n_out, e * batch * n_out, e * n_out))
    elif isinstance(op, nw.Conv2d):
        c_out, c_in_g, kh, kw = op.weight.shape
        c_in, h, w = in_shape
        _, oh, ow = out_shape
        g = op.groups
        flops = 2 * batch * c_out * oh * ow * c_in_g * kh * kw
        if input_needs_grad:
            kernels.append(Kernel("conv_dgrad", layer, step, "backward", flops, e * (batch * n_out + op.weight.size),
                                  e * batch * n_in, (batch * h * w, c_in // g, (c_out // g) * kh * kw, g)))
        kernels.append(Kernel("conv_wgrad", layer, step, "backward", flops, e * (batch * n_out + batch * n_in),
                              e * op.weight.size, (c_out // g, c_in_g * kh * kw, batch * oh * ow, g)))
        if op.bias is not None:
            kernels.append(Kernel("bias_grad", layer, step, "backward", batch * n_out, e * batch * n_out, e * c_out))
    elif isinstance(op, (nw.AvgPool2d, nw.SumPool2d)):
        if input_needs_grad:
            kernels.append(Kernel("pool_backward", layer, step, "backward", batch * n_out * op.kernel[0] * op.kernel[1],
                                  e * batch * n_out, e * batch * n_in))
    elif isinstance(op, nw.Scale):
        if input_needs_grad:
            scale_elems = int(np.size(op.scale)) if np.size(op.scale) > 1 else 0
            kernels.append(Kernel("scale_backward", layer, step, "backward", batch * n_in,
                                  e * (batch * n_out + scale_elems), e * batch * n_in))
    elif isinstance(op, nw.Conv1d):
        c_out, c_in_g, k = op.weight.shape
        c_in, length_in = in_shape
        length, g = out_shape[1], op.groups
        flops = 2 * batch * c_out * length * c_in_g * k
        if input_needs_grad:
            kernels.append(Kernel("conv_dgrad", layer, step, "backward", flops, e * (batch * n_out + op.weight.size),
                                  e * batch * n_in, (batch * length_in, c_in // g, (c_out // g) * k, g)))
        kernels.append(Kernel("conv_wgrad", layer, step, "backward", flops, e * (batch * n_out + batch * n_in),
                              e * op.weight.size, (c_out // g, c_in_g * k, batch * length, g)))
        if op.bias is not None:
            kernels.append(Kernel("bias_grad", layer, step, "backward", batch * n_out, e * batch * n_out, e * c_out))
    elif isinstance(op, nw.Delay):
        if input_needs_grad:                     # the gradient goes back through the same ring
            kernels.append(Kernel("delay_backward", layer, step, "backward", 0, e * batch * n_out, e * batch * n_in))
    return kernels


def parameter_sizes(op) -> list[int]:
    """Element counts of an op's trainable tensors (weight, then bias)."""
    if isinstance(op, (nw.Dense, nw.Conv2d, nw.Conv1d)):
        return [int(op.weight.size)] + ([int(op.bias.size)] if op.bias is not None else [])
    return []


def op_input_shapes(network: nw.Network, projection: nw.Projection) -> list[tuple]:
    """Input shape of every op in a projection's chain."""
    shapes, shape = [], network.shape_of(projection.source)
    for op in projection.ops:
        shapes.append(shape)
        shape = op.output_shape(shape)
    return shapes


# ----------------------------------------------------------------------------------------------
# L2 reuse annotations
# ----------------------------------------------------------------------------------------------
def chain_reuse(chain: list[Kernel]) -> list[Kernel]:
    """The kernels of one layer's chain at one step, their chained reads given the chain's traffic as distance."""
    distance = sum(k.bytes for k in chain)
    return [replace(k, reuse_distance_bytes=distance) if k.l2_reuse_bytes else k for k in chain]


def step_reuse(step_kernels: list[Kernel], weight_bytes: dict) -> list[Kernel]:
    """A later step's kernels: weight reads of forward and data-gradient GEMMs, last used one step ago."""
    distance = sum(k.bytes for k in step_kernels)
    return [replace(k, l2_reuse_bytes=weight_bytes[(k.layer, k.name, k.gemm)], reuse_distance_bytes=distance)
            if (k.layer, k.name, k.gemm) in weight_bytes else k for k in step_kernels]


def _weight_key_bytes(kernel: Kernel, op, e: int) -> dict:
    if kernel.name in ("dense", "conv", "dense_dgrad", "conv_dgrad"):
        return {(kernel.layer, kernel.name, kernel.gemm): e * int(op.weight.size)}
    return {}


def loss_kernels(network: nw.Network, batch: int, e: int, steps: int) -> tuple[list[Kernel], list[Kernel]]:
    """(forward loss kernels, loss backward kernels), once per iteration."""
    forward, backward = [], []
    for name in network.outputs:
        n = batch * network.layer(name).size
        forward.append(Kernel("loss_time_sum", name, None, "loss", (steps - 1) * n, e * steps * n, e * n))
        forward.append(Kernel("cross_entropy", name, None, "loss", 5 * n, e * n + LABEL_BYTES * batch, e * batch))
        backward.append(Kernel("cross_entropy_backward", name, None, "loss", 3 * n, e * n + LABEL_BYTES * batch,
                               e * n))
    return forward, backward


def optimizer_kernels(network: nw.Network) -> list[Kernel]:
    """One Adam update kernel per parameter tensor, once per training iteration."""
    kernels = []
    for layer in network.layers:
        for proj in layer.projections:
            for op in proj.ops:
                for size in parameter_sizes(op):
                    kernels.append(Kernel("adam", layer.name, None, "optimizer", ADAM_FLOPS_PER_ELEMENT * size,
                                          ADAM_READ_BYTES * size, ADAM_WRITE_BYTES * size))
    return kernels


# ----------------------------------------------------------------------------------------------
# Neuron updates
# ----------------------------------------------------------------------------------------------
def eager_kernels(ops, layer: str, step: int, phase: str, n: int, e: int, last: bool = False) -> list[Kernel]:
    """The eager elementwise kernels of a neuron update (or its backward) over ``n`` elements."""
    return [Kernel(op.name, layer, step, phase, op.flops * n, n * (e * (op.reads + op.chained_reads) + op.bool_reads),
                   n * (e * op.writes + op.bool_writes), l2_reuse_bytes=n * (e * op.chained_reads + op.bool_reads))
            for op in ops if not (last and op.skip_at_last_step)]


def neuron_forward(layer: nw.Layer, n: int, e: int, step: int, training: bool, framework: str) -> list[Kernel]:
    """The neuron update of one layer at one step: eager elementwise kernels, or one fused kernel."""
    if framework == "eager":
        return eager_kernels(EAGER_FORWARD.get(type(layer.neuron), ()), layer.name, step, "forward", n, e)
    rule = NEURON_UPDATE.get(type(layer.neuron))
    if rule is None:
        return []
    name, flops, reads, writes, saved = rule
    writes += saved if training else 0
    return [Kernel(name, layer.name, step, "forward", flops * n, reads * e * n, writes * e * n, l2_reuse_bytes=e * n)]


def neuron_backward(layer: nw.Layer, n: int, e: int, step: int, last: bool, framework: str) -> list[Kernel]:
    """The neuron's backward of one layer at one step (surrogate included)."""
    if framework == "eager":
        return eager_kernels(EAGER_BACKWARD.get(type(layer.neuron), ()), layer.name, step, "backward", n, e, last)
    rule = NEURON_BACKWARD.get(type(layer.neuron))
    if rule is None:
        return []
    name, flops, reads, reads_last, writes, surrogate = rule
    kernels = [Kernel("surrogate", layer.name, step, "backward", SURROGATE_FLOPS * n, e * n, e * n)] if surrogate else []
    return kernels + [Kernel(name, layer.name, step, "backward", flops * n, (reads_last if last else reads) * e * n,
                             writes * e * n)]


# ----------------------------------------------------------------------------------------------
# Step by step (eager; fused for recurrent networks)
# ----------------------------------------------------------------------------------------------
def forward_step(network: nw.Network, batch: int, e: int, step: int, training: bool,
                 framework: str = "eager") -> list[Kernel]:
    """The kernels of one forward time step over every layer (``e`` bytes per element)."""
    kernels = []
    for layer in network.layers:
        chain = []
        for proj in layer.projections:
            for op, shape in zip(proj.ops, op_input_shapes(network, proj)):
                kernel = op_forward(op, shape, batch, e, layer.name, step)
                if kernel is not None:
                    chain.append(kernel)
        n = batch * layer.size
        for _ in range(len(layer.projections) - 1):
            chain.append(Kernel("add", layer.name, step, "forward", n, 2 * e * n, e * n, l2_reuse_bytes=2 * e * n))
        chain += neuron_forward(layer, n, e, step, training, framework)
        for proj in layer.projections:          # a local rule's trace: read into the current, then updated
            if proj.plasticity is not None:
                chain += eager_kernels(HEBBIAN_EAGER, layer.name, step, "forward",
                                       batch * int(np.size(proj.plasticity.alpha)), e)
        kernels += chain_reuse(chain)
    return kernels


def gradient_consumers(network: nw.Network, steps: int) -> dict[tuple[str, int], int]:
    """How many gradients reach each (layer, step) output: consumers at that step, recurrent
    consumers at the next step, and the loss for output layers."""
    counts = {(layer.name, t): 0 for layer in network.layers for t in range(steps)}
    for layer in network.layers:
        for proj in layer.projections:
            if proj.source in network.inputs:
                continue
            for t in range(steps):
                source_step = t - 1 if proj.recurrent else t
                if source_step >= 0:
                    counts[(proj.source, source_step)] += 1
    for name in network.outputs:
        for t in range(steps):
            counts[(name, t)] += 1
    return counts


def backward_step(network: nw.Network, batch: int, e: int, step: int, steps: int, consumers: dict,
                  framework: str = "eager") -> list[Kernel]:
    """The kernels of one BPTT backward time step, last layer first (``consumers`` counts the gradient inputs of each layer and step)."""
    kernels = []
    last = step == steps - 1
    for layer in reversed(network.layers):
        incoming = consumers[(layer.name, step)]
        if incoming == 0:
            continue
        n = batch * layer.size
        rules = [batch * int(np.size(p.plasticity.alpha)) for p in layer.projections if p.plasticity is not None]
        chain = [k for synapses in rules            # a rule's update read this step's output: its gradient first
                 for k in eager_kernels(HEBBIAN_UPDATE_BACKWARD, layer.name, step, "backward", synapses, e, last)]
        incoming += 0 if last else len(rules)
        chain += [Kernel("grad_add", layer.name, step, "backward", n, 2 * e * n, e * n) for _ in range(incoming - 1)]
        chain += neuron_backward(layer, n, e, step, last, framework)
        chain += [k for synapses in rules
                  for k in eager_kernels(HEBBIAN_READ_BACKWARD, layer.name, step, "backward", synapses, e, last)]
        kernels += chain_reuse(chain)
        for proj in layer.projections:
            needs_grad = proj.source not in network.inputs
            pairs = list(zip(proj.ops, op_input_shapes(network, proj)))
            for op, shape in reversed(pairs):
                for kernel in op_backward(op, shape, batch, e, layer.name, step, needs_grad):
                    kernels.append(kernel)
                    if last or kernel.name not in ("dense_wgrad", "conv_wgrad", "bias_grad"):
                        continue
                    size = kernel.bytes_written // e
                    accumulate = Kernel("grad_accumulate", layer.name, step, "backward", size, 2 * e * size, e * size,
                                        l2_reuse_bytes=e * size, reuse_distance_bytes=kernel.bytes + 3 * e * size)
                    kernels.append(accumulate)
    return kernels


def stepwise_kernels(workload: Workload, e: int, framework: str) -> list[Kernel]:
    """Every kernel of a step-by-step run (``framework`` names the neuron-update style)."""
    network, batch, steps = workload.network, workload.batch, workload.steps
    training = workload.mode == "train"
    weights = {}
    for layer in network.layers:
        for proj in layer.projections:
            for op, shape in zip(proj.ops, op_input_shapes(network, proj)):
                for kernel in [op_forward(op, shape, batch, e, layer.name, 0)] + op_backward(
                        op, shape, batch, e, layer.name, 0, proj.source not in network.inputs):
                    if kernel is not None:
                        weights.update(_weight_key_bytes(kernel, op, e))
    kernels = []
    for t in range(steps):
        step = forward_step(network, batch, e, t, training, framework)
        kernels += step_reuse(step, weights) if t > 0 else step
    if not training:
        return kernels
    loss_forward, loss_backward = loss_kernels(network, batch, e, steps)
    kernels += loss_forward + loss_backward
    consumers = gradient_consumers(network, steps)
    for t in reversed(range(steps)):
        step = backward_step(network, batch, e, t, steps, consumers, framework)
        kernels += step_reuse(step, weights) if t < steps - 1 else step
    return kernels + optimizer_kernels(network)


# ----------------------------------------------------------------------------------------------
# Layer by layer over the whole sequence (fused multi-step)
# ----------------------------------------------------------------------------------------------
def multistep_kernels(workload: Workload, e: int) -> list[Kernel]:
    """Every kernel of a SpikingJelly-style multi-step run of a network without recurrent projections."""
    network, batch, steps = workload.network, workload.batch, workload.steps
    training = workload.mode == "train"
    samples = steps * batch                    # linear ops see T x B samples at once
    kernels = []
    for layer in network.layers:
        chain = [kernel for proj in layer.projections
                 for op, shape in zip(proj.ops, op_input_shapes(network, proj))
                 if (kernel := op_forward(op, shape, samples, e, layer.name, None)) is not None]
        n = samples * layer.size
        chain += [Kernel("add", layer.name, None, "forward", n, 2 * e * n, e * n, l2_reuse_bytes=2 * e * n)
                  for _ in range(len(layer.projections) - 1)]
        rule = MULTISTEP_FORWARD.get(type(layer.neuron))
        if rule is not None:
            name, flops, reads, writes, saved = rule
            writes += saved if training else 0
            chain.append(Kernel(name, layer.name, None, "forward", flops * n, reads * e * n, writes * e * n,
                                l2_reuse_bytes=reads * e * n))
        kernels += chain_reuse(chain)
    if not training:
        return kernels
    loss_forward, loss_backward = loss_kernels(network, batch, e, steps)
    kernels += loss_forward + loss_backward
    consumers = gradient_consumers(network, 1)
    for layer in reversed(network.layers):
        n = samples * layer.size
        chain = [Kernel("grad_add", layer.name, None, "backward", n, 2 * e * n, e * n)
                 for _ in range(consumers[(layer.name, 0)] - 1)]
        rule = MULTISTEP_BACKWARD.get(type(layer.neuron))
        if rule is not None:
            name, flops, reads, writes = rule
            chain.append(Kernel(name, layer.name, None, "backward", flops * n, reads * e * n, writes * e * n))
        kernels += chain_reuse(chain)
        for proj in layer.projections:
            pairs = list(zip(proj.ops, op_input_shapes(network, proj)))
            for op, shape in reversed(pairs):
                kernels += op_backward(op, shape, samples, e, layer.name, None, proj.source not in network.inputs)
    return kernels + optimizer_kernels(network)


def workload_kernels(workload: Workload, element_bytes: int = 4, framework: str = "eager") -> list[Kernel]:
    """Every kernel of one inference pass (``mode == "infer"``) or one BPTT training iteration.

    ``framework``: ``eager`` (step by step, eager neuron kernels) or ``fused`` (layer by layer over
    the whole sequence; step by step with fused neuron kernels when a projection is recurrent or
    plastic). A plastic projection's rule costs its eager forward kernels each step (:data:`HEBBIAN_EAGER`)
    and, in training, its BPTT backward (:data:`HEBBIAN_UPDATE_BACKWARD`, :data:`HEBBIAN_READ_BACKWARD`).
    """
    if framework == "fused" and not any(p.recurrent or p.plasticity is not None
                                        for layer in workload.network.layers for p in layer.projections):
        return multistep_kernels(workload, element_bytes)
    return stepwise_kernels(workload, element_bytes, framework)
