"""Make the Spyx-exported NIR file that tests/test_nir_presets.py checks archsim's ``--from spyx`` against.

Not run by the tests: it needs JAX, Flax and Spyx, which archsim does not depend on. Re-create with
(spyx, jax and flax as pip chose them beside sinabs; see the venv in make_sinabs.py)::

    /tmp/fw-venv/bin/pip install spyx && /tmp/fw-venv/bin/python tests/data/nir/make_spyx.py

It writes ``spyx_mlp.nir`` (``spyx.nir.to_nir`` of Linear(8, 12) + LIF + Linear(12, 4) + LIF at Spyx's
``dt = 1``), ``spyx_mlp.input.npy`` (0/1 spikes, ``(T, B, 8)``) and ``spyx_mlp.spikes.npy`` (the last LIF's
spikes as Spyx's layers compute them step by step, ``(T, B, 4)``). Weights are multiples of 1/8 and betas
0.5 and 0.75, so every membrane is exact in float32 and float64 alike.
"""
from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import nir
import numpy as np
from flax import nnx
from spyx.nir import to_nir
from spyx.nn import LIF

HERE = Path(__file__).resolve().parent
STEPS, BATCH = 24, 3


def main() -> None:
    rng = np.random.default_rng(5)
    rngs = nnx.Rngs(0)
    fc1, fc2 = nnx.Linear(8, 12, rngs=rngs), nnx.Linear(12, 4, rngs=rngs)
    fc1.kernel[...] = jnp.asarray(np.round(rng.normal(size=(8, 12)) * 0.7 * 8) / 8, dtype=jnp.float32)
    fc1.bias[...] = jnp.asarray(np.round(rng.normal(size=12) * 0.2 * 8) / 8, dtype=jnp.float32)
    fc2.kernel[...] = jnp.asarray(np.round(rng.normal(size=(12, 4)) * 0.9 * 8) / 8, dtype=jnp.float32)
    fc2.bias[...] = jnp.asarray(np.round(rng.normal(size=4) * 0.2 * 8) / 8, dtype=jnp.float32)
    lif1, lif2 = LIF((12,), beta=0.5, rngs=rngs), LIF((4,), beta=0.75, rngs=rngs)
    model = nnx.Sequential(fc1, lif1, fc2, lif2)
    graph = to_nir(model, {"input": np.array([8])}, {"output": np.array([4])}, dt=1)
    nir.write(str(HERE / "spyx_mlp.nir"), graph)
    x = (rng.random((STEPS, BATCH, 8)) < 0.4).astype(np.float32)
    v1, v2, out = lif1.initial_state(BATCH), lif2.initial_state(BATCH), []
    for t in range(STEPS):
        s1, v1 = lif1(fc1(jnp.asarray(x[t])), v1)
        s2, v2 = lif2(fc2(s1), v2)
        out.append(np.asarray(s2))
    np.save(HERE / "spyx_mlp.input.npy", x)
    np.save(HERE / "spyx_mlp.spikes.npy", np.stack(out).astype(np.float32))
    print(f"spyx_mlp.nir: {int(np.sum(out))} output spikes")


if __name__ == "__main__":
    main()
