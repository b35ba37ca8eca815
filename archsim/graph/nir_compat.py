"""One way to call nir across its supported versions (1.0.4 to 1.0.8).

nir 1.0.4 has no ``type_check`` on ``read`` or ``NIRGraph``, no ``v_reset`` on LIF, IF and CubaLIF, and no
``metadata`` on Input, Output or Scale; later versions have them. :func:`make` leaves out an argument the
installed nir does not take when it carries nothing (``v_reset`` of zeros, empty metadata, ``type_check``) and
refuses in one line when it would lose information.
"""
from __future__ import annotations

import inspect
from functools import lru_cache

import numpy as np

from archsim.errors import UserError


@lru_cache(maxsize=None)
def _parameters(fn) -> frozenset:
    return frozenset(inspect.signature(fn).parameters)


def read(path):
    """``nir.read`` without type inference where nir has the switch (files in the wild often fail it); with a
    nir that lacks a field the file has (nir 1.0.4 and ``v_reset``), the field is left out when it carries
    nothing and refused in one line when it does."""
    import nir

    if "type_check" in _parameters(nir.read):
        return nir.read(str(path), type_check=False)
    import h5py
    from nir.serialization import hdf2dict

    with h5py.File(str(path), "r") as f:
        data = hdf2dict(f["node"])
    return nir.dict2NIRNode(_known_fields(data, ""))


def _known_fields(data: dict, where: str) -> dict:
    """``data`` (a node as nested dicts) less the fields this nir's node classes lack and that carry nothing."""
    import nir

    type_name = data["type"].decode() if isinstance(data["type"], bytes) else str(data["type"])
    cls = getattr(nir, type_name, None)
    if cls is None:
        return data
    if type_name == "NIRGraph":
        data = dict(data)
        data["nodes"] = {k: _known_fields(v, f"{where}{k}.") for k, v in data["nodes"].items()}
        return data
    accepted = _parameters(cls) | {"type"} | ({"shape"} if type_name in ("Input", "Output") else set())
    for name in [k for k in data if k not in accepted]:
        if not _carries_nothing(name, data[name]):
            raise UserError(f"node {where.rstrip('.') or type_name} ({type_name}): nir {nir.__version__} cannot "
                            f"read {name} (allowed: nir >= 1.0.5 for this file)")
    return {k: v for k, v in data.items() if k in accepted}


def _carries_nothing(name: str, value) -> bool:
    if name == "type_check" or value is None:
        return True
    if name == "metadata":
        return not value
    return name == "v_reset" and not np.any(np.asarray(value))


def make(cls, droppable: tuple[str, ...] = (), **kwargs):
    """``cls(**kwargs)`` less the arguments this nir lacks and that carry nothing (or that the caller keeps
    elsewhere too: ``droppable``)."""
    import nir

    accepted = _parameters(cls)
    for name in [k for k in kwargs if k not in accepted]:
        if name not in droppable and not _carries_nothing(name, kwargs[name]):
            raise UserError(f"nir {nir.__version__}: {cls.__name__} cannot store {name} = {kwargs[name]!r} "
                            "(allowed: nir >= 1.0.5, or a network without it)")
        del kwargs[name]
    return cls(**kwargs)
