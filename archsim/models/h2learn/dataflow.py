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
  block, no accumulator leaves the chip; the update of a block follows its last tile). Interpretation of
  the schedule: the pipeline still books a blocked layer's WUE work per tile (same work and traffic; on
  the hardware the blocks run after the last tile's BE).

Legality: the gradient buffer holds, while a layer runs, every on-chip accumulator of the network (they
persist across layers and tiles), the layer's one-step working set (dL/du and dL/ds of one step) and, if
``du`` is on chip, the tile's dL/du. The network-level choice of which layers keep dW on chip is
searched over every subset whose accumulators fit (up to :data:`EXHAUSTIVE_LAYERS` layers small enough
to be held, else largest accumulators first); per layer the best legal candidate given that choice (a
blocked layer's block fits beside the held accumulators and its working set). Objective: DRAM bits per
iteration, then on-chip buffer words (a weight-stationary pass re-reads the input from the activation
buffer). The search depends only on shapes and sizes, so it is cached per network shape and buffer sizes.

Not modelled: engines working on different tiles at once each hold their own working set; the check is
per layer, one engine at a time.
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
        step_bits=(sum(p.in_size for p in layer.projections) + layer.out_size) * params.grad_bits,
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
    fe_r["spikes"] = n * sum(shape.source_bits) * passes
    fe_r["weights"] = weights
    fe_w["spikes"] = n * shape.out_size * shape.out_bits
    out = {"fe": {"read": fe_r, "write": fe_w}}
    if not train:
        return out
    fe_w["membrane"] = n * shape.out_size * (mb if shape.readout else window_bits)
    be_r, be_w = _zero(), _zero()
    be_r["spikes"] = n * shape.out_size * shape.out_bits
    be_r["membrane"] = n * shape.out_size * (mb if shape.readout else window_bits) \
        + n * sum(shape.mask_sizes) * window_bits
    be_r["gradients"] = 0 if shape.top else n * shape.out_size * g
    be_r["weights"] = 0 if weights_resident or not shape.grad_in_sizes else shape.weight_bits
    be_w["gradients"] = n * sum(shape.grad_in_sizes) * g + (n * shape.out_size * g if m.du == "dram" else 0)
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


def _cost(shape, m, tiles: tuple, train, weights_resident, params) -> tuple[int, int]:
    """(DRAM bits per iteration, activation-buffer words) of ``m`` over ``tiles`` (sample-steps per tile)."""
    kinds: dict = {}
    for i, n in enumerate(tiles):
        kinds[(n, i == 0)] = kinds.get((n, i == 0), 0) + 1
    bits = sum(count * _total_bits(traffic(shape, m, n, first, train, weights_resident, params))
               for (n, first), count in kinds.items())
    if train:
        bits += sum(sum(d.values()) for d in update_traffic(shape, m).values())
    passes = m.weight_blocks if m.fe_order == "weight-stationary" else 1
    words = sum(n * sum(shape.source_bits) * passes for n in tiles) // params.buffer_width_bits
    return bits, words


def du_fits(shape: LayerShape, n_max: int, free_grad_bits: int, params) -> bool:
    """Whether the tile's dL/du fits beside the working set in ``free_grad_bits`` of the gradient buffer."""
    return shape.step_bits + n_max * shape.out_size * params.grad_bits <= free_grad_bits


def _candidates(shape: LayerShape, n_max: int, dw_on_chip: bool, du_on_chip_legal: bool, dw_blocks: int,
                train: bool, params):
    """The legal mappings of one layer: dL/du on chip only where ``du_on_chip_legal``; accumulators
    on chip for the iteration if ``dw_on_chip``, else through DRAM or, where ``dw_blocks`` > 0, blocked."""
    blocks = max(1, -(-shape.weight_bits // params.weight_buffer_bits))
    orders = ["weight-stationary"]
    if n_max * sum(shape.source_bits) <= params.activation_buffer_bits:
        orders.insert(0, "input-stationary")
    windows = ["membrane"] if shape.readout or not train else ["mask", "membrane"]
    dus = ["dram"]
    if train and du_on_chip_legal:
        dus.insert(0, "on-chip")
    for order, window in itertools.product(orders, windows):
        if dw_on_chip:
            for du in dus:
                yield Mapping(order, blocks, window, du, "on-chip")
            continue
        for du in dus:
            yield Mapping(order, blocks, window, du, "dram")
        if train and dw_blocks:
            yield Mapping(order, blocks, window, "dram", "blocked", dw_blocks)


def dw_blocks(shape: LayerShape, free_grad_bits: int) -> int:
    """Blocks of the layer's accumulators that fit beside its working set in ``free_grad_bits`` (0: none fit)."""
    room = free_grad_bits - shape.step_bits
    return -(-shape.accumulator_bits // room) if room > 0 and shape.accumulator_bits else 0


@lru_cache(maxsize=8192)
def _best_for(shape, tiles, dw_on_chip, du_legal, blocks, train, resident, params):
    """((DRAM bits, buffer words), mapping) of the layer's cheapest legal candidate."""
    best = None
    for m in _candidates(shape, max(tiles), dw_on_chip, du_legal, blocks, train, params):
        key = _cost(shape, m, tiles, train, resident, params)
        if best is None or key < best[0]:
            best = (key, m)
    return best


@lru_cache(maxsize=256)
def search(shapes: tuple, tiles: tuple, train: bool, weights_resident: bool, params) -> tuple:
    """The mapping of every layer (a tuple in layer order) minimising DRAM bits, then buffer words."""
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
    for subset in subsets:
        held = sum(shapes[j].accumulator_bits for j in subset)
        total, maps = (0, 0), []
        for i, s in enumerate(shapes):
            free = grad - held
            found = _best_for(s, tiles, i in subset, du_fits(s, n_max, free, params), dw_blocks(s, free), train,
                              weights_resident, params)
            total = (total[0] + found[0][0], total[1] + found[0][1])
            maps.append(found[1])
        if best is None or total < best[0]:
            best = (total, tuple(maps))
    return best[1]


def _feasible_subsets(shapes, items: list, room: int, start: int = 0):
    """Every subset of ``items`` (indices) whose accumulators fit in ``room`` bits, the empty one first."""
    yield ()
    for pos in range(start, len(items)):
        bits = shapes[items[pos]].accumulator_bits
        if bits <= room:
            for rest in _feasible_subsets(shapes, items, room - bits, pos + 1):
                yield (items[pos],) + rest


def gradient_buffer_use(shapes: tuple, maps: tuple, n_max: int, params) -> int:
    """The most gradient-buffer bits any layer's mapping needs (the check that a search never overflows)."""
    held = sum(s.accumulator_bits for s, m in zip(shapes, maps) if m.dw == "on-chip")
    return max(held + s.step_bits + (n_max * s.out_size * params.grad_bits if m.du == "on-chip" else 0)
               + (-(-s.accumulator_bits // m.dw_blocks) if m.dw == "blocked" else 0)
               for s, m in zip(shapes, maps))
