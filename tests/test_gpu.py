"""GPU model: exact kernel counts, roofline behaviour, memory, energy, area, configs, calibration."""
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from archsim.config import load_chip
from archsim.errors import UserError
from archsim.graph import network as nw
from archsim.graph.workload import Workload
from archsim.gpu import estimate, load_calibration, spec_for, workload_kernels
from archsim.gpu.kernels import stepwise_kernels
from archsim.gpu.l2 import l2_hit_bytes
from archsim.gpu.memory import footprint
from archsim.gpu.roofline import kernel_time
from archsim.gpu.spec import sgemm_power_w

CHIPS = Path(__file__).resolve().parents[1] / "chips" / "gpu"


def chip(name, **overrides):
    loaded = load_chip(CHIPS / f"{name}.yaml")
    return loaded.with_overrides(overrides) if overrides else loaded


def lif():
    return nw.LIF(decay=np.float64(0.9), threshold=np.float64(1.0))


def mlp(sizes=(20, 16, 4)):
    """Dense+LIF hidden layers with bias, a bias-free Dense+LI read-out."""
    layers, source = [], "x"
    for i, (n_in, n_out) in enumerate(zip(sizes[:-2], sizes[1:-1])):
        dense = nw.Dense(np.zeros((n_out, n_in)), np.zeros(n_out))
        layers.append(nw.Layer(f"h{i}", (n_out,), (nw.Projection(source, (dense,)),), lif()))
        source = f"h{i}"
    readout = nw.Dense(np.zeros((sizes[-1], sizes[-2])))
    layers.append(nw.Layer("out", (sizes[-1],), (nw.Projection(source, (readout,)),), nw.LI(decay=np.float64(0.9))))
    return nw.Network("mlp", {"x": (sizes[0],)}, layers, ["out"])


def convnet(channels=(64, 128, 256), size=32, classes=10):
    """Conv3x3+LIF blocks, average pooling between them, a dense read-out."""
    layers, source, shape, pending = [], "x", (3, size, size), ()
    for i, c in enumerate(channels):
        conv = nw.Conv2d(np.zeros((c, shape[0], 3, 3), np.float32), None, padding=(1, 1))
        shape = (c, shape[1], shape[2])
        layers.append(nw.Layer(f"conv{i}", shape, (nw.Projection(source, pending + (conv,)),), lif()))
        pending, source = (nw.AvgPool2d((2, 2), (2, 2)),), f"conv{i}"
        shape = (c, shape[1], shape[2])
        shape_after_pool = (c, shape[1] // 2, shape[2] // 2)
        shape = shape_after_pool
    dense = nw.Dense(np.zeros((classes, int(np.prod(shape))), np.float32))
    layers.append(nw.Layer("fc", (classes,), (nw.Projection(source, pending + (nw.Flatten(), dense)),),
                           nw.LI(decay=np.float64(0.9))))
    return nw.Network("convnet", {"x": (3, size, size)}, layers, ["fc"])


def workload(network, steps, batch, mode):
    return Workload(network.name, network, {}, steps, batch, mode)


def table(kernels):
    return {(k.name, k.layer, k.step): (k.flops, k.bytes) for k in kernels}


# ---------------------------------------------------------------------------------------------
# exact counts, by hand (B = 3, T = 2, fp32: 4 bytes): step by step with fused neuron kernels
# ---------------------------------------------------------------------------------------------
def test_inference_kernels_match_hand_counts():
    got = table(stepwise_kernels(workload(mlp(), 2, 3, "infer"), 4, "fused"))
    expected = {}
    for t in range(2):
        expected[("dense", "h0", t)] = (2 * 3 * 20 * 16 + 3 * 16, 4 * (3 * 20 + 20 * 16 + 16) + 4 * 3 * 16)
        expected[("lif_update", "h0", t)] = (5 * 48, 4 * 48 * (2 + 2))
        expected[("dense", "out", t)] = (2 * 3 * 16 * 4, 4 * (3 * 16 + 16 * 4) + 4 * 3 * 4)
        expected[("li_update", "out", t)] = (3 * 12, 4 * 12 * (2 + 1))
    assert got == expected


def test_bptt_kernels_match_hand_counts():
    kernels = stepwise_kernels(workload(mlp(), 2, 3, "train"), 4, "fused")
    got = table(kernels)
    assert len(got) == len(kernels) - 2   # h0's weight and bias share (name, layer, step) in adam, grad_accumulate
    e, T = 4, 2
    expected = {}
    for t in range(T):
        last = t == T - 1
        expected[("dense", "h0", t)] = (1968, e * (60 + 320 + 16) + e * 48)
        expected[("lif_update", "h0", t)] = (240, e * 48 * (2 + 3))           # + pre-reset membrane saved
        expected[("dense", "out", t)] = (384, e * (48 + 64) + e * 12)
        expected[("li_update", "out", t)] = (36, e * 12 * 3)
        expected[("li_backward", "out", t)] = (36, e * 12 * ((1 if last else 2) + 2))
        expected[("dense_dgrad", "out", t)] = (384, e * (12 + 64) + e * 48)
        expected[("dense_wgrad", "out", t)] = (384, e * (12 + 48) + e * 64)
        expected[("surrogate", "h0", t)] = (6 * 48, e * 48 * 2)
        expected[("lif_backward", "h0", t)] = (4 * 48, e * 48 * ((2 if last else 3) + 2))
        expected[("dense_wgrad", "h0", t)] = (1920, e * (48 + 60) + e * 320)    # no dgrad: input is the data
        expected[("bias_grad", "h0", t)] = (48, e * 48 + e * 16)
    # parameter-gradient accumulation at every step but the first processed (t = T-1)
    expected[("grad_accumulate", "out", 0)] = (64, 3 * e * 64)
    accumulate_h0 = [k for k in kernels if k.name == "grad_accumulate" and k.layer == "h0"]
    assert sorted((k.flops, k.bytes) for k in accumulate_h0) == [(16, 3 * e * 16), (320, 3 * e * 320)]
    expected[("grad_accumulate", "h0", 0)] = got[("grad_accumulate", "h0", 0)]
    expected[("loss_time_sum", "out", None)] = ((T - 1) * 12, e * T * 12 + e * 12)
    expected[("cross_entropy", "out", None)] = (5 * 12, e * 12 + 8 * 3 + e * 3)
    expected[("cross_entropy_backward", "out", None)] = (3 * 12, e * 12 + 8 * 3 + e * 12)
    adam = sorted((k.flops, k.bytes) for k in kernels if k.name == "adam")
    assert adam == sorted((12 * n, 28 * n) for n in (320, 16, 64))
    expected[("adam", "h0", None)] = got[("adam", "h0", None)]
    expected[("adam", "out", None)] = (12 * 64, 28 * 64)
    assert got == expected


def test_conv_pool_and_grouped_conv_counts():
    conv = nw.Conv2d(np.zeros((8, 3, 3, 3)), np.zeros(8), padding=(1, 1))
    grouped = nw.Conv2d(np.zeros((8, 4, 3, 3)), None, stride=(2, 2), padding=(1, 1), groups=2)
    net = nw.Network("c", {"x": (3, 8, 8)}, [
        nw.Layer("a", (8, 8, 8), (nw.Projection("x", (conv,)),), nw.ReLU()),
        nw.Layer("b", (8, 2, 2), (nw.Projection("a", (nw.AvgPool2d((2, 2), (2, 2)), grouped)),), nw.ReLU()),
    ], ["b"])
    got = table(stepwise_kernels(workload(net, 1, 2, "infer"), 4, "fused"))
    macs = 2 * 8 * 8 * 8 * 3 * 3 * 3
    assert got[("conv", "a", 0)] == (2 * macs + 2 * 512, 4 * (2 * 192 + 216 + 8) + 4 * 2 * 512)
    assert got[("pool", "b", 0)] == (2 * 128 * 4, 4 * 2 * 512 + 4 * 2 * 128)
    grouped_macs = 2 * 8 * 2 * 2 * 4 * 3 * 3          # B Cout OH OW (Cin/g) kh kw
    assert got[("conv", "b", 0)] == (2 * grouped_macs, 4 * (2 * 128 + 8 * 4 * 9) + 4 * 2 * 32)
    assert got[("relu", "a", 0)] == (2 * 512, 4 * 2 * 2 * 512)
    shapes = {k.layer: k.gemm for k in workload_kernels(workload(net, 1, 2, "infer")) if k.name == "conv"}
    assert shapes == {"a": (2 * 64, 8, 27, 1), "b": (2 * 4, 4, 36, 2)}


def test_recurrent_and_multi_projection_gradient_sums():
    rec = nw.Dense(np.zeros((5, 5)))
    net = nw.Network("r", {"x": (3,)}, [
        nw.Layer("h", (5,), (nw.Projection("x", (nw.Dense(np.zeros((5, 3))),)),
                             nw.Projection("h", (rec,), recurrent=True)), lif()),
        nw.Layer("out", (2,), (nw.Projection("h", (nw.Dense(np.zeros((2, 5))),)),), nw.LI(decay=np.float64(0.5))),
    ], ["out"])
    kernels = workload_kernels(workload(net, 3, 4, "train"))
    adds = sorted(k.step for k in kernels if k.name == "add")
    assert adds == [0, 1, 2]                        # two projections into h: one add per step
    grad_adds = sorted(k.step for k in kernels if k.name == "grad_add")
    assert grad_adds == [0, 1]                      # h gets out's gradient and, before the last step, its own
    assert all(k.bytes == 3 * 4 * 4 * 5 for k in kernels if k.name in ("add", "grad_add"))


# ---------------------------------------------------------------------------------------------
# roofline behaviour
# ---------------------------------------------------------------------------------------------
def test_large_gemm_approaches_peak_times_efficiency():
    n = 8192
    net = nw.Network("g", {"x": (n,)}, [nw.Layer("y", (n,), (nw.Projection("x", (nw.Dense(np.zeros((1, 1))),)),),
                                                 nw.Identity())], ["y"])
    spec = spec_for(chip("v100"))
    kernel = workload_kernels(workload(net, 1, n, "infer"))[0]
    kernel = type(kernel)(kernel.name, kernel.layer, kernel.step, kernel.phase, 2 * n**3, 3 * 4 * n * n, 0, (n, n, n, 1))
    time_s, bound = kernel_time(kernel, spec)
    achieved = kernel.flops / time_s
    assert bound == "compute"
    assert 0.95 * spec.gemm_max * 15.7e12 < achieved <= spec.gemm_max * 15.7e12


def test_small_batch_bptt_is_launch_and_memory_bound():
    est = estimate(workload(mlp((100, 128, 10)), 20, 8, "train"), chip("v100"))
    bound = est.time_by_bound_s
    assert bound.get("launch", 0) + bound.get("memory", 0) > 0.9 * est.latency_s
    assert bound.get("compute", 0) < 0.1 * est.latency_s
    neuron = [k for k in est.kernels if k["name"].startswith(("lif_", "surrogate"))]
    assert len(neuron) == 20 * (8 + 9) - 2     # eager: 8 forward, 9 backward kernels a step; 2 fewer at the last
    assert all(k["bound"] in ("launch", "memory") for k in neuron)
    assert sum(k["time_s"] for k in neuron) > est.time_by_kernel_s["dense"]


def matrix_time_s(est):
    return sum(t for name, t in est.time_by_kernel_s.items() if name.startswith(("conv", "dense")))


def test_h100_beats_v100_by_about_the_peak_ratio():
    work = workload(convnet((256, 512, 1024)), 2, 256, "train")
    fp32 = [estimate(work, chip(name, **{"runtime.numerics": "fp32"})) for name in ("v100", "h100")]
    assert fp32[0].latency_s / fp32[1].latency_s == pytest.approx(66.9 / 15.7, rel=0.15)
    # on tensor cores the matrix kernels speed up by the tensor peak ratio; the SNN's elementwise
    # neuron kernels stay memory-bound, so the whole lands between the bandwidth and peak ratios
    fp16 = [estimate(work, chip(name, **{"runtime.numerics": "fp16"})) for name in ("v100", "h100")]
    assert matrix_time_s(fp16[0]) / matrix_time_s(fp16[1]) == pytest.approx(989.4 / 125, rel=0.15)
    assert 3350 / 900 < fp16[0].latency_s / fp16[1].latency_s < 989.4 / 125


def test_impossible_batch_is_reported_and_refused_when_required():
    work = workload(convnet(), 32, 4096, "train")
    est = estimate(work, chip("v100"))
    assert not est.fits_in_memory
    assert "does not fit" in est.memory_message and est.memory_bytes > 16 * 2**30
    with pytest.raises(UserError) as info:
        estimate(work, chip("v100"), require_fit=True)
    assert "\n" not in str(info.value) and "v100.yaml" in str(info.value)
    assert estimate(workload(convnet(), 4, 8, "train"), chip("v100")).fits_in_memory


def test_memory_footprint_by_hand():
    work = workload(mlp(), 2, 3, "train")
    mem = footprint(work, 4, 16 * 2**30, 0)
    params = 320 + 16 + 64
    assert mem.components_bytes == {
        "parameters": 4 * params, "gradients": 4 * params, "optimizer_state": 8 * params,
        "inputs": 4 * 2 * 3 * 20,
        "activations": 4 * 3 * 2 * (20 + 16 + 16),     # x (read by h0), h0's membrane, h0's spikes (read by out)
        "state": 4 * 3 * (16 + 4), "framework": 0}


# ---------------------------------------------------------------------------------------------
# energy, area, output
# ---------------------------------------------------------------------------------------------
def test_energy_is_idle_busy_plus_activity_and_capped_at_tdp():
    work = workload(convnet((16, 32)), 2, 16, "train")
    gpu = chip("v100")
    spec, est = spec_for(gpu), estimate(work, gpu)
    kernels = workload_kernels(work)
    by_kind = lambda pred: sum(k.flops for k in kernels if pred(k))
    hits = sum(l2_hit_bytes(k, spec) for k in kernels)
    busy_s = est.latency_s - len(kernels) * spec.kernel_launch_s
    expected = (spec.idle_w * est.latency_s * 1e12 + spec.sm_active_w * busy_s * 1e12
                + by_kind(lambda k: k.kind == "gemm") * spec.conv_flop_pj        # fp32: conv and dense alike
                + by_kind(lambda k: k.kind != "gemm") * spec.vector_flop_pj
                + (sum(k.bytes for k in kernels) - hits) * spec.dram_byte_pj + hits * spec.l2_byte_pj)
    assert 0 < hits < sum(k.bytes for k in kernels)
    assert est.energy_pj == pytest.approx(expected)
    assert not est.power_capped and est.static_energy_pj == pytest.approx(spec.idle_w * est.latency_s * 1e12)
    capped = estimate(work, chip("v100", **{"power.tdp_w": 40}))
    assert capped.power_capped
    assert capped.energy_pj == pytest.approx(40 * capped.latency_s * 1e12)
    total = sum(v for actions in capped.energy_breakdown_pj.values() for v in actions.values())
    assert total == pytest.approx(capped.energy_pj)


def gemm_network(n):
    return nw.Network("g", {"x": (n,)}, [nw.Layer("y", (n,), (nw.Projection("x", (nw.Dense(np.zeros((n, n))),)),),
                                                  nw.Identity())], ["y"])


@pytest.mark.parametrize("name, low, high", [("v100", 0.7, 1.0), ("a100", 0.7, 1.0), ("h100", 0.7, 1.0)])
def test_large_gemm_draws_most_of_tdp(name, low, high):
    # measured SGEMM power on these boards is 70-100% of TDP; the derivation in spec.py lands there
    gpu = chip(name, **{"runtime.numerics": "fp32"})
    est = estimate(workload(gemm_network(8192), 1, 8192, "infer"), gpu)
    assert est.time_by_bound_s.get("compute", 0) > 0.95 * est.latency_s
    tdp = spec_for(gpu).tdp_w
    assert low * tdp <= est.average_power_w <= high * tdp


def test_streaming_kernel_draws_less_than_a_large_sgemm():
    # a relu over 64 Mi elements: memory-bound; DRAM + busy SMs + idle, above a third of TDP and below
    # the large SGEMM that sets power.sm_active_w (archsim.gpu.spec.sgemm_power_w)
    n = 2**26
    net = nw.Network("s", {"x": (n,)}, [nw.Layer("y", (n,), (nw.Projection("x", (nw.Scale(np.float64(1.0)),)),),
                                                 nw.ReLU())], ["y"])
    est = estimate(workload(net, 1, 1, "infer"), chip("v100"))
    assert est.time_by_bound_s.get("memory", 0) > 0.95 * est.latency_s
    assert 0.35 * 300 <= est.average_power_w < sgemm_power_w(chip("v100"))


def test_area_at_own_node_and_iso_node():
    work = workload(mlp(), 1, 1, "infer")
    own = estimate(work, chip("v100"))
    assert own.area_mm2 == 815 and not own.iso_node and own.area_node_nm == 12
    iso = estimate(work, chip("v100"), iso_node_nm=28)
    assert iso.iso_node and iso.area_node_nm == 28
    assert iso.area_mm2 == pytest.approx(815 * 0.38 / 0.135)
    with pytest.raises(UserError):
        estimate(work, chip("v100"), iso_node_nm=2)


def test_to_dict_is_json_and_aggregates_kernels():
    est = estimate(workload(mlp(), 3, 2, "train"), chip("a100"))
    data = json.loads(json.dumps(est.to_dict()))
    assert data["kernel_launches"] == len(est.kernels)
    assert sum(row["launches"] for row in data["kernels"]) == len(est.kernels)
    assert sum(row["time_s"] for row in data["kernels"]) == pytest.approx(est.latency_s)
    for key in ("name", "latency_s", "energy_pj", "energy_breakdown_pj", "static_energy_pj", "area_mm2",
                "area_breakdown_mm2", "memory_bytes", "fits_in_memory", "power_capped", "time_by_kernel_s",
                "time_by_bound_s", "sources"):
        assert key in data
    assert set(data["energy_breakdown_pj"]) == {"sm", "l2", "dram", "idle"}
    assert data["sources"]["efficiency.gemm_max"].startswith("default (assumption)")


# ---------------------------------------------------------------------------------------------
# configs and calibration
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("edit, key", [
    (lambda d: d["compute"].update(fp32_tflop=1), "compute.fp32_tflop"),
    (lambda d: d["power"].update(tdp_w=-5), "power.tdp_w"),
    (lambda d: d["runtime"].update(numerics="int4"), "runtime.numerics"),
    (lambda d: d["efficiency"].pop("gemm_max"), "efficiency.gemm_max"),
])
def test_bad_gpu_config_is_one_line_naming_the_key(tmp_path, edit, key):
    data = yaml.safe_load((CHIPS / "v100.yaml").read_text())
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(UserError) as info:
        load_chip(path)
    message = str(info.value)
    assert "\n" not in message and key in message and "bad.yaml" in message


def test_tf32_needs_tensor_tf32_peak():
    with pytest.raises(UserError, match="tensor_tf32_tflops"):
        spec_for(chip("v100", **{"runtime.numerics": "tf32_conv"}))


def calibration_file(tmp_path, **changes):
    data = {"schema": "archsim.gpu_calibration/1", "date": "2026-01-01", "device_type": "cuda",
            "device_name": "Tesla V100-SXM2-16GB", "driver": "535.0", "cuda": "12.2", "torch": "2.3.0",
            "efficiencies": {"efficiency.gemm_max": 0.7, "efficiency.memory_max": 0.8,
                             "runtime.kernel_launch_s": 8e-6}}
    data.update(changes)
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(data))
    return path


def test_calibration_replaces_defaults_and_says_so(tmp_path):
    path = calibration_file(tmp_path)
    calibration = load_calibration(path)
    assert calibration.overrides["runtime.kernel_launch_s"] == 8e-6
    gpu = chip("v100", calibration=str(path))
    spec = spec_for(gpu)
    assert (spec.gemm_max, spec.memory_max, spec.kernel_launch_s) == (0.7, 0.8, 8e-6)
    est = estimate(workload(mlp(), 2, 2, "infer"), gpu)
    assert est.sources["efficiency.gemm_max"].startswith("measured")
    slower = estimate(workload(mlp(), 2, 2, "infer"), chip("v100"))
    assert est.latency_s > slower.latency_s        # longer launches


@pytest.mark.parametrize("changes, key", [
    ({"device_type": "cpu"}, "device_type"),
    ({"efficiencies": {"efficiency.gemm_max": 1.5}}, "efficiencies.efficiency.gemm_max"),
    ({"efficiencies": {"efficiency.tile": 1}}, "efficiencies.efficiency.tile"),
    ({"torch": ""}, "torch"),
])
def test_bad_calibration_is_one_line(tmp_path, changes, key):
    with pytest.raises(UserError) as info:
        load_calibration(calibration_file(tmp_path, **changes))
    assert "\n" not in str(info.value) and key in str(info.value)
