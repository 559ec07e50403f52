"""Inline SVG plots of an evaluation, for the HTML card: no plotting library, no URL.

- ``slice_chart``: one metric overall and per slice, a dot at the value and a bar across
  its confidence interval;
- ``confusion_chart``: the confusion matrix as a heat map, shaded by the share of each
  true class (so a rare class reads as clearly as a common one);
- ``calibration_chart``: accuracy against confidence per bin, beside the diagonal of
  perfect calibration;
- ``residual_chart``: the histogram of truth − prediction.

Each is a pure function from numbers to SVG text: the same evaluation gives the same
bytes. Coordinates have at most two decimals, every text is escaped, and non-finite
numbers are left out. The house style is roost.telemetry's report (Okabe-Ito colours).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from roost.telemetry._svg import Scale, coordinate, element, svg_document, text_at

__all__ = ["calibration_chart", "confusion_chart", "residual_chart", "slice_chart"]

_BLUE, _ORANGE, _BLACK = "#0072B2", "#D55E00", "#000000"
_AXIS, _GRID, _MUTED = "#333333", "#e3e3e3", "#666666"
_CHAR_PX = 6.6
_LABEL_CHARS = 28
#: metrics that live between 0 and 1, drawn on that whole axis
_UNIT_METRICS = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc", "calibration_error"})


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _finite(*values: Any) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _label(value: float) -> str:
    """A tick or a count: as short as it can be (``0.2``, ``1``, ``12,500``)."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _metric(value: float) -> str:
    """A metric's value: three decimals, so 1.000 and 0.940 line up."""
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round ticks (1, 2 or 5 times a power of ten) from at or below lo to at or above hi."""
    if hi - lo <= 1e-12:
        lo, hi = lo - (abs(lo) * 0.1 or 1.0), hi + (abs(hi) * 0.1 or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(i * step, 10) + 0.0 for i in range(first, last + 1)]


def _interval_text(value: float | None, lower: float | None, upper: float | None) -> str:
    if value is None or not _finite(value):
        return ""
    if lower is None or upper is None or not _finite(lower, upper):
        return _metric(value)
    return f"{_metric(value)} ({_metric(lower)}–{_metric(upper)})"


def slice_chart(
    rows: Sequence[tuple[str, float | None, float | None, float | None]],
    *,
    metric: str,
    width: float = 640,
) -> str:
    """One metric per row (overall first, then each slice): its value and interval.

    Args:
        rows: (label, value, lower, upper); a row without a value says "not defined".
        metric: the metric's name, for the axis (0 to 1 for a bounded metric).
        width: the chart's width in px.

    Example:
        >>> svg = slice_chart([("all rows", 0.95, 0.9, 0.98), ("region=EU", 0.9, 0.8, 0.97)],
        ...                   metric="accuracy")
    """
    values = [float(v) for _, *vs in rows for v in vs if v is not None and _finite(v)]
    if metric in _UNIT_METRICS:
        lo, hi = min([0.0, *values]), max([1.0, *values])
    else:
        lo, hi = min([0.0, *values]), max([0.0, *values])
    ticks = _ticks(lo, hi, 6)
    left = 16 + min(_LABEL_CHARS, max((len(r[0]) for r in rows), default=4)) * _CHAR_PX
    texts = [_interval_text(value, lower, upper) for _, value, lower, upper in rows]
    right = width - 24 - max((len(t) for t in texts), default=0) * _CHAR_PX
    top, row_h = 12.0, 24.0
    bottom = top + row_h * max(len(rows), 1)
    height = bottom + 44
    sx = Scale(ticks[0], ticks[-1], left, right)
    body = []
    for t in ticks:
        body.append(element("line", x1=sx(t), y1=top, x2=sx(t), y2=bottom, stroke=_GRID))
        body.append(text_at(_label(t), sx(t), bottom + 14, text_anchor="middle"))
    for i, (label, value, lower, upper) in enumerate(rows):
        y = top + row_h * (i + 0.5)
        color = _BLACK if i == 0 else _BLUE
        body.append(f"<g><title>{escape(label)}</title>")
        body.append(text_at(_short(label), left - 8, y, text_anchor="end"))
        if value is None or not math.isfinite(value):
            body.append(
                text_at("not defined", sx(ticks[0]) + 4, y, fill=_MUTED, font_style="italic")
            )
            body.append("</g>")
            continue
        if lower is not None and upper is not None and _finite(lower, upper):
            line: dict[str, str | float] = {"stroke": color, "stroke_width": 2}
            body.append(element("line", x1=sx(lower), y1=y, x2=sx(upper), y2=y, **line))
            for end in (lower, upper):
                body.append(element("line", x1=sx(end), y1=y - 5, x2=sx(end), y2=y + 5, **line))
        body.append(element("circle", cx=sx(value), cy=y, r=4, fill=color))
        body.append(text_at(texts[i], right + 12, y))
        body.append("</g>")
    axis = f"M{coordinate(left)} {coordinate(top)}V{coordinate(bottom)}H{coordinate(right)}"
    body.append(element("path", d=axis, fill="none", stroke=_AXIS))
    body.append(text_at(metric, (left + right) / 2, height - 12, text_anchor="middle"))
    return svg_document(width, height, f"{metric} overall and per slice, with intervals", body)


def _shade(share: float) -> str:
    """White to blue as the share goes from 0 to 1."""
    r, g, b = (round(255 + (c - 255) * share) for c in (0x00, 0x72, 0xB2))
    return f"#{r:02x}{g:02x}{b:02x}"


def confusion_chart(labels: Sequence[Any], matrix: Sequence[Sequence[float]]) -> str:
    """The confusion matrix: rows are the truth, columns the prediction, counts written in.

    Example:
        >>> svg = confusion_chart(["a", "b"], [[5, 1], [0, 6]])
    """
    names = [_short(str(label)) for label in labels]
    n = len(names)
    cell = max(24.0, min(56.0, 420 / max(n, 1)))
    left = 40 + max((len(s) for s in names), default=1) * _CHAR_PX
    top = 40 + max((len(s) for s in names), default=1) * _CHAR_PX
    width, height = left + cell * n + 16, top + cell * n + 16
    body = [
        text_at("predicted", left + cell * n / 2, 12, text_anchor="middle", font_weight="bold"),
        element(
            "text",
            "truth",
            x=14,
            y=top + cell * n / 2,
            text_anchor="middle",
            font_weight="bold",
            transform=f"rotate(-90 14 {coordinate(top + cell * n / 2)})",
        ),
    ]
    for j, name in enumerate(names):
        x = left + cell * (j + 0.5)
        rotate = f"rotate(-90 {coordinate(x)} {coordinate(top - 8)})"
        body.append(element("text", name, x=x, y=top - 8, dy="0.32em", transform=rotate))
    for i, row in enumerate(matrix):
        total = sum(v for v in row if _finite(v)) or 1
        y = top + cell * i
        body.append(text_at(names[i] if i < n else "", left - 8, y + cell / 2, text_anchor="end"))
        for j, count in enumerate(row):
            share = count / total if _finite(count) else 0.0
            x = left + cell * j
            tip = f"truth {names[i] if i < n else i}, predicted {names[j] if j < n else j}: {count}"
            body.append(f"<g><title>{escape(tip)}</title>")
            body.append(
                element(
                    "rect", x=x, y=y, width=cell, height=cell, fill=_shade(share), stroke="#ffffff"
                )
            )
            ink = "#ffffff" if share > 0.5 else _BLACK
            body.append(
                text_at(_label(count), x + cell / 2, y + cell / 2, text_anchor="middle", fill=ink)
            )
            body.append("</g>")
    return svg_document(width, height, "confusion matrix (rows: truth, columns: predicted)", body)


def _plot_frame(
    size: float, margin: float, x_label: str, y_label: str
) -> tuple[list[str], Scale, Scale]:
    """Axes from 0 to 1 on both sides of a square plot, with grid lines every 0.2."""
    sx = Scale(0, 1, margin, size - 16)
    sy = Scale(0, 1, size - margin, 16)
    body = []
    for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        body.append(element("line", x1=sx(t), y1=sy(0), x2=sx(t), y2=sy(1), stroke=_GRID))
        body.append(element("line", x1=sx(0), y1=sy(t), x2=sx(1), y2=sy(t), stroke=_GRID))
        body.append(text_at(coordinate(t), sx(t), sy(0) + 14, text_anchor="middle"))
        body.append(text_at(coordinate(t), sx(0) - 8, sy(t), text_anchor="end"))
    body.append(
        element(
            "path",
            d=f"M{coordinate(sx(0))} {coordinate(sy(1))}V{coordinate(sy(0))}H{coordinate(sx(1))}",
            fill="none",
            stroke=_AXIS,
        )
    )
    body.append(text_at(x_label, (sx(0) + sx(1)) / 2, size - 12, text_anchor="middle"))
    middle = (sy(0) + sy(1)) / 2
    body.append(
        element(
            "text",
            y_label,
            x=14,
            y=middle,
            text_anchor="middle",
            transform=f"rotate(-90 14 {coordinate(middle)})",
        )
    )
    return body, sx, sy


def calibration_chart(bins: Sequence[Mapping[str, Any]], size: float = 360) -> str:
    """Accuracy against mean confidence per bin; dots grow with the bin's rows.

    Example:
        >>> svg = calibration_chart([{"lower": 0.8, "upper": 0.9, "confidence": 0.85,
        ...                           "accuracy": 0.8, "n_rows": 20}])
    """
    body, sx, sy = _plot_frame(size, 56, "confidence", "accuracy")
    diagonal = {"stroke": _MUTED, "stroke_dasharray": "4 3"}
    body.append(element("line", x1=sx(0), y1=sy(0), x2=sx(1), y2=sy(1), **diagonal))
    points = [
        b for b in bins if _finite(b.get("confidence"), b.get("accuracy")) and b.get("n_rows")
    ]
    largest = max((int(b["n_rows"]) for b in points), default=1)
    if len(points) > 1:
        coords = " ".join(
            f"{coordinate(sx(b['confidence']))},{coordinate(sy(b['accuracy']))}" for b in points
        )
        body.append(element("polyline", points=coords, fill="none", stroke=_ORANGE, stroke_width=2))
    for b in points:
        tip = (
            f"confidence {_label(b['lower'])}–{_label(b['upper'])}: accuracy "
            f"{_label(b['accuracy'])} at {_label(b['confidence'])}, {b['n_rows']} rows"
        )
        radius = 3 + 5 * math.sqrt(int(b["n_rows"]) / largest)
        dot = element(
            "circle", cx=sx(b["confidence"]), cy=sy(b["accuracy"]), r=radius, fill=_ORANGE
        )
        body.append(f"<g><title>{escape(tip)}</title>{dot}</g>")
    return svg_document(size, size, "calibration: accuracy against confidence", body)


def residual_chart(edges: Sequence[float], counts: Sequence[int], width: float = 640) -> str:
    """The histogram of residuals (truth − prediction), with a line at zero.

    Example:
        >>> svg = residual_chart([-1.0, 0.0, 1.0], [3, 5])
    """
    pairs = [
        (a, b, c) for a, b, c in zip(edges, edges[1:], counts, strict=False) if _finite(a, b, c)
    ]
    # the margins leave room for half of the first and last tick's label
    height, left, right, top = 260.0, 56.0, width - 32, 16.0
    bottom = height - 44
    if not pairs:
        return svg_document(
            width,
            height,
            "residuals",
            [text_at("no residuals", width / 2, height / 2, text_anchor="middle")],
        )
    x_ticks = _ticks(min(p[0] for p in pairs), max(p[1] for p in pairs), 7)
    y_ticks = _ticks(0, max(max(p[2] for p in pairs), 1), 5)
    sx = Scale(x_ticks[0], x_ticks[-1], left, right)
    sy = Scale(0, y_ticks[-1], bottom, top)
    body = []
    for t in y_ticks:
        body.append(element("line", x1=left, y1=sy(t), x2=right, y2=sy(t), stroke=_GRID))
        body.append(text_at(_label(t), left - 8, sy(t), text_anchor="end"))
    for t in x_ticks:
        body.append(text_at(_label(t), sx(t), bottom + 14, text_anchor="middle"))
    for lo, hi, count in pairs:
        bar = element(
            "rect",
            x=sx(lo),
            y=sy(count),
            width=max(sx(hi) - sx(lo) - 1, 1),
            height=bottom - sy(count),
            fill=_BLUE,
        )
        body.append(
            f"<g><title>{escape(f'{_label(lo)} to {_label(hi)}: {count} rows')}</title>{bar}</g>"
        )
    if x_ticks[0] <= 0 <= x_ticks[-1]:
        body.append(
            element(
                "line",
                x1=sx(0),
                y1=top,
                x2=sx(0),
                y2=bottom,
                stroke=_ORANGE,
                stroke_dasharray="4 3",
            )
        )
    body.append(
        element(
            "path",
            d=f"M{coordinate(left)} {coordinate(top)}V{coordinate(bottom)}H{coordinate(right)}",
            fill="none",
            stroke=_AXIS,
        )
    )
    body.append(
        text_at(
            "residual (truth − prediction)", (left + right) / 2, height - 12, text_anchor="middle"
        )
    )
    return svg_document(width, height, "residuals: truth − prediction", body)
