"""Make the snnTorch-exported NIR files that tests/test_nir_interop.py checks archsim against.

Not run by the tests: it needs torch, snnTorch and nirtorch, which archsim does not depend on.
Re-create the files with (torch 2.13.0 CPU, snntorch 1.0.0, nirtorch 2.6, nir 1.0.8)::

    python -m venv /tmp/snnvenv && /tmp/snnvenv/bin/pip install torch==2.13.0 snntorch nirtorch nir
    /tmp/snnvenv/bin/python tests/data/nir/make_snntorch.py

For each network NET it writes, beside this script:

* ``NET.nir``: ``snntorch.export_nir.export_to_nir(net, sample)`` written with ``nir.write``;
* ``NET.input.npy``: the input spikes, float32, shape ``(T, B, *input_shape)``;
* ``NET.spikes.npy``: snnTorch's output-layer spikes on that input, float32, ``(T, B, *output_shape)``;
* ``NET.reimport.spikes.npy``: the output spikes of ``snntorch.import_nir.import_from_nir`` run on the
  NIR file itself (snnTorch's own reading of its export), for the MLPs; snnTorch 1.0.0 cannot run its
  re-import of ``conv_leaky`` (its imported Flatten keeps the batch dimension in: 1x432 times 144x5).

Every neuron uses snnTorch's defaults (threshold 1 unless stated, ``reset_delay=True``, Heaviside forward) apart
from the reset mechanism named in its NET. Weights are scaled so the networks spike often, and the
script refuses a network whose float32 membrane ever lies within ``MARGIN`` of its threshold: a
spike then cannot depend on float32 (snnTorch) versus float64 (archsim) rounding, so the tests
can demand equal spikes.
"""
from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir
from snntorch.import_nir import import_from_nir

HERE = Path(__file__).resolve().parent
STEPS, BATCH = 12, 3
MARGIN = 1e-4  # smallest allowed |membrane - threshold|; float32 rounding here is ~1e-6


def full(shape, value) -> torch.Tensor:
    """A per-neuron parameter: snnTorch's exporter writes scalars as 0-d arrays, on which NIR's type
    inference fails, so every beta, alpha and threshold here has the layer's shape."""
    return torch.full(shape, float(value))


def leaky_mlp(reset: str) -> torch.nn.Sequential:
    """Linear(8, 12) + Leaky + Linear(12, 4) + Leaky; the hidden layer has one beta per neuron (snnTorch's
    importer accepts only one threshold per layer)."""
    torch.manual_seed(1)
    fc1, fc2 = torch.nn.Linear(8, 12), torch.nn.Linear(12, 4)
    with torch.no_grad():
        fc1.weight.mul_(2.5)
        fc2.weight.mul_(3.0)
    beta1, threshold1 = torch.linspace(0.6, 0.95, 12), full((12,), 1)
    return torch.nn.Sequential(fc1, snn.Leaky(beta=beta1, threshold=threshold1, reset_mechanism=reset, init_hidden=True),
                               fc2, snn.Leaky(beta=full((4,), 0.8), threshold=full((4,), 1), reset_mechanism=reset, init_hidden=True))


def leaky_conv() -> torch.nn.Sequential:
    """Conv2d(2, 4, 3, padding 1) + Leaky + Flatten + Linear(144, 5) + Leaky, reset to zero."""
    torch.manual_seed(2)
    conv, fc = torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.Linear(4 * 6 * 6, 5)
    with torch.no_grad():
        conv.weight.mul_(3.0)
        fc.weight.mul_(8.0)
    return torch.nn.Sequential(conv, snn.Leaky(beta=full((4, 6, 6), 0.85), threshold=full((4, 6, 6), 1),
                                                    reset_mechanism="zero", init_hidden=True),
                               torch.nn.Flatten(), fc, snn.Leaky(beta=full((5,), 0.7), threshold=full((5,), 1), reset_mechanism="zero", init_hidden=True))


def synaptic_mlp() -> torch.nn.Sequential:
    """Linear(8, 10) + Synaptic + Linear(10, 3) + Synaptic, reset to zero."""
    torch.manual_seed(3)
    fc1, fc2 = torch.nn.Linear(8, 10), torch.nn.Linear(10, 3)
    with torch.no_grad():
        fc1.weight.mul_(2.0)
        fc2.weight.mul_(4.0)
    return torch.nn.Sequential(fc1, snn.Synaptic(alpha=full((10,), 0.5), beta=full((10,), 0.8), threshold=full((10,), 1),
                                                  reset_mechanism="zero", init_hidden=True),
                               fc2, snn.Synaptic(alpha=full((3,), 0.5), beta=full((3,), 0.8), threshold=full((3,), 1),
                                                  reset_mechanism="zero", init_hidden=True))


def run(net: torch.nn.Sequential, x: torch.Tensor) -> np.ndarray:
    """snnTorch's output spikes over the steps of ``x`` (T, B, ...); checks every membrane's margin."""
    neurons = [m for m in net if isinstance(m, (snn.Leaky, snn.Synaptic))]
    for m in neurons:
        m.mem = torch.zeros(0)
        if isinstance(m, snn.Synaptic):
            m.syn = torch.zeros(0)
    out = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            out.append(net(x[t]))
            for m in neurons:
                closest = float((m.mem - m.threshold).abs().min())
                if closest < MARGIN:
                    raise SystemExit(f"a membrane lies {closest:.2e} from threshold; change the seed or scale")
    return torch.stack(out).numpy().astype(np.float32)


def run_reimported(path: Path, x: torch.Tensor) -> np.ndarray:
    """Output spikes of snnTorch's own import of the NIR file at ``path`` (fresh state, step by step)."""
    module = import_from_nir(nir.read(str(path)))
    out = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            y = module(x[t])
            out.append(y[0] if isinstance(y, tuple) else y)
    return torch.stack(out).numpy().astype(np.float32)


def save(name: str, net: torch.nn.Sequential, x: torch.Tensor, reimport: bool = True) -> None:
    graph = export_to_nir(net, x[0], ignore_dims=[0])
    nir.write(str(HERE / f"{name}.nir"), graph)
    spikes = run(net, x)
    np.save(HERE / f"{name}.input.npy", x.numpy().astype(np.float32))
    np.save(HERE / f"{name}.spikes.npy", spikes)
    message = f"{name}: output spikes {int(spikes.sum())} of {spikes.size}"
    if reimport:
        again = run_reimported(HERE / f"{name}.nir", x)
        np.save(HERE / f"{name}.reimport.spikes.npy", again)
        message += f"; re-imported by snnTorch: {int(again.sum())}"
    print(message)


def main() -> None:
    gen = torch.Generator().manual_seed(0)
    x_flat = (torch.rand(STEPS, BATCH, 8, generator=gen) < 0.35).float()
    x_image = (torch.rand(STEPS, BATCH, 2, 6, 6, generator=gen) < 0.3).float()
    save("leaky_zero", leaky_mlp("zero"), x_flat)
    save("leaky_subtract", leaky_mlp("subtract"), x_flat)
    save("conv_leaky", leaky_conv(), x_image, reimport=False)
    save("synaptic_zero", synaptic_mlp(), x_flat)


if __name__ == "__main__":
    main()
