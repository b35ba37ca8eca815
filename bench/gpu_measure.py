"""Measure real GPU times for archsim's GPU model, and write a calibration file it can load.

Builds the archsim Network in PyTorch (a benchmark-only dependency: archsim never imports torch),
runs it the way eager PyTorch SNN frameworks do (snnTorch, Norse: one time step at a time, the LIF
update as the 8 elementwise operations the model's ``eager`` style lists, surrogate-gradient BPTT,
Adam), and measures:

* microbenchmarks that set the model's efficiencies: a large FP32 GEMM (-> efficiency.gemm_max), a
  large streaming elementwise kernel (-> efficiency.memory_max), a tiny kernel repeated
  (-> runtime.kernel_launch_s);
* end-to-end inference and BPTT training times of the workload, next to the model's prediction.

On a CUDA GPU the result is a calibration (``device_type: cuda``) that a GPU config can name under
``calibration:``. Without one it runs on the CPU and says so: the file is then labelled
``device_type: cpu`` and ``archsim.gpu.load_calibration`` refuses it.

    python bench/gpu_measure.py --mlp 784,256,10 --batch 64 --steps 6 --chip chips/gpu/v100.yaml \
        --out bench/calibration/v100.json
    python bench/gpu_measure.py --workload vgg-cifar10 --batch 64 --steps 6 --out ...
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from archsim.config import load_chip
from archsim.graph import network as nw
from archsim.graph.workload import Workload
from archsim.gpu import estimate, spec_for


# ----------------------------------------------------------------------------------------------
# archsim Network -> torch
# ----------------------------------------------------------------------------------------------
class SpikeFastSigmoid(torch.autograd.Function):
    """Heaviside forward, fast-sigmoid derivative backward (as the model's surrogate kernel)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (1 + 10 * x.abs()) ** 2


def _param(value, device):
    return torch.as_tensor(np.asarray(value, dtype=np.float32), device=device)


def torch_op(op, device):
    if isinstance(op, nw.Dense):
        layer = torch.nn.Linear(op.weight.shape[1], op.weight.shape[0], bias=op.bias is not None)
        layer.weight.data = _param(op.weight, device)
        if op.bias is not None:
            layer.bias.data = _param(op.bias, device)
        return layer.to(device)
    if isinstance(op, nw.Conv2d):
        c_out, c_in_g, kh, kw = op.weight.shape
        layer = torch.nn.Conv2d(c_in_g * op.groups, c_out, (kh, kw), op.stride, op.padding, op.dilation, op.groups,
                                bias=op.bias is not None)
        layer.weight.data = _param(op.weight, device)
        if op.bias is not None:
            layer.bias.data = _param(op.bias, device)
        return layer.to(device)
    if isinstance(op, nw.AvgPool2d):
        return torch.nn.AvgPool2d(op.kernel, op.stride, op.padding)
    if isinstance(op, nw.SumPool2d):
        area = op.kernel[0] * op.kernel[1]
        pool = torch.nn.AvgPool2d(op.kernel, op.stride, op.padding)
        return lambda x: pool(x) * area
    if isinstance(op, nw.Flatten):
        return torch.nn.Flatten(start_dim=1)
    if isinstance(op, nw.Scale):
        scale = _param(op.scale, device)
        return lambda x: x * scale
    raise TypeError(f"unknown op {type(op).__name__}")


class TorchNetwork(torch.nn.Module):
    """The archsim Network's step semantics in torch (float, detached reset)."""

    def __init__(self, network: nw.Network, device):
        super().__init__()
        self.network = network
        self.chains = []
        modules = torch.nn.ModuleList()
        for layer in network.layers:
            chains = []
            for proj in layer.projections:
                ops = [torch_op(op, device) for op in proj.ops]
                modules.extend(op for op in ops if isinstance(op, torch.nn.Module))
                chains.append((proj, ops))
            self.chains.append(chains)
        self.modules_ = modules

    def step(self, inputs_t: dict, previous: dict, state: dict) -> dict:
        outputs = dict(inputs_t)
        for layer, chains in zip(self.network.layers, self.chains):
            current = 0
            for proj, ops in chains:
                x = previous[proj.source] if proj.recurrent else outputs[proj.source]
                for op in ops:
                    x = op(x)
                current = current + x
            outputs[layer.name] = self.neuron(layer, current, state)
        return outputs

    @staticmethod
    def neuron(layer, current, state):
        n, name = layer.neuron, layer.name
        if isinstance(n, (nw.LIF, nw.CubaLIF)):
            if isinstance(n, nw.CubaLIF):
                i = state.get(name + ".i", 0) * float(np.mean(n.syn_decay)) + float(np.mean(n.syn_gain)) * current
                state[name + ".i"], current = i, i
            v = state.get(name, 0) * float(np.mean(n.decay)) + float(np.mean(n.gain)) * current
            spikes = SpikeFastSigmoid.apply(v - float(np.mean(n.threshold)))
            state[name] = v * (1 - spikes.detach())
            return spikes
        if isinstance(n, nw.LI):
            state[name] = state.get(name, 0) * float(np.mean(n.decay)) + float(np.mean(n.gain)) * current
            return state[name]
        if isinstance(n, nw.Threshold):
            return SpikeFastSigmoid.apply(current - float(np.mean(n.threshold)))
        if isinstance(n, nw.ReLU):
            return torch.relu(current)
        return current

    def forward(self, inputs: dict, steps: int):
        state, previous = {}, {layer.name: 0 for layer in self.network.layers}
        total = 0
        for t in range(steps):
            previous = self.step({k: v[t] for k, v in inputs.items()}, previous, state)
            total = total + previous[self.network.outputs[0]]
        return total


# ----------------------------------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------------------------------
def timed(fn, device, repeats: int) -> float:
    """Median wall time of ``fn`` after one warm-up, synchronising the GPU around each run."""
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def microbenchmarks(device, repeats: int) -> dict:
    big = device.type == "cuda"
    n = 4096 if big else 512
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    gemm_s = timed(lambda: a @ b, device, repeats)
    elements = (64 if big else 8) * 2**20
    x = torch.randn(elements, device=device)
    stream_s = timed(lambda: x + 1.0, device, repeats)
    tiny = torch.zeros(1, device=device)
    launches = 1000

    def many_tiny():
        for _ in range(launches):
            tiny.add_(1.0)

    launch_s = timed(many_tiny, device, max(repeats // 2, 1)) / launches
    return {"gemm_n": n, "gemm_s": gemm_s, "gemm_flop_s": 2 * n**3 / gemm_s,
            "stream_bytes": 8 * elements, "stream_s": stream_s, "stream_byte_s": 8 * elements / stream_s,
            "tiny_kernel_s": launch_s}


def measure_workload(network: nw.Network, batch: int, steps: int, mode: str, device, repeats: int) -> float:
    torch.manual_seed(0)
    model = TorchNetwork(network, device)
    inputs = {name: (torch.rand((steps, batch, *shape), device=device) < 0.2).float()
              for name, shape in network.inputs.items()}
    if mode == "infer":
        def run():
            with torch.no_grad():
                model(inputs, steps)
        return timed(run, device, repeats)
    labels = torch.randint(0, network.layer(network.outputs[0]).size, (batch,), device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(inputs, steps), labels)
        loss.backward()
        optimizer.step()
    return timed(train_step, device, repeats)


# ----------------------------------------------------------------------------------------------
# workloads and provenance
# ----------------------------------------------------------------------------------------------
def mlp_network(sizes: list[int]) -> nw.Network:
    """A Dense+LIF MLP with a Dense+LI read-out and random weights (spikes do happen)."""
    rng = np.random.default_rng(0)
    layers, source = [], "x"
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        dense = nw.Dense(rng.normal(0, 2 / np.sqrt(n_in), (n_out, n_in)), np.zeros(n_out))
        last = i == len(sizes) - 2
        neuron = nw.LI(decay=np.float64(0.9)) if last else nw.LIF(decay=np.float64(0.9), threshold=np.float64(1.0))
        name = "out" if last else f"h{i}"
        layers.append(nw.Layer(name, (n_out,), (nw.Projection(source, (dense,)),), neuron))
        source = name
    return nw.Network("mlp-" + "-".join(map(str, sizes)), {"x": (sizes[0],)}, layers, ["out"])


def provenance(device) -> dict:
    if device.type == "cuda":
        try:
            driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                    capture_output=True, text=True, check=True).stdout.strip().splitlines()[0]
        except (OSError, subprocess.CalledProcessError, IndexError):
            driver = "unknown"
        name = torch.cuda.get_device_name(device)
    else:
        driver, name = "none (CPU run)", f"CPU: {platform.processor() or platform.machine()}"
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device_type": device.type, "device_name": name, "driver": driver,
            "cuda": torch.version.cuda or "none", "torch": torch.__version__}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--workload", help="a zoo name or a NIR file")
    source.add_argument("--mlp", help="comma-separated layer sizes of a synthetic Dense+LIF MLP, e.g. 784,256,10")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--modes", default="infer,train")
    parser.add_argument("--chip", default=str(Path(__file__).resolve().parents[1] / "chips" / "gpu" / "v100.yaml"),
                        help="GPU config whose peaks the efficiencies are relative to, and whose model is compared")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    if args.mlp:
        network = mlp_network([int(n) for n in args.mlp.split(",")])
    else:
        from archsim.api import load_network
        network = load_network(args.workload)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False      # PyTorch's default: FP32 matmuls
    if device.type != "cuda":
        torch.set_num_threads(1)                       # a shared machine: one core
        print("no CUDA GPU: measuring on the CPU; the output is an example, NOT a GPU calibration")
    chip = load_chip(args.chip)
    spec = spec_for(chip.with_overrides({"calibration": None}) if chip.params.get("calibration") else chip)

    record = {"schema": "archsim.gpu_calibration/1", **provenance(device), "chip": chip.name,
              "microbenchmarks": microbenchmarks(device, args.repeats), "workloads": []}
    micro = record["microbenchmarks"]
    implied = {"efficiency.gemm_max": min(micro["gemm_flop_s"] / spec.dense_peak_flop_s, 1.0),
               "efficiency.memory_max": min(micro["stream_byte_s"] / spec.bandwidth_byte_s, 1.0),
               "runtime.kernel_launch_s": micro["tiny_kernel_s"]}
    # only a CUDA run calibrates the GPU model; a CPU run keeps its figures under another name
    record["efficiencies" if device.type == "cuda" else "cpu_figures_not_a_calibration"] = implied
    for mode in args.modes.split(","):
        work = Workload(network.name, network, {}, args.steps, args.batch, mode)
        measured = measure_workload(network, args.batch, args.steps, mode, device, args.repeats)
        modelled = estimate(work, chip, framework="eager").latency_s    # TorchNetwork runs eager PyTorch
        record["workloads"].append({"name": network.name, "mode": mode, "batch": args.batch, "steps": args.steps,
                                    "measured_s": measured, "model_s": modelled,
                                    "model_chip": chip.name, "model_framework": "eager"})
        print(f"{network.name} {mode} B={args.batch} T={args.steps}: measured {measured * 1e3:.3f} ms on "
              f"{record['device_name']}, model ({chip.name}) {modelled * 1e3:.3f} ms")
    print("microbenchmarks: " + ", ".join(f"{k} {v:.4g}" for k, v in micro.items()))
    print("implied: " + ", ".join(f"{k} {v:.4g}" for k, v in implied.items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")
    return record


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
