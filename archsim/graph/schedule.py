"""Layer schedules: when a projection's spikes arrive, as a chip's ``timing.layer_schedule`` says.

* ``serial`` (the semantics of :mod:`archsim.graph.network`): layers run in order within a step, and a
  projection reads its source's output of the same step (recurrent ones: of the previous step). NIR's
  reading and the reference trainer's.
* ``pipelined``: every core works in every step, and every projection out of a layer delivers in the next
  step, a one-step delay on every edge between layers (skip connections included; recurrent edges already
  read the previous step, and keep doing so). Inputs are read in the step they are given (the host writes
  them before the step). A chain of ``D`` layers gives the serial outputs ``D - 1`` steps later.

:func:`scheduled` rewrites a network into the serial form of a schedule: under ``pipelined`` every projection
out of a layer reads that layer's previous step, which is what a recurrent projection means, so the
functional simulator, the quantiser and the chip program need nothing else; the chip then has one stage
per step (no same-step dependency is left), its cores all working in each phase.
"""
from __future__ import annotations

import dataclasses

from archsim.errors import UserError
from archsim.graph.network import Network

SCHEDULES = ("serial", "pipelined")


def scheduled(network: Network, schedule: str) -> Network:
    """``network`` as run under ``schedule`` (the same object for ``serial``)."""
    if schedule not in SCHEDULES:
        raise UserError(f"timing.layer_schedule: {schedule!r} is not allowed (allowed: {', '.join(SCHEDULES)})")
    if schedule == "serial":
        return network
    layers = [dataclasses.replace(layer, projections=tuple(
        dataclasses.replace(p, recurrent=True) if p.source not in network.inputs else p for p in layer.projections))
        for layer in network.layers]
    return Network(name=network.name, inputs=dict(network.inputs), layers=layers, outputs=list(network.outputs),
                   metadata={**network.metadata, "layer_schedule": schedule})


def schedule_of(network: Network) -> str:
    """The schedule a network was rewritten for (``serial`` unless :func:`scheduled` made it)."""
    return network.metadata.get("layer_schedule", "serial")
