"""The validation report: a table (text, Markdown, HTML), a log-log figure and ``validation.json``."""
from __future__ import annotations

import html
import json
from pathlib import Path

from archsim.atomic import write_text_atomically

COLUMNS = ("case", "role", "quantity", "published", "archsim", "error", "tol", "ok")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _role(row: dict) -> str:
    """The role, with ``vs peer`` where the reference figure is another simulator's prediction."""
    return row["role"] + (" vs peer" if row.get("reference") == "peer" else "")


def _cells(row: dict) -> list[str]:
    if row["status"] == "skipped":
        error, ok = "-", "skipped"
    else:
        error, ok = f"{row['error']:+.1%}", "yes" if row["within_tolerance"] else "NO"
    return [row["name"], _role(row), f"{row['quantity']} ({row['unit']})", _number(row["published"]),
            _number(row["predicted"]), error, f"{row['tolerance']:.1%}".replace(".0%", "%"), ok]


def text_table(rows: list[dict]) -> str:
    """The table as aligned plain text (what the command prints)."""
    lines = [list(COLUMNS)] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def markdown_table(rows: list[dict], sources: bool = True) -> str:
    """The table as Markdown, with each case's source unless ``sources`` is false."""
    columns = COLUMNS + (("source",) if sources else ())
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "\n".join("| " + " | ".join(_cells(row) + ([row["source"]] if sources else [])) + " |"
                             for row in rows) + "\n"


def write_figure(rows: list[dict], path: Path) -> None:
    """Predicted against published on log-log axes, y = x dashed; inputs (squares), predictions against a
    published figure (circles) and predictions against a peer simulator (triangles) marked apart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ran = [row for row in rows if row["predicted"] is not None and row["predicted"] > 0
           and row["published"] is not None and row["published"] > 0]
    fig, ax = plt.subplots(figsize=(7, 7))
    kinds = (("input", "s", "tab:blue", "inputs (reproduce a config's source)"),
             ("prediction", "o", "tab:red", "predictions vs published"),
             ("prediction vs peer", "^", "tab:green", "predictions vs a peer simulator"))
    for role, marker, colour, label in kinds:
        points = [row for row in ran if _role(row) == role]
        ax.scatter([row["published"] for row in points], [row["predicted"] for row in points], marker=marker,
                   color=colour, label=label, zorder=3)
        labels: dict[tuple[float, float], list[str]] = {}
        for row in points:                       # rows on the same point share one label
            labels.setdefault((row["published"], row["predicted"]), []).append(row["name"])
        for point, names in labels.items():
            ax.annotate(", ".join(names), point, fontsize=7, xytext=(4, 2), textcoords="offset points")
    values = [v for row in ran for v in (row["published"], row["predicted"])] or [1.0]
    low, high = min(values) / 2, max(values) * 2
    ax.plot([low, high], [low, high], "k--", linewidth=0.8, label="predicted = published")
    ax.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high), xlabel="published (or peer) value [the case's unit, see the table]",
           ylabel="archsim's value [the same unit]", title="archsim against published figures")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")   # names beside the outermost points stay in the image
    plt.close(fig)


def _note(row: dict) -> str:
    return "; ".join(part for part in (row.get("skip_reason", ""), row["note"]) if part)


def _html(rows: list[dict], figure: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS + ("source", "note"))
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(row) + [row["source"], _note(row)])
                   + "</tr>\n" for row in rows)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>archsim validation</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 6px;font-size:90%}</style></head><body>"
            "<h1>How far to trust archsim's numbers</h1>"
            "<p>Each row is a published figure. <b>input</b>: the figure went into a config, so the run must "
            "reproduce it. <b>prediction</b>: nothing was fitted to it; the error is how far off archsim lands. "
            "<b>vs peer</b>: no measurement is published, so the reference is another simulator's prediction of "
            "the same run (agreement says the two models agree, not that either matches silicon). "
            "error = (archsim - published) / published.</p>"
            f"<table><tr>{head}</tr>\n{body}</table><p><img src='{figure}' alt='predicted vs published'></p>"
            "</body></html>\n")


def write_validation(rows: list[dict], folder: str | Path) -> Path:
    """Write FOLDER/index.html, summary.md, validation.json and validation.png; return the index path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_figure(rows, folder / "validation.png")
    write_text_atomically(folder / "validation.json", json.dumps({"cases": rows}, indent=1) + "\n")
    write_text_atomically(folder / "summary.md", "# archsim validation\n\n" + markdown_table(rows))
    index = folder / "index.html"
    write_text_atomically(index, _html(rows, "validation.png"))
    return index
