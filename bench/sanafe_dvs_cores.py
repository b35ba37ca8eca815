"""Where the DVS-gesture step's time goes: the busiest core's message-in + synapse work, archsim's mapping
against SANA-FE's, each counted from the same spikes.

Run: ``python bench/sanafe_dvs_cores.py [--chip chips/loihi.yaml] [--out bench/results/sanafe_dvs_cores.md]``.

Both simulators bound a Loihi step by its busiest core, which spends SANA-FE's 16 ns per received
message and 3.8 ns per synaptic event (``docs/loihi.md``). This script takes the network's spikes from
archsim's functional run (equal to SANA-FE's, ``archsim.validate.sanafe_dvs``), counts per step and per
core the messages (spiking inputs with a synapse on the core) and synaptic events (spiking inputs times
their synapses on the core), and reports the mean over steps of the busiest core's serial time
``16 ns x messages + 3.8 ns x events``, for two placements of the same neurons: archsim's mapper
(the cores ``archsim run`` uses) and SANA-FE's DVS tutorial (``SANAFE_CORES_PER_LAYER`` cores per
layer, each layer's neurons split evenly in flat order). For each placement it also runs SANA-FE
itself (``sanafe_dvs.run_sanafe``; archsim's placement translated by ``archsim.validate.sanafe_place``,
as the validation rows ``sanafe-dvs-*`` do) and quotes its energy and latency per step: the tutorial
placement is information here, the rows compare the two models on archsim's placement. It needs the
optional ``sanafe`` package (its data file and its simulator).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp

MESSAGE_IN_NS, SYNAPSE_NS = 16.0, 3.8          # SANA-FE arch/loihi.yaml: latency_message_in, dense latency_process_spike
STEPS = 128


def synapse_patterns(prog) -> dict[str, sp.csr_matrix]:
    """Per layer, its stored synapses as a 0/1 matrix (neurons x stage inputs), from the chip program."""
    out = {}
    for name, layer in prog.layers.items():
        rows, cols = [], []
        for core in (c for c in prog.cores if c.layer == name):
            rows.append(core.neurons[core.indices])
            cols.append(np.repeat(core.axon_source, np.diff(core.indptr)))
        r, c = np.concatenate(rows), np.concatenate(cols)
        size = sum(s for _, _, s, _ in layer.segments)
        out[name] = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(layer.size, size))
        out[name].data[:] = 1.0
    return out


def busiest(cores, inputs) -> tuple[float, float]:
    """Mean over steps of the busiest core's serial message-in + synapse time (ns) and its events;
    ``cores``: (layer, synapses per stage input) of each core."""
    times, events = np.zeros(STEPS), np.zeros(STEPS)
    for t in range(STEPS):
        for name, per_input in cores:
            s = inputs[name][t]
            n_events = float(per_input @ s)
            messages = int(np.count_nonzero((per_input > 0) & (s > 0)))
            cost = MESSAGE_IN_NS * messages + SYNAPSE_NS * n_events
            if cost > times[t]:
                times[t], events[t] = cost, n_events
    return float(times.mean()), float(events.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip", default="chips/loihi.yaml")
    ap.add_argument("--out")
    args = ap.parse_args()
    from archsim.config import load_chip
    from archsim.graph.functional import simulate as functional
    from archsim.graph.workload import make_workload
    from archsim.models.manycore import prepare
    from archsim.validate import sanafe_dvs, sanafe_place

    data = sanafe_dvs.load_data()
    net = sanafe_dvs.network(data)
    x = sanafe_dvs.input_spikes(data, STEPS)[:, None].astype(np.float64)
    with tempfile.TemporaryDirectory() as tmp:
        x_path = Path(tmp) / "x.npy"
        np.save(x_path, x)
        _, prog, _ = prepare(make_workload(net, input_path=str(x_path)), load_chip(args.chip))
    run = functional(net, {"x": x})
    spikes = {"x": x[:, 0].reshape(STEPS, -1)}
    spikes.update({name: np.asarray(run.layer_outputs[name])[:, 0].reshape(STEPS, -1) for name in prog.layers})
    inputs = {}
    for name, layer in prog.layers.items():      # one source per layer; every projection but the input's is a step late
        source = layer.segments[0][0]
        late = source != "x"
        inputs[name] = np.vstack([np.zeros((1, spikes[source].shape[1])), spikes[source][:-1]]) if late else spikes[source]
    patterns = synapse_patterns(prog)
    mine = []
    for core in prog.cores:                      # each part's own synapses (split fan-in parts included)
        per_input = np.zeros(patterns[core.layer].shape[1])
        np.add.at(per_input, core.axon_source, np.diff(core.indptr))
        mine.append((core.layer, per_input))
    theirs = [(name, patterns[name][part].sum(axis=0).A1)
              for name, k in zip(prog.layers, sanafe_dvs.SANAFE_CORES_PER_LAYER[1:])
              for part in np.array_split(np.arange(prog.layers[name].size), k)]
    lines = ["| placement | cores | busiest core per step: message-in + synapse time, us | its synaptic events | "
             "SANA-FE latency per step, us | SANA-FE energy per step, uJ |", "|---|---|---|---|---|---|"]
    for label, cores, where in (("archsim's mapper", mine, sanafe_place.placement(prog)),
                                ("SANA-FE's tutorial", theirs, None)):
        ns, events = busiest(cores, inputs)
        peer = sanafe_dvs.run_sanafe(data, STEPS, where)
        lines.append(f"| {label} | {len(cores)} | {ns / 1e3:.2f} | {events:,.0f} | "
                     f"{peer['latency_s'] / STEPS * 1e6:.2f} | {peer['energy_j'] / STEPS * 1e6:.3f} |")
    text = (f"# sanafe_dvs_cores\n\nDVS-gesture on {args.chip}, {STEPS} steps (`python bench/sanafe_dvs_cores.py`): "
            "the busiest core's serial message-in (16 ns) and synapse (3.8 ns) time, mean over steps, and SANA-FE's "
            "own run of each placement (its input population on the cores archsim leaves free, on archsim's)\n\n"
            + "\n".join(lines) + "\n\nThe validation rows sanafe-dvs-energy-per-step and sanafe-dvs-latency-per-step "
            "compare archsim with SANA-FE on archsim's placement (the first line); the tutorial's line is information: "
            "the same network spread over twice the cores.\n")
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
