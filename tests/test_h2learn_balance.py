"""h2learn load imbalance: the busiest PE of each block sets its time in FE, BE and WUE, on hand-worked blocks
(fast path and reference stepper alike)."""
from __future__ import annotations

import numpy as np
import pytest

from archsim.graph.network import Conv2d, Layer, Network, Projection
from archsim.models.h2learn import engines, refstep
from archsim.models.h2learn.layers import build_layers
from archsim.models.h2learn.params import read_params
from tests.test_h2learn import chip, lif

# one input sample-step, 3 channels on a 2x2 map: spikes per position (0,0) 3, (0,1) 0, (1,0) 1, (1,1) 2
SPIKES = np.zeros((1, 1, 3, 2, 2))
SPIKES[0, 0, :, 0, 0] = 1
SPIKES[0, 0, 0, 1, 0] = 1
SPIKES[0, 0, :2, 1, 1] = 1


def one_by_one(pes: int, **over):
    """A 1x1 conv, 3 channels -> 1, on a 2x2 map; its projection and params with ``pes`` PEs per engine."""
    conv = Conv2d(np.full((1, 3, 1, 1), 0.5))
    layer = Layer("c", (1, 2, 2), (Projection("in", (conv,)),), lif())
    net = Network("one", {"in": (3, 2, 2)}, [layer], ["c"])
    ch = chip(**{"components.fe_lut.count": pes, "components.be_mac.count": pes,
                 "components.wue_lut.count": pes, **over})
    params = read_params(ch)
    return build_layers(net, params)[0].projections[0], params


def both(fast, reference):
    """The fast path's work and the reference stepper's agree; the cycles."""
    assert fast.cycles == reference.cycles and fast.actions == reference.actions
    return fast.cycles


@pytest.mark.parametrize("lut", [False, True])
def test_fe_block_waits_for_its_densest_output(lut):
    """Outputs in (n, k, e, f) order, 2 PEs: LUT off, adds per output 3, 0 | 1, 2 -> blocks of 3 and 2 =
    5 cycles (not ceil(6 / 2) = 3). LUT on (k = 4: one group of 3 channels, one read per non-empty pattern):
    reads 1, 0 | 1, 1 -> 2 cycles after the build of one 16-entry table over 2 PEs (8)."""
    proj, params = one_by_one(2)
    fast = engines.fe_work(proj, SPIKES, lut, params)
    ref, _ = refstep.fe_reference(proj, SPIKES, lut, params)
    assert both(fast, ref) == (8 + 2 if lut else 5)
    assert (fast.stats["block_cycles"], fast.stats["even_cycles"]) == ((2, 2) if lut else (5, 3))
    # four PEs take all four outputs in one block: the densest (3 adds, or 1 read) sets it
    proj, params = one_by_one(4)
    assert both(engines.fe_work(proj, SPIKES, lut, params), refstep.fe_reference(proj, SPIKES, lut, params)[0]) == \
        (4 + 1 if lut else 3)


def test_wue_table_per_pe_waits_for_its_busiest_table():
    """T 2, one chunk of 2 steps (4-entry tables), dL/du non-zero at (0,0), (0,1), (1,1): three tables, one per
    PE, each built (4) then read once per channel with a non-zero spike history: 3, 0, 2 reads. 2 PEs:
    blocks (4+3, 4+0) and (4+2) -> 7 + 6 = 13 cycles (evenly spread it would be 12/2 + 5/2 -> 9)."""
    proj, params = one_by_one(2, **{"wue.lut_steps": 2})
    x = np.concatenate([SPIKES, np.zeros_like(SPIKES)])         # the spikes at t = 0, none at t = 1
    du = np.zeros((2, 1, 1, 2, 2), dtype=np.int64)
    du[0, 0, 0, 0, 0] = du[1, 0, 0, 0, 1] = 5
    du[1, 0, 0, 1, 1] = -3
    fast = engines.wue_work(proj, du, x, params)
    ref, _ = refstep.wue_reference(proj, du, x, params)
    assert both(fast, ref) == 13
    assert (fast.stats["block_cycles"], fast.stats["even_cycles"]) == (13, 9)     # 17 items over 2 PEs evenly
    assert fast.actions["wue_lut"] == {"write": 12, "read": 5}
    # LUT off: output-stationary over the 8 output neuron-steps, adds 3, 0 | 1, 2 | 0, 0 | 0, 0 -> 3 + 2
    proj, params = one_by_one(2, **{"wue.lut": False})
    assert both(engines.wue_work(proj, du, x, params), refstep.wue_reference(proj, du, x, params)[0]) == 5


def test_be_block_waits_for_its_widest_window():
    """BE, sparse: non-zero dL/du at (0,0), (1,0), (1,1) with 3, 1, 2 open source neurons under the 1x1 tap:
    2 PEs take (0,0), (1,0) then (1,1): 3 + 2 = 5 MAC cycles (6 MACs), after the index generator."""
    proj, params = one_by_one(2, **{"be.neuron_lanes": 4})   # 4 index adders
    du = np.zeros((1, 1, 1, 2, 2), dtype=np.int64)
    du[0, 0, 0, 0, 0] = du[0, 0, 0, 1, 0] = du[0, 0, 0, 1, 1] = 7
    fast = engines.be_spatial_work(proj, du, SPIKES, params)
    ref, _ = refstep.be_spatial_reference(proj, du, SPIKES, params)
    assert both(fast, ref) == 5 + 3          # 12 window flags over 4 index adders: 3 cycles
    assert fast.stats["macs"] == 6
