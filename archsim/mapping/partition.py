"""Partition: cut each layer into parts that each fit one core.

A part is a run of the layer's neurons (in a chosen neuron order) times one *fan-in group* of its
input space. Limits per core (:class:`CoreLimits`): neurons, axons (distinct inputs it receives),
synapse memory (a convolution layer stores each output channel's kernel slice once per core,
Tianjic's folded mapping; other layers store every synapse) and neuron-state memory.

* **Fan-in groups** (when one neuron alone needs more axons than a core has): the input space is
  cut into groups of whole channel planes (input channel groups: a 3x3 conv on 64 channels gets
  groups of 28 channels, each neuron's window in a group <= ``axons``); a plane too wide for one
  group is sliced by rows. A dense layer's planes are single inputs, so its groups are runs of
  ``axons`` inputs. Every run of neurons has one part per group that reaches it; partial sums
  merge on the run's *owner* (its first part), which alone holds the membranes.
* **Split fan-out**: the neuron order is cut greedily into the longest runs that fit. Conv layers
  are tried in channel-major order ("chw": channel slices of whole maps) and row-major order
  ("hwc": bands of feature-map rows over all channels, the folded mapping's rows); the order
  needing fewer cores wins. Within a run, a window's axons are received once and shared by every
  neuron that reads them (a band of rows needs its rows plus the kernel's halo).
* **Tiles** (conv layers, :mod:`~archsim.mapping.tiles`): output channels x row band x column
  slice per core, fan-in groups of whole input-channel planes, sizes searched for fewest cores
  under every limit below; the greedy cuts are tried beside it where they are cheap
  (``GREEDY_SYNAPSE_LIMIT``) and the cheaper cut wins.
* **Partitioned** (:mod:`~archsim.mapping.partitioner`): METIS groups neurons that share inputs
  (any layer up to ``PARTITION_SYNAPSE_LIMIT`` synapses), so a layer whose locality its neuron
  order hides needs fewer axons, cores and packets; its order is the permutation METIS found.
  Of all the cuts tried, a layer takes the one with fewest cores, then least traffic.
* **Folding** (``max_fold`` > 1): a core may time-multiplex up to ``max_fold`` passes of
  ``neurons`` neurons (Tianjic's folded mapping reuses a core's weights for several feature-map
  rows), so a run holds up to ``neurons x max_fold`` neurons and ``axons x passes`` inputs, limited
  by the weight memory and by the membrane memory (``state_bits``). The chip model's phases then
  take the longer work of the folded core, so folding trades cycles for cores.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numba as nb
import numpy as np

from archsim.mapping.lowering import LoweredLayer, kernel_bits_per_group
from archsim.mapping.storage import SynapseFormat, part_bits
from archsim.mapping.partitioner import partition_layer
from archsim.mapping.tiles import PSUM_PACKETS_PER_NEURON, Tile, search_tiles, tile_permutation, tileable

ORDERS = ("chw", "hwc")

#: The order of a METIS-partitioned cut: the permutation is stored with the cut (and the mapping file).
PARTITIONED = "partitioned"

#: The kinds of cut a chip's ``mapping.cuts`` may name (all by default).
CUTS = ("tiles", "contiguous", "partitioned")

#: Layers with more synapses than this that the tile search cuts skip the greedy cuts (each costs a
#: compiled pass over the synapses per order and rarely beats tiles on large convolutions; speed only).
GREEDY_SYNAPSE_LIMIT = 80_000_000


@dataclass(frozen=True)
class CoreLimits:
    """What one core holds. ``state_bits`` 0 means no separate limit on neuron-state memory;
    ``storage`` is the core's synapse format (a crossbar of ``weight_bits`` cells when not given)."""

    neurons: int
    axons: int
    memory_bits: int
    weight_bits: int
    max_fold: int = 1
    state_bits: int = 0
    membrane_bits: int = 24
    storage: SynapseFormat | None = None
    cell_bits: tuple = ()        # widths a core's weight cells can be set to (``core.synapse_cell_bits``)

    @property
    def max_neurons(self) -> int:
        return self.neurons * self.max_fold

    def neurons_per_core(self, state_words: int) -> int:
        """Neurons a core holds with ``state_words`` membrane words each: ``max_neurons``, or fewer
        where the neuron-state memory binds (0 when not even one neuron's state fits)."""
        if self.state_bits and state_words:
            return min(self.max_neurons, self.state_bits // (state_words * self.membrane_bits))
        return self.max_neurons

    @property
    def synapse_format(self) -> SynapseFormat:
        return self.storage if self.storage is not None else SynapseFormat("crossbar", self.weight_bits)

    @property
    def format_args(self) -> tuple[int, int, int]:
        """(format code, index bits, header bits): what the compiled memory checks take."""
        f = self.synapse_format
        return f.code, f.index_bits, f.header_bits

    def part_bits(self, synapses: int, axons: int, neurons: int) -> int:
        """Synapse memory bits of a part that stores every synapse (not a conv kernel)."""
        return self.synapse_format.bits(synapses, axons, neurons)


@dataclass(eq=False)
class LayerSplit:
    """How one layer is cut: neuron order, fan-in group boundaries and runs of neurons.

    ``permutation`` is the neuron order itself where ``order`` is "partitioned" (a METIS cut,
    :mod:`~archsim.mapping.partitioner`); named orders derive it from the layer's shape."""

    order: str
    input_groups: list[int]
    runs: list[tuple[int, int]]
    permutation: np.ndarray | None = None
    _axons: np.ndarray | None = field(default=None, init=False, repr=False)     # axons per (run, group)

    @property
    def fan_in_groups(self) -> int:
        return len(self.input_groups) - 1

    def parts(self, lowered: LoweredLayer) -> list[tuple[int, int, int, int]]:
        """(run start, run stop, input start, input stop) for each non-empty part, owners first per run."""
        axons = self._axons_per_part(lowered)
        bounds = self.input_groups
        out = []
        for run, (start, stop) in enumerate(self.runs):
            groups = np.flatnonzero(axons[run])
            for g in groups if len(groups) else (0,):
                out.append((start, stop, int(bounds[g]), int(bounds[g + 1])))
        return out

    def traffic(self, lowered: LoweredLayer) -> float:
        """Expected packets per step into this layer's parts when every input fires: one per axon
        of each part, plus the partial sums a non-owner part sends per neuron (as
        :func:`~archsim.mapping.routing.traffic_edges`)."""
        axons = self._axons_per_part(lowered)
        lengths = np.array([b - a for a, b in self.runs], dtype=np.int64)
        extra_parts = np.maximum(np.count_nonzero(axons, axis=1), 1) - 1
        return float(axons.sum()) + PSUM_PACKETS_PER_NEURON * float(extra_parts @ lengths)

    def _axons_per_part(self, lowered: LoweredLayer) -> np.ndarray:
        """One compiled pass over the layer's synapses: distinct inputs of each fan-in group per run
        (at kernel level over the runs' generated columns, :mod:`~archsim.mapping.kernels`)."""
        if self._axons is None and lowered.kernels is not None:
            self._axons = _kernel_axons_per_run(lowered, neuron_order(lowered, self.order, self.permutation),
                                                self.runs, np.asarray(self.input_groups, dtype=np.int64))
        if self._axons is None:
            csr = lowered.matrix
            perm = neuron_order(lowered, self.order, self.permutation)
            position = np.empty(len(perm), dtype=np.int64)
            position[perm] = np.arange(len(perm), dtype=np.int64)
            starts = np.array([a for a, _ in self.runs], dtype=np.int64)
            run_of_neuron = np.searchsorted(starts, position, side="right") - 1
            bounds = np.asarray(self.input_groups, dtype=np.int64)
            group_of_row = np.searchsorted(bounds, np.arange(max(lowered.input_size, 1)), side="right") - 1
            self._axons = _axons_per_run(csr.indptr.astype(np.int64), csr.indices, group_of_row, run_of_neuron,
                                         len(self.runs), len(bounds) - 1)
        return self._axons


@nb.njit(cache=True)
def _axons_per_run(indptr, indices, group_of_row, run_of_neuron, n_runs, n_groups):
    """``axons[run, group]``: inputs of ``group`` with a synapse on some neuron of ``run``."""
    axons = np.zeros((n_runs, max(n_groups, 1)), np.int64)
    last_row = np.full(n_runs, -1, np.int64)
    for row in range(indptr.shape[0] - 1):
        g = group_of_row[row]
        for k in range(indptr[row], indptr[row + 1]):
            run = run_of_neuron[indices[k]]
            if last_row[run] != row:
                last_row[run] = row
                axons[run, g] += 1
    return axons


def _kernel_axons_per_run(lowered: LoweredLayer, perm: np.ndarray, runs, bounds: np.ndarray) -> np.ndarray:
    """``axons[run, group]`` of a kernel-level layer, its runs' columns generated run by run."""
    axons = np.zeros((len(runs), max(len(bounds) - 1, 1)), np.int64)
    mark = np.full(max(lowered.input_size, 1), -1, np.int64)
    for run, (start, stop) in enumerate(runs):
        _, rows, _ = lowered.kernels.columns(perm[start:stop])
        _count_axons(rows, bounds, mark, run, axons[run])
    return axons


@nb.njit(cache=True)
def _count_axons(rows, bounds, mark, run, out):
    """Distinct ``rows`` per group of ``bounds`` into ``out`` (``mark``: the last run that saw each row)."""
    for k in range(rows.shape[0]):
        r = rows[k]
        if mark[r] != run:
            mark[r] = run
            out[np.searchsorted(bounds, r, side="right") - 1] += 1


def neuron_order(lowered: LoweredLayer, order: str, permutation: np.ndarray | None = None) -> np.ndarray:
    """Permutation of flat (C, H, W) neuron indices for ``order`` ("chw" natural, "hwc" rows first,
    ``tile-c<c>-r<r>-w<w>`` tile by tile, :mod:`~archsim.mapping.tiles`; "partitioned": the
    given ``permutation``)."""
    n = lowered.size
    if order == PARTITIONED:
        return np.asarray(permutation, dtype=np.int64)
    tile = Tile.parse(order)
    if tile is not None:
        return tile_permutation(lowered, tile)[0]
    if order == "chw" or lowered.channels == 1:
        return np.arange(n, dtype=np.int64)
    c = lowered.channels
    return np.arange(n, dtype=np.int64).reshape(c, n // c).T.reshape(-1).copy()


def input_groups(lowered: LoweredLayer, axons: int) -> list[int]:
    """Fan-in group boundaries: whole input planes while every neuron's fan-in in the group <= ``axons``."""
    csr = lowered.matrix
    n_rows = lowered.input_size
    if n_rows == 0:
        return [0, 1]
    fan_in = np.bincount(csr.indices, minlength=lowered.size)
    if not fan_in.size or int(fan_in.max()) <= axons:
        return [0, n_rows]
    bounds = _group_bounds(csr.indptr.astype(np.int64), csr.indices.astype(np.int64),
                           lowered.input_planes.astype(np.int64), lowered.size, axons)
    return [int(b) for b in bounds]


def fan_in_cap(lowered: LoweredLayer, limits: CoreLimits) -> int:
    """The most inputs one neuron may take on a core: ``core.axons``, and for a layer that stores every
    synapse also the most a lone neuron's synapses that fit the synapse memory (one synapse per axon),
    so that the fan-in is split across cores by memory too, not only by axons."""
    if lowered.kernel_weights is not None:
        return limits.axons                       # a convolution stores kernel slices, not synapses
    low, high = 0, limits.axons
    while low < high:                             # the largest g with part_bits(g, g, 1) <= memory
        middle = (low + high + 1) // 2
        low, high = (middle, high) if limits.part_bits(middle, middle, 1) <= limits.memory_bits else (low, middle - 1)
    return max(low, 1)


def split_layer(lowered: LoweredLayer, limits: CoreLimits, seed: int = 0, cuts=CUTS) -> LayerSplit:
    """The cheapest split of a layer under ``limits``: fewest cores, then least traffic
    (:meth:`LayerSplit.traffic`), earlier candidate on a tie. Candidates, of the kinds ``cuts``
    names (a chip's ``mapping.cuts``): the tile search (conv layers), the greedy contiguous cuts
    in "chw" / "hwc" order where they are cheap to try, and a METIS partition
    (:mod:`~archsim.mapping.partitioner`, seeded with ``seed``) where it is. The contiguous cut is
    made whenever no other kind gives one, so a layer always has a cut; a kernel-level layer
    (:mod:`~archsim.mapping.kernels`) takes the tile cut, None when the search finds none."""
    if lowered.kernels is not None:
        choice = search_tiles(lowered, None, limits)
        return None if choice is None else LayerSplit(order=choice.tile.order, input_groups=choice.input_groups,
                                                      runs=choice.runs)
    csc = lowered.matrix.tocsc()
    csc.sort_indices()
    candidates = []
    if "tiles" in cuts and tileable(lowered):
        choice = search_tiles(lowered, csc, limits)
        if choice is not None:
            tiled = LayerSplit(order=choice.tile.order, input_groups=choice.input_groups, runs=choice.runs)
            if lowered.matrix.nnz > GREEDY_SYNAPSE_LIMIT:
                return tiled
            candidates.append(tiled)
    bounds = input_groups(lowered, fan_in_cap(lowered, limits))
    cut = partition_layer(lowered, csc, limits, bounds, seed) if "partitioned" in cuts else None
    if "contiguous" in cuts or (cut is None and not candidates):
        orders = ORDERS if 1 < lowered.channels < lowered.size else ("chw",)     # 1x1 maps: both orders agree
        candidates.extend(_split_in_order(lowered, csc, limits, order, bounds) for order in orders)
    if cut is not None:
        candidates.append(LayerSplit(order=PARTITIONED, input_groups=list(bounds), runs=cut[1], permutation=cut[0]))
    return min(candidates, key=lambda split: (len(split.parts(lowered)), split.traffic(lowered)))


def _split_in_order(lowered: LoweredLayer, csc, limits: CoreLimits, order: str, bounds: list[int]) -> LayerSplit:
    perm = neuron_order(lowered, order)
    edges = np.asarray(bounds, dtype=np.int64)
    group_of = np.searchsorted(edges, np.arange(max(lowered.input_size, 1)), side="right") - 1
    channel = perm // max(lowered.size // lowered.channels, 1)
    state_bits_per_neuron = lowered.state_words * limits.membrane_bits if limits.state_bits else 0
    starts = _greedy_runs(csc.indptr.astype(np.int64), csc.indices.astype(np.int64), perm, channel,
                          group_of.astype(np.int64), len(edges) - 1,
                          kernel_bits_per_group(lowered, edges, limits.weight_bits), lowered.channels,
                          limits.neurons, limits.max_fold, limits.axons, limits.memory_bits, limits.weight_bits,
                          state_bits_per_neuron, limits.state_bits, *limits.format_args)
    stops = list(starts[1:]) + [lowered.size]
    return LayerSplit(order=order, input_groups=list(bounds),
                      runs=[(int(a), int(b)) for a, b in zip(starts, stops)])


@nb.njit(cache=True)
def _group_bounds(indptr, indices, planes, n_cols, max_axons):
    """Greedy fan-in groups: add whole planes, else rows, while no column has more than ``max_axons`` rows."""
    counts = np.zeros(n_cols, np.int64)
    bounds = [0]
    for p in range(planes.shape[0] - 1):
        a, b = planes[p], planes[p + 1]
        if _add_rows(counts, indptr, indices, a, b, max_axons):
            continue
        _remove_rows(counts, indptr, indices, a, b)
        if bounds[-1] < a:
            _remove_rows(counts, indptr, indices, bounds[-1], a)
            bounds.append(a)
        for r in range(a, b):
            if _add_rows(counts, indptr, indices, r, r + 1, max_axons):
                continue
            _remove_rows(counts, indptr, indices, r, r + 1)
            if bounds[-1] < r:
                _remove_rows(counts, indptr, indices, bounds[-1], r)
                bounds.append(r)
            _add_rows(counts, indptr, indices, r, r + 1, max_axons)
    bounds.append(planes[-1])
    return np.array(bounds, np.int64)


@nb.njit(cache=True)
def _add_rows(counts, indptr, indices, a, b, limit):
    ok = True
    for k in range(indptr[a], indptr[b]):
        counts[indices[k]] += 1
        if counts[indices[k]] > limit:
            ok = False
    return ok


@nb.njit(cache=True)
def _remove_rows(counts, indptr, indices, a, b):
    for k in range(indptr[a], indptr[b]):
        counts[indices[k]] -= 1


@nb.njit(cache=True)
def _greedy_runs(indptr, indices, perm, channel, group_of, groups, kernel_bits, channels, neurons_per_pass,
                 max_fold, max_axons, memory_bits, weight_bits, state_bits_per_neuron, state_bits, format_code,
                 index_bits, header_bits):
    """Start positions of the longest runs of ``perm`` that fit a core, in every fan-in group.

    A run is up to ``max_fold`` passes; a pass holds <= ``neurons_per_pass`` neurons whose inputs
    in each group are <= ``max_axons``. Weights (per group, in the core's synapse format over the
    run's distinct axons, :func:`~archsim.mapping.storage.part_bits`) and neuron state are per run.
    """
    seen_input = np.full(group_of.shape[0], -1, np.int64)
    seen_run_input = np.full(group_of.shape[0], -1, np.int64)
    run_axons = np.zeros(groups, np.int64)
    new_run_axons = np.zeros(groups, np.int64)
    seen_channel = np.full((channels, groups), -1, np.int64)
    touched = np.full(groups, -1, np.int64)
    axons = np.zeros(groups, np.int64)
    synapses = np.zeros(groups, np.int64)
    kernels = np.zeros(groups, np.int64)
    new_axons = np.zeros(groups, np.int64)
    new_syn = np.zeros(groups, np.int64)
    new_kernels = np.zeros(groups, np.int64)
    starts = [0]
    run = 0
    pass_id = 0
    passes = 1
    count = 0
    in_pass = 0
    attempt = 0
    n = perm.shape[0]
    i = 0
    while i < n:
        col = perm[i]
        attempt += 1
        new_axons[:] = axons
        new_syn[:] = synapses
        new_kernels[:] = kernels
        new_run_axons[:] = run_axons
        for k in range(indptr[col], indptr[col + 1]):
            r = indices[k]
            g = group_of[r]
            if seen_input[r] != pass_id:
                new_axons[g] += 1
            if seen_run_input[r] != run:
                new_run_axons[g] += 1
            new_syn[g] += 1
            if kernel_bits[g] >= 0 and seen_channel[channel[i], g] != run and touched[g] != attempt:
                new_kernels[g] += 1
                touched[g] = attempt
        pass_fits = in_pass + 1 <= neurons_per_pass
        run_fits = (count + 1) * state_bits_per_neuron <= state_bits
        for g in range(groups):
            if kernel_bits[g] >= 0:
                mem = new_kernels[g] * kernel_bits[g]
            else:
                mem = part_bits(format_code, new_syn[g], new_run_axons[g], count + 1, weight_bits, index_bits,
                                header_bits)
            if new_axons[g] > max_axons:
                pass_fits = False
            if mem > memory_bits:
                run_fits = False
        if (pass_fits and run_fits) or count == 0:
            for k in range(indptr[col], indptr[col + 1]):
                r = indices[k]
                seen_input[r] = pass_id
                seen_run_input[r] = run
                seen_channel[channel[i], group_of[r]] = run
            axons[:] = new_axons
            run_axons[:] = new_run_axons
            synapses[:] = new_syn
            kernels[:] = new_kernels
            count += 1
            in_pass += 1
            i += 1
            continue
        pass_id += 1
        axons[:] = 0
        in_pass = 0
        if run_fits and passes < max_fold:
            passes += 1
            continue
        run += 1
        passes = 1
        starts.append(i)
        synapses[:] = 0
        kernels[:] = 0
        run_axons[:] = 0
        count = 0
    return np.array(starts, np.int64)
