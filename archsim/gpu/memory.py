"""GPU memory footprint of a workload, checked against the device's capacity.

Inference keeps the parameters, the input sequence, and one step of every layer's output, neuron
state (a plastic projection's trace included: one per synapse and sample) and op intermediates.
BPTT training also keeps, for *every* step, what backward needs: the input of every weighted op (a
layer's output is stored once however many ops read it), the pre-reset membrane (or the input
current, for Threshold neurons) of every surrogate-gradient layer, ReLU outputs, and a plastic
projection's trace and outer product (:data:`SAVED_PER_TRACE_ELEMENT`); plus parameter gradients and
Adam's two moments (fp32). A fixed framework share (CUDA context, library workspaces, allocator
slack) is added. Transient buffers of single kernels are not.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.graph import network as nw
from archsim.graph.workload import Workload
from archsim.gpu.kernels import op_input_shapes, parameter_sizes

STATE_TENSORS = {nw.LIF: 1, nw.CubaLIF: 2, nw.LI: 1}   # per-step state carried to the next step
SAVED_FOR_SURROGATE = (nw.LIF, nw.CubaLIF, nw.Threshold)


@dataclass(frozen=True)
class MemoryFootprint:
    """Device memory one run needs, by component, against the GPU's capacity."""

    components_bytes: dict   # parameters, gradients, optimizer_state, inputs, activations, state, framework
    capacity_bytes: float

    @property
    def total_bytes(self) -> float:
        """Bytes of every component together."""
        return float(sum(self.components_bytes.values()))

    @property
    def fits(self) -> bool:
        """Whether the run fits in the GPU's memory."""
        return self.total_bytes <= self.capacity_bytes

    def message(self, batch: int) -> str:
        """One line: what a batch of ``batch`` needs, by component, and whether it fits (GiB)."""
        verdict = "fits in" if self.fits else "does not fit in"
        parts = ", ".join(f"{k} {v / 2**30:.2f}" for k, v in self.components_bytes.items() if v)
        return (f"batch {batch} needs {self.total_bytes / 2**30:.2f} GiB ({parts}) and {verdict} "
                f"{self.capacity_bytes / 2**30:.0f} GiB")


def parameter_count(network: nw.Network) -> int:
    """Weights and biases of every op of the network, and the coefficients of its local rules."""
    return sum(size for layer in network.layers for proj in layer.projections for op in proj.ops
               for size in parameter_sizes(op)) + trace_elements(network)


#: Elements kept for backward per trace element and step by a plastic projection (archsim.gpu.kernels):
#: the trace its read multiplied and the outer product its coefficient multiplied.
SAVED_PER_TRACE_ELEMENT = 2


def saved_elements_per_step(network: nw.Network) -> int:
    """Elements (per sample) kept for backward at one step."""
    saved_outputs = set()
    elements = 0
    for layer in network.layers:
        for proj in layer.projections:
            for index, (op, shape) in enumerate(zip(proj.ops, op_input_shapes(network, proj))):
                if not parameter_sizes(op):
                    continue
                direct = all(isinstance(prior, nw.Flatten) for prior in proj.ops[:index])
                if direct:
                    saved_outputs.add(proj.source)
                else:
                    elements += int(np.prod(shape))
        if isinstance(layer.neuron, SAVED_FOR_SURROGATE):
            elements += layer.size
        if isinstance(layer.neuron, nw.ReLU):
            saved_outputs.add(layer.name)
        for proj in layer.projections:
            if proj.plasticity is not None:      # autograd keeps the trace it read and the outer product post x pre
                elements += SAVED_PER_TRACE_ELEMENT * int(np.size(proj.plasticity.alpha))
                saved_outputs.update((proj.source, layer.name))
    return elements + sum(int(np.prod(network.shape_of(name))) for name in saved_outputs)


def trace_elements(network: nw.Network) -> int:
    """Elements (per sample) of the plastic projections' traces (:mod:`archsim.graph.plasticity`): one per
    synapse and sample, carried from step to step like a membrane (the coefficients are parameters)."""
    return sum(int(np.size(p.plasticity.alpha)) for layer in network.layers for p in layer.projections
               if p.plasticity is not None)


def live_elements_per_step(network: nw.Network) -> int:
    """Elements (per sample) alive during one inference step: layer outputs and op intermediates."""
    elements = 0
    for layer in network.layers:
        elements += layer.size
        for proj in layer.projections:
            shapes = op_input_shapes(network, proj)
            elements += sum(int(np.prod(s)) for op, s in zip(proj.ops[1:], shapes[1:]) if not isinstance(op, nw.Flatten))
    return elements


def footprint(workload: Workload, element_bytes: int, capacity_bytes: float, framework_bytes: float) -> MemoryFootprint:
    """The memory ``workload`` needs on a GPU with ``capacity_bytes`` (inference or training)."""
    network, batch, steps = workload.network, workload.batch, workload.steps
    params = parameter_count(network)
    training = workload.mode == "train"
    input_elements = sum(int(np.prod(shape)) for shape in network.inputs.values())
    master_bytes = 4 * params + (2 * params if element_bytes == 2 else 0)
    components = {
        "parameters": master_bytes,
        "gradients": 4 * params if training else 0,
        "optimizer_state": 8 * params if training else 0,
        "inputs": element_bytes * steps * batch * input_elements,
        "activations": element_bytes * batch * (steps * saved_elements_per_step(network) if training
                                                 else live_elements_per_step(network)),
        "state": element_bytes * batch * (sum(layer.size * STATE_TENSORS.get(type(layer.neuron), 0)
                                               for layer in network.layers) + trace_elements(network)),
        "framework": framework_bytes,
    }
    return MemoryFootprint({k: float(v) for k, v in components.items()}, float(capacity_bytes))
