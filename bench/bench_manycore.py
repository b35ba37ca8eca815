"""Many-core fast engine speed and scale: synaptic events/s, cycles/s, wall split, peak memory.

Run: ``python bench/bench_manycore.py [--chip chips/tianjic.yaml] [--max-neurons 1e6] [--steps 20]``.

Networks are feedforward LIF stacks of 3x3 grouped convolutions (padding 1) over ``C x S x S``
maps: sparse, local fan-in like a conv SNN, and no dense matrix anywhere. Each row of the table is
one process-internal run, split into

* ``load``: build the network, quantise it and make the input spikes,
* ``map``: partition, placement, routing tables and the chip program (the attempt that fitted:
  a first guess at the board size that proves too small is not counted),
* ``compile``: the Numba kernels' compile or cache load (a tiny run first, in the same process),
* ``sim``: the time steps (cores, barriers and the NoC at flit level).

``events/s`` is simulated synaptic events (synaptic ops) per second of ``sim`` wall time; ``cyc/s``
simulated chip cycles per second; ``events/cpu-s`` the same per second of the process's CPU time
(``time.process_time``: what a shared, loaded machine leaves of the figure); ``stall %`` the cores' pipeline stall cycles (full FIFO and busy
port, integrate and fire) over their busy cycles; ``NoC wait/flit`` the cycles an injected flit waits
in all (at its source for the injection port, and inside the network for links and ejection ports),
``no-credit %`` the share of those waits that lacked a credit (backpressure from full input
buffers). ``--override core.synapse_read_cycles=2 ...`` runs
a changed chip config (named in the row), e.g. one whose core pipelines stall. Peak memory is the process's maximum resident set size
(``resource.getrusage``), so each case runs in its own child process. Figures go to
``bench/results/manycore.json`` and ``.md`` (rows of cases not run this time are kept). The ``conv-3.5M`` case is a conv SNN of about
3.5 M synapses; the goal is >= 50 M synaptic events/s on one core with the core pipelines and the
NoC's buffers and credits modelled, on a configuration that stalls.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import resource
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def conv_lif_network(layers: int, channels: int, side: int, groups: int, seed: int = 0,
                     threshold: float = 1.0, decay: float = 0.875, kernel: int = 3):
    """A feedforward LIF stack: input (C, S, S) -> ``layers`` x [grouped ``kernel`` conv -> LIF].

    ``kernel=3`` (padding 1) is a conv SNN; ``kernel=1`` over ``S = 1`` is a block-sparse random
    network (``C / groups`` inputs per neuron, all from its block). Weights are uniform in
    [-0.2, 0.6) (excitatory on average, so activity survives the depth).
    """
    from archsim.graph.network import LIF, Conv2d, Layer, Network, Projection

    rng = np.random.default_rng(seed)
    shape = (channels, side, side)
    body, source = [], "x"
    pad = kernel // 2
    for i in range(layers):
        weight = rng.uniform(-0.2, 0.6, size=(channels, channels // groups, kernel, kernel)).round(2)
        conv = Conv2d(weight, padding=(pad, pad), groups=groups)
        name = f"l{i}"
        body.append(Layer(name, shape, (Projection(source, (conv,)),),
                          LIF(decay=np.float64(decay), threshold=np.float64(threshold))))
        source = name
    return Network(f"conv{layers}x{channels}x{side}x{side}k{kernel}g{groups}", {"x": shape}, body, [source])


def spike_input(shape, steps: int, rate: float = 0.2, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((steps, 1, *shape)) < rate).astype(np.float64)


# name, layers, channels, side, groups, kernel (neurons = layers * channels * side^2).
# "block" cases: kernel 1 over 1x1 maps = block-sparse random layers, fan-in channels / groups.
CASES = [
    ("block-1e3", 4, 256, 1, 4, 1),          # 1,024 neurons, fan-in 64
    ("block-1e4", 16, 1024, 1, 16, 1),       # 16,384 neurons
    ("block-65k", 16, 4096, 1, 64, 1),       # 65,536 neurons, 4.2 M synapses (issue 8's size)
    ("block-2.6e5", 16, 16384, 1, 128, 1),   # 262,144 neurons, fan-in 128: 33.5 M synapses
    ("block-1e6", 16, 65536, 1, 512, 1),     # 1,048,576 neurons, fan-in 128: 134 M synapses
    ("conv-3.5M", 28, 64, 8, 16, 3),         # conv SNN, 3x3 grouped (4 in-channels) over 64 x 8 x 8: ~3.5 M synapses
]


def board_for(chip, cores: int):
    """``chip`` as a square board of enough chips (noc.chips_x/y) for ``cores`` cores."""
    per_chip = int(chip.params["noc"]["mesh_x"]) * int(chip.params["noc"]["mesh_y"])
    side = int(np.ceil(np.sqrt(cores / per_chip)))
    if side > 1:      # NocConfig's defaults give the inter-chip links' latency and rate
        chip.params["noc"].update(chips_x=side, chips_y=side)
    return chip


def prepare_on_board(work, chip):
    """``prepare`` on a board of ``chip`` sized for the network (a first guess of 200 neurons per core;
    if the mapper says it needs more cores, once more on a board that large).

    Returns ``(chip, prepared, seconds)``, the seconds of the attempt that fitted (sizing the board
    is the benchmark's business, not the mapper's)."""
    from archsim.errors import UserError
    from archsim.models.manycore import prepare

    chip = board_for(chip, -(-work.network.neuron_count // 200))
    start = time.perf_counter()
    try:
        return chip, prepare(work, chip), time.perf_counter() - start
    except UserError as err:
        needed = re.search(r"needs (\d+) cores", str(err))
        if not needed:
            raise
        chip = board_for(chip, int(needed.group(1)))
        start = time.perf_counter()
        return chip, prepare(work, chip), time.perf_counter() - start


def load_with(chip_path: str, overrides: dict):
    from archsim.config import load_chip

    chip = load_chip(chip_path)
    return chip.with_overrides(overrides) if overrides else chip


def run_case(case, chip_path: str, steps: int, queue, overrides=None) -> None:
    """One case in a child process (fresh peak-memory counter); puts a dict on ``queue``."""
    from archsim.graph.workload import Workload
    from archsim.models.manycore import prepare, run_program

    name, layers, channels, side, groups, kernel = case
    t0 = time.perf_counter()
    tiny = conv_lif_network(2, 2, 4, 1)      # two layers: spikes cross the NoC
    chip = load_with(chip_path, overrides)
    work = Workload("tiny", tiny, {"x": spike_input((2, 4, 4), 2)}, 2, 1)
    run_program(work, chip, *prepare(work, chip))
    compile_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    net = conv_lif_network(layers, channels, side, groups, kernel=kernel)
    work = Workload(name, net, {"x": spike_input(net.inputs["x"], steps)}, steps, 1)
    t1 = time.perf_counter()
    chip, (mapping, prog, qnet), map_s = prepare_on_board(work, chip)
    t2, c2 = time.perf_counter(), time.process_time()
    trace = run_program(work, chip, mapping, prog, qnet)
    t3, c3 = time.perf_counter(), time.process_time()
    synapses = sum(int(c.indptr[-1]) for c in prog.cores)
    stalls = trace.cycles_breakdown["stall_cycles"]
    stalled = sum(stalls[ph][cause] for ph in ("integrate", "fire") for cause in ("full_fifo", "busy_port"))
    busy = sum(trace.cycles_breakdown["per_core_busy"].values())
    noc = trace.noc
    noc_wait = noc.get("stall_cycles", 0) + noc.get("inject_wait_cycles", 0)
    noc_no_credit = noc.get("stall_no_credit_cycles", 0) + noc.get("inject_no_credit_cycles", 0)
    queue.put(dict(case=name, neurons=net.neuron_count, synapses=synapses, cores=len(prog.cores), steps=steps,
                   load_s=t1 - t0, map_s=map_s, compile_s=compile_s, sim_s=t3 - t2,
                   synaptic_events=trace.synaptic_ops, spikes=trace.spikes, cycles=trace.cycles,
                   noc_flits=trace.noc.get("injected_flits", 0), events_per_s=trace.synaptic_ops / (t3 - t2),
                   cycles_per_s=trace.cycles / (t3 - t2), sim_cpu_s=c3 - c2,
                   events_per_cpu_s=trace.synaptic_ops / (c3 - c2), stall_fraction=stalled / max(busy, 1),
                   stall_cycles={ph: stalls[ph] for ph in ("integrate", "fire")},
                   noc_wait_per_flit_cycles=noc_wait / max(noc.get("injected_flits", 0), 1),
                   noc_no_credit_share=noc_no_credit / max(noc_wait, 1),
                   overrides={k: v for k, v in (overrides or {}).items()},
                   peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip", default="chips/tianjic.yaml")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--max-neurons", type=float, default=1.2e5)
    ap.add_argument("--timeout-s", type=float, default=600)
    ap.add_argument("--cases", nargs="*", help="only these case names")
    ap.add_argument("--override", nargs="*", default=[], metavar="KEY=VALUE",
                    help="chip config changes (integers), e.g. core.synapse_read_cycles=2")
    args = ap.parse_args()
    overrides = {k: int(v) for k, v in (item.split("=", 1) for item in args.override)}
    RESULTS.mkdir(exist_ok=True)
    previous = RESULTS / "manycore.json"
    kept = json.loads(previous.read_text())["rows"] if previous.exists() else []
    from machine_note import machine_note

    note = machine_note()
    rows = []
    header = (f"{'case':10s} {'neurons':>9s} {'synapses':>11s} {'cores':>6s} {'load s':>7s} {'map s':>7s} "
              f"{'compile s':>9s} {'sim s':>7s} {'syn events':>11s} {'events/s':>11s} {'cycles/s':>10s} {'peak MB':>8s} "
              f"{'stall %':>7s} {'events/cpu-s':>12s} {'NoC wait/flit':>13s} {'no-credit %':>11s}")
    print(f"chip {args.chip} {overrides or ''}, {args.steps} steps, one process per case; {note}")
    print(header)
    ctx = mp.get_context("spawn")
    for case in CASES:
        neurons = case[1] * case[2] * case[3] ** 2
        if (args.cases and case[0] not in args.cases) or (not args.cases and neurons > args.max_neurons):
            continue
        queue = ctx.Queue()
        proc = ctx.Process(target=run_case, args=(case, args.chip, args.steps, queue, overrides))
        proc.start()
        proc.join(args.timeout_s)
        if proc.is_alive():
            proc.terminate()
            print(f"{case[0]:10s} {neurons:>9,d}  did not finish within {args.timeout_s:.0f} s")
            continue
        if queue.empty():
            print(f"{case[0]:10s} {neurons:>9,d}  failed (exit code {proc.exitcode})")
            continue
        r = queue.get()
        r["machine"] = note
        rows.append(r)
        print(f"{r['case']:10s} {r['neurons']:>9,d} {r['synapses']:>11,d} {r['cores']:>6d} {r['load_s']:>7.2f} "
              f"{r['map_s']:>7.2f} {r['compile_s']:>9.2f} {r['sim_s']:>7.2f} {r['synaptic_events']:>11,d} "
              f"{r['events_per_s']:>11,.0f} {r['cycles_per_s']:>10,.0f} {r['peak_rss_mb']:>8.0f} "
              f"{100 * r['stall_fraction']:>7.1f} {r['events_per_cpu_s']:>12,.0f} "
              f"{r['noc_wait_per_flit_cycles']:>13.1f} {100 * r['noc_no_credit_share']:>11.1f}")
    for r in rows:
        r["case"] += "".join(f" {k.split('.')[-1]}={v}" for k, v in overrides.items())
    order = [c[0] for c in CASES]
    rows = sorted([r for r in kept if r["case"] not in {x["case"] for x in rows}] + rows,
                  key=lambda r: (order.index(r["case"].split()[0]) if r["case"].split()[0] in order else len(order),
                                 r["case"]))
    (RESULTS / "manycore.json").write_text(json.dumps({"chip": args.chip, "rows": rows}, indent=1))
    with open(RESULTS / "manycore.md", "w") as f:
        f.write(f"# bench_manycore ({args.chip})\n\nRows run at: see the machine notes under the table.\n\n")
        f.write("A case named with `key=value` ran with that change of the chip config.\n\n")
        f.write("| case | neurons | synapses | cores | steps | load s | map s | compile s | sim s | syn events | events/s | "
                "cycles/s | peak MB | stall % | events/cpu-s | NoC wait/flit | no-credit % |\n")
        f.write("|" + "---|" * 17 + "\n")
        for r in rows:
            f.write(f"| {r['case']} | {r['neurons']:,} | {r['synapses']:,} | {r['cores']} | {r['steps']} | {r['load_s']:.2f} | "
                    f"{r['map_s']:.2f} | {r['compile_s']:.2f} | {r['sim_s']:.2f} | {r['synaptic_events']:,} | "
                    f"{r['events_per_s']:,.0f} | {r['cycles_per_s']:,.0f} | {r['peak_rss_mb']:.0f} | "
                    f"{_percent(r.get('stall_fraction'))} | {_rate(r.get('events_per_cpu_s'))} | "
                    f"{_cycles(r.get('noc_wait_per_flit_cycles'))} | {_percent(r.get('noc_no_credit_share'))} |\n")
        f.write("\nMachine notes (when, where, load):\n\n")
        for r in rows:
            f.write(f"- {r['case']}: {r.get('machine', 'not recorded')}\n")


def _percent(fraction) -> str:
    return "not measured" if fraction is None else f"{100 * fraction:.1f}"


def _cycles(cycles) -> str:
    return "not measured" if cycles is None else f"{cycles:.1f}"


def _rate(rate) -> str:
    return "not measured" if rate is None else f"{rate:,.0f}"


if __name__ == "__main__":
    main()
