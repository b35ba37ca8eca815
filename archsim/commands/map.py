"""``archsim map NET --chip CHIP.yaml [--out MAPPING.yaml]``: map a network and print the summary."""
from __future__ import annotations

from archsim.api import load_network, resolve_chip
from archsim.atomic import write_atomically
from archsim.errors import UserError
from archsim.guard.memory import check_run
from archsim.guard.outputs import check_output_file
from archsim.graph.quantize import Precision, quantize
from archsim.mapping import check_fits, map_network
from archsim.commands.run import stage_logger
from archsim.units import count_of


def main(args) -> int:
    """Map the network on a many-core chip, print the summary and save the mapping with ``--out``."""
    check_output_file(args.out, "--out")
    network = load_network(args.network, dt=args.dt, reset=args.reset, from_=args.from_,
                           spikes=args.spikes)
    chip = resolve_chip(args.chip)
    if chip.family != "manycore":
        raise UserError(f"{args.chip}: family: {chip.family!r} has no core mapping (allowed: manycore)")
    qnet = quantize(network, Precision.from_config(chip.params["precision"]))
    check_fits(network, chip, qnet)                 # cores counted from shapes first: seconds, before lowering
    check_run(network, chip, what=f"mapping {network.name} on {chip.name}")
    mapping = map_network(network, chip, qnet, log=stage_logger())   # progress of a long cut on stderr
    s = mapping.summary
    print(f"{network.name} on {chip.name}: {s['cores_used']:,} of {count_of(s['cores_available'], 'core')}"
          + (f" ({count_of(s['folded_cores'], 'folded core')})" if s.get("folded_cores") else ""))
    print(f"  neuron utilisation {s['neuron_utilisation']:.1%}, axon utilisation {s['axon_utilisation']:.1%} "
          "(of the used cores' slots, every pass of a folded core counted)")
    print(f"  fan-in split layers: {', '.join(s['split_layers']) or 'none'}")
    print(f"  expected traffic: {s['expected_packets_per_step']:,.0f} packets/step, "
          f"{s['expected_packet_hops_per_step']:,.0f} packet-hops/step (every neuron firing)")
    for name in mapping.orders:
        print(f"  {name}: {count_of(len(mapping.layer_parts(name)), 'core')}, order {mapping.orders[name]}")
    if args.out:
        write_atomically(args.out, mapping.save)
        print(f"mapping written to {args.out}")
    return 0
