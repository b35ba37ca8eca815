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
   F flits here is a message of F such flits sent back to back; flits of different packets may interleave on a link. Switching
   is therefore cut-through per flit; input buffers are unbounded (no backpressure, no deadlock:
   an assumption that holds while phases drain their traffic before the next phase starts).
3. **Slots.** A channel of rate ``r = num/den`` flits per cycle has slots numbered 0, 1, 2, ...
   from cycle 0 of the phase; slot ``n`` is in cycle ``floor(n / r)``, so cycle ``c`` holds
   ``ceil((c + 1) r) - ceil(c r)`` slots (rate 1: one per cycle; 0.25: cycles 0, 4, 8, ...;
   2: two per cycle). A flit granted a slot in cycle ``c`` arrives at the channel's far end in
   cycle ``c + latency``.
4. **Routers.** A flit arriving at a router in cycle ``a`` requests its output channel(s) in cycle
   ``a + router_latency_cycles``. XY dimension-order routing over the board grid (X first, then Y,
   crossing chip borders like any other link). Multicast: the packet follows the XY tree (the union
   of the XY routes from the source to each destination); at a router where routes split, the flit
   is copied to every tree link leaving it and to the ejection port if its core is a destination;
   each copy requests its channel independently. A copy entering a router counts one router
   traversal, whatever the number of outputs.
5. **Arbitration** (per channel, every cycle): the waiting flits are granted the cycle's slots
   first-come first-served by request cycle; ties go to the oldest packet (smallest injection
   cycle, then smallest index in the phase's packet list), then to the lower flit index. A packet's
   F flits all request its injection port in its injection cycle.
6. **Timing of one packet.** Without contention, with every rate 1: flit ``k`` of a packet injected
   in cycle ``t0`` reaches a destination ``h`` links away in cycle
   ``t0 + k + 2 * local_latency + (h + 1) * router_latency + h * hop_latency``.
   The phase's communication time is ``finish_cycle``, the cycle its last flit is delivered.
7. **Counts.** Flits per link (link loads), flits entering each router, injected and ejected
   flits per core, tree hops per packet, inter-chip flits, stall cycles (cycles between a flit's
   request for a link or ejection port and its grant: contention, and waiting for the next slot of
   a slower channel), apart from them the cycles flits wait at their source for the injection
   port, and the most flits ever left waiting for one channel (the buffer depth rule 2 assumes).
   Energy is not computed here: ``archsim.cost`` prices these counts.

Engines: ``reference`` (:mod:`archsim.noc.reference`) steps every cycle in plain Python;
``fast`` (:mod:`archsim.noc.kernel`) is a Numba event kernel that processes channel requests in the
same arbitration order with a next-free-slot per channel, exact for rules 2-5. Tests hold them equal.
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
