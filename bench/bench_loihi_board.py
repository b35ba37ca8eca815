"""A million-neuron random sparse network on a board of Loihi chips: wall time and peak memory per stage.

Run: ``python bench/bench_loihi_board.py [--layers 256] [--neurons 4096] [--fan-in 64] [--steps 100]
[--chip chips/loihi-board.yaml] [--delayed] [--out bench/results/loihi_board.md]``.

The network is bench_sanafe's random fan-in network (its generator, :func:`bench_sanafe.make_spec`):
an input population of bias-driven neurons, then ``layers`` populations of ``neurons`` integrate-and-
fire neurons, each drawing ``fan-in`` sources uniformly at random (no repeats) from the population
before, with integer weights in [-40, 127] and no stored zero. Its default shape, 256 x 4,096 =
1,048,576 neurons, keeps each population as wide as the network SANA-FE and archsim compare on one
chip (16 x 4,096, ``bench/results/sanafe_random.md``) and makes it deep: a Loihi core takes at most
4,096 input axons, and a core of ~800 neurons with 64 random sources each in a 4,096-wide population
sees all 4,096 of them, so cores fill to their synapse memory. The alternative, 16 x 65,536, gives each
neuron 64 sources among 65,536: nearly every synapse brings its own axon, a core holds at most
4,096 / 64 = 64 neurons, and the network needs >= 16,384 cores (128 chips), more than a Nahuku board
(32 chips) or Pohoiki Beach (64).

Forward projections are not delayed by default (a spike crosses every layer in the step it is sent,
archsim's feed-forward semantics), so all layers are active from the first steps; ``--delayed``
marks them delayed (SANA-FE's and Loihi's one-step delivery), and then a spike reaches population
k at step k + 1, so only the first ``steps`` populations ever fire.

Weights stay SciPy-sparse (CSR) from generation to the chip program; the generator's per-population
arrays are dropped as each population is converted. Stages timed, each with the process's peak RSS
(``resource.getrusage``, which only grows) after it: build (generate, CSR, Network), load (inputs,
workload, quantise), map (partition and place), lower (the chip program), simulate (the fast engine,
``steps`` steps) and cost (energy and area).
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sanafe import input_spikes, make_spec  # noqa: E402
from machine_note import machine_note  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """The process's peak resident set so far, MB (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_network(spec: dict, threshold: float, delayed: bool):
    """The network with one sparse Dense projection per population; ``spec["forward"]`` is emptied as it goes."""
    import scipy.sparse as sp

    from archsim.graph.network import LIF, Dense, Layer, Network, Projection

    neurons = len(spec["bias"])
    layers, source = [], "x"
    for i in range(len(spec["forward"])):
        sources, w = spec["forward"][i]
        spec["forward"][i] = None
        fan_in = sources.shape[1]
        weight = sp.csr_matrix((w.reshape(-1).astype(np.float64), sources.reshape(-1).astype(np.int32),
                                np.arange(0, neurons * fan_in + 1, fan_in, dtype=np.int32)), shape=(neurons, neurons))
        weight.sort_indices()
        projection = Projection(source, (Dense(weight),), recurrent=delayed and source != "x")
        layers.append(Layer(f"l{i}", (neurons,), (projection,), LIF(decay=np.float64(1.0), threshold=np.float64(threshold))))
        source = f"l{i}"
    return Network("loihi_board_random", {"x": (neurons,)}, layers, [source])


def run(args) -> dict:
    """Every stage in turn; a dict of figures and per-stage (seconds, peak RSS MB)."""
    from archsim.config import load_chip
    from archsim.cost import evaluate
    from archsim.graph.quantize import Precision, quantize
    from archsim.graph.workload import make_workload
    from archsim.mapping import map_network
    from archsim.models.manycore import run_program
    from archsim.models.manycore.program import build_program

    stages = {}
    clock = [time.perf_counter()]

    def done(stage: str) -> None:
        now = time.perf_counter()
        stages[stage] = (now - clock[0], peak_rss_mb())
        print(f"{stage:>9}: {now - clock[0]:8.1f} s   peak RSS {stages[stage][1]:8.0f} MB", flush=True)
        clock[0] = now

    spec = make_spec(args.layers, args.neurons, args.fan_in, False, args.seed, random_fan_in=True)
    network = build_network(spec, args.threshold, args.delayed)
    synapses = sum(layer.projections[0].ops[0].weight.nnz for layer in network.layers)
    done("build")
    chip = load_chip(args.chip)
    with tempfile.TemporaryDirectory() as tmp:
        x_path = Path(tmp) / "x.npy"
        x = np.zeros((args.steps, args.neurons))
        x[1:] = input_spikes(spec["bias"], args.steps - 1)          # the input population, one step late (as bench_sanafe)
        np.save(x_path, x)
        workload = make_workload(network, input_path=x_path, steps=args.steps)
    qnet = quantize(network, Precision.from_config(chip.params["precision"]))
    done("load")
    mapping = map_network(network, chip, qnet)
    done("map")
    prog = build_program(qnet, chip, mapping)
    done("lower")
    trace = run_program(workload, chip, mapping, prog, qnet, engine="fast")
    done("simulate")
    cost = evaluate(trace, chip)
    done("cost")
    per_chip = int(chip.params["noc"]["mesh_x"]) * int(chip.params["noc"]["mesh_y"])
    chips_used = len({(x // int(chip.params["noc"]["mesh_x"]), y // int(chip.params["noc"]["mesh_y"]))
                      for x, y in (part.core for part in mapping.parts)})
    return {"stages": stages, "synapses": synapses, "cores_used": len(prog.cores), "chips_used": chips_used,
            "cores_per_chip": per_chip, "spikes": trace.spikes, "synaptic_ops": trace.synaptic_ops,
            "cycles": trace.cycles, "latency_s": trace.latency_s,
            "energy_uj": cost.energy_pj / 1e6, "interchip_flits": int(trace.noc.get("interchip_flits", 0)),
            "chip": chip.name}


def report(args, note: str, figures: dict) -> str:
    total = sum(s for s, _ in figures["stages"].values())
    rows = "\n".join(f"| {stage} | {s:.1f} | {rss:,.0f} |" for stage, (s, rss) in figures["stages"].items())
    return f"""# bench_loihi_board

{note}

`python bench/bench_loihi_board.py --layers {args.layers} --neurons {args.neurons} --fan-in {args.fan_in} \
--steps {args.steps}{' --delayed' if args.delayed else ''}` on `{Path(args.chip).name}` (fast engine)

{args.layers} x {args.neurons:,} = {args.layers * args.neurons:,} LIF neurons (+ {args.neurons:,} input), \
{figures['synapses']:,} synapses (fan-in {args.fan_in}), {args.steps} steps, \
projections {'delayed one step' if args.delayed else 'not delayed'}

| stage | wall s | peak RSS after it, MB |
|---|---|---|
{rows}
| total | {total:.1f} | |

cores used {figures['cores_used']:,} on {figures['chips_used']} chips ({figures['cores_per_chip']} cores per chip); \
spikes {figures['spikes']:,}; synaptic events {figures['synaptic_ops']:,}; inter-chip flits {figures['interchip_flits']:,}; \
simulated latency {figures['latency_s'] * 1e3:.3f} ms; energy {figures['energy_uj']:,.1f} uJ
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=256)
    ap.add_argument("--neurons", type=int, default=4096, help="neurons per population")
    ap.add_argument("--fan-in", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threshold", type=float, default=1500.0, help="as bench_sanafe's default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--delayed", action="store_true", help="one-step delivery on every forward projection")
    ap.add_argument("--chip", default=str(ROOT / "chips" / "loihi-board.yaml"))
    ap.add_argument("--out", help="write the markdown report here (default: print only)")
    args = ap.parse_args()
    note = machine_note()
    figures = run(args)
    text = report(args, note, figures)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
