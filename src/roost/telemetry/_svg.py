"""Inline SVG charts for self-contained reports: a line chart and a horizontal bar chart.

No plotting library: each chart is a pure function from numbers to SVG text, so the
same input gives the same bytes and a report can be snapshot-tested.

- Axis ticks are "nice" numbers (steps of 1, 2 or 5 times a power of ten) that cover
  the data; time axes use readable clock steps instead (:func:`time_ticks`).
- Coordinates are written with at most two decimals; NaN and infinity never reach
  the output: non-finite data points are dropped, a single point or a flat series
  gets a padded axis.
- Every text is escaped. The ``<svg>`` has no ``xmlns``: the charts are inlined in
  HTML5, which needs none, and a report must not reference any URL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

from roost.errors import ConfigError

__all__ = [
    "Scale",
    "bar_chart",
    "coordinate",
    "element",
    "format_number",
    "line_chart",
    "nice_ticks",
    "svg_document",
    "text_at",
    "time_ticks",
]

#: Okabe-Ito colours: told apart by colour-blind readers too
SERIES_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
#: one dash pattern per series as well, so lines stay apart on a grey-scale print
SERIES_DASHES = ("", "6 3", "2 3", "8 3 2 3")
#: time-axis steps in seconds; multiples of them fall on round UTC clock times
_TIME_STEPS_S = (
    *(1, 2, 5, 10, 15, 30),
    *(60, 120, 300, 600, 900, 1800),
    *(3600, 7200, 10800, 21600, 43200),
    *(86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400),
)
_FONT_PX = 12
#: a rough width of one character at _FONT_PX, to lay out labels without measuring them
_CHAR_PX = 6.6
_AXIS = "#333333"
_GRID = "#e3e3e3"
_MUTED = "#666666"
#: the fill of a bar whose level has no colour
_OTHER = "#999999"
#: a line chart draws a dot on each point only up to this many points per series
_MAX_MARKERS = 60
_LABEL_CHARS = 28


def format_number(value: float) -> str:
    """Write a tick value as plain decimals: no exponent, no trailing zeros, no ``-0``.

    Example:
        >>> format_number(0.30000000000000004), format_number(1500.0), format_number(-0.0)
        ('0.3', '1500', '0')
    """
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _nice_step(raw: float) -> float:
    """The smallest step of 1, 2 or 5 times a power of ten that is at least ``raw``."""
    exponent = math.floor(math.log10(raw))
    # dividing by a positive power of ten keeps 0.2 exact where 2 * 0.1 would not be
    steps = [m / 10**-exponent if exponent < 0 else float(m * 10**exponent) for m in (1, 2, 5, 10)]
    return min(step for step in steps if step >= raw * (1 - 1e-9))


def _check_range(lo: float, hi: float, max_ticks: int) -> None:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError(f"tick range must be finite, got {lo!r} to {hi!r}")
    if max_ticks < 2:
        raise ConfigError(f"max_ticks must be at least 2, got {max_ticks}")


def nice_ticks(lo: float, hi: float, max_ticks: int = 6) -> list[float]:
    """Evenly spaced round numbers from at or below ``lo`` to at or above ``hi``.

    The step is 1, 2 or 5 times a power of ten, the smallest that needs at most
    ``max_ticks`` ticks. An empty range (``lo == hi``) is padded by 10% of the value
    (or by 1 around zero), so a flat series still gets an axis.

    Args:
        lo: the smallest value to cover.
        hi: the largest value to cover.
        max_ticks: at most this many ticks (at least 2).

    Returns:
        the ticks in increasing order, rounded to the step's decimals.

    Raises:
        ConfigError: a bound is not finite, or ``max_ticks`` is below 2.

    Example:
        >>> nice_ticks(0.03, 0.91)
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    _check_range(lo, hi, max_ticks)
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo <= 1e-12 * max(abs(lo), abs(hi), 1.0):
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = _nice_step((hi - lo) / (max_ticks - 1))
    while True:
        # the tolerance keeps 0.6 / 0.2 = 2.9999999999999996 from adding a tick
        first = math.floor(lo / step + 1e-9)
        last = math.ceil(hi / step - 1e-9)
        if last - first + 1 <= max_ticks:
            break
        step = _nice_step(step * 1.5)
    decimals = max(0, -math.floor(math.log10(step)))
    return [round(i * step, decimals) + 0.0 for i in range(first, last + 1)]


def time_ticks(lo: float, hi: float, max_ticks: int = 6) -> list[float]:
    """Round UTC times between ``lo`` and ``hi`` (epoch seconds): whole minutes, hours, days.

    The step is the smallest of 1 s … 30 min, 1, 2, 3, 6, 12 h, 1, 2, 7, 14, 28 days
    that needs at most ``max_ticks`` ticks; the ticks are the multiples of it inside
    the range, so a time axis never starts at an odd second. A range shorter than a
    second, or one where no multiple falls inside, gets the single tick ``lo``.

    Raises:
        ConfigError: a bound is not finite, or ``max_ticks`` is below 2.

    Example:
        >>> time_ticks(7 * 60, 6 * 3600 + 7 * 60)  # 00:07 to 06:07: every 2 hours
        [7200.0, 14400.0, 21600.0]
    """
    _check_range(lo, hi, max_ticks)
    lo, hi = min(lo, hi), max(lo, hi)
    span = hi - lo
    steps = [s for s in _TIME_STEPS_S if span / s <= max_ticks - 1]
    step = float(steps[0]) if steps else 86400 * _nice_step(span / 86400 / (max_ticks - 1))
    ticks = [i * step for i in range(math.ceil(lo / step), math.floor(hi / step) + 1)]
    return ticks or [float(lo)]


def coordinate(value: float) -> str:
    """A coordinate, written with at most two decimals."""
    if not math.isfinite(value):  # the callers filter data; this guards the guarantee
        raise ValueError(f"non-finite coordinate {value!r}")
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _attribute(value: str | float) -> str:
    return escape(value) if isinstance(value, str) else coordinate(value)


def element(tag: str, text: str | None = None, /, **attrs: str | float | None) -> str:
    """One SVG element, its text escaped.

    An attribute's ``_`` becomes ``-`` (``text_anchor`` is ``text-anchor``); numbers are
    written by :func:`coordinate`, strings escaped, and None or ``""`` left out.
    """
    written = "".join(
        f' {key.replace("_", "-")}="{_attribute(value)}"'
        for key, value in attrs.items()
        if value is not None and value != ""
    )
    return f"<{tag}{written}/>" if text is None else f"<{tag}{written}>{escape(text)}</{tag}>"


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, **attrs: str | float) -> str:
    return element("line", x1=x1, y1=y1, x2=x2, y2=y2, stroke=stroke, **attrs)


def text_at(text: str, x: float, y: float, **attrs: str | float) -> str:
    """A text whose middle sits on ``y``."""
    return element("text", text, x=x, y=y, dy="0.32em", **attrs)


def svg_document(width: float, height: float, title: str, body: list[str]) -> str:
    size = f'width="{coordinate(width)}" height="{coordinate(height)}"'
    view_box = f'viewBox="0 0 {coordinate(width)} {coordinate(height)}"'
    opening = f'<svg {size} {view_box} role="img" font-size="{_FONT_PX}">'
    return "\n".join([opening, f"<title>{escape(title)}</title>", *body, "</svg>"])


class Scale:
    """Maps a data interval onto a pixel interval; an empty interval maps to its middle."""

    def __init__(self, d0: float, d1: float, r0: float, r1: float) -> None:
        self.d0, self.d1, self.r0, self.r1 = d0, d1, r0, r1

    def __call__(self, value: float) -> float:
        if self.d1 == self.d0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (value - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)


def _check_size(width: float, height: float | None) -> None:
    for name, value in (("width", width), ("height", height)):
        if value is not None and not (math.isfinite(value) and value >= 120):
            raise ConfigError(f"chart {name} must be a finite number >= 120 px, got {value!r}")


def _shorten(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _legend(items: Sequence[tuple[str, str, str | None]], right: float) -> tuple[list[str], float]:
    """A legend of (label, colour, dash) items from the top left, wrapped before ``right``.

    A dash of None draws a filled box (for bars) instead of a line.

    Returns:
        the SVG elements, and the y below them.
    """
    parts: list[str] = []
    x, y = 12.0, 14.0
    for label, color, dash in items:
        shown = _shorten(label)
        item_w = 24 + len(shown) * _CHAR_PX + 16
        if x > 12 and x + item_w > right:
            x, y = 12.0, y + 18
        if dash is None:
            parts.append(element("rect", x=x + 3, y=y - 6, width=12, height=12, fill=color))
        else:
            parts.append(_line(x, y, x + 18, y, color, stroke_width=3, stroke_dasharray=dash))
        parts.append(text_at(shown, x + 24, y))
        x += item_w
    return parts, y + 18


def _no_data(width: float, height: float, title: str) -> str:
    text = text_at(
        "no data in this window", width / 2, height / 2, text_anchor="middle", fill=_MUTED
    )
    return svg_document(width, height, title, [text])


def _frame(
    left: float, top: float, right: float, bottom: float, x_label: str, height: float
) -> list[str]:
    """The two axis lines and the x axis's title."""
    axis = {"fill": "none", "stroke": _AXIS}
    return [
        element(
            "path",
            d=f"M{coordinate(left)} {coordinate(top)}V{coordinate(bottom)}H{coordinate(right)}",
            **axis,
        ),
        text_at(x_label, (left + right) / 2, height - 12, text_anchor="middle"),
    ]


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    width: float,
    height: float,
    x_label: str,
    y_label: str,
    x_format: Callable[[float], str],
    y_format: Callable[[float], str] = format_number,
    y_min: float | None = None,
    y_max: float | None = None,
    x_ticks: Callable[[float, float, int], list[float]] = nice_ticks,
    title: str = "",
) -> str:
    """Draw one line per series, with axes, grid lines and a legend.

    Args:
        series: name to (x, y) points, drawn in this order and styled by position.
            Points are sorted by x; points with a non-finite x or y are left out.
        width: the chart's width in px (at least 120).
        height: its height in px (at least 120).
        x_label: the x axis's title, with its unit.
        y_label: the y axis's title, with its unit.
        x_format: writes an x tick (e.g. a time of day).
        y_format: writes a y tick.
        y_min: the bottom of the y axis (e.g. 0 for an accuracy), lowered if the data
            goes below it; by default a nice tick at or below the data.
        y_max: the top of the y axis, likewise.
        x_ticks: picks the x ticks for a (lo, hi, max_ticks) range: :func:`nice_ticks`
            or, for epoch seconds, :func:`time_ticks`.
        title: what the chart shows, for screen readers (its ``<title>``).

    Returns:
        an ``<svg>`` element; it says "no data in this window" when no series has a point.

    Example:
        >>> svg = line_chart({"p50": [(0, 1.5), (60, 2.0)]}, width=600, height=240,
        ...                  x_label="time (s)", y_label="latency (ms)", x_format=str)
    """
    _check_size(width, height)
    title = title or y_label
    clean = {
        name: sorted((x, y) for x, y in points if math.isfinite(x) and math.isfinite(y))
        for name, points in series.items()
    }
    if not any(clean.values()):
        return _no_data(width, height, title)
    xs = [x for points in clean.values() for x, _ in points]
    ys = [y for points in clean.values() for _, y in points]
    # the right margin leaves room for half of the last x tick's label
    left, right, bottom = 72.0, width - 36, height - 44
    styles = [
        (name, SERIES_COLORS[i % len(SERIES_COLORS)], SERIES_DASHES[i % len(SERIES_DASHES)])
        for i, name in enumerate(clean)
    ]
    body, top = _legend(styles, right)

    y_lo = min(ys) if y_min is None or not math.isfinite(y_min) else min(y_min, *ys)
    y_hi = max(ys) if y_max is None or not math.isfinite(y_max) else max(y_max, *ys)
    y_ticks = nice_ticks(y_lo, y_hi, max(2, min(8, int((bottom - top) // 36))))
    y0 = y_lo if y_lo == y_min else y_ticks[0]
    y1 = y_hi if y_hi == y_max else y_ticks[-1]
    sy = Scale(y0, y1, bottom, top)
    for t in y_ticks:
        if y0 - 1e-9 <= t <= y1 + 1e-9:
            body.append(_line(left, sy(t), right, sy(t), _GRID))
            body.append(text_at(y_format(t), left - 8, sy(t), text_anchor="end"))
    ticks = x_ticks(min(xs), max(xs), max(2, int((right - left) // 110)))
    sx = Scale(min(*xs, ticks[0]), max(*xs, ticks[-1]), left, right)
    for t in ticks:
        body.append(_line(sx(t), bottom, sx(t), bottom + 5, _AXIS))
        body.append(text_at(x_format(t), sx(t), bottom + 14, text_anchor="middle"))
    body += _frame(left, top, right, bottom, x_label, height)
    middle = (top + bottom) / 2
    rotate = f"rotate(-90 16 {coordinate(middle)})"
    body.append(element("text", y_label, x=16, y=middle, text_anchor="middle", transform=rotate))

    for (name, color, dash), points in zip(styles, clean.values(), strict=True):
        body.append(f"<g><title>{escape(name)}</title>")
        if len(points) > 1:
            coords = " ".join(f"{coordinate(sx(x))},{coordinate(sy(y))}" for x, y in points)
            line: dict[str, str | float] = {
                "stroke": color,
                "stroke_width": 2,
                "stroke_dasharray": dash,
            }
            body.append(element("polyline", points=coords, fill="none", **line))
        if len(points) <= _MAX_MARKERS:  # past that, dots would hide the line
            body += [element("circle", cx=sx(x), cy=sy(y), r=3, fill=color) for x, y in points]
        body.append("</g>")
    return svg_document(width, height, title, body)


def bar_chart(
    bars: Sequence[tuple[str, float | None, str]],
    *,
    width: float,
    height: float | None = None,
    x_label: str,
    thresholds: Sequence[tuple[float, str]] = (),
    colors: Mapping[str, str],
    value_format: Callable[[float], str] = lambda v: f"{v:.3f}",
    title: str = "",
) -> str:
    """Draw one horizontal bar per (label, value, level), coloured by level.

    Long labels are cut to 28 characters on the axis; each bar's ``<title>`` (a
    tooltip) keeps the whole label. A bar whose value is None or not finite shows its
    level's name instead (e.g. "too few": too few rows to measure).

    Args:
        bars: (label, value, level), drawn top to bottom in this order.
        width: the chart's width in px (at least 120).
        height: its height in px; by default 24 px per bar plus the axes and legend.
        x_label: the value axis's title, with its unit.
        thresholds: (value, label) drawn as dashed vertical lines, each label on its
            own row above the bars so that close lines never overlap.
        colors: level to fill colour; the legend lists them in this order. A level
            not in it is grey.
        value_format: writes the value at the end of each bar.
        title: what the chart shows, for screen readers (its ``<title>``).

    Returns:
        an ``<svg>`` element; it says "no data in this window" when there is no bar.

    Example:
        >>> svg = bar_chart([("age", 0.04, "stable")], width=600, x_label="PSI",
        ...                 thresholds=[(0.1, "moderate")], colors={"stable": "#009E73"})
    """
    _check_size(width, height)
    title = title or x_label
    lines = sorted((value, label) for value, label in thresholds if math.isfinite(value))
    if not bars:
        return _no_data(width, height or 160, title)
    legend: list[tuple[str, str, str | None]] = [(lv, color, None) for lv, color in colors.items()]
    body, legend_bottom = _legend(
        [*legend, ("threshold", _AXIS, "4 3")] if lines else legend, width - 12
    )
    top = legend_bottom + 16 * len(lines)
    row_h = 24.0 if height is None else max(4.0, (height - top - 44) / len(bars))
    bottom = top + row_h * len(bars)
    height = height or bottom + 44
    left = 12 + min(_LABEL_CHARS, max(len(label) for label, _, _ in bars)) * _CHAR_PX
    right = width - 56  # room for the value written after the longest bar

    values = [v for _, v, _ in bars if v is not None and math.isfinite(v)]
    candidates = [0.0, *values, *(value for value, _ in lines)]
    ticks = nice_ticks(min(candidates), max(candidates), max(2, int((right - left) // 70)))
    sx = Scale(ticks[0], ticks[-1], left, right)
    for t in ticks:
        body.append(_line(sx(t), top, sx(t), bottom, _GRID))
        body.append(text_at(format_number(t), sx(t), bottom + 14, text_anchor="middle"))
    for i, (label, value, level) in enumerate(bars):
        y = top + i * row_h
        shown = "" if value is None or not math.isfinite(value) else value_format(value)
        body.append(f"<g><title>{escape(f'{label}: {shown or level} ({level})')}</title>")
        body.append(text_at(_shorten(label), left - 8, y + row_h / 2, text_anchor="end"))
        if value is not None and shown:
            x0, x1 = sorted((sx(0.0), sx(value)))
            box = {"width": max(x1 - x0, 1.0), "height": row_h * 0.7}
            body.append(
                element("rect", x=x0, y=y + row_h * 0.15, fill=colors.get(level, _OTHER), **box)
            )
            body.append(text_at(shown, x1 + 4, y + row_h / 2))
        else:
            muted = {"fill": _MUTED, "font_style": "italic"}
            body.append(text_at(level, sx(0.0) + 4, y + row_h / 2, **muted))
        body.append("</g>")
    for i, (value, label) in enumerate(lines):
        label_y = legend_bottom + 16 * i + 4
        body.append(_line(sx(value), label_y + 6, sx(value), bottom, _AXIS, stroke_dasharray="4 3"))
        # a label that would run past the right edge goes to the left of its line
        if sx(value) + 4 + len(label) * _CHAR_PX > width - 4:
            body.append(text_at(label, sx(value) - 4, label_y, fill=_AXIS, text_anchor="end"))
        else:
            body.append(text_at(label, sx(value) + 4, label_y, fill=_AXIS))
    body += _frame(left, top, right, bottom, x_label, height)
    return svg_document(width, height, title, body)
