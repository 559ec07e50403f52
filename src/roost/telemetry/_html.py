"""The telemetry report page's building blocks: its stylesheet, tables, and value formats.

The stylesheet is inlined into the page, which fetches no font, image or URL. The page
is read on a screen and printed, so long tables scroll on screen and unroll on paper,
and charts never break across pages. Every text that goes into a tag is escaped here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape

from roost.telemetry.drift import MAJOR, MODERATE, NO_BASELINE, STABLE, TOO_FEW

__all__ = [
    "LEVEL_COLORS",
    "NONE",
    "STYLESHEET",
    "Cell",
    "count",
    "duration",
    "empty",
    "figure",
    "level_class",
    "ms",
    "psi",
    "section",
    "table",
    "tag",
    "time_axis",
    "utc",
]

#: what a missing value shows as
NONE = "—"
#: a table cell: its text, or (text, CSS class)
Cell = str | tuple[str, str]

#: drift level to colour, shared by the bars and the table cells (Okabe-Ito, plus grey)
LEVEL_COLORS = {
    STABLE: "#009E73",
    MODERATE: "#E69F00",
    MAJOR: "#D55E00",
    TOO_FEW: "#999999",
    NO_BASELINE: "#BBBBBB",
}


def level_class(level: str) -> str:
    """The CSS class of a drift level's table cell: ``too few`` becomes ``level-too-few``."""
    return "level-" + (re.sub(r"[^a-z0-9]+", "-", level.lower()).strip("-") or "other")


_BASE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; color: #1a1a1a; background: #fff; max-width: 880px; margin: 24px auto;
  padding: 0 16px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05em; margin: 20px 0 6px; }
p.meta, p.explain, caption { color: #555; }
p.meta { margin: 0 0 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
caption { text-align: left; caption-side: top; padding: 4px 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left;
  vertical-align: top; }
th { font-weight: 600; }
.num { text-align: right; }
table.summary th { width: 14em; }
figure { margin: 8px 0; }
svg { display: block; max-width: 100%; height: auto; }
.scroll { max-height: 320px; overflow: auto; }
.empty { margin: 8px 0 16px; padding: 24px; border: 1px dashed #bbb; color: #555;
  text-align: center; }
ul.notes { padding-left: 1.2em; }
td.level { border-left: 10px solid #999; }
@page { margin: 14mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  .scroll { max-height: none; overflow: visible; }
  figure, tr, .empty { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
}
"""

#: the whole stylesheet: the base rules, then one border colour per drift level
STYLESHEET = _BASE.lstrip() + "".join(
    f"td.{level_class(level)} {{ border-left-color: {color}; }}\n"
    for level, color in LEVEL_COLORS.items()
)


def utc(timestamp: float) -> str:
    """An epoch time in UTC ISO 8601, to the second: ``2024-05-01T12:00:00Z``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float | None) -> str:
    """A duration in its largest whole unit, one decimal: ``2.5 min``, ``1.0 d``."""
    if seconds is None or not math.isfinite(seconds):
        return NONE
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds * 1000:.0f} ms"


def ms(value: float | None) -> str:
    """Milliseconds with one decimal."""
    return NONE if value is None or not math.isfinite(value) else f"{value:.1f} ms"


def count(value: float | None) -> str:
    """A count with thousands separators."""
    if value is None or not math.isfinite(value):
        return NONE
    return f"{value:,.0f}"


def psi(value: float | None) -> str:
    """A population stability index, three decimals."""
    return NONE if value is None or not math.isfinite(value) else f"{value:.3f}"


def table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """A table in a box that scrolls on screen; every text is escaped.

    Args:
        caption: what the table holds.
        headers: the column titles; a title ending in ``#`` right-aligns its column
            (numbers), and the ``#`` is not shown.
        rows: the cells; a cell is a text, or (text, CSS class).
    """
    aligned = ["num" if h.endswith("#") else "" for h in headers]
    head = "".join(
        tag("th", h.removesuffix("#"), cls, scope="col")
        for h, cls in zip(headers, aligned, strict=True)
    )
    body = "\n".join(
        "<tr>"
        + "".join(
            tag("td", cell, cls)
            if isinstance(cell, str)
            else tag("td", cell[0], f"{cls} {cell[1]}")
            for cell, cls in zip(row, aligned, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table>\n<caption>{escape(caption)}</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table></div>"
    )


def tag(name: str, text: str, cls: str = "", **attrs: str) -> str:
    """One element holding ``text``, escaped, with a class and attributes when not empty."""
    written = "".join(
        f' {k}="{escape(v)}"' for k, v in {"class": cls.strip(), **attrs}.items() if v
    )
    return f"<{name}{written}>{escape(text)}</{name}>"


def empty(why: str) -> str:
    """What a chart's place shows when the window holds no data for it."""
    return tag("p", f"No data in this window: {why}.", "empty")


def time_axis(starts: Sequence[float]) -> tuple[str, Callable[[float], str]]:
    """The title and tick format of a time axis over these bucket starts."""
    first, last = min(starts), max(starts)
    day = datetime.fromtimestamp(first, UTC).date()
    if datetime.fromtimestamp(last, UTC).date() == day:
        # one date: it goes in the title once, and the ticks show the time of day
        clock = "%H:%M:%S" if last - first <= 300 else "%H:%M"
        return f"time (UTC, {day.isoformat()})", lambda t: _strftime(t, clock)
    # across days, a tick at midnight names its day and other ticks add the time
    return "time (UTC)", lambda t: _strftime(t, "%Y-%m-%d" if t % 86400 == 0 else "%m-%d %H:%M")


def _strftime(timestamp: float, pattern: str) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime(pattern)


def figure(chart: str, table: str) -> str:
    """A chart and, under it, the table of its numbers (for screen readers and paper)."""
    return f"<figure>\n{chart}\n</figure>\n{table}"


def section(anchor: str, heading: str, explain: str, content: str) -> str:
    """A titled part of the page; ``explain`` and ``content`` are HTML already."""
    lead = f'<p class="explain">{explain}</p>\n' if explain else ""
    return f'<section id="{anchor}">\n<h2>{escape(heading)}</h2>\n{lead}{content}\n</section>'
