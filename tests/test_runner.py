"""archsim run end to end: chip result with the GPU comparison, GPU alone, functional runs, errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

from archsim import result as result_mod
from archsim.errors import UserError
from archsim.graph.network import LIF, Dense, Layer, Network, Projection
from archsim.runner import execute, recost, resolve_chip


def small_snn(seed=0):
    rng = np.random.default_rng(seed)
    w1, w2 = rng.normal(0, 0.6, (24, 16)), rng.normal(0, 0.6, (6, 24))
    lif = LIF(decay=np.float64(0.75), threshold=np.float64(1.0))
    layers = [Layer("h", (24,), (Projection("x", (Dense(w1),)),), lif),
              Layer("o", (6,), (Projection("h", (Dense(w2),)),), lif)]
    return Network("small", {"x": (16,)}, layers, ["o"], {"steps": 5})


def test_chip_run_has_the_public_keys_and_gpu_comparison():
    outcome = execute(small_snn(), "tianjic", batch=2)
    result = outcome.result
    assert set(result_mod.REQUIRED_KEYS) <= set(result)
    assert result["cycles"] > 0 and result["energy_pj"] > 0 and result["area_mm2"] > 0
    assert result["gpu"]["name"] and result["vs_gpu"]["speedup"] == pytest.approx(
        result["gpu"]["latency_s"] / result["latency_s"])
    assert outcome.outputs.shape == (5, 2, 6)
    json.dumps(result, default=result_mod.jsonable)


def test_recost_with_same_chip_is_identical():
    result = execute(small_snn(), "tianjic", gpu=None).result
    again = recost(result, "tianjic")
    assert again["energy_pj"] == result["energy_pj"] and again["area_mm2"] == result["area_mm2"]


def test_recost_at_another_node_changes_energy_not_cycles():
    result = execute(small_snn(), "tianjic", gpu=None).result
    chip = resolve_chip("tianjic").with_overrides({"technology.node_nm": 12, "technology.table": "tech/12nm.yaml"})
    other = recost(result, chip)
    assert other["cycles"] == result["cycles"] and other["energy_pj"] < result["energy_pj"]


def test_chip_outputs_equal_functional_chip_precision():
    from archsim.graph.functional import simulate
    from archsim.graph.quantize import Precision

    outcome = execute(small_snn(1), "tianjic", batch=3, gpu=None, seed=4)
    chip = resolve_chip("tianjic")
    expected = simulate(outcome.workload.network, outcome.workload.inputs,
                        precision=Precision(**chip.params["precision"]))
    np.testing.assert_array_equal(outcome.outputs, expected.outputs["o"])


def test_gpu_alone_reports_kernels():
    result = execute(small_snn(), "v100", mode="train", batch=8).result
    assert result["family"] == "gpu" and result["latency_s"] > 0
    assert result["gpu_detail"]["time_by_kernel_s"]


def test_float_functional_run_needs_no_chip():
    outcome = execute(small_snn(), None, precision="float")
    assert outcome.outputs.shape == (5, 1, 6)


@pytest.mark.parametrize("kwargs, words", [
    (dict(chip=None), "--chip"),
    (dict(chip="no-such-chip"), "no such chip"),
    (dict(chip="tianjic", batch=0), "--batch"),
    (dict(chip="tianjic", precision="float"), "--precision float"),
])
def test_bad_requests_are_one_line_user_errors(kwargs, words):
    chip = kwargs.pop("chip")
    with pytest.raises(UserError) as info:
        execute(small_snn(), chip, **kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_cli_error_exits_2_with_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "archsim.cli", "run", "mlp-digits", "--chip", str(tmp_path / "x.yaml")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "x.yaml" in proc.stderr


def test_iso_node_redraws_the_gpu_die_at_the_chip_node():
    plain = execute(small_snn(), "tianjic").result
    iso = execute(small_snn(), "tianjic", iso_node=True).result
    assert iso["gpu"]["iso_node"] and iso["gpu"]["area_node_nm"] == 28
    assert iso["gpu"]["area_mm2"] > plain["gpu"]["area_mm2"]   # 12 nm die drawn at 28 nm is larger


def test_gpu_framework_fused_is_faster_than_eager_for_a_small_snn():
    eager = execute(small_snn(), "tianjic", gpu_framework="eager").result
    fused = execute(small_snn(), "tianjic", gpu_framework="fused").result
    assert fused["gpu"]["latency_s"] < eager["gpu"]["latency_s"]
