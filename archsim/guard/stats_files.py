"""The spike statistics beside a NIR graph (``NET.stats.json``, as ``archsim train`` writes it), checked
before synthetic inputs, the GPU model or ``info`` compute with them.

Every key is optional (files from elsewhere carry fewer); a key that is there must hold what archsim
reads from it: rates as fractions, per-step rates as lists of them, counts as integers.
"""
from __future__ import annotations

import math

from archsim.errors import UserError
from archsim.guard.text import quote

#: What each key holds (alternatives joined by "or"): a fraction (0..1), per-name fractions, per-name rates
#: (>= 0, one or one per step: a multi-spike layer fires more than once a step), a count (an integer >= 0),
#: a flag (true or false), an object of numbers, or any object.
_KINDS = {
    "input_rate": "fraction or per_name_fraction",
    "spike_rates": "per_name_rates", "layer_rate": "per_name_rates", "layer_rates": "per_name_rates",
    "window_fraction": "per_name_fraction", "zero_grad_fraction": "per_name_fraction",
    "steps": "count", "epochs": "count", "seed": "count", "test_samples": "count",
    "trained": "flag", "synthetic": "flag",
    "accuracy": "numbers", "accuracy_float": "fraction", "accuracy_quantized": "fraction",
    "calibration": "object",
}


def check_stats(stats, where: str) -> dict:
    """``stats`` when it is an object whose known keys hold what archsim reads; else a UserError naming
    ``where`` (the file) and the key."""
    if not isinstance(stats, dict):
        raise UserError(f"{where}: a JSON {type(stats).__name__} (allowed: an object, as 'archsim train' writes)")
    for key, kinds in _KINDS.items():
        if key in stats and not any(_holds(kind, stats[key]) for kind in kinds.split(" or ")):
            allowed = {"fraction": "a number from 0 to 1", "per_name_fraction": "an object of numbers from 0 to 1",
                       "per_name_rates": "an object of rates >= 0, one or one per step", "count": "an integer >= 0",
                       "flag": "true or false", "numbers": "an object of numbers", "object": "an object"}
            raise UserError(f"{where}: {key}: {quote(stats[key])} is not allowed (allowed: "
                            f"{' or '.join(allowed[k] for k in kinds.split(' or '))})")
    if stats.get("steps") == 0:
        raise UserError(f"{where}: steps: 0 is not allowed (allowed: an integer >= 1)")
    return stats


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _holds(kind: str, value) -> bool:
    if kind == "fraction":
        return _number(value) and 0 <= value <= 1
    if kind == "per_name_fraction":
        return isinstance(value, dict) and all(_holds("fraction", v) for v in value.values())
    if kind == "per_name_rates":
        return isinstance(value, dict) and all(
            (_number(v) and v >= 0) or (isinstance(v, list) and all(_number(x) and x >= 0 for x in v))
            for v in value.values())
    if kind == "count":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == "flag":
        return isinstance(value, bool)
    if kind == "numbers":
        return isinstance(value, dict) and all(_number(v) for v in value.values())
    return isinstance(value, dict)
