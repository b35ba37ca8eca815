"""The accelerator's element-wise fixed-point rules: LIF forward, gradient unit, loss, weight update.

These few functions *are* the number formats; the golden BPTT (:mod:`.golden`) and the engines' fast
path (:mod:`.datapath`) both call them, so the two differ only in how they compute the synaptic sums
(plain per-tap loops vs im2col matrix products, tile by tile), which is what the bit-equality tests check.

Units: membrane ``u`` in ``2^-exp`` of the layer (see :mod:`.layers`); gradients in ``2^-grad_frac_bits``;
decay in ``2^-decay_frac_bits``. Rounding: ``>>`` floors (the LIF decay, as archsim.graph.quantize);
gradients round half up (:func:`round_shift`).

STBP rule (Wu et al. 2018), real-valued, per layer and step::

    u[t] = alpha * u[t-1] * (1 - s[t-1]) + I[t];   s[t] = u[t] > V
    dL/ds[t] = dL/ds_spatial[t] - alpha * u[t] * dL/du[t+1]                        (reset path)
    dL/du[t] = dL/ds[t] * (1/a) * 1[|u[t] - V| < a/2] + alpha * (1 - s[t]) * dL/du[t+1]
"""
from __future__ import annotations

import numpy as np

SURROGATE_FRAC_BITS = 8   # 1/a as an 8-fraction-bit constant (exact for a = 1, 0.5, 0.25 ...)
LEARNING_RATE_FRAC_BITS = 16


def round_shift(x: np.ndarray, n: int) -> np.ndarray:
    """``x * 2^-n`` rounded half up for n > 0 (a left shift for n < 0); int64 in, int64 out."""
    x = np.asarray(x, dtype=np.int64)
    if n > 0:
        return (x + (1 << (n - 1))) >> n
    return x << (-n) if n < 0 else x


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clip to ``bits``-bit two's complement."""
    top = (1 << (bits - 1)) - 1
    return np.clip(x, -top - 1, top)


def lif_step(u_prev_pre: np.ndarray, s_prev: np.ndarray, current: np.ndarray, decay_q: int, threshold_q: int,
             decay_frac_bits: int, membrane_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """One LIF step: ``u = sat(((u_prev * (1 - s_prev)) * decay_q >> F) + current)``, ``s = u > V``.

    ``u_prev_pre`` is the previous step's membrane before reset (what BPTT stores).
    """
    kept = np.where(s_prev != 0, 0, u_prev_pre).astype(np.int64)
    u = saturate(((kept * decay_q) >> decay_frac_bits) + current, membrane_bits)
    return u, (u > threshold_q).astype(np.uint8)


def window_open(u: np.ndarray, threshold_q: int, half_window_q: int) -> np.ndarray:
    """Surrogate window ``|u - V| < a/2`` (True where the gradient may flow)."""
    return np.abs(np.asarray(u, dtype=np.int64) - threshold_q) < half_window_q


def surrogate_q(surrogate_width: float) -> int:
    """1/a in 2^-SURROGATE_FRAC_BITS."""
    return int(round(2 ** SURROGATE_FRAC_BITS / surrogate_width))


def gradient_step(ds_spatial: np.ndarray, du_next: np.ndarray, u: np.ndarray, s: np.ndarray, layer, params,
                  last_step: bool) -> np.ndarray:
    """dL/du[t] from dL/ds_spatial[t], dL/du[t+1], u[t], s[t] (the BE's gradient unit, one step)."""
    du_next = np.asarray(du_next, dtype=np.int64)
    u64 = np.asarray(u, dtype=np.int64)
    ds = np.asarray(ds_spatial, dtype=np.int64)
    if not last_step:
        reset = round_shift(du_next * layer.decay_q * u64, params.decay_frac_bits + layer.exp)
        ds = ds - reset
    open_ = window_open(u64, layer.threshold_q, layer.half_window_q)
    through_spike = np.where(open_, round_shift(ds * surrogate_q(params.surrogate_width), SURROGATE_FRAC_BITS), 0)
    temporal = 0 if last_step else np.where(s != 0, 0, round_shift(du_next * layer.decay_q, params.decay_frac_bits))
    return saturate(through_spike + temporal, params.grad_bits)


def spatial_gradient(sums: np.ndarray, layer, params, source, open_src: np.ndarray) -> np.ndarray:
    """The gradient the consumer ``layer`` sends to a ``source`` layer from the integer sums ``W^T dL/du``,
    zero where the source's :func:`output_open` is closed.

    A LIF source gets dL/ds (per spike): ``sums * 2^-exp``. A ReLU source gets its dL/du directly: the
    code scale ``2^(exp_source - relu_shift)`` of its backward is folded into the same rounding shift, so
    the small dL/d(code) is never rounded on its own (it would mostly underflow the gradient format)."""
    shift = layer.exp + (source.relu_shift - source.exp if source.relu else 0)
    return np.where(open_src.reshape(sums.shape), saturate(round_shift(sums, shift), params.grad_bits), 0)


def loss_gradient(spike_counts: np.ndarray, labels: np.ndarray, steps: int, params) -> tuple[np.ndarray, float]:
    """Spike-count MSE summed over the batch: ``L = 1/2 sum_b ||count/T - onehot||^2``.

    Returns dL/ds[t] (the same for every t) in gradient units, shape (B, K), and the mean loss per sample.
    """
    counts = np.asarray(spike_counts, dtype=np.int64)
    target = np.zeros_like(counts)
    target[np.arange(counts.shape[0]), labels] = steps
    err = counts - target                                  # T * (rate - y)
    denom = steps * steps
    num = err << params.grad_frac_bits
    grad = np.floor_divide(num + denom // 2, denom)        # (rate - y) / T, rounded half up
    loss = 0.5 * float(np.sum((err / steps) ** 2)) / counts.shape[0]
    return saturate(grad, params.grad_bits), loss


def updated_weights(weight_q: np.ndarray, dweight_q: np.ndarray, layer, params) -> np.ndarray:
    """SGD step ``w - lr * dL/dw`` in the weight's format, saturated to the weight width."""
    lr_q = int(round(params.learning_rate * 2 ** LEARNING_RATE_FRAC_BITS))
    step = round_shift(np.asarray(dweight_q, dtype=np.int64) * lr_q,
                       params.grad_frac_bits + LEARNING_RATE_FRAC_BITS - layer.exp)
    qmax = params.qmax_weight
    return np.clip(weight_q - step, -qmax, qmax)


def neuron_step(layer, u_prev: np.ndarray, s_prev: np.ndarray, current: np.ndarray, params):
    """One forward step of the layer's neuron: (membrane before reset, output).

    LIF: :func:`lif_step`, output spikes. Integrator read-out: ``v = sat(((v * decay_q) >> F) + current)``,
    no spikes. ReLU: ``u = sat(current)``, output code ``clip(round(u / 2^relu_shift), 0, 2^bits - 1)``.
    """
    if layer.relu:
        u = saturate(np.asarray(current, dtype=np.int64), params.membrane_bits)
        return u, np.clip(round_shift(u, layer.relu_shift), 0, 2 ** params.activation_bits - 1)
    if layer.readout:
        v = saturate(((np.asarray(u_prev, dtype=np.int64) * layer.decay_q) >> params.decay_frac_bits) + current,
                     params.membrane_bits)
        return v, np.zeros(v.shape, dtype=np.uint8)
    return lif_step(u_prev, s_prev, current, layer.decay_q, layer.threshold_q, params.decay_frac_bits,
                    params.membrane_bits)


def output_dtype(layer):
    """dtype of the layer's output: uint8 spikes, int64 ReLU codes."""
    return np.int64 if layer.relu else np.uint8


def output_open(layer, u: np.ndarray) -> np.ndarray:
    """Where a gradient can reach the layer's membrane from its output: the open surrogate window (LIF)
    or ``u > 0`` (ReLU). Elsewhere the BE skips W^T dL/du (output sparsity)."""
    if layer.relu:
        return np.asarray(u) > 0
    return window_open(u, layer.threshold_q, layer.half_window_q)


def add_gradients(total: np.ndarray | None, part: np.ndarray, params) -> np.ndarray:
    """dL/d(output) summed over a layer's consumers, saturated to the gradient width."""
    return part if total is None else saturate(total + part, params.grad_bits)


def neuron_gradient_step(layer, d_out: np.ndarray, du_next: np.ndarray, u: np.ndarray, s: np.ndarray, params,
                         last_step: bool) -> np.ndarray:
    """dL/du[t]: :func:`gradient_step` for LIF; for the read-out ``d_out[t] + decay * dL/du[t+1]``; for ReLU
    ``d_out[t]`` itself (:func:`spatial_gradient` already gives dL/du, zero where ``u <= 0``; no temporal term)."""
    if layer.relu:
        return np.asarray(d_out, dtype=np.int64)
    if layer.readout:
        carried = 0 if last_step else round_shift(np.asarray(du_next, dtype=np.int64) * layer.decay_q,
                                                  params.decay_frac_bits)
        return saturate(np.asarray(d_out, dtype=np.int64) + carried, params.grad_bits)
    return gradient_step(d_out, du_next, u, s, layer, params, last_step)


def output_gradient(layer, u: np.ndarray, s: np.ndarray, labels: np.ndarray, params) -> tuple[np.ndarray, float]:
    """dL/d(output) for every step, (T, B, *out_shape), and the mean loss per sample.

    A spiking output layer: the spike-count MSE of :func:`loss_gradient`, the same at every step. An
    integrator read-out: softmax cross-entropy on ``logits = v[T-1] / T`` (as workloads.trainer), summed
    over the batch; the host computes softmax in floating point and sends dL/dv[T-1] = (p - y) / T as
    gradient codes (interpretation: the loss is not on the accelerator).
    """
    steps, batch = u.shape[:2]
    out = np.zeros(u.shape, dtype=np.int64)
    if not layer.readout:
        grad, loss = loss_gradient(s.reshape(steps, batch, -1).sum(axis=0), labels, steps, params)
        out[:] = grad.reshape((1, batch) + u.shape[2:])
        return out, loss
    logits = u[-1].reshape(batch, -1) * 2.0 ** -layer.exp / steps
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -float(log_p[np.arange(batch), labels].mean())
    d = np.exp(log_p)
    d[np.arange(batch), labels] -= 1.0
    out[-1] = saturate(np.rint(d / steps * 2 ** params.grad_frac_bits).astype(np.int64), params.grad_bits
                       ).reshape(u.shape[1:])
    return out, loss


def quantize_input(x: np.ndarray, planes: int) -> np.ndarray:
    """Network input as unsigned integers: spikes stay 0/1; values in [0, 1] become ``planes``-bit codes."""
    if planes == 1:
        return (np.asarray(x) != 0).astype(np.int64)
    top = 2 ** planes - 1
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * top), 0, top).astype(np.int64)


# ---- threshold-dependent batch norm (tdBN, Zheng et al. 2021) of one projection's current, per tile ----
BN_GAMMA_FRAC_BITS = 12   # gamma in 2^-12
BN_ALPHA_FRAC_BITS = 12   # the branch factor alpha (1 or 1/sqrt 2) in 2^-12
XHAT_FRAC_BITS = 12       # the normalised current x_hat in 2^-12
INV_SIGMA_FRAC_BITS = 28  # 1/sigma in 2^-28 (sigma in membrane units is 1 .. 2^15: 13 .. 28 significant bits)


def bn_statistics(x: np.ndarray, eps_q: float) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel of currents x (T, Bt, K, E, F) (integers, membrane units): the rounded mean and
    ``2^INV_SIGMA_FRAC_BITS / sigma`` rounded, sigma = sqrt(var + eps) over time, batch and space (tdBN's
    statistics). The sums are integers; the square root and divide (K of each per tile) are the host's."""
    x = np.asarray(x, dtype=np.int64)
    count = x.size // x.shape[2]
    s1 = x.sum(axis=(0, 1, 3, 4))
    s2 = (x * x).sum(axis=(0, 1, 3, 4))
    mean = s1 / count
    var = np.maximum(s2 / count - mean * mean, 0.0)
    inv_sigma_q = np.rint(2.0 ** INV_SIGMA_FRAC_BITS / np.sqrt(var + eps_q)).astype(np.int64)
    return np.rint(mean).astype(np.int64), inv_sigma_q


def _channel(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.int64)[None, None, :, None, None]


def bn_forward(x: np.ndarray, mean_q: np.ndarray, inv_sigma_q: np.ndarray, bn, threshold_q: int, params):
    """(y, x_hat) of tdBN: ``x_hat = (x - mean) / sigma`` in 2^-XHAT_FRAC_BITS and
    ``y = gamma * alpha * V_th * x_hat + beta`` in membrane units (V_th in them is ``threshold_q``),
    saturated to the membrane width."""
    xhat = round_shift((np.asarray(x, dtype=np.int64) - _channel(mean_q)) * _channel(inv_sigma_q),
                       INV_SIGMA_FRAC_BITS - XHAT_FRAC_BITS)
    scale = round_shift(bn.gamma_q * bn.alpha_q * threshold_q, BN_ALPHA_FRAC_BITS)      # per channel, 2^-GAMMA
    y = round_shift(xhat * _channel(scale), BN_GAMMA_FRAC_BITS + XHAT_FRAC_BITS) + _channel(bn.beta_q)
    return saturate(y, params.membrane_bits), xhat


def bn_backward(dy: np.ndarray, xhat: np.ndarray, inv_sigma_q: np.ndarray, bn, threshold_q: int, exp: int, params):
    """(dL/dx, dL/dgamma, dL/dbeta) of tdBN over one tile, gradients in 2^-grad_frac_bits::

        dx = gamma * alpha * V_th / sigma * (dy - mean(dy) - x_hat * mean(dy * x_hat))
        dgamma = alpha * V_th * sum(dy * x_hat);   dbeta = sum(dy)

    means over time, batch and space per channel (two sums; the divides by their count are the host's)."""
    dy = np.asarray(dy, dtype=np.int64)
    count = dy.size // dy.shape[2]
    s1 = dy.sum(axis=(0, 1, 3, 4))
    s2 = (dy * xhat).sum(axis=(0, 1, 3, 4))
    m1 = np.floor_divide(2 * s1 + count, 2 * count)                    # rounded half up
    m2 = np.floor_divide(2 * s2 + count, 2 * count)
    corr = dy - _channel(m1) - round_shift(xhat * _channel(m2), 2 * XHAT_FRAC_BITS)
    gain = round_shift(bn.gamma_q * bn.alpha_q, BN_ALPHA_FRAC_BITS) * threshold_q          # 2^-GAMMA, per channel
    scale = round_shift(gain * inv_sigma_q, BN_GAMMA_FRAC_BITS + INV_SIGMA_FRAC_BITS - XHAT_FRAC_BITS)
    dx = saturate(round_shift(corr * _channel(scale), XHAT_FRAC_BITS), params.grad_bits)
    dgamma = round_shift(s2 * bn.alpha_q * threshold_q, XHAT_FRAC_BITS + BN_ALPHA_FRAC_BITS + exp)
    return dx, dgamma, s1


def bn_updated(bn, dgamma: np.ndarray, dbeta: np.ndarray, exp: int, params) -> None:
    """SGD step of gamma (2^-BN_GAMMA_FRAC_BITS) and beta (membrane units), in place."""
    lr_q = int(round(params.learning_rate * 2 ** LEARNING_RATE_FRAC_BITS))
    bn.gamma_q = bn.gamma_q - round_shift(np.asarray(dgamma, dtype=np.int64) * lr_q,
                                          params.grad_frac_bits + LEARNING_RATE_FRAC_BITS - BN_GAMMA_FRAC_BITS)
    bn.beta_q = bn.beta_q - round_shift(np.asarray(dbeta, dtype=np.int64) * lr_q,
                                        params.grad_frac_bits + LEARNING_RATE_FRAC_BITS - exp)
