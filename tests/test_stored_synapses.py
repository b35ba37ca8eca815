"""Only stored synapses exist: zero weights cost no synaptic operation, memory per synapse format."""
import numpy as np
import pytest

from archsim.config import load_chip
from archsim.graph.network import LIF, Conv2d, Dense, Layer, Network, Projection, ReLU
from archsim.graph.quantize import Precision, quantize
from archsim.graph.workload import Workload
from archsim.mapping import Mapping, Part, map_network, validate_mapping
from archsim.mapping.lowering import lower_chain
from archsim.mapping.storage import SynapseFormat
from archsim.errors import UserError
from archsim.models.manycore import simulate

LIF_ZERO = LIF(decay=np.float64(1.0), threshold=np.float64(200.0))


def _one_layer(weight, neuron=LIF_ZERO):
    out, n_in = weight.shape
    return Network("one", {"x": (n_in,)}, [Layer("h", (out,), (Projection("x", (Dense(weight),)),), neuron)], ["h"])


def _twins(rng, n_in=40, out=50, keep=5):
    """Integer weights in 1..127 (127 present: scale 1) and the twin that keeps ``keep`` of ``out`` per input."""
    dense = rng.integers(1, 128, size=(out, n_in)).astype(np.float64)
    dense[0, 0] = 127
    sparse = np.zeros_like(dense)
    for i in range(n_in):
        rows = rng.choice(out, size=keep, replace=False)
        sparse[rows, i] = dense[rows, i]
    sparse[0, 0] = 127
    sparse[:, 0] = 0
    sparse[rng.choice(out, size=keep, replace=False), 0] = 127
    return dense, sparse


@pytest.mark.parametrize("chip_path", ["chips/loihi.yaml", "chips/tianjic.yaml"])
def test_ninety_percent_zero_layer_costs_ten_percent_of_the_ops(chip_path):
    from archsim.cost import evaluate

    rng = np.random.default_rng(3)
    dense, sparse = _twins(rng)
    x = (rng.random((4, 1, dense.shape[1])) < 0.5).astype(float)
    chip = load_chip(chip_path)
    traces = {}
    for name, w in (("dense", dense), ("sparse", sparse)):
        work = Workload(name, _one_layer(w), {"x": x}, 4, 1)
        traces[name] = simulate(work, chip, "fast")
        assert simulate(work, chip, "reference").actions == traces[name].actions
    assert int(x.sum()) > 0
    assert traces["dense"].synaptic_ops == int(x.sum()) * 50
    assert traces["sparse"].synaptic_ops * 10 == traces["dense"].synaptic_ops
    adds = {n: t.actions["dendrite"]["add"] for n, t in traces.items()}
    assert adds["sparse"] * 10 == adds["dense"]
    energy = {n: evaluate(t, chip).energy_breakdown_pj["dendrite"]["add"] for n, t in traces.items()}
    assert energy["sparse"] * 10 == pytest.approx(energy["dense"])


def test_valued_zero_inputs_are_no_synaptic_ops():
    """ANN mode: a MAC of a zero activation is work (cycles, MAC energy) but no synaptic operation."""
    rng = np.random.default_rng(0)
    w = rng.integers(1, 128, size=(6, 8)).astype(np.float64)
    net = Network("ann", {"x": (8,)}, [Layer("h", (6,), (Projection("x", (Dense(w),)),), ReLU())], ["h"],
                  metadata={"input_kind": {"x": "values"}, "quant": {"activation_scale": {"h": 1.0}}})
    x = np.zeros((2, 1, 8))
    x[0, 0, :3] = 0.5
    trace = simulate(Workload("ann", net, {"x": x}, 2, 1), load_chip("chips/tianjic.yaml"), "fast")
    assert trace.synaptic_ops == 3 * 6
    assert trace.actions["dendrite_mac"]["mac"] == 2 * 8 * 6


def test_lowering_keeps_only_non_zero_weights():
    w = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 0.0]])
    matrix, _ = lower_chain((Dense(w),), (3,))
    assert matrix.nnz == 2 and matrix[1, 0] == 2.0 and matrix[0, 1] == 1.0
    kernel = np.zeros((1, 1, 3, 3))
    kernel[0, 0, 1, 1] = 5.0
    conv, _ = lower_chain((Conv2d(kernel, padding=(1, 1)),), (1, 4, 4))
    assert conv.nnz == 16


def test_bits_per_format_by_hand():
    lists = SynapseFormat.of("sparse_list", weight_bits=8, neurons=1024, header_bits=10)
    assert lists.index_bits == 10 and lists.bits_per_synapse == 18
    assert lists.bits(synapses=64, axons=16, neurons=4) == 64 * 18 + 16 * 10
    crossbar = SynapseFormat.of("crossbar", weight_bits=8, neurons=256, header_bits=10)
    assert crossbar.bits(synapses=8, axons=8, neurons=4) == 8 * 4 * 8


def _chip(path, memory_bits, neurons=None):
    over = {"core.synapse_memory_kb": memory_bits / 8192}
    if neurons is not None:
        over["core.neurons"] = neurons
    return load_chip(path).with_overrides(over)


def _cores(net, chip):
    qnet = quantize(net, Precision.from_config(chip.params["precision"]))
    mapping = map_network(net, chip, qnet)
    validate_mapping(mapping, net, chip, qnet)
    return len(mapping.parts)


def test_sparse_list_memory_limit_by_hand():
    """Loihi lists: 16 inputs all-to-all into 4 neurons: 64 x (8 + 10) + 16 x 10 = 1,312 bits on one core."""
    net = _one_layer(np.full((4, 16), 127.0))
    assert _cores(net, _chip("chips/loihi.yaml", 1312)) == 1
    assert _cores(net, _chip("chips/loihi.yaml", 1311)) == 2         # 2 neurons: 32 x 18 + 16 x 10 = 736 bits


def test_crossbar_memory_limit_by_hand():
    """A crossbar stores its rectangle: 4 neurons reading 2 inputs each (8 axons) take 8 x 4 x 8 = 256 bits."""
    w = np.zeros((4, 16))
    for n in range(4):
        w[n, 2 * n:2 * n + 2] = 127.0
    net = _one_layer(w)
    assert _cores(net, _chip("chips/tianjic.yaml", 256)) == 1
    assert _cores(net, _chip("chips/tianjic.yaml", 255)) == 2        # 2 neurons, 4 axons: 64 bits each


def test_loaded_mapping_is_checked_in_the_chip_format():
    net = _one_layer(np.full((4, 16), 127.0))
    chip = _chip("chips/loihi.yaml", 1311)
    qnet = quantize(net, Precision.from_config(chip.params["precision"]))
    one_core = Mapping(network="one", chip=chip.name, board_shape=(16, 8), orders={"h": "chw"},
                       input_groups={"h": [0, 16]}, parts=[Part("h", (0, 0), (0, 4), (0, 16))])
    with pytest.raises(UserError, match="164 bytes of weights"):
        validate_mapping(one_core, net, chip, qnet)


def test_zeros_take_no_list_memory():
    """The same layer with 90% zero weights needs fewer Loihi cores when memory binds."""
    rng = np.random.default_rng(1)
    dense, sparse = _twins(rng, n_in=40, out=50, keep=5)
    chip = _chip("chips/loihi.yaml", 8192)
    assert _cores(_one_layer(sparse), chip) < _cores(_one_layer(dense), chip)


def test_a_sparse_layer_runs_as_its_dense_twin():
    """A Dense layer holding a SciPy sparse weight gives the dense twin's spikes, cycles and actions."""
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    _, w = _twins(rng, n_in=30, out=20, keep=3)
    x = (rng.random((5, 2, 30)) < 0.5).astype(float)
    chip = load_chip("chips/loihi.yaml")
    dense = simulate(Workload("d", _one_layer(w), {"x": x}, 5, 2), chip, "fast")
    sparse_net = _one_layer(sp.csr_matrix(w))
    sparse = simulate(Workload("s", sparse_net, {"x": x}, 5, 2), chip, "fast")
    assert (sparse.cycles, sparse.spikes, sparse.actions) == (dense.cycles, dense.spikes, dense.actions)
    np.testing.assert_array_equal(sparse.outputs, dense.outputs)
    from archsim.graph.functional import simulate as functional

    exact = functional(sparse_net, {"x": x})
    chip_run = functional(sparse_net, {"x": x}, Precision.from_config(chip.params["precision"]))
    np.testing.assert_array_equal(exact.outputs["h"], chip_run.outputs["h"])
    np.testing.assert_array_equal(exact.outputs["h"], dense.outputs)


def test_a_network_too_large_is_told_the_board_that_holds_it():
    from archsim.mapping import BoardShape, board_for

    assert board_for(175, BoardShape(12, 13)) == (2, 1)
    assert board_for(1920, BoardShape(16, 8)) == (5, 3)              # 15 chips
    assert board_for(128 * 5, BoardShape(16, 8)) == (3, 2)
    net = _one_layer(np.full((40, 16), 127.0))
    chip = load_chip("chips/loihi.yaml").with_overrides({"core.neurons": 2, "noc.mesh_x": 4, "noc.mesh_y": 4})
    with pytest.raises(UserError, match=r"needs 20 cores .* a board of 2 x 1 of these chips"):
        map_network(net, chip, quantize(net, Precision.from_config(chip.params["precision"])))


def test_a_neuron_whose_synapses_exceed_a_core_is_split_by_memory_and_still_exact():
    """Fan-in 256 <= 256 axons, but 256 8-bit synapses (256 B) do not fit a 128 B core: the fan-in is cut
    in two by memory, partial sums merge, and the chip still equals the functional model."""
    from archsim.graph.functional import simulate as functional
    from archsim.graph.workload import Workload
    from archsim.mapping import map_network, validate_mapping
    from archsim.models.manycore import simulate
    from archsim.runner import resolve_chip

    rng = np.random.default_rng(0)
    net = Network("wide", {"x": (256,)}, [Layer("h", (4,), (Projection("x", (Dense(rng.normal(size=(4, 256))),)),),
                                                  LIF(decay=np.float64(0.5), threshold=np.float64(1.0)))], ["h"])
    chip = resolve_chip("tianjic").with_overrides({"core.synapse_memory_kb": 0.125})
    qnet = quantize(net, Precision.from_config(chip.params["precision"]))
    mapping = map_network(net, chip, qnet)
    assert mapping.input_groups["h"] == [0, 128, 256]
    validate_mapping(mapping, net, chip, qnet)
    x = (rng.random((3, 1, 256)) < 0.5).astype(float)
    trace = simulate(Workload("wide", net, {"x": x}, 3, 1), chip, "fast")
    np.testing.assert_array_equal(trace.outputs, functional(net, {"x": x}, qnet.precision).outputs["h"])
