"""Draw the many-core scaling curve from bench/results/manycore.json (written by bench_manycore.py).

    python bench/plot_scaling.py      # writes bench/results/scaling.png and .svg

Left: simulated synaptic events per wall second against network size; right: peak memory and the
wall time split into map and simulate, per simulated step.
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    data = json.loads((RESULTS / "manycore.json").read_text())
    rows = sorted((r for r in data["rows"] if r["case"].startswith("block")), key=lambda r: r["neurons"])
    neurons = [r["neurons"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.loglog(neurons, [r["events_per_s"] for r in rows], "o-", label="synaptic events / s")
    left.loglog(neurons, [r["cycles_per_s"] for r in rows], "s--", label="simulated cycles / s")
    left.set_xlabel("neurons (feed-forward LIF blocks)")
    left.set_title(f"Fast engine on {Path(data['chip']).name}, flit-level NoC")
    left.legend(frameon=False)
    right.loglog(neurons, [r["peak_rss_mb"] for r in rows], "o-", label="peak memory [MB]")
    right.loglog(neurons, [r["sim_s"] / r["steps"] for r in rows], "s--", label="simulate wall s / step")
    right.loglog(neurons, [r["map_s"] for r in rows], "^:", label="map wall s")
    right.set_xlabel("neurons")
    right.set_title("Memory and wall time")
    right.legend(frameon=False)
    fig.tight_layout()
    for suffix in ("png", "svg"):
        fig.savefig(RESULTS / f"scaling.{suffix}", dpi=120, metadata={"Date": None} if suffix == "svg" else None)
    print(f"wrote {RESULTS / 'scaling.png'}")


if __name__ == "__main__":
    main()
