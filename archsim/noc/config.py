"""NocConfig: the numbers that describe a mesh NoC or a board of meshes.

A chip config carries them in its ``noc:`` block; :meth:`NocConfig.from_params` validates that
block and raises a one-line :class:`archsim.errors.UserError` naming the key. The meaning of each
number (what a cycle of router or link latency is) is the micro-architecture in
``archsim/noc/__init__.py``.

Bandwidths are flits per cycle and may be fractional (0.25 = one flit every 4 cycles); they are
kept as exact ratios of small integers so that both engines compute link slots with integer
arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction

from archsim.errors import UserError

# Largest denominator accepted for a fractional bandwidth (0.001 flits per cycle is the finest).
MAX_RATE_DENOMINATOR = 1000


@dataclass(frozen=True)
class NocConfig:
    """A board of ``chips_x * chips_y`` chips, each a ``mesh_x * mesh_y`` mesh of routers (one per core)."""

    mesh_x: int
    mesh_y: int
    chips_x: int = 1
    chips_y: int = 1
    # Flits one on-chip link carries per cycle, each direction. Assumption: one flit per cycle.
    link_flits_per_cycle: float = 1.0
    # Cycles a flit spends on an on-chip link between neighbouring routers. Assumption.
    hop_latency_cycles: int = 1
    # Cycles from a flit's arrival at a router to its request for an output port. Assumption.
    router_latency_cycles: int = 1
    # Flits per cycle and cycles of the core <-> router ports (injection, ejection). Assumption.
    local_flits_per_cycle: float = 1.0
    local_latency_cycles: int = 1
    # Inter-chip links (border router to border router of the neighbouring chip). Assumption:
    # a serialised chip-to-chip link, 4x slower and 20 cycles long.
    interchip_latency_cycles: int = 20
    interchip_flits_per_cycle: float = 0.25
    # Bits per flit: TianjicX packets carry an 8-byte payload (BiMap toolchain, see tianjic.md).
    flit_bits: int = 64
    # Flits each router input buffer holds (one buffer per input port: 4 links and the local
    # injection port); credit-based flow control keeps it from overflowing. Assumption: 4 flits,
    # the depth the shipped chips' router component gives its buffers.
    buffer_flits: int = 4
    # Cycles from a flit leaving an input buffer to its credit being usable by the upstream sender.
    # Assumption: one cycle (a registered credit wire to the neighbour).
    credit_latency_cycles: int = 1

    def __post_init__(self):
        self.validate("NocConfig")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_params(cls, params: dict, source: str = "noc") -> "NocConfig":
        """Build from a chip config's ``noc:`` block; ``source`` prefixes error messages (file: key)."""
        if not isinstance(params, dict):
            raise UserError(f"{source}: expected a mapping of NoC keys")
        allowed = [f.name for f in fields(cls)]
        for key in params:
            if key not in allowed:
                raise UserError(f"{source}.{key}: unknown key (allowed: {', '.join(allowed)})")
        for key in ("mesh_x", "mesh_y"):
            if key not in params:
                raise UserError(f"{source}.{key}: required key is missing")
        config = object.__new__(cls)
        values = {f.name: params.get(f.name, f.default) for f in fields(cls)}
        for key, value in values.items():
            object.__setattr__(config, key, value)
        config.validate(source)
        return config

    def validate(self, source: str) -> None:
        """Check every field's type and range; one-line UserError naming ``source.key``."""
        minimum = {
            "mesh_x": 1, "mesh_y": 1, "chips_x": 1, "chips_y": 1,
            "hop_latency_cycles": 1, "router_latency_cycles": 0, "local_latency_cycles": 1,
            "interchip_latency_cycles": 1, "flit_bits": 1, "buffer_flits": 1, "credit_latency_cycles": 1,
        }
        for key, low in minimum.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise UserError(f"{source}.{key}: {value!r} is not an integer")
            if value < low:
                raise UserError(f"{source}.{key}: {value!r} is too small (allowed: >= {low})")
        for key in ("link_flits_per_cycle", "local_flits_per_cycle", "interchip_flits_per_cycle"):
            rate_fraction(getattr(self, key), f"{source}.{key}")

    # ------------------------------------------------------------------ derived sizes
    @property
    def cores_per_chip(self) -> int:
        return self.mesh_x * self.mesh_y

    @property
    def n_chips(self) -> int:
        return self.chips_x * self.chips_y

    @property
    def n_cores(self) -> int:
        """Cores (= routers) on the whole board."""
        return self.n_chips * self.cores_per_chip

    @property
    def board_x(self) -> int:
        """Routers along x on the whole board."""
        return self.chips_x * self.mesh_x

    @property
    def board_y(self) -> int:
        """Routers along y on the whole board."""
        return self.chips_y * self.mesh_y


def rate_fraction(value, where: str = "flits_per_cycle") -> Fraction:
    """A bandwidth in flits per cycle as an exact positive Fraction (denominator <= 1000)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
        raise UserError(f"{where}: {value!r} is not a number")
    if value <= 0:
        raise UserError(f"{where}: {value!r} is too small (allowed: > 0 flits per cycle)")
    exact = Fraction(value)
    rate = exact.limit_denominator(MAX_RATE_DENOMINATOR)
    if abs(rate - exact) > Fraction(1, 10**9) * rate:
        raise UserError(f"{where}: {value!r} is not a ratio of small integers "
                        f"(allowed: p/q with q <= {MAX_RATE_DENOMINATOR}, e.g. 0.25, 1, 2)")
    return rate
