"""``archsim info NET``: describe a network (layers, shapes, neurons, synapses, parameters, spike rates)."""
from __future__ import annotations


def main(args) -> int:
    """Print the network's layers, sizes and recorded spike rates."""
    from archsim.api import load_network
    from archsim.graph.describe import format_summary, summary

    print(format_summary(summary(load_network(args.network, dt=args.dt, reset=args.reset))))
    return 0
