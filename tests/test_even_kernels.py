"""Even-sized kernels with symmetric padding (C2sp / C4sp): shapes, semantics, gradients, export, chip."""
from __future__ import annotations

import numpy as np
import pytest

from archsim.graph.functional import simulate
from workloads import export, zoo
from workloads.layers import EvenConv2d


def _asymmetric_reference(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """C2sp/C4sp written out as the paper describes it: each quarter of the input channels padded by
    k - 1 pixels in all per axis, one more towards its own corner, then a valid k x k convolution."""
    n, c_in, h, wd = x.shape
    c_out, _, k, _ = w.shape
    corners = ((0, 0), (0, 1), (1, 0), (1, 1))
    out = None
    for c in range(c_in):
        dy, dx = corners[(4 * c) // c_in]
        top, left = k // 2 - dy, k // 2 - dx
        bottom, right = k // 2 - 1 + dy, k // 2 - 1 + dx
        xp = np.pad(x[:, c], ((0, 0), (top, bottom), (left, right)))
        oh, ow = (xp.shape[1] - k) // stride + 1, (xp.shape[2] - k) // stride + 1
        part = np.zeros((n, c_out, oh, ow))
        for i in range(oh):
            for j in range(ow):
                window = xp[:, i * stride:i * stride + k, j * stride:j * stride + k]
                part[:, :, i, j] = np.einsum("nab,oab->no", window, w[:, c])
        out = part if out is None else out + part
    return out


@pytest.mark.parametrize("k,stride", [(2, 1), (4, 1), (2, 2)])
def test_even_kernel_equals_per_group_asymmetric_padding(k, stride):
    rng = np.random.default_rng(k + stride)
    x = rng.normal(size=(3, 8, 7, 7))
    w = rng.normal(size=(5, 8, k, k))
    op = EvenConv2d(w, stride=(stride, stride))
    y = op.forward(x)
    np.testing.assert_allclose(y, _asymmetric_reference(x, w, stride), rtol=1e-12, atol=1e-12)
    if stride == 1:
        assert y.shape == (3, 5, 7, 7)              # same size: the padding is symmetric overall
    assert op.output_shape((8, 7, 7)) == y.shape[1:]


def test_embedded_kernel_holds_each_group_in_its_corner():
    w = np.ones((2, 8, 2, 2))
    full = EvenConv2d(w).embedded()
    assert full.shape == (2, 8, 3, 3)
    assert np.count_nonzero(full) == w.size        # 4/9 of a 3x3 kernel: the rest are no synapses
    assert full[0, 0, 2, :].sum() == 0 and full[0, 0, :, 2].sum() == 0   # group 0: top-left corner
    assert full[0, 7, 0, :].sum() == 0 and full[0, 7, :, 0].sum() == 0   # group 3: bottom-right corner
    with pytest.raises(ValueError, match="allowed: square, even"):
        EvenConv2d(np.ones((2, 8, 3, 3)))


def test_even_kernel_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 5, 5))
    op = EvenConv2d(rng.normal(size=(3, 4, 2, 2)), bias=rng.normal(size=3))
    dy = rng.normal(size=op.forward(x).shape)
    op.zero_grad()
    op.forward(x, keep=True)
    dx = op.backward(dy)
    eps = 1e-6
    for name in ("weight", "bias"):
        p = op.params[name]
        for index in [tuple(rng.integers(0, s) for s in p.shape) for _ in range(6)]:
            old = p[index]
            p[index] = old + eps
            up = (op.forward(x) * dy).sum()
            p[index] = old - eps
            down = (op.forward(x) * dy).sum()
            p[index] = old
            assert op.grads[name][index] == pytest.approx((up - down) / (2 * eps), rel=1e-6, abs=1e-8)
    index = (1, 2, 3, 0)
    x2 = x.copy()
    x2[index] += eps
    up = (op.forward(x2) * dy).sum()
    x2[index] -= 2 * eps
    down = (op.forward(x2) * dy).sum()
    assert dx[index] == pytest.approx((up - down) / (2 * eps), rel=1e-6)


def test_c2sp_zoo_network_exports_exactly_and_stores_only_its_weights():
    model = zoo.make_model("c2sp-digits", seed=1)
    conv = model.stages[0].projections[0].ops[0]
    assert isinstance(conv, EvenConv2d) and conv.params["weight"].shape == (16, 1, 2, 2)
    network = export.to_network(model)
    seq = np.random.default_rng(2).random((model.steps, 4, 1, 8, 8))
    values = model.forward({"input": seq})
    run = simulate(network, {"input": seq})
    for stage in model.stages:
        if stage.cell.spiking:
            np.testing.assert_array_equal(run.layer_outputs[stage.name], values[stage.name])
        else:
            np.testing.assert_allclose(run.layer_outputs[stage.name], values[stage.name], rtol=1e-12, atol=1e-12)
    from archsim.mapping.lowering import lower_layer

    layer = network.layer("conv1")
    lowered = lower_layer(layer.name, layer.shape, layer.projections, network.shape_of)
    assert lowered.kernel_weights.sum(axis=1).max() == 4                    # a folded core stores the 2 x 2 kernel
    # one input channel (group 0: top-left corner): each of the 8 x 8 x 16 outputs reads its 2 x 2 window
    # above and to the left, minus the zero padding at the borders
    assert lowered.matrix.nnz == sum(
        16 for i in range(8) for j in range(8) for a in (i - 1, i) for b in (j - 1, j) if 0 <= a < 8 and 0 <= b < 8)
