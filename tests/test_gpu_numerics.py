"""GPU numerics (PyTorch's default per GPU, settable), one-way ratios, and the GPU at its best batch."""
import subprocess
import sys

import numpy as np
import pytest

from archsim import result as result_mod
from archsim.errors import UserError
from archsim.graph.workload import Workload
from archsim.gpu.estimate import best_batch, estimate
from archsim.report import headline
from archsim.runner import execute
from tests.test_gpu import chip, convnet, mlp
from tests.test_runner import small_snn


def workload(net, steps=2, batch=4, mode="train"):
    return Workload(net.name, net, {}, steps, batch, mode)


@pytest.mark.parametrize("name, default", [("v100", "fp32"), ("a100", "tf32_conv"), ("h100", "tf32_conv")])
def test_each_gpu_keeps_pytorchs_default_and_names_it(name, default):
    est = estimate(workload(convnet(channels=(16, 32), size=16)), chip(name))
    assert est.numerics == default and est.to_dict()["numerics"] == default
    assert est.to_dict()["framework"] == "eager"


def test_tf32_conv_puts_convolutions_on_tensor_cores_and_leaves_matmuls_in_fp32():
    net = convnet(channels=(16, 32), size=16)
    fp32 = estimate(workload(net), chip("a100"), numerics="fp32")
    tf32 = estimate(workload(net), chip("a100"))
    assert tf32.time_by_kernel_s["conv"] < fp32.time_by_kernel_s["conv"]
    assert tf32.energy_breakdown_pj["sm"]["conv_flop"] < fp32.energy_breakdown_pj["sm"]["conv_flop"]
    assert tf32.energy_breakdown_pj["sm"]["dense_flop"] == pytest.approx(fp32.energy_breakdown_pj["sm"]["dense_flop"])


def test_bf16_is_refused_where_the_gpu_has_no_bf16_tensor_cores():
    with pytest.raises(UserError, match="tensor_bf16_tflops"):
        estimate(workload(mlp()), chip("v100"), numerics="bf16")
    half = estimate(workload(mlp()), chip("a100"), numerics="bf16")
    assert half.numerics == "bf16" and half.memory_bytes < estimate(workload(mlp()), chip("a100")).memory_bytes


def test_better_by_reads_one_way():
    assert result_mod.better_by(23.7) == "chip better by 23.7x"
    assert result_mod.better_by(0.25) == "GPU better by 4x"
    assert result_mod.better_by(215_000) == "chip better by 215,000x"
    assert result_mod.better_by(None) is None


def test_best_batch_has_the_least_energy_per_sample_of_the_batches_that_fit():
    w = workload(convnet(channels=(32, 64), size=32), steps=2, batch=4)
    best = best_batch(w, chip("v100"))
    assert best.fits_in_memory
    per_sample = best.energy_pj / best.batch
    for batch in (1, 4, best.batch // 2):
        other = estimate(Workload(w.name, w.network, {}, 2, batch, "train"), chip("v100"))
        assert per_sample <= other.energy_pj / batch
    beyond = estimate(Workload(w.name, w.network, {}, 2, best.batch * 2, "train"), chip("v100"))
    assert not beyond.fits_in_memory


def test_run_states_both_operating_points_and_the_numerics():
    result = execute(small_snn(), "tianjic", batch=2, gpu="a100", gpu_numerics="fp16").result
    assert result["gpu"]["numerics"] == "fp16" and result["gpu_best_batch"]["numerics"] == "fp16"
    vs, best = result["vs_gpu"], result["vs_gpu_best_batch"]
    assert vs["throughput_ratio"] == pytest.approx(result["throughput_samples_per_s"] * result["gpu"]["latency_s"] / 2)
    assert best["energy_per_sample_saving"] == pytest.approx(
        result["gpu_best_batch"]["energy_per_sample_pj"] / (result["energy_pj"] / 2))
    assert best["gpu_batch"] >= 2
    assert set(vs["summary"]) == {"latency", "throughput", "energy", "area"}
    text = headline(result)
    assert "fp16, eager framework" in text and "at its batch of least energy per sample" in text
    assert text.count("better by") >= 5


def test_cli_takes_gpu_numerics_and_refuses_a_bad_one():
    bad = subprocess.run([sys.executable, "-m", "archsim.cli", "run", "mlp-digits", "--chip", "tianjic",
                          "--gpu-numerics", "int8"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--gpu-numerics" in bad.stderr


def test_no_best_batch_block_when_not_even_one_sample_fits():
    big = chip("v100", memory_gb=0.5)       # the framework's own 0.5 GiB fills it
    result = execute(small_snn(), "tianjic", batch=2, gpu=big).result
    assert "vs_gpu" in result and "vs_gpu_best_batch" not in result
    assert "at its batch of least energy" not in headline(result)
