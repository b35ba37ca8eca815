"""Write the validation table (text/markdown), ``validation.json`` and ``index.html`` with a log-log figure."""
from __future__ import annotations

import html
import json
from pathlib import Path


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def markdown_table(rows: list[dict]) -> str:
    """The table as Markdown (also what the command prints)."""
    lines = ["| case | role | quantity | published | predicted | error | tolerance | within |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        error = "-" if r["error"] is None else f"{r['error']:+.1%}"
        lines.append(f"| {r['name']} | {r['role']} | {r['quantity']} | {_fmt(r['published'])} | "
                     f"{_fmt(r['predicted'])} | {error} | {r['tolerance']:.0%} | "
                     f"{'yes' if r['within_tolerance'] else 'no'} |")
    return "\n".join(lines)


def _figure(rows: list[dict], path: Path) -> None:
    """Predicted against published, log-log, inputs and predictions with different markers."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    points = [r for r in rows if r["predicted"] and r["predicted"] > 0 and r["published"] > 0]
    for role, marker in (("input", "s"), ("prediction", "o")):
        chosen = [r for r in points if r["role"] == role]
        if chosen:
            ax.scatter([r["published"] for r in chosen], [r["predicted"] for r in chosen], marker=marker,
                       label=role)
    ax.set_xscale("log")
    ax.set_yscale("log")
    if points:
        low = min(min(r["published"], r["predicted"]) for r in points) / 2
        high = max(max(r["published"], r["predicted"]) for r in points) * 2
        ax.plot([low, high], [low, high], color="grey", lw=0.8)
    ax.set_xlabel("published (case units)")
    ax.set_ylabel("predicted (case units)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_all(rows: list[dict], out_dir: str | Path) -> Path:
    """Write validation.json, summary.md, predicted_vs_published.png and index.html; return index.html."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "validation.json").write_text(json.dumps({"cases": rows}, indent=1))
    table = markdown_table(rows)
    (out / "summary.md").write_text("# archsim validation\n\n" + table + "\n")
    _figure(rows, out / "predicted_vs_published.png")
    body = "".join(
        f"<tr><td>{html.escape(r['name'])}</td><td>{r['role']}</td><td>{html.escape(r['quantity'])}</td>"
        f"<td>{_fmt(r['published'])}</td><td>{_fmt(r['predicted'])}</td>"
        f"<td>{'-' if r['error'] is None else format(r['error'], '+.1%')}</td><td>{r['tolerance']:.0%}</td>"
        f"<td>{'yes' if r['within_tolerance'] else 'no'}</td><td>{html.escape(r['source'])}</td>"
        f"<td>{html.escape(r['note'])}</td></tr>" for r in rows)
    index = out / "index.html"
    index.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>archsim validation</title></head><body>"
        "<h1>archsim validation: predicted against published</h1>"
        "<p>Inputs are calibrations the configs were built from (reproduced); predictions are not fitted.</p>"
        "<img src='predicted_vs_published.png' alt='predicted vs published, log-log'>"
        "<table border='1'><tr><th>case</th><th>role</th><th>quantity</th><th>published</th><th>predicted</th>"
        f"<th>error</th><th>tolerance</th><th>within</th><th>source</th><th>note</th></tr>{body}</table>"
        "</body></html>")
    return index
