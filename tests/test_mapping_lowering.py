"""Lowering: the compiled chain product keeps every synapse path and sums values as SciPy does."""
import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

from archsim.mapping.lowering import _product


def _random_csr(rng, shape, density, dtype):
    m = sp.random(*shape, density=density, format="csr", random_state=rng,
                  data_rvs=lambda n: rng.integers(-2, 3, size=n)).astype(dtype)
    m.data[rng.random(m.nnz) < 0.3] = 0                    # stored zero weights stay synapses
    return m


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12), st.integers(1, 12), st.integers(1, 12),
       st.sampled_from([np.int32, np.int64, np.float64]))
def test_product_keeps_pattern_and_values(seed, n, k, m, dtype):
    rng = np.random.default_rng(seed)
    a, b = _random_csr(rng, (n, k), 0.4, np.int64), _random_csr(rng, (k, m), 0.4, dtype)
    got = _product(a, b)
    ones_a, ones_b = a.copy(), b.copy()
    ones_a.data[:], ones_b.data[:] = 1, 1
    pattern = (ones_a @ ones_b).tocsr()
    pattern.sort_indices()
    assert got.dtype == (a @ b).dtype
    assert np.array_equal(got.indptr, pattern.indptr) and np.array_equal(got.indices, pattern.indices)
    assert np.array_equal(got.toarray(), (a @ b).toarray())


def test_kernel_slices_per_fan_in_group_are_exact():
    """A residual layer (3 x 3 conv of a 4-channel source, a strided 1 x 1 conv of a 2-channel source
    and an identity shortcut of a third) stores one kernel slice per channel and core: each fan-in
    group's slice is the fullest channel's non-zero weights on the planes it covers, whatever the
    planes' kernel sizes (a shortcut is one weight per channel, a depthwise 1 x 1 kernel)."""
    from archsim.graph.network import Conv2d, Projection
    from archsim.mapping.lowering import kernel_bits_per_group, lower_layer

    rng = np.random.default_rng(3)
    conv = rng.integers(-2, 3, size=(3, 4, 3, 3))
    conv[0, 1] = 0                                    # channel 0 reads nothing from plane 1
    down = rng.integers(1, 3, size=(3, 2, 1, 1))
    shapes = {"a": (4, 6, 6), "b": (2, 12, 12), "s": (3, 6, 6)}
    projections = (Projection("a", (Conv2d(conv, padding=(1, 1)),)),
                   Projection("b", (Conv2d(down, stride=(2, 2)),)), Projection("s", ()))
    low = lower_layer("r", (3, 6, 6), projections, shapes.__getitem__)
    per_plane = np.concatenate([np.count_nonzero(conv.reshape(3, 4, 9), axis=2), np.ones((3, 2), int),
                                np.eye(3, dtype=int)], axis=1)
    np.testing.assert_array_equal(low.kernel_weights, per_plane)
    bounds = low.input_planes[[0, 2, 4, 6, 9]]         # conv planes 0-1, 2-3, the 1 x 1 planes, the shortcut
    expected = [per_plane[:, 0:2].sum(1).max(), per_plane[:, 2:4].sum(1).max(), 2, 1]
    np.testing.assert_array_equal(kernel_bits_per_group(low, bounds, 8), np.array(expected) * 8)
    # a group cut inside a plane covers that plane
    np.testing.assert_array_equal(kernel_bits_per_group(low, np.array([0, 5, 36]), 8),
                                  [per_plane[:, 0].max() * 8, per_plane[:, 0].max() * 8])
    # a Dense projection anywhere: every synapse is stored
    from archsim.graph.network import Dense, Flatten
    flat = lower_layer("d", (3, 6, 6), (projections[0], Projection("s", (Flatten(), Dense(np.ones((108, 108)))))),
                       shapes.__getitem__)
    assert flat.kernel_weights is None
