"""``archsim info NET``: describe a network (layers, shapes, neurons, synapses, parameters, spike rates), and for
a NIR file the conventions it was read with (which are the preset's, which explicit, which guesses)."""
from __future__ import annotations


def main(args) -> int:
    """Print the network's layers, sizes and recorded spike rates, then the reading conventions and notes."""
    from archsim.api import load_network
    from archsim.graph.describe import format_summary, summary
    from archsim.graph.presets import Conventions

    network = load_network(args.network, dt=args.dt, reset=args.reset, from_=args.from_, spikes=args.spikes)
    print(format_summary(summary(network)))
    recorded = network.metadata.get("conventions")
    if recorded:
        conv = Conventions(**{k: tuple(tuple(v) if isinstance(v, list) else v for v in value)
                              if isinstance(value, list) else value for k, value in recorded.items()})
        print(f"read as: {conv.preset if conv.preset != 'nir' else 'NIR semantics (no --from)'}")
        for line in conv.describe():
            print(f"  {line}")
    for note in network.metadata.get("import_notes", []):
        print(f"note: {note}")
    return 0
