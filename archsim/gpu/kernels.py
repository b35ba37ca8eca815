"""The kernels a PyTorch-style SNN framework launches for a workload, with exact FLOPs and bytes.

The framework runs the network one time step at a time (snnTorch's and SpikingJelly's single-step
loop, eager mode): at every step, every layer launches its synapse kernels (one GEMM, convolution,
pooling or scaling per linear op; Flatten is a view and launches nothing), an ``add`` per extra
projection, and one fused neuron-update kernel. Training (BPTT) then walks the steps backwards:
gradient sums, surrogate, the neuron's temporal backward, and the data- and weight-gradient kernels
of every op, with PyTorch's per-use accumulation of parameter gradients; after the loss (time-summed
output, softmax cross-entropy) and before nothing else, one Adam kernel per parameter tensor.

Counting rules (tests re-derive them by hand). ``B`` batch, ``e`` bytes per element (4 for fp32,
2 for fp16), ``N`` a layer's neurons, bytes = every tensor element a kernel reads plus every one it
writes, each once (no cache reuse across kernels):

* ``dense`` (out x in): FLOPs ``2 B in out (+ B out bias)``; reads ``e (B in + in out (+ out))``,
  writes ``e B out``. ``conv``: MACs = ``B C_out OH OW C_in/g kh kw``, FLOPs ``2 MACs (+ B C_out OH OW)``,
  reads input, weight (and bias), writes output. ``pool``: ``B C OH OW kh kw`` FLOPs, reads input,
  writes output. ``scale``: ``B N`` FLOPs, reads input (and a per-element scale), writes output.
* neuron update per step, per element (FLOPs; tensors read; tensors written):
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

from dataclasses import dataclass

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
    return kernels


def parameter_sizes(op) -> list[int]:
    """Element counts of an op's trainable tensors (weight, then bias)."""
    if isinstance(op, (nw.Dense, nw.Conv2d)):
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
# Whole workload
# ----------------------------------------------------------------------------------------------
def forward_step(network: nw.Network, batch: int, e: int, step: int, training: bool) -> list[Kernel]:
    """The kernels of one forward time step over every layer (``e`` bytes per element)."""
    kernels = []
    for layer in network.layers:
        for proj in layer.projections:
            for op, shape in zip(proj.ops, op_input_shapes(network, proj)):
                kernel = op_forward(op, shape, batch, e, layer.name, step)
                if kernel is not None:
                    kernels.append(kernel)
        n = batch * layer.size
        for _ in range(len(layer.projections) - 1):
            kernels.append(Kernel("add", layer.name, step, "forward", n, 2 * e * n, e * n))
        rule = NEURON_UPDATE.get(type(layer.neuron))
        if rule is not None:
            name, flops, reads, writes, saved = rule
            writes += saved if training else 0
            kernels.append(Kernel(name, layer.name, step, "forward", flops * n, reads * e * n, writes * e * n))
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


def backward_step(network: nw.Network, batch: int, e: int, step: int, steps: int, consumers: dict) -> list[Kernel]:
    """The kernels of one BPTT backward time step, last layer first (``consumers`` counts the gradient inputs of each layer and step)."""
    kernels = []
    last = step == steps - 1
    for layer in reversed(network.layers):
        incoming = consumers[(layer.name, step)]
        if incoming == 0:
            continue
        n = batch * layer.size
        for _ in range(incoming - 1):
            kernels.append(Kernel("grad_add", layer.name, step, "backward", n, 2 * e * n, e * n))
        rule = NEURON_BACKWARD.get(type(layer.neuron))
        if rule is not None:
            name, flops, reads, reads_last, writes, surrogate = rule
            if surrogate:
                kernels.append(Kernel("surrogate", layer.name, step, "backward", SURROGATE_FLOPS * n, e * n, e * n))
            kernels.append(Kernel(name, layer.name, step, "backward", flops * n,
                                  (reads_last if last else reads) * e * n, writes * e * n))
        for proj in layer.projections:
            needs_grad = proj.source not in network.inputs
            pairs = list(zip(proj.ops, op_input_shapes(network, proj)))
            for op, shape in reversed(pairs):
                kernels.extend(op_backward(op, shape, batch, e, layer.name, step, needs_grad))
                if not last:
                    for size in parameter_sizes(op):
                        kernels.append(Kernel("grad_accumulate", layer.name, step, "backward", size,
                                              2 * e * size, e * size))
    return kernels


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


def workload_kernels(workload: Workload, element_bytes: int = 4) -> list[Kernel]:
    """Every kernel of one inference pass (``mode == "infer"``) or one BPTT training iteration."""
    network, batch, steps, e = workload.network, workload.batch, workload.steps, element_bytes
    training = workload.mode == "train"
    kernels = []
    for t in range(steps):
        kernels.extend(forward_step(network, batch, e, t, training))
    if not training:
        return kernels
    loss_forward, loss_backward = loss_kernels(network, batch, e, steps)
    kernels += loss_forward + loss_backward
    consumers = gradient_consumers(network, steps)
    for t in reversed(range(steps)):
        kernels.extend(backward_step(network, batch, e, t, steps, consumers))
    kernels.extend(optimizer_kernels(network))
    return kernels
