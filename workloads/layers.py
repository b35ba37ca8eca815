"""Trainable linear operators for the reference trainer: forward, backward and their archsim twins.

Every operator works on a whole batch of time steps at once (time and batch folded into the first
axis, ``N = T * B``): the synapses are stateless, so only the neurons (``workloads.neurons``) loop over
time. Each op keeps what its backward pass needs from the last ``forward(x, keep=True)`` and adds
its parameter gradients into ``grads`` (zeroed by :meth:`Op.zero_grad`).

The arithmetic matches :mod:`archsim.graph.network`'s operators (PyTorch/NIR conventions:
cross-correlation, zero padding counted in the average-pool divisor, row-major flatten), and
:meth:`Op.to_archsim` returns the equivalent ``archsim.graph.network`` op with copies of the weights.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from archsim.graph import network as net
from archsim.graph.ops import pad2d

Shape = tuple[int, ...]


class Op:
    """Base class: no parameters; subclasses override ``forward``/``backward``/``output_shape``."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def zero_grad(self) -> None:
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def fan_in(self) -> int:
        return 0


def _window_slices(i: int, j: int, stride: tuple[int, int], out_hw: tuple[int, int]):
    """Slices of a padded (N, C, H, W) array that kernel offset (i, j) reads for every output pixel."""
    (sh, sw), (oh, ow) = stride, out_hw
    return (slice(None), slice(None), slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))


def _unpad(xp: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    return xp[:, :, ph:xp.shape[2] - ph, pw:xp.shape[3] - pw]


class Dense(Op):
    """``y = x @ weight.T + bias``; ``weight`` (out, in)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None = None):
        super().__init__()
        self.params["weight"] = np.asarray(weight, dtype=np.float64)
        if bias is not None:
            self.params["bias"] = np.asarray(bias, dtype=np.float64)
        self.zero_grad()
        self._x: np.ndarray | None = None

    def output_shape(self, input_shape: Shape) -> Shape:
        return (self.params["weight"].shape[0],)

    def fan_in(self) -> int:
        return int(self.params["weight"].shape[1])

    def forward(self, x: np.ndarray, keep: bool = False) -> np.ndarray:
        if keep:
            self._x = x
        y = x @ self.params["weight"].T
        if "bias" in self.params:
            y = y + self.params["bias"]
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.grads["weight"] += dy.T @ self._x
        if "bias" in self.params:
            self.grads["bias"] += dy.sum(axis=0)
        return dy @ self.params["weight"]

    def to_archsim(self) -> net.Dense:
        bias = self.params.get("bias")
        return net.Dense(weight=self.params["weight"].copy(), bias=None if bias is None else bias.copy())


class Conv2d(Op):
    """2-D cross-correlation by im2col and one matrix product; ``weight`` (C_out, C_in, kh, kw)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None = None, stride=(1, 1), padding=(0, 0)):
        super().__init__()
        self.params["weight"] = np.asarray(weight, dtype=np.float64)
        if bias is not None:
            self.params["bias"] = np.asarray(bias, dtype=np.float64)
        self.stride = tuple(int(s) for s in stride)
        self.padding = tuple(int(p) for p in padding)
        self.zero_grad()
        self._cols: np.ndarray | None = None
        self._in_shape: Shape | None = None

    def output_shape(self, input_shape: Shape) -> Shape:
        shape_only = net.Conv2d(weight=self.params["weight"], stride=self.stride, padding=self.padding)
        return shape_only.output_shape(input_shape)

    def fan_in(self) -> int:
        return int(np.prod(self.params["weight"].shape[1:]))

    def _im2col(self, x: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """(N, C, H, W) -> columns (N, oh, ow, C, kh, kw)."""
        n, c, _, _ = x.shape
        kh, kw = self.params["weight"].shape[2:]
        _, oh, ow = self.output_shape(x.shape[1:])
        xp = pad2d(x, self.padding)
        cols = np.empty((n, oh, ow, c, kh, kw), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                cols[..., i, j] = xp[_window_slices(i, j, self.stride, (oh, ow))].transpose(0, 2, 3, 1)
        return cols, (oh, ow)

    def forward(self, x: np.ndarray, keep: bool = False) -> np.ndarray:
        cols, (oh, ow) = self._im2col(x)
        w = self.params["weight"]
        flat = cols.reshape(x.shape[0] * oh * ow, -1)
        y = flat @ w.reshape(w.shape[0], -1).T
        if "bias" in self.params:
            y = y + self.params["bias"]
        if keep:
            self._cols, self._in_shape = flat, x.shape
        return y.reshape(x.shape[0], oh, ow, w.shape[0]).transpose(0, 3, 1, 2)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        w = self.params["weight"]
        n, c_out, oh, ow = dy.shape
        dy2 = dy.transpose(0, 2, 3, 1).reshape(n * oh * ow, c_out)
        self.grads["weight"] += (dy2.T @ self._cols).reshape(w.shape)
        if "bias" in self.params:
            self.grads["bias"] += dy2.sum(axis=0)
        dcols = (dy2 @ w.reshape(c_out, -1)).reshape(n, oh, ow, *w.shape[1:])
        _, c, h, wd = self._in_shape
        dxp = np.zeros((n, c, h + 2 * self.padding[0], wd + 2 * self.padding[1]))
        for i in range(w.shape[2]):
            for j in range(w.shape[3]):
                dxp[_window_slices(i, j, self.stride, (oh, ow))] += dcols[..., i, j].transpose(0, 3, 1, 2)
        return _unpad(dxp, self.padding)

    def to_archsim(self) -> net.Conv2d:
        bias = self.params.get("bias")
        return net.Conv2d(weight=self.params["weight"].copy(), bias=None if bias is None else bias.copy(),
                          stride=self.stride, padding=self.padding)


class EvenConv2d(Op):
    """A k x k convolution with even k and symmetric padding (C2sp for k = 2, C4sp for k = 4; Wu et al.,
    "Convolution with even-sized kernels and symmetric padding", NeurIPS 2019, from the Tianjic group).

    An even kernel cannot be centred, so padding it on one side shifts the feature map by half a pixel
    per layer. C2sp splits the input channels into four groups and pads each towards a different corner,
    so the shifts cancel. Here that is the exact equivalent: a (k + 1) x (k + 1) convolution with
    padding k / 2 whose kernel holds each group's k x k weights in that group's corner (offsets
    (0, 0), (0, 1), (1, 0), (1, 1) for groups 0-3) and zeros elsewhere. The trained parameters are the
    k x k weights (``weight``, (C_out, C_in, k, k)); the zeros are no synapses on a chip
    (:mod:`archsim.mapping.storage`), and the NIR twin is a plain ``Conv2d`` of the embedded kernel.
    """

    OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None = None, stride=(1, 1)):
        super().__init__()
        weight = np.asarray(weight, dtype=np.float64)
        k = weight.shape[2]
        if k % 2 or weight.shape[3] != k:
            raise ValueError(f"EvenConv2d: kernel {weight.shape[2:]} is not allowed (allowed: square, even)")
        self.params["weight"] = weight
        if bias is not None:
            self.params["bias"] = np.asarray(bias, dtype=np.float64)
        self.kernel = k
        self.stride = tuple(int(s) for s in stride)
        self._conv = Conv2d(self.embedded(), bias, stride=self.stride, padding=(k // 2, k // 2))
        self.zero_grad()

    def group_offsets(self) -> list[tuple[int, int]]:
        """The corner offset of each input channel: channel c is in group floor(4 c / C_in)."""
        c_in = self.params["weight"].shape[1]
        return [self.OFFSETS[(4 * c) // c_in] for c in range(c_in)]

    def embedded(self) -> np.ndarray:
        """The (C_out, C_in, k + 1, k + 1) kernel of the equivalent odd convolution."""
        w, k = self.params["weight"], self.kernel
        full = np.zeros((*w.shape[:2], k + 1, k + 1))
        for c, (dy, dx) in enumerate(self.group_offsets()):
            full[:, c, dy:dy + k, dx:dx + k] = w[:, c]
        return full

    def output_shape(self, input_shape: Shape) -> Shape:
        return self._conv.output_shape(input_shape)

    def fan_in(self) -> int:
        return int(np.prod(self.params["weight"].shape[1:]))

    def forward(self, x: np.ndarray, keep: bool = False) -> np.ndarray:
        self._conv.params["weight"] = self.embedded()
        if "bias" in self.params:
            self._conv.params["bias"] = self.params["bias"]
        return self._conv.forward(x, keep=keep)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self._conv.zero_grad()
        dx = self._conv.backward(dy)
        full, k = self._conv.grads["weight"], self.kernel
        for c, (dy_, dx_) in enumerate(self.group_offsets()):
            self.grads["weight"][:, c] += full[:, c, dy_:dy_ + k, dx_:dx_ + k]
        if "bias" in self.params:
            self.grads["bias"] += self._conv.grads["bias"]
        return dx

    def to_archsim(self) -> net.Conv2d:
        bias = self.params.get("bias")
        return net.Conv2d(weight=self.embedded(), bias=None if bias is None else bias.copy(), stride=self.stride,
                          padding=(self.kernel // 2, self.kernel // 2))


class AvgPool2d(Op):
    """Mean over each window; zero padding counts in the divisor (NIR/PyTorch default)."""

    def __init__(self, kernel=(2, 2), stride=None, padding=(0, 0)):
        super().__init__()
        self.kernel = tuple(int(k) for k in kernel)
        self.stride = tuple(int(s) for s in (stride or kernel))
        self.padding = tuple(int(p) for p in padding)
        self._in_shape: Shape | None = None

    def _archsim(self) -> net.AvgPool2d:
        return net.AvgPool2d(kernel=self.kernel, stride=self.stride, padding=self.padding)

    def output_shape(self, input_shape: Shape) -> Shape:
        return self._archsim().output_shape(input_shape)

    def forward(self, x: np.ndarray, keep: bool = False) -> np.ndarray:
        _, oh, ow = self.output_shape(x.shape[1:])
        xp = pad2d(x, self.padding)
        y = np.zeros((x.shape[0], x.shape[1], oh, ow))
        for i in range(self.kernel[0]):
            for j in range(self.kernel[1]):
                y += xp[_window_slices(i, j, self.stride, (oh, ow))]
        if keep:
            self._in_shape = x.shape
        return y / (self.kernel[0] * self.kernel[1])

    def backward(self, dy: np.ndarray) -> np.ndarray:
        n, c, h, w = self._in_shape
        dxp = np.zeros((n, c, h + 2 * self.padding[0], w + 2 * self.padding[1]))
        share = dy / (self.kernel[0] * self.kernel[1])
        for i in range(self.kernel[0]):
            for j in range(self.kernel[1]):
                dxp[_window_slices(i, j, self.stride, dy.shape[2:])] += share
        return _unpad(dxp, self.padding)

    def to_archsim(self) -> net.AvgPool2d:
        return self._archsim()


class Flatten(Op):
    """Row-major reshape to (N, features)."""

    def __init__(self) -> None:
        super().__init__()
        self._in_shape: Shape | None = None

    def output_shape(self, input_shape: Shape) -> Shape:
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray, keep: bool = False) -> np.ndarray:
        if keep:
            self._in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self._in_shape)

    def to_archsim(self) -> net.Flatten:
        return net.Flatten()


class TdBN(Op):
    """Threshold-dependent batch normalisation (tdBN; Zheng et al., "Going deeper with directly-trained
    larger spiking neural networks", AAAI 2021), per channel over time, batch and space::

        y = gamma * (alpha * v_th) * (x - mean) / sqrt(var + eps) + beta

    ``v_th`` is the threshold of the LIF layer the op feeds (set by the builder), ``alpha`` 1, or
    1 / sqrt(2) on the two branches that a residual block adds (the paper's rule, so that the sum
    keeps the pre-activation variance near ``v_th^2``). Training (``forward(keep=True)``) normalises by
    the statistics of the batch (the ``T * B`` folded first axis and the feature map: tdBN's
    statistics across time) and keeps running averages (momentum 0.1, biased variance); inference uses
    the running averages, so the op is affine and :meth:`fold` puts it into the weights and bias of
    the convolution or dense op before it (what the chip runs).
    """

    def __init__(self, channels: int, v_th: float = 1.0, alpha: float = 1.0, eps: float = 1e-5,
                 momentum: float = 0.1):
        super().__init__()
        self.params["gamma"] = np.ones(channels)
        self.params["beta"] = np.zeros(channels)
        self.running_mean = np.zeros(channels)
        self.running_var = np.ones(channels)
        self.v_th, self.alpha, self.eps, self.momentum = float(v_th), float(alpha), float(eps), float(momentum)
        self.zero_grad()
        self._x_hat: np.ndarray | None = None
        self._sigma: np.ndarray | None = None

    def output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    @staticmethod
    def _channel_view(v: np.ndarray, ndim: int) -> np.ndarray:
        """A per-channel vector shaped to broadcast over (N, C[, H, W])."""
        return v.reshape((1, -1) + (1,) * (ndim - 2))

    def forward(self, x: np.ndarray, keep: bool = False) -> np.ndarray:
        axes = (0,) + tuple(range(2, x.ndim))
        if keep:
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
            self.running_var = (1 - self.momentum) * self.running_var + self.momentum * var
        else:
            mean, var = self.running_mean, self.running_var
        sigma = np.sqrt(var + self.eps)
        x_hat = (x - self._channel_view(mean, x.ndim)) / self._channel_view(sigma, x.ndim)
        if keep:
            self._x_hat, self._sigma = x_hat, sigma
        scale = self.params["gamma"] * self.alpha * self.v_th
        return self._channel_view(scale, x.ndim) * x_hat + self._channel_view(self.params["beta"], x.ndim)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        x_hat, view = self._x_hat, lambda v: self._channel_view(v, dy.ndim)
        axes = (0,) + tuple(range(2, dy.ndim))
        s = self.alpha * self.v_th
        self.grads["gamma"] += (dy * x_hat).sum(axis=axes) * s
        self.grads["beta"] += dy.sum(axis=axes)
        d_hat = dy * view(self.params["gamma"] * s)
        return (d_hat - d_hat.mean(axis=axes, keepdims=True)
                - x_hat * (d_hat * x_hat).mean(axis=axes, keepdims=True)) / view(self._sigma)

    def fold(self, op: net.Conv2d | net.Dense) -> net.Conv2d | net.Dense:
        """``op`` followed by this normalisation at inference, as one op (weights and bias rescaled)."""
        scale = self.params["gamma"] * self.alpha * self.v_th / np.sqrt(self.running_var + self.eps)
        weight = np.asarray(op.weight) * scale.reshape((-1,) + (1,) * (np.ndim(op.weight) - 1))
        bias = np.zeros(len(scale)) if op.bias is None else np.asarray(op.bias, dtype=np.float64)
        return dataclasses.replace(op, weight=weight, bias=(bias - self.running_mean) * scale + self.params["beta"])
