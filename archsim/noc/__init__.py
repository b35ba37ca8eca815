"""Cycle-accurate 2D-mesh network-on-chip (one chip, or a board of chips joined by slower links).

The many-core chip model calls :func:`simulate` once per phase with that phase's
:class:`Packets`; the mapper uses :func:`xy_route`, :func:`multicast_tree` and :func:`hop_distance`
to estimate hop-weighted traffic. Numbering of cores, links and channels: :mod:`archsim.noc.topology`.

Micro-architecture (the rules both engines implement; numbers come from :class:`NocConfig`)
--------------------------------------------------------------------------------------------
1. **Channels.** Every core has an injection port (core -> its router) and an ejection port
   (router -> core), ``local_flits_per_cycle`` wide and ``local_latency_cycles`` long. Neighbouring
   routers are joined by one directed link each way: ``link_flits_per_cycle`` / ``hop_latency_cycles``
   on a chip, ``interchip_flits_per_cycle`` / ``interchip_latency_cycles`` between facing border
   routers of neighbouring chips.
2. **Flits move on their own.** Every flit is a self-contained single-flit packet carrying its
   route (as in TianjicX, whose NoC packet is one 8-byte payload; BiMap toolchain). A "packet" of
   F flits here is a message of F such flits sent back to back; flits of different packets may
   interleave on a link.
3. **Slots.** A channel of rate ``r = num/den`` flits per cycle has slots numbered 0, 1, 2, ...
   from cycle 0 of the phase; slot ``n`` is in cycle ``floor(n / r)``, so cycle ``c`` holds
   ``ceil((c + 1) r) - ceil(c r)`` slots (rate 1: one per cycle; 0.25: cycles 0, 4, 8, ...;
   2: two per cycle). A flit granted a slot in cycle ``c`` arrives at the channel's far end in
   cycle ``c + latency``.
4. **Input buffers and credits.** Every router has one input buffer per input port (four links
   and the local port from its core) of ``buffer_flits`` flits. The sender of each buffer (the
   upstream router's output, or the core's injection port) keeps a credit counter, initially
   ``buffer_flits``: granting a flit onto the channel takes one credit; the flit is written into
   the buffer on arrival and stays there until its last copy has left; in that cycle its credit
   is sent back and can be used ``credit_latency_cycles`` later. A flit therefore holds a slot for
   at least ``latency + router_latency + credit_latency`` cycles (the credit round trip): with a
   buffer shallower than that, one stream cannot use every slot of a rate-1 channel. Inside a
   buffer flits wait per output (virtual output queues: a flit blocked on one output does not
   block a flit behind it bound for another), and a buffer may feed every output in the same
   cycle. Ejection ports need no credit: the core takes every flit (its axon memory is written
   at the port's rate). A core's injection queue is unbounded (the route phase's packets wait
   there for the injection port). XY routes on a mesh make the buffers' waits acyclic, so the
   network cannot deadlock (both engines would raise if it did).
5. **Routers.** A flit arriving at a router in cycle ``a`` requests its output channel(s) in cycle
   ``a + router_latency_cycles``. XY dimension-order routing over the board grid (X first, then Y,
   crossing chip borders like any other link). Multicast: the packet follows the XY tree (the union
   of the XY routes from the source to each destination); at a router where routes split, the flit
   is copied to every tree link leaving it and to the ejection port if its core is a destination;
   each copy requests its channel independently, and the flit keeps its buffer slot until the
   last copy leaves. A copy entering a router counts one router traversal, whatever the number of
   outputs.
6. **Arbitration** (per output channel, every cycle): the waiting flits are granted the cycle's
   slots oldest first, one credit each: by request cycle, ties to the oldest packet (smallest
   injection cycle, then smallest index in the phase's packet list), then to the lower flit
   index. A packet's F flits all request its injection port in its injection cycle. When the
   credits run out, the rest wait, however many slots are left.
7. **Timing of one packet.** Without contention, with every rate 1 and buffers at least as deep
   as the credit round trip: flit ``k`` of a packet injected in cycle ``t0`` reaches a destination
   ``h`` links away in cycle
   ``t0 + k + 2 * local_latency + (h + 1) * router_latency + h * hop_latency``.
   The phase's communication time is ``finish_cycle``, the cycle its last flit is delivered.
8. **Counts.** Flits per link (link loads), flits entering each router, injected and ejected
   flits per core, tree hops per packet, inter-chip flits, stall cycles (cycles between a flit's
   request for a link or ejection port and its grant) by cause (no credit: the output had a slot
   but no credit; output busy: older flits took the slots, or a slower channel had none that
   cycle), apart from them the cycles flits wait at their source for the injection port (and of
   those, for a credit), the most flits ever left waiting for one channel, and each input
   buffer's high-water mark (the most credits of it ever in use). Energy is not computed here:
   ``archsim.cost`` prices these counts. The router's stages, queues and sizes: ``docs/noc.md``.

Engines: ``reference`` (:mod:`archsim.noc.reference`) steps every cycle in plain Python with the
hardware's state; ``fast`` (:mod:`archsim.noc.kernel`) is a Numba kernel over whole arrays that
runs the same state, visiting only the outputs with waiting flits and skipping cycles in which
nothing waits. Tests hold them equal, congested cases included.
"""
from archsim.noc.config import NocConfig
from archsim.noc.packets import Packets
from archsim.noc.simulate import ENGINES, simulate
from archsim.noc.stats import NocStats
from archsim.noc.topology import (DIRECTIONS, board_coords, core_coords, core_id, hop_distance,
                                  link_grid, multicast_tree, topology, xy_route)

__all__ = [
    "DIRECTIONS", "ENGINES", "NocConfig", "NocStats", "Packets", "board_coords", "core_coords",
    "core_id", "hop_distance", "link_grid", "multicast_tree", "simulate", "topology", "xy_route",
]
