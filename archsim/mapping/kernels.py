"""Convolution layers at kernel level: a layer's synapses described by its kernels and shapes, never
listed as a whole.

A layer whose every projection is one ``Conv2d`` (or an identity shortcut from a (C, H, W) source of
the layer's own shape, a depthwise 1x1 convolution of ones) is described by a :class:`KernelLayer`:
per projection its segment offset in the layer's input space, its input shape, stride, padding,
dilation, groups and integer kernel. Every synapse of such a layer is a non-zero kernel tap at a
valid position, so the synapses of any set of neurons into any range of input rows can be generated
on demand (:func:`columns`, compiled), in exactly the order and with exactly the values the explicit
lowering (:func:`~archsim.mapping.lowering.lower_chain`) gives its CSC columns: rows ascending
(input channel, then kernel row, then kernel column), zero taps left out. The tile search, the
routes and the chip program ask for one part's synapses at a time and keep only what they derive
(axons, passes, per-pass synapse counts), so the layer's memory is its kernels plus one part.

When the mapper uses it (:func:`use_kernels`): a convolution layer of this form whose cut is the
tile cut, that is when it stores more than ``partition.GREEDY_SYNAPSE_LIMIT`` synapses (today's
mapper then takes the tile cut without trying the others) or when the chip's ``mapping.cuts`` is
``[tiles]``. Then the tile cut, routes, passes, synaptic events, weight reads, cycles and spikes are
those of the explicit lowering, exactly; a layer whose tile search finds no cut is lowered explicitly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numba as nb
import numpy as np

from archsim.graph.network import Conv2d, Scale

#: Columns of ``geometry``: segment offset, input channels, input rows, input columns, stride y / x,
#: padding y / x, dilation y / x, groups, kernel offset in ``weights``, input channels per group,
#: kernel rows, kernel columns.
GEOMETRY_FIELDS = ("offset", "c_in", "h", "w", "sy", "sx", "py", "px", "dy", "dx", "groups", "k_offset",
                   "c_per_group", "kh", "kw")


@dataclass(eq=False)
class KernelLayer:
    """One convolution layer's synapses as kernels: ``geometry`` (segments x :data:`GEOMETRY_FIELDS`),
    all kernels flat in ``weights``, the layer's (C, H, W) ``shape`` and its input-space size."""

    geometry: np.ndarray
    weights: np.ndarray
    shape: tuple[int, int, int]
    input_size: int
    _fan_in: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def _segments(self):
        """Per segment: its kernel (C_out, C_in / groups, kh, kw) and which output rows / columns reach
        an input at each kernel row / column (valid_y (oh, kh), valid_x (ow, kw))."""
        _, oh, ow = self.shape
        for g in self.geometry:
            off, c_in, h, w, sy, sx, py, px, dy, dx, groups, k_off, cig, kh, kw = (int(v) for v in g)
            kernel = self.weights[k_off:k_off + self.shape[0] * cig * kh * kw].reshape(self.shape[0], cig, kh, kw)
            iy = np.arange(oh)[:, None] * sy - py + np.arange(kh)[None, :] * dy
            ix = np.arange(ow)[:, None] * sx - px + np.arange(kw)[None, :] * dx
            yield kernel, (iy >= 0) & (iy < h), (ix >= 0) & (ix < w)

    def stored_max_abs(self):
        """The largest |weight| of a stored synapse (a tap that reaches no input is no synapse)."""
        peak = 0
        for kernel, valid_y, valid_x in self._segments():
            used = valid_y.any(axis=0)[:, None] & valid_x.any(axis=0)[None, :]
            peak = max(peak, np.abs(kernel[:, :, used]).max(initial=0).item())
        return peak

    def fan_in(self) -> np.ndarray:
        """Stored synapses per flat neuron (every segment), counted from the kernels and shapes (once)."""
        if self._fan_in is None:
            counts = np.zeros(self.size, np.int64)
            for kernel, valid_y, valid_x in self._segments():
                taps = np.count_nonzero(kernel, axis=1).astype(np.int64)
                counts += np.einsum("cab,ya,xb->cyx", taps, valid_y.astype(np.int64),
                                    valid_x.astype(np.int64)).reshape(-1)
            self._fan_in = counts
            self._fan_in.flags.writeable = False
        return self._fan_in

    def max_fan_in(self) -> int:
        return int(self.fan_in().max(initial=0))

    def synapses(self) -> int:
        return int(self.fan_in().sum())

    def columns(self, neurons: np.ndarray, lo: int = 0, hi: int | None = None):
        """CSC columns of ``neurons`` over input rows [lo, hi): (col_ptr, rows int64, values)."""
        hi = self.input_size if hi is None else hi
        neurons = np.ascontiguousarray(neurons, dtype=np.int64)
        ptr = np.zeros(len(neurons) + 1, np.int64)
        _columns(neurons, lo, hi, self.geometry, self.weights, *self.shape, ptr,
                 np.zeros(0, np.int64), self.weights[:0], False)
        np.cumsum(ptr, out=ptr)
        rows = np.empty(int(ptr[-1]), np.int64)
        values = np.empty(int(ptr[-1]), self.weights.dtype)
        _columns(neurons, lo, hi, self.geometry, self.weights, *self.shape, ptr, rows, values, True)
        return ptr, rows, values

    def scatter(self, x: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Partial currents per fan-in group: ``out[g, n]`` sums ``w * x[row]`` over the synapses of
        neuron ``n`` from input rows of group ``g`` (``bounds``: group boundaries of the input space);
        event driven (zero inputs are skipped), exact integer sums."""
        out = np.zeros((len(bounds) - 1, self.size), np.int64)
        _scatter(np.ascontiguousarray(x, dtype=np.int64), np.asarray(bounds, np.int64), self.geometry,
                 self.weights.astype(np.int64), *self.shape, out)
        return out


def kernel_layer(projections, shape, shape_of) -> KernelLayer | None:
    """The kernel description of a layer of ``shape`` with ``projections``, or None when one of them is
    not a lone Conv2d nor a shortcut (an identity or a scalar ``Scale``) from a source of the layer's
    shape (module docstring). The kernels keep the value type the explicit lowering gives the layer's
    matrix (a ``Scale`` lowers to float entries)."""
    if len(shape) != 3 or not projections:
        return None
    rows, pool, offset, scaled = [], [], 0, False
    c_out = int(shape[0])
    for proj in projections:
        in_shape = tuple(int(s) for s in shape_of(proj.source))
        if len(in_shape) != 3:
            return None
        shortcut = not proj.ops or (len(proj.ops) == 1 and isinstance(proj.ops[0], Scale)
                                    and np.ndim(proj.ops[0].scale) == 0)
        if shortcut:
            if in_shape != tuple(shape):
                return None
            value = proj.ops[0].scale if proj.ops else 1
            scaled = scaled or bool(proj.ops)
            op = Conv2d(weight=np.full((c_out, 1, 1, 1), value), groups=c_out)
        elif len(proj.ops) == 1 and isinstance(proj.ops[0], Conv2d):
            op = proj.ops[0]
            if tuple(op.output_shape(in_shape)) != tuple(shape):
                return None
        else:
            return None
        weight = np.asarray(op.weight)
        _, cig, kh, kw = weight.shape
        k_offset = sum(p.size for p in pool)
        rows.append((offset, in_shape[0], in_shape[1], in_shape[2], *op.stride, *op.padding, *op.dilation,
                     op.groups, k_offset, cig, kh, kw))
        pool.append(weight.reshape(-1))
        offset += int(np.prod(in_shape))
    weights = np.concatenate(pool)
    if scaled or not np.issubdtype(weights.dtype, np.integer):
        weights = weights.astype(np.float64)
    return KernelLayer(np.array(rows, np.int64), np.ascontiguousarray(weights), tuple(int(s) for s in shape), offset)


def use_kernels(kernels: KernelLayer | None, cuts, synapse_limit: int) -> bool:
    """Whether a layer is mapped at kernel level (module docstring): it has a kernel description and its
    cut is the tile cut (only tiles allowed, or more stored synapses than ``synapse_limit``)."""
    if kernels is None or "tiles" not in cuts:
        return False
    c, h, w = kernels.shape
    if c < 2 or h * w < 2:
        return False                              # not tileable: the explicit cuts
    return tuple(cuts) == ("tiles",) or kernels.synapses() > synapse_limit


@nb.njit(cache=True)
def _columns(neurons, lo, hi, geometry, weights, c_out, oh, ow, ptr, rows, values, fill):
    """Count (``fill`` False: into ``ptr[1:]``) or write (``fill``: at ``ptr``) each neuron's synapses
    from input rows [lo, hi), rows ascending."""
    plane_out = oh * ow
    for j in range(neurons.shape[0]):
        n = neurons[j]
        co = n // plane_out
        oy = (n % plane_out) // ow
        ox = n % ow
        k = ptr[j] if fill else 0
        for s in range(geometry.shape[0]):
            off, c_in, h, w = geometry[s, 0], geometry[s, 1], geometry[s, 2], geometry[s, 3]
            sy, sx, py, px, dy, dx = geometry[s, 4], geometry[s, 5], geometry[s, 6], geometry[s, 7], geometry[s, 8], geometry[s, 9]
            groups, k_off, cig, kh, kw = geometry[s, 10], geometry[s, 11], geometry[s, 12], geometry[s, 13], geometry[s, 14]
            per_group_out = c_out // groups
            ci0 = (co // per_group_out) * cig
            for cil in range(cig):
                base = off + (ci0 + cil) * h * w
                if base + h * w <= lo or base >= hi:
                    continue
                for ky in range(kh):
                    iy = oy * sy - py + ky * dy
                    if iy < 0 or iy >= h:
                        continue
                    for kx in range(kw):
                        ix = ox * sx - px + kx * dx
                        if ix < 0 or ix >= w:
                            continue
                        wv = weights[k_off + ((co * cig + cil) * kh + ky) * kw + kx]
                        if wv == 0:
                            continue
                        row = base + iy * w + ix
                        if row < lo or row >= hi:
                            continue
                        if fill:
                            rows[k] = row
                            values[k] = wv
                        k += 1
        if not fill:
            ptr[j + 1] = k


@nb.njit(cache=True)
def _scatter(x, bounds, geometry, weights, c_out, oh, ow, out):
    """Add each non-zero input's kernel taps into ``out[group of the input row]`` (see KernelLayer.scatter)."""
    g = 0
    for s in range(geometry.shape[0]):
        off, c_in, h, w = geometry[s, 0], geometry[s, 1], geometry[s, 2], geometry[s, 3]
        sy, sx, py, px, dy, dx = geometry[s, 4], geometry[s, 5], geometry[s, 6], geometry[s, 7], geometry[s, 8], geometry[s, 9]
        groups, k_off, cig, kh, kw = geometry[s, 10], geometry[s, 11], geometry[s, 12], geometry[s, 13], geometry[s, 14]
        per_group_out = c_out // groups
        for r in range(c_in * h * w):
            v = x[off + r]
            if v == 0:
                continue
            row = off + r
            while bounds[g + 1] <= row:
                g += 1
            while bounds[g] > row:
                g -= 1
            ci = r // (h * w)
            iy = (r % (h * w)) // w
            ix = r % w
            grp = ci // cig
            cil = ci - grp * cig
            for co in range(grp * per_group_out, (grp + 1) * per_group_out):
                for ky in range(kh):
                    t = iy + py - ky * dy
                    if t < 0 or t % sy != 0:
                        continue
                    oy = t // sy
                    if oy >= oh:
                        continue
                    for kx in range(kw):
                        u = ix + px - kx * dx
                        if u < 0 or u % sx != 0:
                            continue
                        ox = u // sx
                        if ox >= ow:
                            continue
                        wv = weights[k_off + ((co * cig + cil) * kh + ky) * kw + kx]
                        if wv != 0:
                            out[g, (co * oh + oy) * ow + ox] += wv * v
