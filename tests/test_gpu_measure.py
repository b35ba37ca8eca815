"""bench/gpu_measure.py on the CPU build of torch: runs, labels itself, and is refused as a calibration."""
import importlib.util
import json
from pathlib import Path

import pytest

from archsim.errors import UserError
from archsim.gpu import load_calibration

torch = pytest.importorskip("torch")
SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_measure.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_measure", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU labelling")
def test_cpu_run_is_labelled_and_not_a_calibration(tmp_path):
    out = tmp_path / "cpu.json"
    record = load_script().main(["--mlp", "12,8,3", "--batch", "2", "--steps", "3", "--repeats", "1",
                                 "--out", str(out)])
    data = json.loads(out.read_text())
    assert data == json.loads(json.dumps(record))
    assert data["device_type"] == "cpu" and "efficiencies" not in data
    assert [w["mode"] for w in data["workloads"]] == ["infer", "train"]
    assert all(w["measured_s"] > 0 and w["model_s"] > 0 for w in data["workloads"])
    with pytest.raises(UserError, match="device_type"):
        load_calibration(out)


def test_torch_network_follows_archsim_lif_semantics():
    module = load_script()
    network = module.mlp_network([4, 3, 2])
    model = module.TorchNetwork(network, torch.device("cpu"))
    x = torch.ones((2, 1, 4))
    hidden = network.layers[0].projections[0].ops[0]
    current = torch.as_tensor(hidden.weight, dtype=torch.float32) @ torch.ones(4) + torch.as_tensor(
        hidden.bias, dtype=torch.float32)
    state, previous = {}, {"h0": 0, "out": 0}
    out0 = model.step({"x": x[0]}, previous, state)
    assert torch.equal(out0["h0"][0], (current > 1.0).float())          # v = current, spike if > threshold
    v_after = current * (1 - (current > 1.0).float())
    assert torch.allclose(state["h0"][0], v_after)                      # reset to zero where it spiked
