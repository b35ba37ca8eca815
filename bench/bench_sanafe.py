"""Side by side with SANA-FE: the same random LIF networks, wall time and counted events.

Run: ``python bench/bench_sanafe.py [--layers 16] [--neurons 4096] [--fan-in 64] [--steps 100]``.

The network: an input population of bias-driven neurons (``v += bias``, spike when ``v > 1``, reset
to 0; biases in {0.25, 0.375, 0.5, 0.625}), then ``layers`` populations of ``neurons`` integrate-and-
fire neurons (threshold ``--threshold``, hard reset to 0, ``--decay`` 1.0 = no leak). Each
population is cut into blocks of ``fan-in`` neurons; block ``b`` of a population receives from
block ``b`` of the one before, all-to-all, with random integer weights (block-sparse random
connectivity: ``neurons x fan-in`` synapses per population). ``--recurrent`` adds a random
block-to-block projection of each population onto itself. ``--random``: each neuron draws its
``fan-in`` sources uniformly at random (without repeats) from the whole population before, no blocks;
archsim holds these layers as sparse Dense weights and maps them with its partitioner.

Both simulators see identical dynamics: SANA-FE delivers a spike one time step after it is sent, so
archsim's projections are all marked delayed (recurrent: read the previous step), its input is the
bias neurons' spike train shifted by one step, weights are integers in [-127, 127] with 127 in each
population (archsim's 8-bit quantisation is then exact) and the threshold an integer. With
``--decay`` other than 1 the membrane leak rounds differently (SANA-FE: float; archsim: fixed point,
``decay_frac_bits``), so spike counts may differ; the script says so.

The same mapping: SANA-FE has no mapper of its own (its user places every neuron), so the script places
SANA-FE's neurons where archsim's mapper put them (a child process runs archsim's quantise + map and
writes each neuron's core), translated by :mod:`archsim.validate.sanafe_place` (archsim's 16 x 8 mesh of core
routers as SANA-FE's 8 x 4 tiles of 4 cores; SANA-FE's input population, which archsim takes as a spike train,
on the cores archsim leaves free). ``--sanafe-own-mapping`` instead fills SANA-FE's 128 cores in neuron
order, equally (the earlier records).

Timed: SANA-FE's build (network objects, connections, mapping) + load + ``sim(timing_model=
"detailed")`` in one thread; archsim's whole process (warm compile cache: import, build the network,
quantise, map, simulate with the NoC at flit level, write RESULT.json) as a child process (it builds
the network in Python: NIR cannot mark a forward projection as delayed). Chip: ``chips/loihi.yaml`` when present, else ``chips/tianjic.yaml`` on a
board large enough (said in the output). Results: ``bench/results/sanafe[_recurrent|_random].json`` and ``.md``.
Where that JSON already holds SANA-FE's figures for the same network, seed, steps and placement (a digest
of every neuron's core), they are reused (nothing else archsim changes moves them) unless
``--rerun-sanafe``; the previous archsim record is quoted beside the new one.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from archsim.validate import sanafe_place

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
BIASES = np.array([0.25, 0.375, 0.5, 0.625])


def make_spec(layers: int, neurons: int, fan_in: int, recurrent: bool, seed: int, random_fan_in: bool = False) -> dict:
    """Weights (per population: (blocks, fan_in_dst, fan_in_src) integers) and input biases."""
    rng = np.random.default_rng(seed)
    blocks = neurons // fan_in

    def block_weights():
        w = rng.integers(-40, 128, size=(blocks, fan_in, fan_in))
        w.reshape(-1)[rng.integers(w.size)] = 127                  # max |w| = 127: exact 8-bit quantisation
        return w

    if random_fan_in:
        def random_weights():
            sources = np.argsort(rng.random((neurons, neurons)), axis=1)[:, :fan_in] if neurons <= 2048 else \
                np.stack([rng.choice(neurons, size=fan_in, replace=False) for _ in range(neurons)])
            w = rng.integers(-40, 128, size=(neurons, fan_in))
            w[w == 0] = 1                                                # every drawn synapse exists
            w.reshape(-1)[rng.integers(w.size)] = 127
            return np.stack([sources, w])                                # (2, neurons, fan_in): sources, weights

        return {"bias": BIASES[rng.integers(0, len(BIASES), size=neurons)],
                "forward": [random_weights() for _ in range(layers)], "recurrent": None, "random": True}
    return {"bias": BIASES[rng.integers(0, len(BIASES), size=neurons)],
            "forward": [block_weights() for _ in range(layers)],
            "recurrent": [block_weights() // 4 for _ in range(layers)] if recurrent else None}


def input_spikes(bias: np.ndarray, steps: int) -> np.ndarray:
    """Spikes (steps, neurons) of the bias-driven input neurons at SANA-FE steps 1..steps."""
    v = np.zeros_like(bias)
    out = np.zeros((steps, len(bias)))
    for t in range(steps):
        v = v + bias
        fired = v > 1.0
        out[t] = fired
        v[fired] = 0.0
    return out


def archsim_network(spec: dict, threshold: float, decay: float):
    """The network as archsim layers: block-diagonal weights as grouped 1x1 convolutions over (N, 1, 1)."""
    from archsim.graph.network import LIF, Conv2d, Dense, Layer, Network, Projection

    def conv(w):
        blocks, fan, _ = w.shape
        return Conv2d(w.reshape(blocks * fan, fan, 1, 1).astype(np.float64), groups=blocks)

    neurons = len(spec["bias"])
    if spec.get("random"):
        import scipy.sparse as sp

        layers, source = [], "x"
        for i, sw in enumerate(spec["forward"]):
            sources, w = sw
            rows = np.repeat(np.arange(neurons), sources.shape[1])
            weight = sp.csr_matrix((w.reshape(-1).astype(np.float64), (rows, sources.reshape(-1))), shape=(neurons, neurons))
            layers.append(Layer(f"l{i}", (neurons,), (Projection(source, (Dense(weight),), recurrent=source != "x"),),
                                LIF(decay=np.float64(decay), threshold=np.float64(threshold))))
            source = f"l{i}"
        return Network("sanafe_random", {"x": (neurons,)}, layers, [source])
    layers, source = [], "x"
    for i, w in enumerate(spec["forward"]):
        name = f"l{i}"
        projections = [Projection(source, (conv(w),), recurrent=source != "x")]
        if spec["recurrent"] is not None:
            projections.append(Projection(name, (conv(spec["recurrent"][i]),), recurrent=True))
        layers.append(Layer(name, (neurons, 1, 1), tuple(projections),
                            LIF(decay=np.float64(decay), threshold=np.float64(threshold))))
        source = name
    return Network("sanafe_side_by_side", {"x": (neurons, 1, 1)}, layers, [source])


def run_sanafe(spec: dict, threshold: float, decay: float, steps: int, placement: dict | None = None) -> dict:
    """SANA-FE's run; ``placement`` (layer -> SANA-FE core of each neuron) as archsim mapped, else its
    128 cores filled in neuron order."""
    import sanafe

    t0, c0 = time.perf_counter(), time.process_time()
    arch = sanafe.load_loihi()
    cores = [core for tile in arch.tiles for core in tile.cores]
    net = sanafe.Network()
    neurons = len(spec["bias"])
    groups = [net.create_neuron_group("in", neurons, {"threshold": 1.0, "reset": 0.0}, soma_hw_name="loihi_lif")]
    for n, b in zip(groups[0].neurons, spec["bias"]):
        n.set_attributes(model_attributes={"bias": float(b)})
    for i in range(len(spec["forward"])):
        groups.append(net.create_neuron_group(f"l{i}", neurons, {"threshold": float(threshold), "reset": 0.0,
                                                                 "leak_decay": float(decay)}, soma_hw_name="loihi_lif"))

    def connect(src, dst, w):
        if spec.get("random"):
            sources, weights = w
            pairs = list(zip(sources.reshape(-1).tolist(), np.repeat(np.arange(neurons), sources.shape[1]).tolist()))
            src.connect_neurons_sparse(dst, {"weight": weights.reshape(-1).astype(float).tolist()}, pairs)
            return
        blocks, fan, _ = w.shape
        b, i, j = np.meshgrid(np.arange(blocks), np.arange(fan), np.arange(fan), indexing="ij")
        pairs = list(zip((b * fan + j).reshape(-1).tolist(), (b * fan + i).reshape(-1).tolist()))
        src.connect_neurons_sparse(dst, {"weight": w.reshape(-1).astype(float).tolist()}, pairs)

    for k, w in enumerate(spec["forward"]):
        connect(groups[k], groups[k + 1], w)
        if spec["recurrent"] is not None:
            connect(groups[k + 1], groups[k + 1], spec["recurrent"][k])
    if placement is None:
        total = neurons * len(groups)
        per_core = -(-total // len(cores))
        flat = [n for g in groups for n in g.neurons]
        for k, n in enumerate(flat):
            n.map_to_core(cores[k // per_core])
    else:
        sanafe_place.map_to_cores({f"l{k}": group.neurons for k, group in enumerate(groups[1:])}, groups[0].neurons,
                                  placement, cores)
    chip = sanafe.SpikingChip(arch)
    chip.load(net)
    t1 = time.perf_counter()
    result = chip.sim(timesteps=steps, timing_model="detailed", processing_threads=1)
    t2 = time.perf_counter()
    energy = result["energy"] if isinstance(result.get("energy"), dict) else {"total": result["energy"]}
    return {"build_load_s": t1 - t0, "sim_s": t2 - t1, "wall_s": t2 - t0, "cpu_s": time.process_time() - c0,
            "synaptic_events": int(result["spikes"]), "energy_pj": float(energy["total"]) * 1e12,
            "energy_breakdown_pj": {k: float(v) * 1e12 for k, v in energy.items()},
            "latency_s": float(result["sim_time"]),
            "neuron_spikes": int(result["neurons_fired"]), "packets": int(result["packets_sent"]),
            "input_spikes_expected": int(input_spikes(spec["bias"], steps).sum())}


def run_archsim(spec: dict, threshold: float, decay: float, steps: int, chip: str, tmp: Path) -> dict:
    """A child process that builds the network, runs it (``archsim.runner.execute``) and writes RESULT.json.

    Not ``archsim run NET.nir``: NIR marks no projection as delayed (it infers recurrence from
    cycles), and SANA-FE's one-step delivery needs every projection delayed.
    """
    spec_path, out_path = tmp / "spec.npz", tmp / "result.json"
    np.savez(spec_path, bias=spec["bias"], forward=np.stack(spec["forward"]), random=bool(spec.get("random")),
             recurrent=np.stack(spec["recurrent"]) if spec["recurrent"] is not None else np.zeros(0))
    cmd = [sys.executable, __file__, "--archsim-child", str(spec_path), "--chip-path", chip, "--out", str(out_path),
           "--steps", str(steps), "--threshold", str(threshold), "--decay", str(decay)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"archsim run failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    result = json.loads(out_path.read_text())
    details = result["trace"]["details"]
    split = json.loads(proc.stdout.strip().splitlines()[-1])
    breakdown = {c: sum(a.values()) for c, a in result["energy_breakdown_pj"].items()}
    breakdown["static (leakage)"] = float(result["static_energy_pj"])
    return {"wall_s": wall, "cpu_s": split["cpu_s"], "energy_breakdown_pj": breakdown,
            "synaptic_events": int(result["synaptic_ops"]), "neuron_spikes": int(result["spikes"]),
            "cycles": int(result["cycles"]), "latency_s": float(result["latency_s"]), "energy_pj": float(result["energy_pj"]),
            "cores_used": int(details["cores_used"]), "mapping": details["mapping"], "split_s": split}


def archsim_placement(spec: dict, threshold: float, decay: float, chip: str, tmp: Path) -> dict:
    """Each layer's neurons' SANA-FE cores where archsim's mapper puts them (a child process)."""
    spec_path, out_path = tmp / "spec.npz", tmp / "placement.npz"
    np.savez(spec_path, bias=spec["bias"], forward=np.stack(spec["forward"]), random=bool(spec.get("random")),
             recurrent=np.stack(spec["recurrent"]) if spec["recurrent"] is not None else np.zeros(0))
    cmd = [sys.executable, __file__, "--archsim-child", str(spec_path), "--chip-path", chip, "--out", str(out_path),
           "--steps", "2", "--threshold", str(threshold), "--decay", str(decay), "--placement-only"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"archsim mapping failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    with np.load(out_path) as data:
        return {name: data[name] for name in data.files} or None


def _write_placement(net, chip_path: str, x_path: Path, out: str) -> None:
    """archsim's quantise + map of ``net`` (as the run does it): each neuron's SANA-FE core, per layer
    (:mod:`archsim.validate.sanafe_place`; none where the chip is not Loihi's mesh)."""
    from archsim.config import load_chip

    np.savez(out, **(sanafe_place.archsim_placement(net, load_chip(chip_path), str(x_path)) or {}))


def archsim_child(args) -> None:
    """The archsim process: load the network, map, simulate, write RESULT.json; prints its wall split."""
    t0 = time.perf_counter()
    from archsim.runner import execute

    data = np.load(args.archsim_child)
    spec = {"bias": data["bias"], "forward": list(data["forward"]),
            "recurrent": list(data["recurrent"]) if data["recurrent"].size else None, "random": bool(data["random"])}
    net = archsim_network(spec, args.threshold, args.decay)
    x = np.zeros((args.steps, len(spec["bias"])) + ((1, 1) if not spec["random"] else ()))
    x[1:, :, ...] = input_spikes(spec["bias"], args.steps - 1).reshape(x[1:].shape)   # SANA-FE's one-step delay
    x_path = Path(args.out).with_suffix(".x.npy")
    np.save(x_path, x)
    if args.placement_only:
        return _write_placement(net, args.chip_path, x_path, args.out)
    t1 = time.perf_counter()
    outcome = execute(net, args.chip_path, input_path=str(x_path), gpu=None)
    t2 = time.perf_counter()
    Path(args.out).write_text(json.dumps(outcome.result, default=float))
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"import_build_s": t1 - t0, "run_s": t2 - t1, "write_s": time.perf_counter() - t2,
                      "peak_rss_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}))


def _same_network(recorded: dict | None, args: dict) -> bool:
    """Whether a recorded run is of the same network, input and run length (SANA-FE's figures carry over)."""
    keys = ("layers", "neurons", "fan_in", "steps", "threshold", "decay", "recurrent", "random", "seed")
    return bool(recorded) and all(recorded.get(k) == args.get(k) for k in keys)


# archsim's components in SANA-FE's energy categories (its run summary: synapse, dendrite, soma, network)
CATEGORIES = {"synapse": ("dendrite", "dendrite_mac", "synapse_sram"), "soma": ("neuron_sram", "soma", "soma_lut", "spike_out"),
              "network": ("axon_out", "router_table", "axon_sram", "router", "link", "offchip_link"),
              "control": ("control",), "static (leakage)": ("static (leakage)",)}


def energy_rows(ours: dict, theirs: dict) -> list[str]:
    """Markdown rows: uJ per SANA-FE energy category, archsim's components summed into them."""
    mine, rows = ours.get("energy_breakdown_pj") or {}, []
    other = theirs.get("energy_breakdown_pj") or {}
    for category, components in CATEGORIES.items():
        a = sum(mine.get(c, 0.0) for c in components)
        b = other.get(category, 0.0)
        rows.append(f"| {category} | {a / 1e6:.2f} | {b / 1e6:.2f} |")
    rows.append(f"| dendrite | 0.00 | {other.get('dendrite', 0.0) / 1e6:.2f} |")
    return rows


def _same_placement(recorded: dict | None, digest: str) -> bool:
    """Whether SANA-FE's recorded run placed its neurons as ``digest`` says (records before the digest: own)."""
    return bool(recorded) and recorded.get("placement", "sanafe-own") == digest


def chip_for(neurons: int) -> tuple[str, str]:
    """chips/loihi.yaml when it exists; else a Tianjic board config (written to a temp file) that fits."""
    loihi = ROOT / "chips" / "loihi.yaml"
    if loihi.exists():
        return str(loihi), "chips/loihi.yaml"
    import yaml

    text = yaml.safe_load((ROOT / "chips" / "tianjic.yaml").read_text())
    cores = -(-neurons // 256) + 8
    side = int(np.ceil(np.sqrt(cores / (text["noc"]["mesh_x"] * text["noc"]["mesh_y"]))))
    text["noc"].update(chips_x=side, chips_y=side)
    for component in text["components"].values():
        component["count"] = int(component["count"]) * side * side
    # one 64-bit off-chip link per chip border crossing direction (assumption, benchmark only)
    text["components"]["offchip_link"] = {"class": "offchip_link", "count": max(1, 4 * side * side), "width_bits": 64}
    text["technology"]["table"] = str(ROOT / "chips" / "tech" / Path(text["technology"]["table"]).name)
    path = Path(tempfile.mkdtemp()) / "tianjic_board.yaml"
    path.write_text(yaml.safe_dump(text))
    return str(path), f"chips/tianjic.yaml as a {side}x{side} board (chips/loihi.yaml does not exist yet)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--neurons", type=int, default=4096, help="neurons per population")
    ap.add_argument("--fan-in", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--threshold", type=float, default=1500.0)
    ap.add_argument("--decay", type=float, default=1.0)
    ap.add_argument("--recurrent", action="store_true")
    ap.add_argument("--random", action="store_true", help="uniform random sources per neuron (no blocks)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chip", help="archsim chip config (default: chips/loihi.yaml, else a Tianjic board)")
    ap.add_argument("--rerun-sanafe", action="store_true",
                    help="run SANA-FE even where bench/results holds its figures for this very network")
    ap.add_argument("--sanafe-own-mapping", action="store_true",
                    help="SANA-FE fills its 128 cores in neuron order instead of taking archsim's placement")
    ap.add_argument("--archsim-child", help=argparse.SUPPRESS)
    ap.add_argument("--placement-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--chip-path", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.archsim_child:
        return archsim_child(args)
    from machine_note import machine_note

    note = machine_note()
    spec = make_spec(args.layers, args.neurons, args.fan_in, args.recurrent, args.seed, args.random)
    total = args.neurons * args.layers
    synapses = sum(w[0].size if args.random else w.size for w in spec["forward"]) + (sum(w.size for w in spec["recurrent"]) if args.recurrent else 0)
    chip, chip_note = (args.chip, args.chip) if args.chip else chip_for(total)
    print(f"network: {args.layers} x {args.neurons} LIF (+{args.neurons} input neurons), {synapses:,} synapses, "
          f"fan-in {args.fan_in}{' + recurrent' if args.recurrent else ''}, {args.steps} steps; archsim chip: {chip_note}")
    with tempfile.TemporaryDirectory() as tmp:
        run_archsim(spec, args.threshold, args.decay, 2, chip, Path(tmp))      # warm the compile cache
        ours = run_archsim(spec, args.threshold, args.decay, args.steps, chip, Path(tmp))
        placement = None if args.sanafe_own_mapping else archsim_placement(spec, args.threshold, args.decay, chip,
                                                                           Path(tmp))
    digest = sanafe_place.digest(placement)
    stem = ("sanafe_recurrent" if args.recurrent else "sanafe_random" if args.random else "sanafe") + (f"_{Path(args.chip).stem}" if args.chip else "")
    previous = json.loads((RESULTS / f"{stem}.json").read_text()) if (RESULTS / f"{stem}.json").exists() else {}
    theirs = previous.get("sanafe") if not args.rerun_sanafe and _same_network(previous.get("network"), vars(args)) \
        and _same_placement(previous.get("sanafe"), digest) else None
    sanafe_note = "SANA-FE detailed (build+load+sim)" + (", archsim's placement" if placement is not None else
                                                         ", its 128 cores filled in neuron order")
    if theirs is not None:
        sanafe_note += f", as recorded in {stem}.json (same network and seed; its run does not depend on archsim)"
        print(f"SANA-FE: its figures for this network as recorded in bench/results/{stem}.json (--rerun-sanafe runs it)")
    else:
        try:
            import sanafe  # noqa: F401
            theirs = dict(run_sanafe(spec, args.threshold, args.decay, args.steps, placement), placement=digest)
        except ImportError:
            print("SANA-FE is not installed (pip install sanafe failed or was not run): archsim's half only")
    print(f"{'':22s} {'wall s':>9s} {'CPU s':>8s} {'syn events':>12s} {'neuron spikes':>14s}")
    print(f"{'archsim (process)':22s} {ours['wall_s']:>9.2f} {ours['cpu_s']:>8.2f} {ours['synaptic_events']:>12,d} "
          f"{ours['neuron_spikes']:>14,d}")
    m = ours["mapping"]
    print(f"archsim mapping: {ours['cores_used']} cores, {len(m.get('partitioned_layers', []))} of {args.layers} layers "
          f"partitioned, {m['expected_packets_per_step']:,.0f} packets/step, "
          f"{m['expected_packet_hops_per_step']:,.0f} packet-hops/step (every neuron firing)")
    row = {"network": vars(args), "synapses": synapses, "chip": chip_note, "archsim": ours}
    if theirs:
        # SANA-FE counts the input population's spikes too; archsim's input is a spike array.
        their_layer_spikes = theirs["neuron_spikes"] - theirs["input_spikes_expected"]
        print(f"{'SANA-FE (detailed)':22s} {theirs['wall_s']:>9.2f} {theirs.get('cpu_s', float('nan')):>8.2f} "
              f"{theirs['synaptic_events']:>12,d} "
              f"{their_layer_spikes:>14,d}   (build+load {theirs['build_load_s']:.2f} s, sim {theirs['sim_s']:.2f} s)")
        ratio = theirs["wall_s"] / ours["wall_s"]
        cpu_ratio = theirs["cpu_s"] / ours["cpu_s"] if theirs.get("cpu_s") else float("nan")
        print(f"wall-time ratio SANA-FE / archsim: {ratio:.2f} (goal >= 10); CPU-time ratio {cpu_ratio:.2f}")
        same = their_layer_spikes == ours["neuron_spikes"]
        if args.decay == 1.0:
            print("spike counts " + ("equal" if same else "DIFFER (a bug: the dynamics are meant to be identical)"))
        else:
            print("spike counts " + ("equal" if same else "differ") + ": with a leak SANA-FE decays in floating point, "
                  "archsim in fixed point (decay_frac_bits), so membranes round differently")
        print("synaptic events differ by the last step's spikes: SANA-FE counts a spike's synaptic events in the "
              "step it is sent, archsim in the step its synapses are read (the next one, beyond the run)")
        energy_ratio = ours["energy_pj"] / theirs["energy_pj"] if theirs["energy_pj"] else float("nan")
        latency_ratio = ours["latency_s"] / theirs["latency_s"] if theirs["latency_s"] else float("nan")
        print(f"energy archsim {ours['energy_pj'] / 1e6:.2f} uJ vs SANA-FE {theirs['energy_pj'] / 1e6:.2f} uJ "
              f"(ratio {energy_ratio:.2f}); latency {ours['latency_s'] * 1e3:.3f} ms vs {theirs['latency_s'] * 1e3:.3f} ms "
              f"(ratio {latency_ratio:.2f}); archsim peak RSS {ours['split_s']['peak_rss_mb']:.0f} MB")
        row.update(sanafe=theirs, ratio=ratio, cpu_ratio=cpu_ratio, spikes_equal=same, energy_ratio=energy_ratio, latency_ratio=latency_ratio)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(row, indent=1, default=str))
    row["machine"] = note
    lines = [f"# bench_sanafe\n\n{row['machine']}\n\n{args.layers} x {args.neurons} LIF, {synapses:,} synapses, {args.steps} steps; "
             f"archsim chip: {chip_note}\n\n| simulator | wall s | CPU s | synaptic events | neuron spikes |\n"
             f"|---|---|---|---|---|",
             f"| archsim (whole process) | {ours['wall_s']:.2f} | {ours['cpu_s']:.2f} | {ours['synaptic_events']:,} | "
             f"{ours['neuron_spikes']:,} |"]
    if theirs:
        lines.append(f"| {sanafe_note} | {theirs['wall_s']:.2f} | {theirs.get('cpu_s', float('nan')):.2f} | "
                     f"{theirs['synaptic_events']:,} | "
                     f"{theirs['neuron_spikes'] - theirs['input_spikes_expected']:,} |")
        lines.append(f"\nratio SANA-FE / archsim: {row['ratio']:.2f} wall, {row['cpu_ratio']:.2f} CPU; spike counts "
                     f"equal: {row['spikes_equal']}")
        lines.append(f"\n| | archsim | SANA-FE | archsim / SANA-FE |\n|---|---|---|---|\n"
                     f"| energy uJ | {ours['energy_pj'] / 1e6:.2f} | {theirs['energy_pj'] / 1e6:.2f} | {row['energy_ratio']:.2f} |\n"
                     f"| simulated latency ms | {ours['latency_s'] * 1e3:.3f} | {theirs['latency_s'] * 1e3:.3f} | "
                     f"{row['latency_ratio']:.2f} |\n\narchsim peak RSS {ours['split_s']['peak_rss_mb']:.0f} MB")
        lines.append("\nEnergy by SANA-FE's categories (uJ; archsim's components summed into them, bench_sanafe.CATEGORIES):\n\n"
                     "| category | archsim | SANA-FE |\n|---|---|---|\n" + "\n".join(energy_rows(ours, theirs)))
    lines.append(f"\narchsim mapping: {ours['cores_used']} cores, {len(m.get('partitioned_layers', []))} of {args.layers} "
                 f"layers partitioned (METIS), {m['expected_packets_per_step']:,.0f} packets/step, "
                 f"{m['expected_packet_hops_per_step']:,.0f} packet-hops/step with every neuron firing")
    old_sanafe = previous.get("sanafe")
    if theirs and old_sanafe and old_sanafe is not theirs and _same_network(previous.get("network"), vars(args)):
        lines.append(f"\nSANA-FE's previous record of this network ({old_sanafe.get('placement', 'sanafe-own')} "
                     f"placement): energy {old_sanafe['energy_pj'] / 1e6:.2f} uJ, latency "
                     f"{old_sanafe['latency_s'] * 1e3:.3f} ms, {old_sanafe['packets']:,} packets, wall {old_sanafe['wall_s']:.2f} s")
    old = previous.get("archsim")
    if old and _same_network(previous.get("network"), vars(args)):
        old_map = old.get("mapping") or {}
        lines.append(f"\nThe previous record of this run ({stem}.json before this one): {old.get('cores_used') or '-'} cores, "
                     f"{old_map.get('expected_packets_per_step', '-')} packets/step, wall {old['wall_s']:.2f} s, energy "
                     f"{old['energy_pj'] / 1e6:.2f} uJ, latency {old['latency_s'] * 1e3:.3f} ms, peak RSS "
                     f"{old['split_s']['peak_rss_mb']:.0f} MB")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
