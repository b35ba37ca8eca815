"""The dataflow of FE, BE and WUE per layer: a small search over legal mappings under the buffer sizes.

The Timeloop habit on the accelerator's few real choices. Per layer a mapping fixes

* ``fe_order``: ``input-stationary`` (the tile's input codes stay in the activation buffer while the
  layer's weights stream through the weight buffer in ``weight_blocks`` blocks of output channels: each
  input read from DRAM once; legal when the input tile fits the activation buffer) or
  ``weight-stationary`` (a weight block stays, the input tile streams past it once per block);
* ``window``: the BE learns where the surrogate window is open from a ``mask`` (1 bit per neuron-step,
  written by the FE, one extra window compare per neuron-step) or by re-reading the ``membrane``
  (``membrane_bits``); the read-out's loss needs its membrane, so it always writes it;
* ``du``: dL/du goes from the BE to the WUE ``on-chip`` (the tile's dL/du over T kept in the gradient
  buffer) or through ``dram``;
* ``dw``: the layer's weight-gradient accumulators stay ``on-chip`` in the gradient buffer for the whole
  iteration; or make a ``dram`` round trip on every tile; or are ``blocked``: the WUE holds ``dw_blocks``
  blocks of output channels' accumulators in turn, and for each block streams the batch's dL/du of those
  channels and the layer's inputs from DRAM (dL/du then goes through DRAM, the inputs are read once per
  block, no accumulator leaves the chip). Schedule: a blocked layer's accumulators are not on chip while
  the tiles go by, so its WUE work cannot overlap them: it runs after the last tile, before the weight
  update (:mod:`.simulate` books it there). Its work is that of the per-tile passes summed (the entries
  the PEs take are regrouped by block; the imbalance is that of the per-tile order, an approximation);
  it could start once the last tile's BE is past the layer (overlapping the BE of the layers below), which
  is not modelled.

Legality: every tensor the mapping keeps on chip is checked against its buffer together with everything
else that is there at the same time.

* Gradient buffer, while the tiles go by: every on-chip accumulator of the network (they persist across
  layers and tiles), the largest one-step working set of any layer (dL/du and dL/ds of one step, the
  BE's) and the dL/du of every layer with ``du`` on chip, for every tile alive at once: the BE finishes a
  whole tile (all its layers) before the WUE takes it, so a tile's dL/du of all such layers live together
  from the BE's step to the WUE's; pipelined, the WUE's tile, ``tiles_in_flight`` queued tiles and the
  BE's tile (:func:`live_tiles`). After the tiles: the held accumulators, a blocked layer's block and
  its working set.
* Activation buffer: an input-stationary layer's input tile (only the FE uses this buffer).
* Weight buffer: a weight block (``weight_blocks`` = the layer's weights over the buffer's size).

An identity shortcut (a residual block's) streams its source's codes into the FE once per tile whatever
the order (the add path needs no weights), and in training the BE reads its source's window and writes
the dL/ds it sends back, as a projection from a layer does. A projection with tdBN writes its tile's
currents before normalisation (``membrane_bits`` each) with the membranes, and the BE reads them back to
recompute x_hat; gamma and beta (two numbers per channel) stay on chip.

The network-level choice of which layers keep dW on chip is searched over every subset whose accumulators
fit (up to :data:`EXHAUSTIVE_LAYERS` layers small enough to be held, else largest accumulators first);
given it, each layer's best candidate with dL/du through DRAM, and the best with dL/du on chip, and the
set of layers that keep dL/du on chip is the one saving the most DRAM bits whose tiles fit together (an
exact knapsack, :func:`_du_choice`). Objective: DRAM bits per iteration, then the cycles the search can
see, the WUE work that cannot overlap the tiles (the dense update MACs of the blocked layers: a blocked
pass over the batch, held accumulators, costs the same DRAM bits as holding them with dL/du through DRAM),
then on-chip buffer words (a weight-stationary pass re-reads the input from the activation buffer). The search depends only on shapes
and sizes, so it is cached per network shape and buffer sizes.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

EXHAUSTIVE_LAYERS = 12
TENSORS = ("weights", "spikes", "membrane", "gradients", "weight_gradients")


@dataclass(frozen=True)
class LayerShape:
    """What the search needs of one layer (hashable: the cache key)."""

    name: str
    weight_bits: int                  # all projections' weights
    source_bits: tuple[int, ...]      # per projection: its source's codes per sample-step (bits)
    grad_in_sizes: tuple[int, ...]    # per projection from a layer: the (pooled) inputs it sends dL/ds to
    mask_sizes: tuple[int, ...]       # per projection from a layer: the source neurons whose window it needs
    out_size: int
    out_bits: int                     # 1 (spikes) or activation_bits (ReLU codes)
    readout: bool
    top: bool
    accumulator_bits: int             # all projections' dW accumulators
    step_bits: int                    # one step's dL/du and dL/ds (the mandatory working set)
    update_macs_per_step: int         # dense weight-update MACs per sample-step (all projections)
    shortcut_bits: tuple[int, ...] = ()        # per identity shortcut: its source's codes per sample-step (bits)
    shortcut_grad_sizes: tuple[int, ...] = ()  # per identity shortcut from a layer: the neurons it sends dL/ds to
    bn_size: int = 0                  # neurons per sample-step of the projections with tdBN (their currents kept)


@dataclass(frozen=True)
class Mapping:
    fe_order: str
    weight_blocks: int
    window: str
    du: str
    dw: str
    dw_blocks: int = 0

    def describe(self) -> dict:
        return {"fe_order": self.fe_order, "weight_blocks": self.weight_blocks, "window": self.window,
                "du": self.du, "dw": self.dw, "dw_blocks": self.dw_blocks}


def layer_shape(layer, layers_by_name, params, top: bool) -> LayerShape:
    """The :class:`LayerShape` of a :class:`~.layers.TrainLayer`."""
    from_layers = [p for p in layer.projections if p.source in layers_by_name]
    return LayerShape(
        name=layer.name,
        weight_bits=sum(int(p.weight_q.size) for p in layer.projections) * params.weight_bits,
        source_bits=tuple(p.source_size * p.source_planes for p in layer.projections),
        grad_in_sizes=tuple(p.in_size for p in from_layers),
        mask_sizes=tuple(p.source_size for p in from_layers),
        out_size=layer.out_size,
        out_bits=params.activation_bits if layer.relu else 1,
        readout=layer.readout,
        top=top,
        accumulator_bits=sum(int(np.prod(p.kernel_shape)) for p in layer.projections) * params.accumulator_bits,
        step_bits=(sum(p.in_size for p in layer.projections) + sum(sc.size for sc in layer.shortcuts)
                   + layer.out_size) * params.grad_bits,
        update_macs_per_step=sum(int(np.prod(p.kernel_shape[1:])) * p.out_size for p in layer.projections),
        shortcut_bits=tuple(sc.size * sc.planes for sc in layer.shortcuts),
        shortcut_grad_sizes=tuple(sc.size for sc in layer.shortcuts if sc.source in layers_by_name),
        bn_size=sum(layer.out_size for p in layer.projections if p.bn is not None),
    )


def _zero() -> dict:
    return {t: 0 for t in TENSORS}


def traffic(shape: LayerShape, m: Mapping, n: int, first_tile: bool, train: bool, weights_resident: bool,
            params) -> dict:
    """DRAM bits of one tile of ``n`` sample-steps on one layer: {engine: {"read"|"write": {tensor: bits}}}."""
    g, mb = params.grad_bits, params.membrane_bits
    window_bits = mb if m.window == "membrane" else 1
    weights = 0 if weights_resident and not first_tile else shape.weight_bits
    fe_r, fe_w = _zero(), _zero()
    passes = m.weight_blocks if m.fe_order == "weight-stationary" else 1
    fe_r["spikes"] = n * sum(shape.source_bits) * passes + n * sum(shape.shortcut_bits)
    fe_r["weights"] = weights
    fe_w["spikes"] = n * shape.out_size * shape.out_bits
    out = {"fe": {"read": fe_r, "write": fe_w}}
    if not train:
        return out
    fe_w["membrane"] = n * shape.out_size * (mb if shape.readout else window_bits) + n * shape.bn_size * mb
    be_r, be_w = _zero(), _zero()
    be_r["spikes"] = n * shape.out_size * shape.out_bits
    be_r["membrane"] = n * shape.out_size * (mb if shape.readout else window_bits) \
        + n * (sum(shape.mask_sizes) + sum(shape.shortcut_grad_sizes)) * window_bits + n * shape.bn_size * mb
    be_r["gradients"] = 0 if shape.top else n * shape.out_size * g
    be_r["weights"] = 0 if weights_resident or not shape.grad_in_sizes else shape.weight_bits
    be_w["gradients"] = n * (sum(shape.grad_in_sizes) + sum(shape.shortcut_grad_sizes)) * g \
        + (n * shape.out_size * g if m.du == "dram" else 0)
    wue_r, wue_w = _zero(), _zero()
    projections = len(shape.source_bits)
    wue_r["gradients"] = n * shape.out_size * g * projections if m.du == "dram" else 0
    wue_r["spikes"] = n * sum(shape.source_bits) * (m.dw_blocks if m.dw == "blocked" else 1)
    if m.dw == "dram":
        wue_r["weight_gradients"] = 0 if first_tile else shape.accumulator_bits
        wue_w["weight_gradients"] = shape.accumulator_bits
    out["be"] = {"read": be_r, "write": be_w}
    out["wue"] = {"read": wue_r, "write": wue_w}
    return out


def update_traffic(shape: LayerShape, m: Mapping) -> dict:
    """DRAM bits of the weight update of one layer: reads the weights (and the accumulators if in DRAM),
    writes the weights."""
    r, w = _zero(), _zero()
    r["weights"] = w["weights"] = shape.weight_bits
    r["weight_gradients"] = shape.accumulator_bits if m.dw == "dram" else 0
    return {"read": r, "write": w}


def _total_bits(t: dict) -> int:
    return sum(sum(d.values()) for rw in t.values() for d in rw.values())


def _cost(shape, m, tiles: tuple, train, weights_resident, params) -> tuple[int, int, int]:
    """(DRAM bits per iteration, dense update MACs deferred past the tiles, activation-buffer words) of ``m``
    over ``tiles`` (sample-steps per tile)."""
    kinds: dict = {}
    for i, n in enumerate(tiles):
        kinds[(n, i == 0)] = kinds.get((n, i == 0), 0) + 1
    bits = sum(count * _total_bits(traffic(shape, m, n, first, train, weights_resident, params))
               for (n, first), count in kinds.items())
    if train:
        bits += sum(sum(d.values()) for d in update_traffic(shape, m).values())
    passes = m.weight_blocks if m.fe_order == "weight-stationary" else 1
    words = sum(n * (sum(shape.source_bits) * passes + sum(shape.shortcut_bits)) for n in tiles) \
        // params.buffer_width_bits
    deferred = sum(tiles) * shape.update_macs_per_step if m.dw == "blocked" else 0
    return bits, deferred, words


def du_bits(shape: LayerShape, n_max: int, params) -> int:
    """Bits of one tile's dL/du of a layer (its largest tile: ``n_max`` sample-steps)."""
    return n_max * shape.out_size * params.grad_bits


def live_tiles(tiles: int, params) -> int:
    """Tiles whose dL/du can be in the gradient buffer at once: one (engines one after another) or, pipelined,
    the WUE's, ``tiles_in_flight`` queued and the BE's; never more than the iteration has."""
    return min(tiles, params.tiles_in_flight + 2 if params.pipeline else 1)


def _candidates(shape: LayerShape, n_max: int, dw_on_chip: bool, du: str, dw_blocks: int, train: bool, params):
    """The legal mappings of one layer with dL/du ``du`` (``on-chip`` only in training); accumulators on
    chip for the iteration if ``dw_on_chip``, else through DRAM or, where ``dw_blocks`` > 0 and dL/du goes
    through DRAM, blocked."""
    blocks = max(1, -(-shape.weight_bits // params.weight_buffer_bits))
    orders = ["weight-stationary"]
    if n_max * sum(shape.source_bits) <= params.activation_buffer_bits:
        orders.insert(0, "input-stationary")
    windows = ["membrane"] if shape.readout or not train else ["mask", "membrane"]
    for order, window in itertools.product(orders, windows):
        if dw_on_chip:
            yield Mapping(order, blocks, window, du, "on-chip")
            continue
        yield Mapping(order, blocks, window, du, "dram")
        if train and dw_blocks and du == "dram":
            yield Mapping(order, blocks, window, "dram", "blocked", dw_blocks)


def dw_blocks(shape: LayerShape, free_grad_bits: int) -> int:
    """Blocks of the layer's accumulators that fit beside its working set in ``free_grad_bits`` (0: none fit)."""
    room = free_grad_bits - shape.step_bits
    return -(-shape.accumulator_bits // room) if room > 0 and shape.accumulator_bits else 0


@lru_cache(maxsize=8192)
def _best_for(shape, tiles, dw_on_chip, du, blocks, train, resident, params):
    """(:func:`_cost`, mapping) of the layer's cheapest legal candidate with dL/du ``du``."""
    best = None
    for m in _candidates(shape, max(tiles), dw_on_chip, du, blocks, train, params):
        key = _cost(shape, m, tiles, train, resident, params)
        if best is None or key < best[0]:
            best = (key, m)
    return best


def _du_choice(items: list, room: int) -> tuple:
    """The indices of ``items`` ((index, bits, saving), bits > 0, integer savings) whose bits fit in ``room``
    together and save the most: an exact 0/1 knapsack, depth first over the items by saving per bit,
    pruned by the fractional bound (rounded up, in integers); ties keep the first found."""
    order = sorted(items, key=lambda it: (-(it[2] / it[1]), it[0]))
    best = [0, ()]

    def bound(pos, left, value):
        for _, bits, saved in order[pos:]:
            if bits > left:
                return value + -(-saved * left // bits)
            left -= bits
            value += saved
        return value

    def visit(pos, left, value, chosen):
        if value > best[0]:
            best[:] = [value, chosen]
        if pos == len(order) or bound(pos, left, value) <= best[0]:
            return
        index, bits, saved = order[pos]
        if bits <= left:
            visit(pos + 1, left - bits, value + saved, chosen + (index,))
        visit(pos + 1, left, value, chosen)

    visit(0, room, 0, ())
    return best[1]


@lru_cache(maxsize=256)
def search(shapes: tuple, tiles: tuple, train: bool, weights_resident: bool, params) -> tuple:
    """The mapping of every layer (a tuple in layer order) minimising :func:`_cost` summed over the layers."""
    grad = params.gradient_buffer_bits
    need = max(s.step_bits for s in shapes)
    fits = [i for i, s in enumerate(shapes) if s.accumulator_bits + need <= grad] if train else []
    fits.sort(key=lambda i: -shapes[i].accumulator_bits)
    if len(fits) <= EXHAUSTIVE_LAYERS:
        subsets = list(_feasible_subsets(shapes, fits, grad - need))
    else:   # largest accumulators first, each kept while every layer keeps its working set
        chosen, held = [], 0
        for i in fits:
            if held + shapes[i].accumulator_bits + need <= grad:
                chosen.append(i)
                held += shapes[i].accumulator_bits
        subsets = [tuple(chosen)]
    best = None
    n_max = max(tiles)
    live = live_tiles(len(tiles), params)
    for subset in subsets:
        free = grad - sum(shapes[j].accumulator_bits for j in subset)
        room = free - need
        via_dram, on_chip, items = [], {}, []
        for i, s in enumerate(shapes):
            off = _best_for(s, tiles, i in subset, "dram", dw_blocks(s, free), train, weights_resident, params)
            via_dram.append(off)
            bits = live * du_bits(s, n_max, params)
            if train and bits <= room:
                on_chip[i] = _best_for(s, tiles, i in subset, "on-chip", 0, train, weights_resident, params)
                saved = _scalar(off[0]) - _scalar(on_chip[i][0])
                if saved > 0:
                    items.append((i, bits, saved))
        keep = set(_du_choice(items, room))
        found = [on_chip[i] if i in keep else off for i, off in enumerate(via_dram)]
        total = tuple(sum(f[0][j] for f in found) for j in range(3))
        if best is None or total < best[0]:
            best = (total, tuple(f[1] for f in found))
    return best[1]


def _scalar(cost: tuple) -> int:
    """A :func:`_cost` as one integer that orders as the tuple does (each term below 2^96)."""
    return (cost[0] << 192) + (cost[1] << 96) + cost[2]


def _feasible_subsets(shapes, items: list, room: int, start: int = 0):
    """Every subset of ``items`` (indices) whose accumulators fit in ``room`` bits, the empty one first."""
    yield ()
    for pos in range(start, len(items)):
        bits = shapes[items[pos]].accumulator_bits
        if bits <= room:
            for rest in _feasible_subsets(shapes, items, room - bits, pos + 1):
                yield (items[pos],) + rest


def gradient_buffer_use(shapes: tuple, maps: tuple, tiles: int, n_max: int, params) -> int:
    """The most gradient-buffer bits the mappings need at any time over an iteration of ``tiles`` tiles of at
    most ``n_max`` sample-steps (the check that a search never overflows): while the tiles go by, the held
    accumulators, the largest one-step working set and the live tiles' on-chip dL/du; after them, the held
    accumulators beside a blocked layer's block and its working set."""
    held = sum(s.accumulator_bits for s, m in zip(shapes, maps) if m.dw == "on-chip")
    du = sum(du_bits(s, n_max, params) for s, m in zip(shapes, maps) if m.du == "on-chip")
    during = held + max(s.step_bits for s in shapes) + live_tiles(tiles, params) * du
    after = max((held + s.step_bits + -(-s.accumulator_bits // m.dw_blocks)
                 for s, m in zip(shapes, maps) if m.dw == "blocked"), default=0)
    return max(during, after)
