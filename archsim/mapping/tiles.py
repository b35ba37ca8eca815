"""Tile partition of conv layers: Tianjic's folded / semi-folded mapping, searched for fewest cores.

A core holds one *tile*: a block of ``c`` output channels x a band of ``r`` output rows x a slice of
``w`` output columns, times one fan-in group of whole input-channel planes (groups of ``g`` planes;
partial sums of the groups merge on the tile's owner). Its axons are the group's channels over the
rows and columns the tile's receptive field needs (band + halo). Inside a tile neurons go column by
column (each column: the band's rows, each row: the block's channels), so the core's passes (at most
``core.neurons`` neurons and ``core.axons`` inputs each, at most ``core.max_fold`` of them) are
strips of the band ``r`` rows high: folding along the feature map, weights loaded once per core.

The order of a tiled layer is the string ``tile-c<c>-r<r>-w<w>`` (tiles go channel block, then row
band, then column slice). :func:`search_tiles` picks ``g, c, r, w`` by branch and bound: candidates
in order of a lower bound on their cores, each checked on a probe tile in the middle of the map
with exactly the pass rule of the chip model (:mod:`archsim.models.manycore.passes`); then the
best of those (fewest cores, ties to the smaller expected traffic: input packets received plus
partial sums) that fits on every tile.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba as nb
import numpy as np


from archsim.mapping.lowering import LoweredLayer, kernel_bits_per_group
from archsim.mapping.storage import part_bits

if TYPE_CHECKING:
    from archsim.mapping.partition import CoreLimits

_TILE_ORDER = re.compile(r"tile-c([1-9]\d*)-r([1-9]\d*)-w([1-9]\d*)")

#: Packets per neuron a non-owner part sends to merge its partial sums (as routing.traffic_edges).
PSUM_PACKETS_PER_NEURON = 0.5


@dataclass(frozen=True)
class Tile:
    """Output channels x rows x columns of one core's block of a conv layer."""

    channels: int
    rows: int
    cols: int

    @property
    def order(self) -> str:
        return f"tile-c{self.channels}-r{self.rows}-w{self.cols}"

    @classmethod
    def parse(cls, order: str) -> "Tile | None":
        match = _TILE_ORDER.fullmatch(order)
        return cls(*(int(v) for v in match.groups())) if match else None


@dataclass(frozen=True)
class TileChoice:
    """The searched cut: tile, fan-in group boundaries, runs (one per tile) and cores it takes."""

    tile: Tile
    input_groups: list[int]
    runs: list[tuple[int, int]]
    cores: int


def tile_permutation(lowered: LoweredLayer, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
    """(flat neuron indices in tile order, start position of each tile)."""
    c, (h, w) = lowered.channels, lowered.map_shape
    ch, y, x = (a.reshape(-1) for a in np.meshgrid(np.arange(c), np.arange(h), np.arange(w), indexing="ij"))
    block = ((ch // tile.channels) * -(-h // tile.rows) + y // tile.rows) * -(-w // tile.cols) + x // tile.cols
    perm = np.lexsort((ch, y, x, block)).astype(np.int64)
    ids = block[perm]
    starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]])).astype(np.int64)
    return perm, starts


def tileable(lowered: LoweredLayer) -> bool:
    """A layer with several channels over a 2-D map of more than one position."""
    return lowered.channels > 1 and lowered.size == lowered.channels * lowered.map_shape[0] * lowered.map_shape[1] \
        and lowered.size > lowered.channels


def search_tiles(lowered: LoweredLayer, csc, limits: "CoreLimits") -> TileChoice | None:
    """The tile cut with fewest cores (then least traffic) that fits ``limits`` on every core, or None
    (``csc``: the layer's columns; None at kernel level, where :class:`RunCheck` generates them)."""
    c, (h, w) = lowered.channels, lowered.map_shape
    n_planes = len(lowered.input_planes) - 1
    if n_planes < 1:
        return None
    per_core = limits.neurons_per_core(lowered.state_words)
    if per_core < 1:
        return None
    col_ptr, col_rows = (None, None) if csc is None else (csc.indptr.astype(np.int64), csc.indices.astype(np.int64))
    scratch = _Scratch(lowered.input_size, c)
    widths = _distinct_ceil(w)
    candidates = []
    for g, n_groups in _distinct_ceil_pairs(n_planes):
        for cb, n_blocks in _distinct_ceil_pairs(c):
            for rb in range(1, h + 1):
                if cb * rb > per_core:
                    break
                w_cap = min(w, per_core // (cb * rb))
                bound = n_groups * n_blocks * -(-h // rb) * -(-w // w_cap)
                candidates.append((bound, g, n_groups, cb, n_blocks, rb, w_cap))
    candidates.sort()
    found = []                                  # (cores, traffic, tile, groups) that fit on the probe
    shared = None
    if lowered.kernels is not None:             # kernel level: each probe tile's columns generated once
        shared = _KernelProbes({g: RunCheck(lowered, None, None, _group_bounds(lowered.input_planes, g), limits,
                                            scratch) for g, _ in _distinct_ceil_pairs(n_planes)})
    for bound, g, n_groups, cb, n_blocks, rb, w_cap in candidates:
        if found and bound > min(f[0] for f in found):
            break
        if shared is None:
            probe = _Probe(RunCheck(lowered, col_ptr, col_rows, _group_bounds(lowered.input_planes, g), limits, scratch))
        else:
            probe = _Probe(shared.checks[g], shared)
        wb, axons = _widest([wb for wb in widths if wb <= w_cap], lambda wb: probe.axons_if_fits(Tile(cb, rb, wb)))
        if wb is not None:
            cores = n_groups * n_blocks * -(-h // rb) * -(-w // wb)
            traffic = cores * axons + PSUM_PACKETS_PER_NEURON * (n_groups - 1) * lowered.size
            found.append((cores, traffic, Tile(cb, rb, wb), probe))
    for _, _, tile, probe in sorted(found, key=lambda f: f[:2]):
        exact = probe.check_all(tile)
        if exact is not None:
            return TileChoice(tile, [int(b) for b in probe.groups], exact[1], exact[0])
    return None


def _distinct_ceil_pairs(n: int) -> list[tuple[int, int]]:
    """(ceil(n / k), k) for each k whose block size differs from a smaller k's (block size descending)."""
    out, seen = [], set()
    for k in range(1, n + 1):
        size = -(-n // k)
        if size not in seen:
            seen.add(size)
            out.append((size, -(-n // size)))
    return out


def _distinct_ceil(n: int) -> list[int]:
    """Block sizes ceil(n / k), ascending."""
    return sorted({-(-n // k) for k in range(1, n + 1)})


def _group_bounds(planes: np.ndarray, per_group: int) -> np.ndarray:
    bounds = planes[::per_group]
    return bounds if bounds[-1] == planes[-1] else np.append(bounds, planes[-1])


def _widest(ascending: list[int], axons_if_fits) -> tuple[int | None, int]:
    """The largest value in ``ascending`` that fits (binary search: a narrower tile fits when a wider one
    does), with its axons."""
    lo, hi, found = 0, len(ascending) - 1, (None, 0)
    while lo <= hi:
        mid = (lo + hi) // 2
        axons = axons_if_fits(ascending[mid])
        if axons >= 0:
            found, lo = (ascending[mid], axons), mid + 1
        else:
            hi = mid - 1
    return found


class _Scratch:
    """Stamp arrays shared by every check of one layer (no clearing between parts)."""

    def __init__(self, n_inputs: int, channels: int):
        self.input_stamp = np.zeros(max(n_inputs, 1), np.int64)
        self.part_input_stamp = np.zeros(max(n_inputs, 1), np.int64)
        self.channel_stamp = np.zeros(channels, np.int64)
        self.stamp = np.zeros(1, np.int64)


#: Synapses generated at once when a kernel-level layer's runs are checked (memory of one chunk).
CHUNK_SYNAPSES = 4_000_000


class RunCheck:
    """Checks runs of one layer's neurons, in fan-in groups ``groups``, against the core limits
    (the chip model's pass rule, :func:`_check_runs`); the tile search and the partitioned cuts
    (:mod:`~archsim.mapping.partitioner`) both use it. A kernel-level layer's columns are generated
    from its kernels (:mod:`~archsim.mapping.kernels`), a chunk of runs at a time."""

    def __init__(self, lowered: LoweredLayer, col_ptr, col_rows, groups, limits: "CoreLimits", scratch=None):
        self.lowered, self.col_ptr, self.col_rows, self.groups, self.limits = lowered, col_ptr, col_rows, groups, limits
        self.kernel_bits = kernel_bits_per_group(lowered, groups, limits.weight_bits)
        self.channel_of = np.arange(lowered.size, dtype=np.int64) // max(lowered.size // lowered.channels, 1)
        self.scratch = scratch if scratch is not None else _Scratch(lowered.input_size, lowered.channels)
        state_per_neuron = lowered.state_words * limits.membrane_bits if limits.state_bits else 0
        self._limit_args = (limits.neurons, limits.axons, limits.max_fold, limits.memory_bits, limits.weight_bits,
                            state_per_neuron, limits.state_bits, *limits.format_args)

    def check(self, neurons: np.ndarray, run_edges: np.ndarray) -> tuple[bool, int, int]:
        """(all runs fit, parts, axons of the first run's parts) for runs ``run_edges`` of ``neurons``."""
        s = self.scratch
        kernels = self.lowered.kernels
        if kernels is None:
            ok, parts, axons = _check_runs(self.col_ptr, self.col_rows, neurons, run_edges, self.groups,
                                           self.kernel_bits, self.channel_of, s.input_stamp, s.part_input_stamp,
                                           s.channel_stamp, s.stamp, *self._limit_args)
            return bool(ok), int(parts), int(axons)
        total_parts, first_axons = 0, 0
        for first, last in _chunks(run_edges, max(1, CHUNK_SYNAPSES // max(kernels.max_fan_in(), 1))):
            a, b = int(run_edges[first]), int(run_edges[last])
            ptr, rows, _ = kernels.columns(neurons[a:b])
            ok, parts, axons = self.check_columns(ptr, rows, neurons[a:b], run_edges[first:last + 1] - a)
            total_parts += int(parts)
            first_axons = int(axons) if first == 0 else first_axons
            if not ok:
                return False, total_parts, first_axons
        return True, total_parts, first_axons

    def check_columns(self, ptr, rows, neurons: np.ndarray, run_edges: np.ndarray) -> tuple[bool, int, int]:
        """:meth:`check` of runs ``run_edges`` of ``neurons`` whose columns (all input rows) are given,
        ``ptr`` / ``rows`` (a kernel-level layer's, generated)."""
        s = self.scratch
        ok, parts, axons = _check_runs(ptr, rows, np.arange(len(neurons), dtype=np.int64), run_edges, self.groups,
                                       self.kernel_bits, self.channel_of[neurons], s.input_stamp,
                                       s.part_input_stamp, s.channel_stamp, s.stamp, *self._limit_args)
        return bool(ok), int(parts), int(axons)


def _chunks(run_edges: np.ndarray, neurons_per_chunk: int):
    """(first run, end run) of consecutive runs holding about ``neurons_per_chunk`` neurons (a run at least)."""
    first, n_runs = 0, len(run_edges) - 1
    while first < n_runs:
        last = int(np.searchsorted(run_edges, run_edges[first] + neurons_per_chunk, side="right")) - 1
        last = min(max(last, first + 1), n_runs)
        yield first, last
        first = last


def _probe_neurons(lowered: LoweredLayer, tile: Tile) -> np.ndarray:
    """The probe part of ``tile``: a middle tile of the first channel block, in tile order."""
    c, (h, w) = lowered.channels, lowered.map_shape
    y0, x0 = max(0, (h - tile.rows) // 2), max(0, (w - tile.cols) // 2)
    ch, y, x = np.meshgrid(np.arange(min(tile.channels, c)), np.arange(y0, y0 + tile.rows),
                           np.arange(x0, x0 + tile.cols), indexing="ij")
    order = np.lexsort((ch.reshape(-1), y.reshape(-1), x.reshape(-1)))
    return ((ch.reshape(-1) * h + y.reshape(-1)) * w + x.reshape(-1))[order].astype(np.int64)


class _KernelProbes:
    """Probe results of a kernel-level layer for every group size at once (``checks``: group size ->
    RunCheck): a probe tile's columns are generated once, when the search first asks for the tile,
    and checked in every group size; the search asks each tile in many group sizes."""

    def __init__(self, checks: dict):
        self.checks, self.results = checks, {}

    def axons_if_fits(self, check: RunCheck, tile: Tile) -> int:
        if tile not in self.results:
            any_check = next(iter(self.checks.values()))
            neurons = _probe_neurons(any_check.lowered, tile)
            ptr, rows, _ = any_check.lowered.kernels.columns(neurons)
            edges = np.array([0, len(neurons)], np.int64)
            self.results[tile] = {id(c): c.check_columns(ptr, rows, neurons, edges) for c in self.checks.values()}
        ok, _, axons = self.results[tile][id(check)]
        return axons if ok else -1


class _Probe:
    """Checks of tiles of one (group size, layer) against the core limits (``shared``: the layer's
    :class:`_KernelProbes` at kernel level)."""

    def __init__(self, check: RunCheck, shared: _KernelProbes | None = None):
        self.run_check, self.lowered, self.groups, self.shared = check, check.lowered, check.groups, shared

    def axons_if_fits(self, tile: Tile) -> int:
        """Axons of the probe part (a middle tile, first channel block, each group), or -1 if it breaks a limit."""
        if self.shared is not None:
            return self.shared.axons_if_fits(self.run_check, tile)
        neurons = _probe_neurons(self.lowered, tile)
        ok, _, axons = self.run_check.check(neurons, np.array([0, len(neurons)], np.int64))
        return axons if ok else -1

    def check_all(self, tile: Tile) -> tuple[int, list[tuple[int, int]]] | None:
        """(cores, runs) when every tile of the layer fits, else None."""
        perm, starts = tile_permutation(self.lowered, tile)
        edges = np.append(starts, len(perm)).astype(np.int64)
        ok, parts, _ = self.run_check.check(perm, edges)
        if not ok:
            return None
        return parts, [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


@nb.njit(cache=True)
def _check_runs(col_ptr, col_rows, neurons, run_edges, groups, kernel_bits, channel_of, input_stamp,
                part_input_stamp, channel_stamp, stamp, neurons_per_pass, axons_per_pass, max_fold, memory_bits,
                weight_bits, state_per_neuron, state_bits, format_code, index_bits, header_bits):
    """``(all fit, parts, axons of the first run's parts)`` for runs of ``neurons`` x fan-in groups.

    A part is one run restricted to one group's inputs; it exists when some synapse reaches it (a
    run no group reaches still takes one core). Its passes follow the chip model's greedy rule, in
    the run's neuron order: a neuron opens a new pass when the pass would exceed
    ``neurons_per_pass`` neurons or ``axons_per_pass`` distinct inputs. A part fits with at most
    ``max_fold`` passes, no neuron needing more than ``axons_per_pass`` inputs of the group, its
    weights (kernel slices per channel, or every synapse in the core's synapse format,
    :func:`~archsim.mapping.storage.part_bits`) within ``memory_bits`` and its neurons' state within
    ``state_bits``.
    """
    parts = 0
    first_axons = 0
    for run in range(run_edges.shape[0] - 1):
        a, b = run_edges[run], run_edges[run + 1]
        if state_bits > 0 and (b - a) * state_per_neuron > state_bits:
            return False, parts, first_axons
        if b - a > neurons_per_pass * max_fold:
            return False, parts, first_axons
        reached = 0
        cursor = np.empty(b - a, np.int64)      # per neuron: its first column entry not yet in a group
        for i in range(a, b):
            cursor[i - a] = col_ptr[neurons[i]]
        for g in range(groups.shape[0] - 1):
            lo, hi = groups[g], groups[g + 1]
            stamp[0] += 1
            part_stamp = stamp[0]
            stamp[0] += 1
            pass_stamp = stamp[0]
            passes, in_pass, pass_axons, synapses, kernels, part_axons = 1, 0, 0, 0, 0, 0
            for i in range(a, b):
                col = neurons[i]
                s, end = cursor[i - a], col_ptr[col + 1]
                while s < end and col_rows[s] < lo:
                    s += 1
                # one scan of the group's rows: stamped into the current pass (a pass that then closes
                # never reads its stamps again) and into the part, counting the fresh ones
                e, fresh = s, 0
                while e < end and col_rows[e] < hi:
                    r = col_rows[e]
                    if input_stamp[r] != pass_stamp:
                        input_stamp[r] = pass_stamp
                        fresh += 1
                    if part_input_stamp[r] != part_stamp:
                        part_input_stamp[r] = part_stamp
                        part_axons += 1
                    e += 1
                cursor[i - a] = e
                if e - s > axons_per_pass:
                    return False, parts, first_axons
                if in_pass > 0 and (in_pass + 1 > neurons_per_pass or pass_axons + fresh > axons_per_pass):
                    stamp[0] += 1
                    pass_stamp = stamp[0]
                    passes += 1
                    if passes > max_fold:
                        return False, parts, first_axons
                    in_pass, pass_axons, fresh = 0, 0, e - s
                    for k in range(s, e):
                        input_stamp[col_rows[k]] = pass_stamp
                pass_axons += fresh
                in_pass += 1
                synapses += e - s
                if e > s and channel_stamp[channel_of[col]] != part_stamp:
                    channel_stamp[channel_of[col]] = part_stamp
                    kernels += 1
                    if kernel_bits[g] >= 0 and kernels * kernel_bits[g] > memory_bits:
                        return False, parts, first_axons
            if kernel_bits[g] < 0 and part_bits(format_code, synapses, part_axons, b - a, weight_bits, index_bits,
                                                header_bits) > memory_bits:
                return False, parts, first_axons         # (kernel slices were checked as each was added)
            if synapses > 0:
                reached += 1
                if run == 0:
                    first_axons += part_axons
        parts += max(reached, 1)
    return True, parts, first_axons
