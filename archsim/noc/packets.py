"""Packets: one phase's NoC traffic as a struct of arrays.

Packet ``p`` leaves core ``src[p]`` at cycle ``inject_cycle[p]`` with ``flits[p]`` flits for every
core in ``dst[dst_ptr[p]:dst_ptr[p + 1]]`` (a multicast set, CSR layout; duplicates are ignored).
Core ids follow :mod:`archsim.noc.topology` (chip-major, then y, then x).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsim.noc.config import NocConfig


@dataclass(frozen=True)
class Packets:
    """A phase's packets; all arrays int64. ``dst_ptr`` has ``len(src) + 1`` entries."""

    src: np.ndarray
    dst_ptr: np.ndarray
    dst: np.ndarray
    flits: np.ndarray
    inject_cycle: np.ndarray

    def __post_init__(self):
        for name in ("src", "dst_ptr", "dst", "flits", "inject_cycle"):
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.int64))
        n = len(self.src)
        if len(self.flits) != n or len(self.inject_cycle) != n or len(self.dst_ptr) != n + 1:
            raise ValueError("Packets: src, flits, inject_cycle need one entry per packet, dst_ptr one more")
        if self.dst_ptr[0] != 0 or self.dst_ptr[-1] != len(self.dst) or np.any(np.diff(self.dst_ptr) < 1):
            raise ValueError("Packets: dst_ptr must start at 0, end at len(dst) and give each packet >= 1 destination")
        if n and (self.flits.min() < 1 or self.inject_cycle.min() < 0):
            raise ValueError("Packets: flits must be >= 1 and inject_cycle >= 0")

    def __len__(self) -> int:
        return len(self.src)

    @property
    def total_flits(self) -> int:
        """Flits injected (a multicast packet's flits count once)."""
        return int(self.flits.sum())

    def destinations(self, p: int) -> np.ndarray:
        return self.dst[self.dst_ptr[p]:self.dst_ptr[p + 1]]

    def check_cores(self, config: NocConfig) -> None:
        """Raise ValueError if a source or destination is not a core of ``config``'s board."""
        for name, ids in (("src", self.src), ("dst", self.dst)):
            if len(ids) and (ids.min() < 0 or ids.max() >= config.n_cores):
                raise ValueError(f"Packets.{name}: core ids must lie in 0 .. {config.n_cores - 1}")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def empty(cls) -> "Packets":
        return cls(np.zeros(0), np.zeros(1), np.zeros(0), np.zeros(0), np.zeros(0))

    @classmethod
    def unicast(cls, src, dst, flits=1, inject_cycle=0) -> "Packets":
        """One packet per entry of ``src``/``dst`` (scalars broadcast)."""
        src, dst, flits, inject_cycle = np.broadcast_arrays(
            *(np.atleast_1d(np.asarray(a, dtype=np.int64)) for a in (src, dst, flits, inject_cycle)))
        return cls(src, np.arange(len(src) + 1), dst, flits, inject_cycle)

    @classmethod
    def from_list(cls, packets) -> "Packets":
        """From ``[(src, dsts, flits, inject_cycle), ...]``; ``dsts`` is a core id or an iterable of them."""
        src, flits, inject, dst, ptr = [], [], [], [], [0]
        for source, destinations, n_flits, cycle in packets:
            destinations = np.atleast_1d(np.asarray(destinations, dtype=np.int64))
            src.append(source)
            flits.append(n_flits)
            inject.append(cycle)
            dst.extend(destinations.tolist())
            ptr.append(len(dst))
        return cls(np.array(src), np.array(ptr), np.array(dst), np.array(flits), np.array(inject))
