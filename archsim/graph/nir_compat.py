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
    """``nir.read`` without type inference where nir has the switch (files in the wild often fail it)."""
    import nir

    return nir.read(str(path), type_check=False) if "type_check" in _parameters(nir.read) else nir.read(str(path))


def _carries_nothing(name: str, value) -> bool:
    if name == "type_check" or value is None:
        return True
    if name == "metadata":
        return not value
    return name == "v_reset" and not np.any(np.asarray(value))


def make(cls, **kwargs):
    """``cls(**kwargs)`` less the arguments this nir lacks and that carry nothing."""
    import nir

    accepted = _parameters(cls)
    for name in [k for k in kwargs if k not in accepted]:
        if not _carries_nothing(name, kwargs[name]):
            raise UserError(f"nir {nir.__version__}: {cls.__name__} cannot store {name} = {kwargs[name]!r} "
                            "(allowed: nir >= 1.0.5, or a network without it)")
        del kwargs[name]
    return cls(**kwargs)
