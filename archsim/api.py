"""archsim's verbs as Python functions (the CLI's twins).

``load_network`` accepts what every command accepts: a NIR file, or a model-zoo name (the trained graph
when one is cached, otherwise the untrained shape calibrated to trained spike rates, which one line on
stderr announces).
"""
from __future__ import annotations

import sys
from pathlib import Path

from archsim.errors import UserError
from archsim.graph.network import Network
from archsim.runner import execute, recost, resolve_chip, run

__all__ = ["load_network", "flush_notices", "run", "execute", "recost", "resolve_chip"]


def load_network(spec: str, dt: float | None = None, reset: str | None = None, from_: str | None = None,
                 spikes: str | None = None) -> Network:
    """A Network from a NIR file path or a zoo name.

    ``from_`` names the framework whose conventions a NIR file is read with (``snntorch``, ``norse``,
    ``sinabs``, ``rockpool``, ``spyx``, ``nengo``; :mod:`archsim.graph.presets`); None reads it as NIR
    says, at ``dt = 1e-4`` s. An explicit ``dt`` (seconds), ``reset`` ("zero", "subtract", "subtract_now":
    how LIF/IF nodes without archsim reset metadata reset) or ``spikes`` ("single", "multi") wins over the
    preset; a zoo graph records its own. All are checked even for a zoo name, so a bad value never passes
    silently.
    """
    from archsim.graph.nir_io import check_dt
    from archsim.graph.presets import conventions
    from workloads import zoo

    check_dt(conventions(from_, dt, reset, spikes).dt)

    if spec in zoo.names():
        network = zoo.load(spec)
        _announce(zoo.untrained_notice(network))
        return network
    path = Path(spec)
    if path.suffix == ".nir" or path.exists():
        from archsim.graph.nir_io import read_network

        return read_network(path, dt=dt, reset=reset, from_=from_, spikes=spikes)
    raise UserError(f"{spec}: no such file, and not a zoo workload (zoo: {', '.join(zoo.names())})")


_announced: set[str] = set()
_pending: list[str] = []


def _announce(notice: str | None) -> None:
    """Keep a zoo shape's calibration note for :func:`flush_notices`, once per process (a sweep loads it per point)."""
    if notice and notice not in _announced:
        _announced.add(notice)
        _pending.append(notice)


def flush_notices(stream=None) -> None:
    """Print the notes of the zoo shapes loaded so far (one line each) on ``stream`` (default stderr).

    The CLI calls this when a command succeeds, so that a bad input still gives exactly one error line.
    """
    for notice in _pending:
        print(notice, file=stream or sys.stderr)
    _pending.clear()
