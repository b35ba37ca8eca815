"""The Mapping: which core runs which part of which layer, saved as a readable YAML file.

A mapping file lists, per layer, how it was cut (``order``: neuron order "chw", "hwc" or, for a
conv layer cut into tiles, ``tile-c<channels>-r<rows>-w<columns>`` (:mod:`~archsim.mapping.tiles`);
``input_groups``: boundaries of the fan-in groups over the layer's input space, ``[0, size]`` when
fan-in is not split; a group holds whole input-channel planes where it can), for a layer whose
``order`` is "partitioned" the neuron order itself (``permutation``: flat neuron indices, the
order METIS grouped them in) and its parts,
each ``{core: [x, y], neurons: [start, stop], inputs: [start, stop]}`` with board coordinates
(x across all chips' columns, y across all chips' rows) and half-open ranges over the layer's
neuron order and input space (see :mod:`archsim.mapping.lowering`). Edit a file by hand (move a
part to another core, cut a run differently) and load it back: :func:`validate_mapping` checks it
against the network and chip with one-line errors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from archsim.errors import UserError


@dataclass(frozen=True)
class Part:
    """One core's share of a layer: neurons [start, stop) of the layer's order, inputs [start, stop)."""

    layer: str
    core: tuple[int, int]
    neurons: tuple[int, int]
    inputs: tuple[int, int]


@dataclass(eq=False)
class Mapping:
    """A network's layers cut into parts and placed on the cores of a chip (or board)."""

    network: str
    chip: str
    board_shape: tuple[int, int]
    orders: dict[str, str]
    input_groups: dict[str, list[int]]
    parts: list[Part]
    permutations: dict[str, np.ndarray] = field(default_factory=dict)    # layers whose order is "partitioned"
    summary: dict = field(default_factory=dict)
    # What map_network computed for the chip program builder (the quantised network it was given,
    # its lowered layers and this mapping's routes), handed over once so the network is lowered
    # only once per run; never saved.
    handover: tuple | None = field(default=None, repr=False)

    @property
    def cores_used(self) -> int:
        return len(self.parts)

    def layer_parts(self, layer: str) -> list[Part]:
        return [p for p in self.parts if p.layer == layer]

    def to_dict(self) -> dict:
        layers = {}
        for name in self.orders:
            layers[name] = {"order": self.orders[name], "input_groups": list(self.input_groups[name])}
            if name in self.permutations:
                layers[name]["permutation"] = [int(n) for n in self.permutations[name]]
            layers[name]["parts"] = [{"core": list(p.core), "neurons": list(p.neurons), "inputs": list(p.inputs)}
                                     for p in self.layer_parts(name)]
        return {"network": self.network, "chip": self.chip, "board_shape": list(self.board_shape),
                "summary": self.summary, "layers": layers}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=110))

    @classmethod
    def from_dict(cls, data: dict, source: str = "mapping") -> "Mapping":
        try:
            parts = [Part(layer=name, core=_pair(p["core"]), neurons=_pair(p["neurons"]), inputs=_pair(p["inputs"]))
                     for name, spec in data["layers"].items() for p in spec["parts"]]
            return cls(network=str(data["network"]), chip=str(data["chip"]), board_shape=_pair(data["board_shape"]),
                       orders={n: str(s["order"]) for n, s in data["layers"].items()},
                       input_groups={n: [int(b) for b in s["input_groups"]] for n, s in data["layers"].items()},
                       parts=parts, summary=dict(data.get("summary") or {}),
                       permutations={n: np.asarray(s["permutation"], dtype=np.int64)
                                     for n, s in data["layers"].items() if "permutation" in s})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(f"{source}: not a mapping file ({type(exc).__name__}: {exc}); "
                            "expected network, chip, board_shape, layers.<name>.{order, input_groups, parts}") from None

    @classmethod
    def load(cls, path: str | Path) -> "Mapping":
        from archsim.config import read_yaml

        return cls.from_dict(read_yaml(path), source=str(path))


def _pair(value) -> tuple[int, int]:
    a, b = value
    return int(a), int(b)
