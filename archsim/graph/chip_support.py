"""What the chip families' integer datapaths cannot run, said in one line before any work starts.

archsim's many-core (Tianjic, Loihi-like) and H2Learn models run LIF, CubaLIF, LI, Threshold, ReLU and
identity layers over Dense, Conv2d, pooling, Flatten and Scale synapses, with one 0/1 spike per neuron
and step, ``v > threshold``, and a reset to ``v_reset`` or snnTorch's next-step subtraction. The
features below exist only in the float functional simulator (``--precision float``):

* ``Delay`` synapses beyond the chip's ``core.max_delay_steps`` (Loihi: per-synapse delays; Tianjic: none,
  so 0) and, on every chip, one delay per element behind a convolution or a pool (:mod:`archsim.graph.delays`);
* ``Conv1d`` synapses and ``CubaLI`` neurons: not lowered to cores;
* graded spike counts (``--spikes multi``), ``v >= threshold``, the same-step subtraction
  (``subtract_now``) of a leaky neuron, and a membrane floor (``v_min``).
"""
from __future__ import annotations

import numpy as np

from archsim.errors import UserError
from archsim.graph.delays import source_delay, split_target_delays
from archsim.graph.network import LIF, Conv1d, CubaLI, Network


def chip_blockers(network: Network, max_delay_steps: int | None = None) -> list[str]:
    """One phrase per layer feature that no chip family here runs (empty: the network can run on a chip);
    ``max_delay_steps`` (None: any) is the longest delay the chip's cores hold."""
    found = []
    network = split_target_delays(network)
    for layer in network.layers:
        n = layer.neuron
        ops = [op for proj in layer.projections for op in proj.ops]
        longest: dict[str, int] = {}                     # per Delay node: its longest delay in this layer
        for proj in layer.projections:
            delay, _, nodes = source_delay(proj.ops, network.shape_of(proj.source), layer.name)
            if delay is not None:
                longest[nodes] = max(longest.get(nodes, 0), int(delay.max()))
        for nodes, steps in longest.items():
            if max_delay_steps is not None and steps > max_delay_steps:
                found.append(f"layer {layer.name}: Delay node {nodes} of up to {steps} steps "
                             f"(core.max_delay_steps: {max_delay_steps})")
        if any(isinstance(op, Conv1d) for op in ops):
            found.append(f"layer {layer.name}: Conv1d synapses")
        if isinstance(n, CubaLI):
            found.append(f"layer {layer.name}: CubaLI neurons")
        if isinstance(n, LIF):
            if n.multi_spike:
                found.append(f"layer {layer.name}: graded multi-spike output")
            elif n.fire_at_threshold:
                found.append(f"layer {layer.name}: firing at v >= threshold")
            if n.reset == "subtract_now" and not np.all(np.asarray(n.decay) == 1.0):
                found.append(f"layer {layer.name}: same-step subtractive reset of a leaky neuron")
            if n.v_min is not None:
                found.append(f"layer {layer.name}: a membrane floor")
    return found


def check_chip_runnable(network: Network, chip_name: str, max_delay_steps: int | None = None) -> None:
    """Refuse, in one line, a network a chip cannot run (the first few reasons, and what is allowed)."""
    found = chip_blockers(network, max_delay_steps)
    if found:
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        allowed = ("delays within the chip's core.max_delay_steps, or --precision float without --chip"
                   if all("Delay node" in f for f in found) else
                   "--precision float without --chip; or read the file with --spikes single and a reset of zero "
                   "or subtract")
        raise UserError(f"{network.name} on {chip_name}: the chip cannot run {'; '.join(found[:3])}{more} "
                        f"(allowed: {allowed})")
