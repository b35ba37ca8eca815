"""The run's timeline: the phases of every stage, each closed by its barrier, in simulated cycles.

The machine (:mod:`.machine`) works out what each phase does and how long its slowest core (or the
NoC's last delivery) takes; the timeline places those phases in time. In this micro-architecture
the stages of a time step are **strictly sequential**: a stage reads the outputs its predecessor
produced in the same step, and every phase ends in a global barrier, so no phase of one stage can
overlap a phase of another (nor of the next step). The timeline is therefore a sum, and both
timelines below give the same cycles.

- :class:`PlainTimeline` (reference engine): adds the phase lengths, one after the other.
- :class:`SimpyTimeline` (fast engine): one SimPy environment per run is the clock. Each stage is a
  process that waits for the previous stage, then for each phase yields the cores' work (a timeout
  as long as the slowest core's arrival, computed by the Numba kernels) and the phase barrier (an
  event that fires ``barrier_cycles`` later). A NoC phase (merge, route) holds the mesh, a shared
  ``simpy.Resource``, for its length: phases of different stages contend for it, which with
  sequential stages never stalls, but keeps the model honest if a chip config ever lets stages
  overlap. Events are per phase (a handful per stage and step), never per spike or flit: the flit
  level contention is simulated by :mod:`archsim.noc`.
"""
from __future__ import annotations

from dataclasses import dataclass

import simpy


@dataclass(frozen=True)
class Phase:
    """One phase of one stage: its work (cycles until the last core or flit is done, fixed-length
    stretching included), the barrier that closes it, and whether it uses the mesh."""

    name: str
    work_cycles: int
    barrier_cycles: int
    uses_mesh: bool


class PlainTimeline:
    """Stages one after another, phases one after another: the cycle count is their sum."""

    def __init__(self):
        self.now = 0

    def run_step(self, stages: list[list[Phase]]) -> int:
        for phases in stages:
            for phase in phases:
                self.now += phase.work_cycles + phase.barrier_cycles
        return self.now


class SimpyTimeline:
    """The same timeline as SimPy processes at phase granularity (see the module docstring)."""

    def __init__(self):
        self.env = simpy.Environment()
        self.mesh = simpy.Resource(self.env, capacity=1)

    @property
    def now(self) -> int:
        return int(self.env.now)

    def run_step(self, stages: list[list[Phase]]) -> int:
        previous = None
        for phases in stages:
            previous = self.env.process(self._stage(phases, previous))
        self.env.run()
        return self.now

    def _stage(self, phases: list[Phase], previous):
        if previous is not None:
            yield previous                       # the stage reads its predecessor's outputs
        for phase in phases:
            if phase.uses_mesh:                              # the NoC phase holds the mesh
                with self.mesh.request() as granted:
                    yield granted
                    yield self.env.timeout(phase.work_cycles)
            else:
                yield self.env.timeout(phase.work_cycles)    # cores in parallel: the slowest one's arrival
            yield self.env.timeout(phase.barrier_cycles)     # the barrier every core waits on
