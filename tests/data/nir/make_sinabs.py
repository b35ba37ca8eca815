"""Make the Sinabs-exported NIR files that tests/test_nir_presets.py checks archsim against.

Not run by the tests: it needs torch and Sinabs, which archsim does not depend on. Re-create the files with
(torch 2.14.1 CPU wheel from PyPI, sinabs 3.1.3, nirtorch 2.0.2, nir 1.0.4, the versions pip chose beside
each other)::

    python -m venv /tmp/fw-venv && /tmp/fw-venv/bin/pip install torch sinabs
    /tmp/fw-venv/bin/python tests/data/nir/make_sinabs.py

For each spike rule RULE (``multi``: Sinabs' default ``MultiSpike``; ``single``: ``SingleSpike``) it writes:

* ``sinabs_mlp_RULE.nir``: ``sinabs.to_nir(model, sample)`` of Linear(64, 32) + IAFSqueeze + Linear(32, 10) + IAFSqueeze,
  written with ``nir.write``; the sample has Sinabs' batch dimension, which nirtorch 2.0.2 drops: the Input type is ``(64,)``;
* ``sinabs_mlp.input.npy``: the input spikes, float32, shape ``(T, B, 64)`` (shared by both files);
* ``sinabs_mlp_RULE.spikes.npy``: the output spikes (graded counts for ``multi``) of Sinabs running the
  NIR file itself: ``sinabs.from_nir(graph, batch_size=B)``, whose IAF layers are ``IAFSqueeze`` with
  ``min_v_mem = -v_threshold``, MultiSpike and a subtractive reset; for ``single`` the imported layers'
  ``spike_fn`` is set to ``SingleSpike``, as a Sinabs user would. Shape ``(T, B, 10)``, float32.

Weights and biases are multiples of 1/8 and inputs are 0/1, so every membrane value is exact in float32 and
float64 alike: Sinabs (float32) and archsim (float64) must then agree exactly, spike for spike.
"""
from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import sinabs
import sinabs.layers as sl
import torch
from sinabs.activation import MultiSpike, SingleSpike

HERE = Path(__file__).resolve().parent
STEPS, BATCH = 24, 3


def eighths(shape, scale: float, gen: torch.Generator) -> torch.Tensor:
    """Random multiples of 1/8 in about [-scale, scale]."""
    return torch.round(torch.randn(shape, generator=gen) * scale * 8) / 8


def mlp(spike_fn) -> torch.nn.Sequential:
    gen = torch.Generator().manual_seed(16)
    fc1, fc2 = torch.nn.Linear(64, 32), torch.nn.Linear(32, 10)
    with torch.no_grad():
        fc1.weight.copy_(eighths((32, 64), 0.6, gen))
        fc1.bias.copy_(eighths((32,), 0.2, gen))
        fc2.weight.copy_(eighths((10, 32), 0.9, gen))
        fc2.bias.copy_(eighths((10,), 0.2, gen))
    return torch.nn.Sequential(fc1, sl.IAFSqueeze(batch_size=1, spike_fn=spike_fn), fc2,
                               sl.IAFSqueeze(batch_size=1, spike_fn=spike_fn))


def main() -> None:
    gen = torch.Generator().manual_seed(7)
    x = (torch.rand((BATCH, STEPS, 64), generator=gen) < 0.3).float()       # Sinabs: (B, T, ...)
    np.save(HERE / "sinabs_mlp.input.npy", x.permute(1, 0, 2).numpy())
    for rule, spike_fn in (("multi", MultiSpike), ("single", SingleSpike)):
        model = mlp(spike_fn)
        sample = torch.zeros((1, 64))       # IAFSqueeze: (batch * time, ...), here one sample of one step
        model(sample)                        # Sinabs sizes its states on the first call; to_nir reads them
        graph = sinabs.to_nir(model, sample)
        path = HERE / f"sinabs_mlp_{rule}.nir"
        nir.write(str(path), graph)
        imported = sinabs.from_nir(nir.read(str(path)), batch_size=BATCH)
        for module in imported.modules():
            if isinstance(module, sl.IAFSqueeze):
                module.spike_fn = spike_fn
        with torch.no_grad():
            out = imported(x.reshape(BATCH * STEPS, 64))
        out = (out[0] if isinstance(out, tuple) else out).reshape(BATCH, STEPS, 10)   # nirtorch 2: (out, state)
        spikes = out.permute(1, 0, 2).numpy().astype(np.float32)
        np.save(HERE / f"sinabs_mlp_{rule}.spikes.npy", spikes)
        print(f"{path.name}: {int(spikes.sum())} output spikes, most in one step {int(spikes.max())}")


if __name__ == "__main__":
    main()
