"""Die-area scaling between technology nodes, for iso-node comparisons of a GPU with a chip.

Area factors relative to 45 nm are Stillmaker & Baas (Integration 58, 2017) for 32-7 nm; 5 nm is an
assumption (TSMC N5 is ~1.8x denser in logic than N7, so 0.059 / 1.8); above 45 nm the ideal square
law ``(node / 45)^2`` is an assumption. Between listed nodes factors are interpolated log-log. The whole
die is scaled as logic is, which flatters a die full of SRAM and I/O: the result says so.
"""
from __future__ import annotations

import math

from archsim.errors import UserError

AREA_FACTOR_VS_45NM = {45: 1.0, 32: 0.46, 28: 0.38, 22: 0.25, 14: 0.17, 12: 0.135, 7: 0.059, 5: 0.033}
SMALLEST_NODE_NM = min(AREA_FACTOR_VS_45NM)


def area_factor(node_nm: float) -> float:
    """Area of a design at ``node_nm`` relative to the same design at 45 nm."""
    if node_nm < SMALLEST_NODE_NM:
        raise UserError(f"iso_node_nm: {node_nm} is too small (allowed: >= {SMALLEST_NODE_NM})")
    if node_nm >= 45:
        return (node_nm / 45.0) ** 2
    nodes = sorted(AREA_FACTOR_VS_45NM)
    for low, high in zip(nodes, nodes[1:]):
        if low <= node_nm <= high:
            frac = (math.log(node_nm) - math.log(low)) / (math.log(high) - math.log(low))
            log_factor = (1 - frac) * math.log(AREA_FACTOR_VS_45NM[low]) + frac * math.log(AREA_FACTOR_VS_45NM[high])
            return math.exp(log_factor)
    raise AssertionError("unreachable: nodes cover 5-45 nm")


def scale_area_mm2(area_mm2: float, from_nm: float, to_nm: float) -> float:
    """A die of ``area_mm2`` at ``from_nm`` redrawn at ``to_nm``."""
    return area_mm2 * area_factor(to_nm) / area_factor(from_nm)
