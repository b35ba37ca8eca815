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
