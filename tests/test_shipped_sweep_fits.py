"""The shipped mesh sweep maps its workload at every point, within the chip's per-core components."""
from __future__ import annotations

from pathlib import Path

from archsim.api import load_network
from archsim.mapping import map_network
from archsim.sweep import load_sweep
from archsim.sweep.points import expand_points

SWEEP = Path(__file__).resolve().parent.parent / "chips" / "sweeps" / "tianjic-mesh.yaml"


def test_tianjic_mesh_sweep_fits_every_point(monkeypatch, tmp_path):
    monkeypatch.setenv("ARCHSIM_CACHE", str(tmp_path / "cache"))
    spec = load_sweep(SWEEP)
    points = expand_points(spec)
    assert len({p.overrides["noc.mesh_x"] for p in points}) == 2  # it still sweeps mesh sizes
    mapped = {}
    for point in points:
        chip = spec.base_chip.with_overrides(point.overrides)
        network = load_network(point.workload["network"])
        key = (point.overrides["core.neurons"], point.overrides["noc.mesh_x"])
        if key not in mapped:
            mapped[key] = map_network(network, chip).cores_used
        per_core = chip.get("components.synapse_sram.count")
        assert 0 < mapped[key] <= min(per_core, chip.get("noc.mesh_x") * chip.get("noc.mesh_y")), (key, mapped[key])
