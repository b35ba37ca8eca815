"""A report page as plain data (sections of text, figures and tables), rendered to HTML and Markdown.

The HTML is one file with a little inline CSS and JavaScript (click a column heading of a sortable
table to sort by it); figures are PNG files beside it in ``figures/``, each with an SVG twin.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class Table:
    """A table: header, rows (a cell is a value, or (shown, sort key)), and whether it sorts by a click."""

    header: list[str]
    rows: list[list]
    sortable: bool = False
    long_text: tuple[str, ...] = ()  # headings of columns of long text (errors, paths): wrapped anywhere


@dataclass
class Section:
    title: str
    text: list[str] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file stem under figures/, caption)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. why a figure is absent


@dataclass
class Page:
    title: str
    headline: str
    sections: list[Section] = field(default_factory=list)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } p.headline { font-size: 1.25em; font-weight: 600; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
div.table { overflow-x: auto; max-width: 100%; margin: 1em 0; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.long { overflow-wrap: anywhere; }
th.sortable { cursor: pointer; background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
p.note { color: #8a5a00; font-size: 0.9em; }
"""

_SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var asc = th.dataset.order !== "asc"; th.dataset.order = asc ? "asc" : "desc";
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v ?? a.cells[col].textContent, y = b.cells[col].dataset.v ?? b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


TRUST_NOTE = ("How far to trust this: `archsim validate` runs archsim against every published figure it can be "
              "checked against (README, 'How far to trust the numbers'; bench/results/validation.md).")


def render_html(page: Page) -> str:
    """The page as one self-contained HTML file (inline CSS and the sorting script; figures as relative paths)."""
    esc = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{esc(page.title)}</title>",
           f"<style>{_CSS}</style></head><body>", f"<h1>{esc(page.title)}</h1>",
           f'<p class="headline">{esc(page.headline)}</p>', f'<p class="note">{esc(TRUST_NOTE)}</p>']
    for section in page.sections:
        out.append(f"<h2>{esc(section.title)}</h2>")
        out += [f"<p>{esc(t)}</p>" for t in section.text]
        for stem, caption in section.figures:
            out.append(f'<figure><img src="figures/{stem}.png" alt="{esc(caption)}"><figcaption>{esc(caption)} '
                       f'(<a href="figures/{stem}.svg">SVG</a>)</figcaption></figure>')
        out += [_html_table(t) for t in section.tables]
        out += [f'<p class="note">{esc(n)}</p>' for n in section.notes]
    out += [f"<script>{_SORT_JS}</script>", "</body></html>"]
    return "\n".join(out) + "\n"


def _html_table(table: Table) -> str:
    esc = html.escape
    cls = ' class="sortable"' if table.sortable else ""
    th = "".join(f'<th{" class=sortable" if table.sortable else ""}>{_breakable(esc(str(h)))}</th>' for h in table.header)
    rows = []
    long = {i for i, h in enumerate(table.header) if h in table.long_text}
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            if isinstance(cell, tuple):  # (shown text, sort value)
                cells.append(f'<td class="num" data-v="{cell[1]}">{esc(str(cell[0]))}</td>')
            else:
                cells.append(f'<td{" class=long" if i in long else ""}>{esc(str(cell))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    # In a scrolling box: a table wider than the page (a sweep's points with their errors) is never cut off.
    return f'<div class="table"><table{cls}><thead><tr>{th}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _breakable(text: str) -> str:
    """A heading that may break after its dots and underscores (``core.dendrite_lanes``): narrow columns."""
    return text.replace(".", ".<wbr>").replace("_", "_<wbr>")


def render_markdown(page: Page) -> str:
    """The page as Markdown (tables as pipe tables, figures as image links)."""
    out = [f"# {page.title}", "", f"**{page.headline}**", "", TRUST_NOTE, ""]
    for section in page.sections:
        out += [f"## {section.title}", ""]
        for t in section.text:
            out += [t, ""]
        for stem, caption in section.figures:
            out += [f"![{caption}](figures/{stem}.png)", ""]
        for table in section.tables:
            out += [_md_table(table), ""]
        for note in section.notes:
            out += [f"*{note}*", ""]
    return "\n".join(out)


def _md_table(table: Table) -> str:
    def cell(c):
        return str(c[0] if isinstance(c, tuple) else c).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in table.header) + " |", "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)
