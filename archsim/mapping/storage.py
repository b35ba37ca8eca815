"""Synapse storage formats: how many bits a core spends on the synapses of one part.

A core stores only what its format holds (``core.synapse_format`` in a chip config):

* ``crossbar`` (Tianjic's FCore): a weight at every crossing of the part's axon rows and neuron
  columns, ``axons x neurons x weight_bits``; the zeros of the rectangle are stored too. The
  columns of every folded pass sit in the same rows, so the rectangle is the part's distinct axons
  times all its neurons.
* ``sparse_list`` (Loihi, Davies et al., IEEE Micro 2018: one synapse list per input axon, each
  entry naming its target compartment): per stored synapse ``weight_bits + index_bits``, per axon a
  list header of ``header_bits``; ``index_bits = ceil(log2(core.neurons))`` (a compartment index).

Convolution layers keep one kernel slice per output channel and core in every format (Tianjic's
folded mapping; Loihi's shared-weight format, which NxTF's compiler uses for convolutions): see
:func:`~archsim.mapping.lowering.kernel_bits_per_group`. Only non-zero integer weights are
synapses (:mod:`~archsim.mapping.lowering`), so a sparse list holds no zero and costs no operation
for one; a crossbar holds the zeros of its rectangle in memory only.

The mapper's memory checks (greedy cuts, the tile search, a loaded mapping's check) and the
mapping summary all call :func:`part_bits`, so the limit and what is reported are one number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb

FORMATS = ("crossbar", "sparse_list")
CROSSBAR, SPARSE_LIST = 0, 1


@dataclass(frozen=True)
class SynapseFormat:
    """One core family's synapse storage and the bits it implies."""

    name: str
    weight_bits: int
    index_bits: int = 0
    header_bits: int = 0

    @classmethod
    def of(cls, name: str, weight_bits: int, neurons: int, header_bits: int) -> "SynapseFormat":
        if name == "crossbar":
            return cls(name, weight_bits)
        return cls(name, weight_bits, index_bits=max(1, math.ceil(math.log2(max(neurons, 2)))),
                   header_bits=header_bits)

    @property
    def code(self) -> int:
        return FORMATS.index(self.name)

    @property
    def bits_per_synapse(self) -> int:
        """Bits of one stored synapse (a crossbar cell, or a list entry without its axon's header)."""
        return self.weight_bits + self.index_bits

    def bits(self, synapses: int, axons: int, neurons: int) -> int:
        """Bits of a part with ``synapses`` stored synapses from ``axons`` distinct axons into ``neurons``."""
        return int(part_bits(self.code, synapses, axons, neurons, self.weight_bits, self.index_bits, self.header_bits))


@nb.njit(cache=True)
def part_bits(code, synapses, axons, neurons, weight_bits, index_bits, header_bits):
    """Synapse memory bits of one part in format ``code`` (:data:`CROSSBAR` or :data:`SPARSE_LIST`)."""
    if code == CROSSBAR:
        return axons * neurons * weight_bits
    return synapses * (weight_bits + index_bits) + axons * header_bits
