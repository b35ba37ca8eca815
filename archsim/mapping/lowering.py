"""Lowering a layer's projections to one sparse synapse matrix over its input space.

A layer's *input space* is the concatenation, in projection order, of the flat outputs of its
projections' sources (an input, an earlier layer, or a recurrent source). Lowering turns each
projection's chain of linear ops into a matrix ``W`` with ``current = x_in @ W + bias``: rows are
input-space positions (the axons a core must receive), columns the layer's flat neurons.

The mapper and the chip model lower the quantised network's integer kernels (the float network
where no chip is involved), so the same code gives both. **Only stored synapses exist**: an entry
is a synapse where its weight is non-zero (a zero of a Dense matrix or a Conv2d kernel, and a path
whose products sum to zero, is no synapse), so the mapper's memory check, the chip's synaptic
operations, cycles and energy all follow the one non-zero pattern of the chip's integer weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.sparse as sp

from archsim.graph.network import AvgPool2d, Conv2d, Dense, Flatten, Scale, Shape, SumPool2d
from archsim.mapping.kernels import KernelLayer


@dataclass(eq=False)
class LoweredLayer:
    """One layer's synapses as a CSR matrix (input space x neurons) plus the input-space layout.

    ``segments[i] = (source, offset, size, recurrent)`` places projection ``i`` in the input space.
    ``kernel_weights`` counts the non-zero kernel weights of each output channel on each input plane
    when the layer is convolutional (:func:`kernel_weights_per_plane`; folded mapping stores a
    kernel slice once per core), else ``None``.
    ``input_planes`` are the boundaries of the input space's channel planes (a source of shape
    (C, H, W) gives C planes of H x W inputs, a flat source one plane per input): fan-in groups are
    made of whole planes where they can be. ``state_words`` is the membrane words per neuron (LIF and
    LI 1, CubaLIF 2, stateless neurons 0). ``map_shape`` is the (rows, columns) of the layer's
    feature map ((1, size) for a flat layer): tile orders of the partition cut along it.
    ``kernels`` is the layer's kernel description when it is mapped at kernel level
    (:mod:`~archsim.mapping.kernels`); ``matrix`` is then None: no synapse of the layer is listed.
    """

    name: str
    matrix: sp.csr_matrix | None
    bias: np.ndarray
    segments: list[tuple[str, int, int, bool]]
    channels: int
    kernel_weights: np.ndarray | None
    input_planes: np.ndarray
    state_words: int = 0
    map_shape: tuple[int, int] = (1, 1)
    plastic: bool = False        # a projection learns locally: its cores keep plastic state per synapse
    kernels: KernelLayer | None = None

    @property
    def input_size(self) -> int:
        return self.kernels.input_size if self.matrix is None else int(self.matrix.shape[0])

    @property
    def size(self) -> int:
        return self.kernels.size if self.matrix is None else int(self.matrix.shape[1])

    @property
    def synapse_count(self) -> int:
        return self.kernels.synapses() if self.matrix is None else int(self.matrix.nnz)


def lower_layer(name: str, shape: Shape, projections, shape_of, state_words: int = 0,
                kernels: KernelLayer | None = None) -> LoweredLayer:
    """Lower ``projections`` (objects with ``source``, ``ops``, ``recurrent``) of a layer of ``shape``;
    given ``kernels`` (its :func:`~archsim.mapping.kernels.kernel_layer`), at kernel level: the same
    layout and bias, no matrix."""
    if kernels is not None:
        return _kernel_level(name, shape, projections, shape_of, state_words, kernels)
    blocks, segments, planes, offset = [], [], [np.zeros(1, dtype=np.int64)], 0
    size = int(np.prod(shape))
    bias = np.zeros(size, dtype=np.int64 if _integer(projections) else np.float64)
    kernel_weights = kernel_weights_per_plane(projections, shape_of)
    for proj in projections:
        in_shape = tuple(shape_of(proj.source))
        matrix, proj_bias = lower_chain(proj.ops, in_shape)
        blocks.append(matrix)
        if proj_bias is not None:
            bias = bias + proj_bias.astype(bias.dtype)
        segments.append((proj.source, offset, matrix.shape[0], bool(proj.recurrent)))
        plane = int(np.prod(in_shape[1:])) if len(in_shape) == 3 else 1
        planes.append(offset + np.arange(plane, matrix.shape[0] + 1, plane, dtype=np.int64))
        offset += matrix.shape[0]
    matrix = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0].tocsr()
    matrix.sort_indices()
    channels = int(shape[0]) if len(shape) == 3 else 1
    return LoweredLayer(name=name, matrix=matrix, bias=bias, segments=segments, channels=channels,
                        kernel_weights=kernel_weights, input_planes=np.concatenate(planes), state_words=state_words,
                        map_shape=(int(shape[1]), int(shape[2])) if len(shape) == 3 else (1, size),
                        plastic=any(getattr(p, "plasticity", None) is not None for p in projections))


def _kernel_level(name, shape, projections, shape_of, state_words, kernels: KernelLayer) -> LoweredLayer:
    segments, planes, offset = [], [np.zeros(1, dtype=np.int64)], 0
    for proj in projections:
        in_shape = tuple(shape_of(proj.source))
        size = int(np.prod(in_shape))
        segments.append((proj.source, offset, size, bool(proj.recurrent)))
        plane = int(np.prod(in_shape[1:]))
        planes.append(offset + np.arange(plane, size + 1, plane, dtype=np.int64))
        offset += size
    return LoweredLayer(name=name, matrix=None, bias=kernel_bias(projections, shape), segments=segments,
                        channels=int(shape[0]), kernel_weights=kernel_weights_per_plane(projections, shape_of),
                        input_planes=np.concatenate(planes), state_words=state_words,
                        map_shape=(int(shape[1]), int(shape[2])), kernels=kernels)


def kernel_bias(projections, shape) -> np.ndarray:
    """A kernel-level layer's bias (flat): each Conv2d's bias carried to its output, as :func:`lower_chain` does."""
    size = int(np.prod(shape))
    bias = np.zeros(size, dtype=np.int64 if _integer(projections) else np.float64)
    for proj in projections:
        op = proj.ops[0] if proj.ops else None
        if isinstance(op, Conv2d) and op.bias is not None:
            bias = bias + np.repeat(np.asarray(op.bias), size // int(shape[0])).astype(bias.dtype)
    return bias


def kernel_bits_per_group(lowered: LoweredLayer, bounds: np.ndarray, weight_bits: int) -> np.ndarray:
    """Bits of one output channel's kernel slice per fan-in group [bounds[g], bounds[g + 1]) of the input
    space (conv layers): the fullest channel's non-zero weights on the planes the group overlaps; or -1
    (the layer stores every synapse)."""
    if lowered.kernel_weights is None:
        return np.full(len(bounds) - 1, -1, dtype=np.int64)
    bounds = np.asarray(bounds, np.int64)
    first = np.searchsorted(lowered.input_planes, bounds[:-1], side="right") - 1    # planes overlapping each group
    end = np.maximum(np.searchsorted(lowered.input_planes, bounds[1:], side="left"), first + 1)
    cumulative = np.concatenate([np.zeros((lowered.kernel_weights.shape[0], 1), np.int64),
                                 np.cumsum(lowered.kernel_weights, axis=1)], axis=1)
    fullest = (cumulative[:, end] - cumulative[:, first]).max(axis=0)
    return fullest.astype(np.int64) * weight_bits


def lower_chain(ops, in_shape: Shape) -> tuple[sp.csr_matrix, np.ndarray | None]:
    """The chain's matrix (in_size x out_size) and its bias carried to the chain's output."""
    matrix, bias, shape = None, None, tuple(in_shape)
    for op in ops:
        step = op_matrix(op, shape)
        if isinstance(op, (Dense, Conv2d)) and op.bias is not None:
            out_shape = op.output_shape(shape)
            b = np.asarray(op.bias)
            b = np.repeat(b, int(np.prod(out_shape[1:]))) if isinstance(op, Conv2d) else b.reshape(-1)
            bias = b if bias is None else bias @ step + b
        elif bias is not None:
            bias = np.asarray(bias @ step)
        matrix = step if matrix is None else _product(matrix, step)
        shape = op.output_shape(shape)
    if matrix is None:
        n = int(np.prod(in_shape))                   # no op: an identity projection (a residual shortcut)
        matrix = sp.csr_matrix((np.ones(n, dtype=np.int64), np.arange(n), np.arange(n + 1)), shape=(n, n))
    matrix = matrix.tocsr()
    matrix.eliminate_zeros()                       # only stored synapses exist (module docstring)
    return matrix, None if bias is None else np.asarray(bias).reshape(-1)


def op_matrix(op, shape: Shape) -> sp.csr_matrix:
    """One linear op as a sparse matrix acting on row vectors of the flat input."""
    n_in = int(np.prod(shape))
    if isinstance(op, Dense):
        if sp.issparse(op.weight):
            return sp.csr_matrix(op.weight.T)
        w = np.asarray(op.weight)
        cols, rows = np.nonzero(w)                # the non-zero weights only, no index grid of the full matrix
        return sp.csr_matrix((w[cols, rows], (rows, cols)), shape=(n_in, w.shape[0]))
    if isinstance(op, Conv2d):
        return _conv_matrix(op, shape)
    if isinstance(op, (SumPool2d, AvgPool2d)):
        return _pool_matrix(op, shape)
    if isinstance(op, Flatten):
        return sp.identity(n_in, format="csr", dtype=np.int64)
    if isinstance(op, Scale):
        s = np.broadcast_to(np.asarray(op.scale), (n_in,)) if np.ndim(op.scale) == 0 else np.asarray(op.scale).reshape(-1)
        return sp.diags(s, format="csr", dtype=np.float64)
    raise TypeError(f"cannot lower {type(op).__name__}")


def _conv_matrix(op: Conv2d, shape: Shape) -> sp.csr_matrix:
    """Built column by column (output neuron by output neuron), so that every column's rows come
    out in order and the matrix is assembled without a sort of its synapses."""
    c_in, h, w = shape
    weight = np.asarray(op.weight)
    c_out, cig, kh, kw = weight.shape
    _, oh, ow = op.output_shape(shape)
    per_group_out = c_out // op.groups
    # Axes: output channel, output row, output column | input channel in group, kernel row, kernel column.
    co = np.arange(c_out).reshape(-1, 1, 1, 1, 1, 1)
    oy = np.arange(oh).reshape(1, -1, 1, 1, 1, 1)
    ox = np.arange(ow).reshape(1, 1, -1, 1, 1, 1)
    ci = (co // per_group_out) * cig + np.arange(cig).reshape(1, 1, 1, -1, 1, 1)
    iy = oy * op.stride[0] - op.padding[0] + np.arange(kh).reshape(1, 1, 1, 1, -1, 1) * op.dilation[0]
    ix = ox * op.stride[1] - op.padding[1] + np.arange(kw).reshape(1, 1, 1, 1, 1, -1) * op.dilation[1]
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)                     # (1, oh, ow, 1, kh, kw)
    full = (c_out, oh, ow, cig, kh, kw)
    ok_full = np.broadcast_to(ok, full)
    ok_full = ok_full & np.broadcast_to(weight[:, None, None] != 0, full)          # zero taps are no synapses
    rows = np.broadcast_to((ci * h + iy) * w + ix, full)[ok_full]
    vals = np.broadcast_to(weight[:, None, None], full)[ok_full]
    per_column = ok_full.reshape(c_out * oh * ow, -1).sum(axis=1)
    indptr = np.concatenate([[0], np.cumsum(per_column)])
    return sp.csc_matrix((vals, rows, indptr), shape=(c_in * h * w, c_out * oh * ow)).tocsr()


def _pool_matrix(op, shape: Shape) -> sp.csr_matrix:
    c, h, w = shape
    _, oh, ow = op.output_shape(shape)
    kh, kw = op.kernel
    ch, ky, kx, oy, ox = np.meshgrid(np.arange(c), np.arange(kh), np.arange(kw), np.arange(oh), np.arange(ow),
                                     indexing="ij")
    iy = oy * op.stride[0] - op.padding[0] + ky
    ix = ox * op.stride[1] - op.padding[1] + kx
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    rows = ((ch * h + iy) * w + ix)[ok]
    cols = ((ch * oh + oy) * ow + ox)[ok]
    value = 1.0 / (kh * kw) if isinstance(op, AvgPool2d) else 1
    vals = np.full(rows.shape, value, dtype=np.float64 if isinstance(op, AvgPool2d) else np.int64)
    return sp.csr_matrix((vals, (rows, cols)), shape=(c * h * w, c * oh * ow))


def _product(a: sp.csr_matrix, b: sp.csr_matrix) -> sp.csr_matrix:
    """``a @ b`` (exact zeros of the sum are dropped by :func:`lower_chain`).

    One compiled row-by-row product (Gustavson) gives the pattern and the summed values together,
    column indices sorted per row, without the pattern and value copies a SciPy product needs."""
    a, b = a.tocsr(), b.tocsr()
    dtype = np.result_type(a.dtype, b.dtype)
    n_rows, n_cols = a.shape[0], b.shape[1]
    counts = _product_row_counts(a.indptr, a.indices, b.indptr, b.indices, n_cols)
    nnz = int(counts.sum())
    index_dtype = np.int32 if max(nnz, n_rows, n_cols) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n_rows + 1, dtype=index_dtype)
    np.cumsum(counts, out=indptr[1:])
    del counts
    indices = np.empty(nnz, dtype=index_dtype)
    data = np.empty(nnz, dtype=dtype)
    _product_fill(a.indptr, a.indices, a.data.astype(dtype, copy=False), b.indptr, b.indices,
                  b.data.astype(dtype, copy=False), indptr, indices, data, n_cols)
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


@nb.njit(cache=True)
def _product_row_counts(a_ptr, a_idx, b_ptr, b_idx, n_cols):
    """Distinct columns reached from each row of ``a`` through ``b`` (the product's pattern per row)."""
    counts = np.zeros(a_ptr.shape[0] - 1, np.int64)
    mark = np.full(n_cols, -1, np.int64)
    for i in range(a_ptr.shape[0] - 1):
        n = 0
        for p in range(a_ptr[i], a_ptr[i + 1]):
            k = a_idx[p]
            for q in range(b_ptr[k], b_ptr[k + 1]):
                j = b_idx[q]
                if mark[j] != i:
                    mark[j] = i
                    n += 1
        counts[i] = n
    return counts


@nb.njit(cache=True)
def _product_fill(a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, indptr, indices, data, n_cols):
    """Fill the product's columns (ascending per row) and values, summed in SciPy's order."""
    slot = np.full(n_cols, -1, np.int64)
    sums = np.zeros(n_cols, data.dtype)
    for i in range(a_ptr.shape[0] - 1):
        start = indptr[i]
        n = 0
        for p in range(a_ptr[i], a_ptr[i + 1]):
            k = a_idx[p]
            v = a_val[p]
            for q in range(b_ptr[k], b_ptr[k + 1]):
                j = b_idx[q]
                if slot[j] != i:
                    slot[j] = i
                    sums[j] = 0
                    indices[start + n] = j
                    n += 1
                sums[j] += v * b_val[q]
        row = indices[start:start + n]
        row.sort()
        for t in range(n):
            data[start + t] = sums[row[t]]


def _integer(projections) -> bool:
    for proj in projections:
        for op in proj.ops:
            values = getattr(op, "weight", getattr(op, "scale", None))
            dtype = values.dtype if sp.issparse(values) else np.asarray(values).dtype
            if values is not None and not np.issubdtype(dtype, np.integer):
                return False
    return True


def kernel_weights_per_plane(projections, shape_of) -> np.ndarray | None:
    """Non-zero kernel weights of each output channel on each input plane (output channels x planes
    of the layer's input space, in projection order) when the layer is convolutional: every
    projection is a chain with one Conv2d (no Dense), or a shortcut (an identity or a scalar
    ``Scale``) from a source of as many channels, which stores one weight per channel (a depthwise
    1 x 1 kernel, as :func:`~archsim.mapping.kernels.kernel_layer` describes it). Else None: the
    layer stores every synapse. A zero weight is no synapse, so a pruned or even-sized C2sp kernel
    embedded in a larger one stores only what it has."""
    blocks, convolutional = [], False
    for proj in projections:
        shape = tuple(int(s) for s in shape_of(proj.source))
        if len(shape) != 3:
            return None
        convs = [op for op in proj.ops if isinstance(op, Conv2d)]
        if not convs and all(isinstance(op, Scale) and np.ndim(op.scale) == 0 for op in proj.ops):
            blocks.append(np.eye(shape[0], dtype=np.int64))           # shortcut: one weight per channel
            continue
        if len(convs) != 1 or any(isinstance(op, Dense) for op in proj.ops):
            return None
        conv = convs[0]
        for before in proj.ops[:proj.ops.index(conv)]:
            shape = tuple(before.output_shape(shape))
        weight = np.asarray(conv.weight)
        c_out, per_group_in = weight.shape[:2]
        if len(shape) != 3 or per_group_in * conv.groups != shape[0]:
            return None
        block = np.zeros((c_out, shape[0]), np.int64)
        group_of = np.arange(c_out) // (c_out // conv.groups)
        planes = group_of[:, None] * per_group_in + np.arange(per_group_in)[None, :]
        block[np.arange(c_out)[:, None], planes] = np.count_nonzero(weight.reshape(c_out, per_group_in, -1), axis=2)
        blocks.append(block)
        convolutional = True
    if not convolutional or len({b.shape[0] for b in blocks}) != 1:
        return None
    return np.concatenate(blocks, axis=1)
