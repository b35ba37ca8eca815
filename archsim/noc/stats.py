"""NocStats: what one phase's traffic did on the NoC (counts and cycles only, no energy).

Both engines return this object and must return equal ones. Per-link arrays follow the link
indexing of :mod:`archsim.noc.topology` (``4 * core + direction``; :func:`link_grid` lays them out
on the board for a heatmap).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

ARRAY_FIELDS = ("link_flits", "link_stall_cycles", "link_no_credit_cycles", "link_peak_waiting_flits",
                "buffer_peak_flits", "router_flits", "inject_flits", "eject_flits", "packet_finish_cycles")


@dataclass
class NocStats:
    """Counts of one simulated phase.

    - ``finish_cycle``: cycle at which the last flit is delivered into its destination core
      (0 without traffic): the phase's communication time when the phase starts at cycle 0.
    - ``packets``, ``injected_flits`` (a multicast flit counts once), ``ejected_flits`` (once per
      destination core).
    - ``hops``: router-to-router links of all packets' multicast trees (per packet, not per flit).
    - ``flit_hops``: flits carried by router-to-router links, summed over links (= ``link_flits.sum()``).
    - ``router_traversals``: flits entering a router (from its core or a link), summed over routers.
    - ``interchip_flits``: flits carried by inter-chip links (``interchip_bits`` = times ``flit_bits``).
    - ``stall_cycles``: flit-cycles spent inside the network waiting between requesting a link or
      an ejection port and being granted a slot on it, by cause: ``stall_no_credit_cycles`` (the
      output had a slot that cycle but no credit for the buffer behind it: backpressure) and
      ``stall_output_busy_cycles`` (older flits took the cycle's slots, or a fractional-bandwidth
      channel had none that cycle); the two add up to ``stall_cycles``.
    - ``inject_wait_cycles``: flit-cycles flits wait at their source for the injection port (a
      packet's own flits queue there behind each other: flit k waits k cycles at rate 1), of
      which ``inject_no_credit_cycles`` for want of a credit of the router's local input buffer.
    - ``peak_waiting_flits``: the most flits ever left waiting for one link or ejection port at
      the end of a cycle (they sit in the input buffers of the router, spread over its ports).
    - ``peak_buffer_flits``: the most slots of one input buffer ever held at once (credits in use
      at the end of a cycle: flits on the channel towards it, stored in it, or whose credit is on
      its way back). At most ``buffer_flits``; a run whose peak stays below ``buffer_flits`` never
      lacked a credit, and equals a run with deeper buffers.
    - arrays: ``link_flits[4N]``, ``link_stall_cycles[4N]``, ``link_no_credit_cycles[4N]``,
      ``link_peak_waiting_flits[4N]``, ``buffer_peak_flits[5N]`` (the input buffer fed by each
      link, then each core's local input buffer, indexed like the channel feeding it),
      ``router_flits[N]``,
      ``inject_flits[N]``, ``eject_flits[N]`` (per core), ``packet_finish_cycles[P]`` (delivery
      cycle of each packet's last flit at its last destination, in the input order of packets).
    """

    finish_cycle: int
    packets: int
    injected_flits: int
    ejected_flits: int
    hops: int
    flit_hops: int
    router_traversals: int
    interchip_flits: int
    stall_cycles: int
    stall_no_credit_cycles: int
    stall_output_busy_cycles: int
    inject_wait_cycles: int
    inject_no_credit_cycles: int
    peak_waiting_flits: int
    peak_buffer_flits: int
    flit_bits: int
    link_flits: np.ndarray
    link_stall_cycles: np.ndarray
    link_no_credit_cycles: np.ndarray
    link_peak_waiting_flits: np.ndarray
    buffer_peak_flits: np.ndarray
    router_flits: np.ndarray
    inject_flits: np.ndarray
    eject_flits: np.ndarray
    packet_finish_cycles: np.ndarray

    @classmethod
    def from_channel_counts(cls, channel_flits, channel_stalls, channel_no_credit, channel_peak_waiting,
                            buffer_peak, router_flits, packet_finish_cycles, hops: int,
                            interchip_flits: int, flit_bits: int) -> "NocStats":
        """Assemble from per-channel arrays (links, then injection ports, then ejection ports) and
        the per-input-buffer peaks (indexed by the link or injection port feeding the buffer)."""
        n = len(router_flits)
        link_flits = np.asarray(channel_flits[:4 * n], dtype=np.int64)
        stall_cycles = int(channel_stalls[:4 * n].sum() + channel_stalls[5 * n:].sum())
        stall_no_credit = int(channel_no_credit[:4 * n].sum())      # ejection ports need no credit
        return cls(
            finish_cycle=int(np.max(packet_finish_cycles, initial=0)),
            packets=len(packet_finish_cycles),
            injected_flits=int(channel_flits[4 * n:5 * n].sum()),
            ejected_flits=int(channel_flits[5 * n:].sum()),
            hops=int(hops),
            flit_hops=int(link_flits.sum()),
            router_traversals=int(router_flits.sum()),
            interchip_flits=int(interchip_flits),
            stall_cycles=stall_cycles,
            stall_no_credit_cycles=stall_no_credit,
            stall_output_busy_cycles=stall_cycles - stall_no_credit,
            inject_wait_cycles=int(channel_stalls[4 * n:5 * n].sum()),
            inject_no_credit_cycles=int(channel_no_credit[4 * n:5 * n].sum()),
            peak_waiting_flits=int(max(np.max(channel_peak_waiting[:4 * n], initial=0),
                                       np.max(channel_peak_waiting[5 * n:], initial=0))),
            peak_buffer_flits=int(np.max(buffer_peak, initial=0)),
            flit_bits=int(flit_bits),
            link_flits=link_flits.copy(),
            link_stall_cycles=np.array(channel_stalls[:4 * n], dtype=np.int64),
            link_no_credit_cycles=np.array(channel_no_credit[:4 * n], dtype=np.int64),
            link_peak_waiting_flits=np.array(channel_peak_waiting[:4 * n], dtype=np.int64),
            buffer_peak_flits=np.array(buffer_peak, dtype=np.int64),
            router_flits=np.array(router_flits, dtype=np.int64),
            inject_flits=np.array(channel_flits[4 * n:5 * n], dtype=np.int64),
            eject_flits=np.array(channel_flits[5 * n:], dtype=np.int64),
            packet_finish_cycles=np.array(packet_finish_cycles, dtype=np.int64),
        )

    @property
    def interchip_bits(self) -> int:
        return self.interchip_flits * self.flit_bits

    def to_dict(self, arrays: bool = False) -> dict:
        """JSON-ready summary; with ``arrays=True`` the per-link/per-core arrays as lists too."""
        data = {f.name: int(getattr(self, f.name)) for f in fields(self) if f.name not in ARRAY_FIELDS}
        data["interchip_bits"] = self.interchip_bits
        data["max_link_flits"] = int(self.link_flits.max(initial=0))
        data["busiest_link"] = int(np.argmax(self.link_flits)) if self.link_flits.any() else -1
        if arrays:
            data.update({name: getattr(self, name).tolist() for name in ARRAY_FIELDS})
        return data

    def __eq__(self, other) -> bool:
        if not isinstance(other, NocStats):
            return NotImplemented
        return all(np.array_equal(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    def __add__(self, later: "NocStats") -> "NocStats":
        """Stats of two phases run one after the other: counts add, ``finish_cycle`` adds (total
        communication cycles), peaks take the larger, ``packet_finish_cycles`` are concatenated
        (each relative to its phase)."""
        if self.link_flits.shape != later.link_flits.shape or self.flit_bits != later.flit_bits:
            raise ValueError("NocStats: can only add stats of the same NoC")
        data = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(later, f.name)
            if f.name == "flit_bits":
                data[f.name] = mine
            elif f.name == "packet_finish_cycles":
                data[f.name] = np.concatenate([mine, theirs])
            elif "peak" in f.name:
                data[f.name] = np.maximum(mine, theirs)
            else:
                data[f.name] = mine + theirs
        return NocStats(**data)
