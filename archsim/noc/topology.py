"""Where the routers and links of a board are, and how XY routing walks them.

Numbering (used by every NoC function and by the mapper):

- **Core / router id** (one router per core): chip-major, then y, then x::

      chip = chip_y * chips_x + chip_x
      core = chip * (mesh_x * mesh_y) + y * mesh_x + x

- **Board coordinates**: ``X = chip_x * mesh_x + x``, ``Y = chip_y * mesh_y + y``; the board is one
  big ``board_x * board_y`` grid, and a link between two neighbouring grid points on different chips
  is an inter-chip link (every pair of facing border routers has one).
- **Link id**: the directed link leaving router ``r`` in direction ``d`` is ``4 * r + d`` with
  ``d`` indexing :data:`DIRECTIONS` = ``("x+", "x-", "y+", "y-")``. Ids of links that would leave the
  board exist but carry nothing. Per-link arrays therefore have ``4 * n_cores`` entries; reshaped to
  ``(n_cores, 4)`` they are indexed ``[core, direction]``, and :func:`link_grid` lays them out as
  ``[Y, X, direction]`` for a heatmap of the board.
- **Channel id** (engines only): links ``0 .. 4N-1`` as above, then the injection port of core
  ``r`` (core -> its router) at ``4N + r`` and its ejection port (router -> core) at ``5N + r``.

XY routing: a flit first moves along X until its column matches the destination's, then along Y.
The multicast tree of a packet is the union of the XY routes from its source to each destination;
since every prefix of an XY route is itself the XY route to that router, the union is a tree rooted
at the source, and a shared segment carries one copy.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from archsim.noc.config import NocConfig, rate_fraction

DIRECTIONS = ("x+", "x-", "y+", "y-")
X_PLUS, X_MINUS, Y_PLUS, Y_MINUS = range(4)


@dataclass(frozen=True)
class Topology:
    """Arrays describing every router and channel of a board (built once per config, cached).

    ``router_x/router_y``: board coordinates of each router. ``link_target[l]``: router at the far
    end of link ``l`` (-1 where the link would leave the board). ``link_interchip[l]``: link ``l``
    crosses a chip border. ``chan_rate_num/chan_rate_den``: bandwidth of each channel as the exact
    ratio num/den flits per cycle; ``chan_latency_cycles``: its traversal time; ``chan_target``: the
    router a channel leads to (-1 for ejection ports, which lead to a core).
    """

    n_routers: int
    router_x: np.ndarray
    router_y: np.ndarray
    link_target: np.ndarray
    link_interchip: np.ndarray
    chan_rate_num: np.ndarray
    chan_rate_den: np.ndarray
    chan_latency_cycles: np.ndarray
    chan_target: np.ndarray

    @property
    def n_links(self) -> int:
        return 4 * self.n_routers

    @property
    def n_channels(self) -> int:
        return 6 * self.n_routers

    def injection_channel(self, core: int) -> int:
        return 4 * self.n_routers + core

    def ejection_channel(self, core: int) -> int:
        return 5 * self.n_routers + core


def core_id(config: NocConfig, chip_x: int, chip_y: int, x: int, y: int) -> int:
    """Global core id of core (x, y) on chip (chip_x, chip_y)."""
    return (chip_y * config.chips_x + chip_x) * config.cores_per_chip + y * config.mesh_x + x


def core_coords(config: NocConfig, core: int) -> tuple[int, int, int, int]:
    """(chip_x, chip_y, x, y) of a global core id."""
    chip, local = divmod(int(core), config.cores_per_chip)
    chip_y, chip_x = divmod(chip, config.chips_x)
    y, x = divmod(local, config.mesh_x)
    return chip_x, chip_y, x, y


def board_coords(config: NocConfig, cores) -> tuple[np.ndarray, np.ndarray]:
    """Board coordinates (X, Y) of an array of core ids (vectorised)."""
    cores = np.asarray(cores, dtype=np.int64)
    chip, local = np.divmod(cores, config.cores_per_chip)
    chip_y, chip_x = np.divmod(chip, config.chips_x)
    y, x = np.divmod(local, config.mesh_x)
    return chip_x * config.mesh_x + x, chip_y * config.mesh_y + y


def hop_distance(config: NocConfig, src, dst) -> np.ndarray:
    """Router-to-router hops of the XY route from each src to each dst (vectorised, broadcasts)."""
    sx, sy = board_coords(config, src)
    dx, dy = board_coords(config, dst)
    return np.abs(sx - dx) + np.abs(sy - dy)


@lru_cache(maxsize=64)
def topology(config: NocConfig) -> Topology:
    """The channel tables of ``config`` (cached: configs are frozen and hashable)."""
    n = config.n_cores
    router_x, router_y = board_coords(config, np.arange(n))
    grid = np.full((config.board_y, config.board_x), -1, dtype=np.int64)
    grid[router_y, router_x] = np.arange(n)
    link_target = np.full(4 * n, -1, dtype=np.int64)
    steps = {X_PLUS: (1, 0), X_MINUS: (-1, 0), Y_PLUS: (0, 1), Y_MINUS: (0, -1)}
    for d, (step_x, step_y) in steps.items():
        tx, ty = router_x + step_x, router_y + step_y
        inside = (tx >= 0) & (tx < config.board_x) & (ty >= 0) & (ty < config.board_y)
        link_target[4 * np.arange(n)[inside] + d] = grid[ty[inside], tx[inside]]
    chip_of = np.arange(n) // config.cores_per_chip
    sources = np.repeat(np.arange(n), 4)
    link_interchip = (link_target >= 0) & (chip_of[sources] != chip_of[np.maximum(link_target, 0)])

    def rate(value, where):
        fraction = rate_fraction(value, where)
        return fraction.numerator, fraction.denominator

    link_num, link_den = rate(config.link_flits_per_cycle, "link_flits_per_cycle")
    chip_num, chip_den = rate(config.interchip_flits_per_cycle, "interchip_flits_per_cycle")
    local_num, local_den = rate(config.local_flits_per_cycle, "local_flits_per_cycle")
    num = np.empty(6 * n, dtype=np.int64)
    den = np.empty(6 * n, dtype=np.int64)
    latency = np.empty(6 * n, dtype=np.int64)
    num[:4 * n] = np.where(link_interchip, chip_num, link_num)
    den[:4 * n] = np.where(link_interchip, chip_den, link_den)
    latency[:4 * n] = np.where(link_interchip, config.interchip_latency_cycles, config.hop_latency_cycles)
    num[4 * n:], den[4 * n:], latency[4 * n:] = local_num, local_den, config.local_latency_cycles
    chan_target = np.concatenate([link_target, np.arange(n), np.full(n, -1)])
    arrays = (router_x, router_y, link_target, link_interchip, num, den, latency, chan_target)
    for array in arrays:
        array.setflags(write=False)
    return Topology(n, *arrays)


def xy_route(src: int, dst: int, config: NocConfig) -> list[int]:
    """Link ids, in order, of the XY route from core ``src`` to core ``dst`` (empty if equal)."""
    topo = topology(config)
    check_core(src, config)
    check_core(dst, config)
    links = []
    here = int(src)
    while here != dst:
        links.append(4 * here + xy_direction(topo, here, int(dst)))
        here = int(topo.link_target[links[-1]])
    return links


def xy_direction(topo: Topology, here: int, dst: int) -> int:
    """Output direction XY routing takes at router ``here`` toward ``dst`` (``here != dst``)."""
    if topo.router_x[here] < topo.router_x[dst]:
        return X_PLUS
    if topo.router_x[here] > topo.router_x[dst]:
        return X_MINUS
    return Y_PLUS if topo.router_y[here] < topo.router_y[dst] else Y_MINUS


def multicast_tree(src: int, dsts, config: NocConfig) -> list[int]:
    """Sorted link ids of the XY multicast tree from ``src`` to the cores ``dsts``.

    Its length is the packet's hops (one copy per tree link); a flit of the packet crosses each
    of these links exactly once.
    """
    tree: set[int] = set()
    for dst in dsts:
        tree.update(xy_route(src, dst, config))
    return sorted(tree)


def link_grid(link_values, config: NocConfig) -> np.ndarray:
    """Per-link values (length ``4 * n_cores``) as a ``[Y, X, direction]`` board grid for a heatmap."""
    values = np.asarray(link_values).reshape(config.n_cores, 4)
    topo = topology(config)
    grid = np.zeros((config.board_y, config.board_x, 4), dtype=values.dtype)
    grid[topo.router_y, topo.router_x] = values
    return grid


def check_core(core: int, config: NocConfig) -> None:
    if not 0 <= int(core) < config.n_cores:
        raise ValueError(f"core id {core} outside the board (0 .. {config.n_cores - 1})")
