"""What the chip families' integer datapaths cannot run, said in one line before any work starts.

archsim's many-core (Tianjic, Loihi-like) and H2Learn models run LIF, CubaLIF, LI, Threshold, ReLU and
identity layers over Dense, Conv2d, pooling, Flatten and Scale synapses, with one 0/1 spike per neuron
and step, ``v > threshold``, and a reset to ``v_reset`` or snnTorch's next-step subtraction. The
features below exist only in the float functional simulator (``--precision float``):

* ``Delay`` synapses: Loihi has axon and synaptic delays in silicon, Tianjic has none; neither is in
  archsim's many-core engine yet, so a delayed projection is refused on every chip;
* ``Conv1d`` synapses and ``CubaLI`` neurons: not lowered to cores;
* graded spike counts (``--spikes multi``), ``v >= threshold``, the same-step subtraction
  (``subtract_now``) of a leaky neuron, and a membrane floor (``v_min``).
"""
from __future__ import annotations

import numpy as np

from archsim.errors import UserError
from archsim.graph.network import LIF, Conv1d, CubaLI, Delay, Network


def chip_blockers(network: Network) -> list[str]:
    """One phrase per layer feature that no chip family here runs (empty: the network can run on a chip)."""
    found = []
    for layer in network.layers:
        n = layer.neuron
        ops = [op for proj in layer.projections for op in proj.ops]
        if any(isinstance(op, Delay) for op in ops):
            found.append(f"layer {layer.name}: Delay synapses")
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


def check_chip_runnable(network: Network, chip_name: str) -> None:
    """Refuse, in one line, a network a chip cannot run (the first few reasons, and what is allowed)."""
    found = chip_blockers(network)
    if found:
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        raise UserError(f"{network.name} on {chip_name}: the chip cannot run {'; '.join(found[:3])}{more} "
                        "(allowed: --precision float without --chip; or read the file with --spikes single and "
                        "a reset of zero or subtract)")
