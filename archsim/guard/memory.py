"""How much memory a run will take, estimated before the work starts, and refused when it exceeds the
limit: ``--max-memory`` when the user gives one, else the memory this machine has available.

The estimate is an upper-bound-minded sum of three parts (each factor below an assumption, sized on
what the arrays in archsim hold, not fitted to any measurement):

- network arrays: every synapse the lowering can store, times :data:`BYTES_PER_SYNAPSE` (the float
  and quantised weights, their CSR and CSC copies with indices, the routing tables' share);
- mapping: :data:`BYTES_PER_CORE` for every core of the chip or board (placement and route tables);
- simulation state: :data:`BYTES_PER_NEURON_STEP` for every neuron, step and sample (membranes,
  spikes and the records BPTT keeps), plus the input array twice in float64 (drawn, then converted).
"""
from __future__ import annotations

import os
import re

import numpy as np

from archsim.errors import UserError

#: Bytes per stored synapse across the copies a run holds (assumption: float64 value 8 + int32 index 4,
#: in CSR and CSC, float and quantised, plus routing: ~48).
BYTES_PER_SYNAPSE = 48
#: Bytes per core of the mesh for placement and route tables (assumption).
BYTES_PER_CORE = 4096
#: Bytes per neuron, time step and sample of simulation state and records (assumption: six float64).
BYTES_PER_NEURON_STEP = 48

_limit_bytes: int | None = None
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str) -> int:
    """Bytes of a size like ``512M``, ``4G``, ``1.5GiB`` or ``2000000`` (``--max-memory``)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise UserError(f"--max-memory: {str(text)[:40]!r} is not allowed (allowed: a size > 0 such as 512M, 4G, 2GiB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def set_limit(limit_bytes: int | None) -> None:
    """Use ``limit_bytes`` (None: the machine's available memory) for every later check."""
    global _limit_bytes
    _limit_bytes = limit_bytes


def limit() -> tuple[int | None, str]:
    """(bytes allowed, where that figure comes from)."""
    if _limit_bytes is not None:
        return _limit_bytes, "--max-memory"
    available = available_bytes()
    return available, "this machine's available memory"


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo, else free physical pages; None where neither can be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def refuse_above(what: str, parts: dict[str, float], hint: str = "") -> None:
    """UserError naming ``what``, its estimate by part and the limit, when the sum exceeds the limit."""
    allowed, source = limit()
    total = float(sum(parts.values()))
    if allowed is None or total <= allowed:
        return
    split = ", ".join(f"{name} {format_bytes(v)}" for name, v in parts.items() if v)
    raise UserError(f"{what}: needs an estimated {format_bytes(total)} ({split}) but {source} is "
                    f"{format_bytes(allowed)} (allowed: at most that{'; ' + hint if hint else ''})")


def synapse_bound(network, lowered: bool = True, kernel_level=()) -> int:
    """Upper bound of the synapses the many-core lowering of ``network`` can store (every op's
    connections); with ``lowered=False`` the weights as the network holds them (a conv kernel once, pools
    none), which is what the H2Learn, GPU and functional models keep. Layers named in ``kernel_level``
    (mapped as kernels, :mod:`archsim.mapping.kernels`) count their kernels only."""
    from archsim.graph.network import AvgPool2d, Conv2d, Dense, Scale, SumPool2d

    total = 0
    for layer in network.layers:
        as_kernels = not lowered or layer.name in kernel_level
        for proj in layer.projections:
            shape = tuple(network.shape_of(proj.source))
            for op in proj.ops:
                out = tuple(op.output_shape(shape))
                out_size = int(np.prod(out, dtype=object))
                if isinstance(op, Dense):
                    total += int(np.size(op.weight))
                elif isinstance(op, Conv2d):
                    total += (int(np.size(op.weight)) if as_kernels
                              else out_size * int(np.prod(op.weight.shape[1:], dtype=object)))
                elif isinstance(op, (AvgPool2d, SumPool2d)) and lowered:
                    total += out_size * int(op.kernel[0]) * int(op.kernel[1])
                elif isinstance(op, Scale):
                    total += out_size
                shape = out
    return total


def check_run(network, chip=None, *, steps: int = 0, batch: int = 1, what: str | None = None) -> None:
    """Refuse a run (or, with ``steps=0``, a mapping) of ``network`` on ``chip`` that would not fit."""
    neurons = sum(int(layer.size) for layer in network.layers)
    input_elements = sum(int(np.prod(s, dtype=object)) for s in network.inputs.values())
    cores = 0
    if chip is not None and chip.family == "manycore":
        noc = chip.params.get("noc", {})
        cores = 1
        for key in ("mesh_x", "mesh_y", "chips_x", "chips_y"):
            cores *= int(noc.get(key, 1))
    lowered = chip is not None and chip.family == "manycore"
    kernel_level = ()
    if lowered:
        from archsim.mapping import kernel_candidates

        kernel_level = set(kernel_candidates(network, None, chip))
    parts = {"network arrays": synapse_bound(network, lowered, kernel_level) * BYTES_PER_SYNAPSE,
             "mapping": cores * BYTES_PER_CORE,
             "simulation state": (neurons * BYTES_PER_NEURON_STEP + input_elements * 16) * steps * batch}
    hint = "fewer --steps or a smaller --batch, a smaller network or chip, or a larger --max-memory"
    refuse_above(what or f"{network.name}", parts, hint)
