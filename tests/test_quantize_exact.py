"""Chip precision is exact where the network is representable: integer weights keep scale 1 and
thresholds are quantised for the strict ``v > threshold``."""
import numpy as np
from hypothesis import given, settings, strategies as st

from archsim.graph.functional import simulate as functional
from archsim.graph.network import LIF, Dense, Layer, Network, Projection
from archsim.graph.quantize import Precision, quantize

PRECISION = Precision(weight_bits=8, activation_bits=8, membrane_bits=24, decay_frac_bits=12)


def _net(rng, n_in, hidden, n_out, reset, half):
    def lif(n):
        k = rng.integers(1, 40, size=n).astype(np.float64)
        return LIF(decay=np.float64(1.0), threshold=k + 0.5 if half else k, reset=reset)

    return Network("ints", {"x": (n_in,)}, [
        Layer("h", (hidden,), (Projection("x", (Dense(rng.integers(-20, 31, size=(hidden, n_in)).astype(float)),)),),
              lif(hidden)),
        Layer("o", (n_out,), (Projection("h", (Dense(rng.integers(-9, 18, size=(n_out, hidden)).astype(float)),)),),
              lif(n_out)),
    ], ["o"])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(2, 30), hidden=st.integers(1, 30), n_out=st.integers(1, 8),
       subtract=st.booleans())
def test_chip_spikes_equal_float_spikes_on_representable_networks(seed, n_in, hidden, n_out, subtract):
    """Integer weights, integer inputs; thresholds k + 0.5 with reset to zero, integer k with subtraction."""
    rng = np.random.default_rng(seed)
    net = _net(rng, n_in, hidden, n_out, "subtract" if subtract else "zero", half=not subtract)
    x = (rng.random((12, 3, n_in)) < 0.5).astype(float)
    exact = functional(net, {"x": x})
    chip = functional(net, {"x": x}, PRECISION)
    assert all(chip.quantized.layer(n).scale == 1.0 for n in ("h", "o"))
    for name in ("h", "o"):
        np.testing.assert_array_equal(chip.layer_outputs[name], exact.layer_outputs[name])


def test_half_integer_threshold_rounds_down_not_to_even():
    """threshold 2.5: v = 3 spikes (3 > 2.5); rint would give threshold_q 2 here but 4 for 3.5 (half to even)."""
    net = Network("t", {"x": (1,)}, [Layer("h", (2,), (Projection("x", (Dense(np.array([[1.0], [1.0]])),)),),
                                           LIF(decay=np.float64(1.0), threshold=np.array([2.5, 3.5])))], ["h"])
    q = quantize(net, PRECISION).layer("h")
    assert q.scale == 1.0
    assert q.threshold_q.tolist() == [2, 3]


def test_scale_is_peak_over_qmax_when_weights_are_not_integers():
    net = Network("f", {"x": (2,)}, [Layer("h", (1,), (Projection("x", (Dense(np.array([[0.5, 2.0]])),)),),
                                           LIF(decay=np.float64(1.0), threshold=np.float64(1.0)))], ["h"])
    assert quantize(net, PRECISION).layer("h").scale == 2.0 / 127
