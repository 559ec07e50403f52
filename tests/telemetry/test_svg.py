"""The inline SVG charts: nice ticks, valid SVG for any data, escaped text, no NaN."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET

import pytest

from roost.errors import ConfigError
from roost.telemetry._svg import bar_chart, format_number, line_chart, nice_ticks, time_ticks

HOUR = 3600.0
T0 = 1_714_521_600.0  # 2024-05-01T00:00:00Z
COLORS = {"stable": "#009E73", "moderate": "#E69F00", "major": "#D55E00"}
NON_FINITE = re.compile(r"\b(nan|inf|infinity)\b", re.IGNORECASE)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "svg"
    return root


def line(series: dict[str, list[tuple[float, float]]]) -> str:
    return line_chart(
        series,
        width=600,
        height=260,
        x_label="time (s)",
        y_label="latency (ms)",
        x_format=format_number,
    )


def bars(items: list[tuple[str, float | None, str]]) -> str:
    thresholds = [(0.1, "0.1 moderate"), (0.25, "0.25 major")]
    return bar_chart(items, width=600, x_label="PSI", thresholds=thresholds, colors=COLORS)


def circles(root: ET.Element) -> list[tuple[float, float]]:
    return [(float(c.attrib["cx"]), float(c.attrib["cy"])) for c in root.iter("circle")]


def bar_rects(root: ET.Element) -> list[ET.Element]:
    """The bars: one group per bar holds its rect (the legend's boxes are outside groups)."""
    return [rect for group in root.iter("g") for rect in group.iter("rect")]


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter("text")]


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(0.03, 0.91), (0.0, 1234.0), (-7.5, 3.2), (1e-5, 3e-5), (12.0, 980_000.0), (0.9, 0.97)],
    ids=["fraction", "hundreds", "negative", "tiny", "wide", "narrow"],
)
def test_nice_ticks_cover_data_in_1_2_5_steps(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi)
    steps = {round(b - a, 12) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1, "evenly spaced"
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 9) in (1.0, 2.0, 5.0)
    assert ticks[0] <= lo
    assert ticks[-1] >= hi
    assert 2 <= len(ticks) <= 6
    assert all(round(t / step, 9).is_integer() for t in ticks), "ticks are multiples of the step"


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (0.03, 0.91, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.0, 1234.0, [0.0, 500.0, 1000.0, 1500.0]),
        (0.05, 1.05, [0.0, 0.5, 1.0, 1.5]),
        (3.0, 17.0, [0.0, 5.0, 10.0, 15.0, 20.0]),
    ],
    ids=["fraction", "hundreds", "off-by-one-tick", "units"],
)
def test_nice_ticks_hand_checked(lo: float, hi: float, expected: list[float]) -> None:
    assert nice_ticks(lo, hi) == expected


@pytest.mark.parametrize("value", [5.0, 0.0, -2.0], ids=["positive", "zero", "negative"])
def test_nice_ticks_flat_range_is_padded_around_the_value(value: float) -> None:
    ticks = nice_ticks(value, value)
    assert ticks[0] < value < ticks[-1]


@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "inf"])
def test_nice_ticks_non_finite_range_raises(bad: float) -> None:
    with pytest.raises(ConfigError, match="finite"):
        nice_ticks(0.0, bad)


def test_time_ticks_fall_on_whole_hours_inside_the_range() -> None:
    lo, hi = T0 + 7 * 60, T0 + 6 * HOUR + 7 * 60  # 00:07 to 06:07
    ticks = time_ticks(lo, hi, 6)
    assert ticks == [T0 + h * 2 * HOUR for h in (1, 2, 3)]


def test_time_ticks_use_days_for_long_ranges() -> None:
    ticks = time_ticks(T0 - 1, T0 + 30 * 86400, 6)
    assert all(t % 86400 == 0 for t in ticks)
    assert 2 <= len(ticks) <= 6


def test_time_ticks_single_instant_gives_one_tick() -> None:
    assert time_ticks(T0 + 0.5, T0 + 0.5) == [T0 + 0.5]


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.30000000000000004, "0.3"), (1500.0, "1500"), (-0.0, "0"), (2.5e-4, "0.00025")],
    ids=["float-noise", "integer", "negative-zero", "small"],
)
def test_format_number_writes_plain_decimals(value: float, text: str) -> None:
    assert format_number(value) == text


def test_line_chart_single_point_is_valid_svg_with_a_dot() -> None:
    root = parse(line({"p50": [(T0, 12.0)]}))
    assert len(circles(root)) == 1
    assert list(root.iter("polyline")) == []


def test_line_chart_flat_series_is_valid_svg_with_the_line_inside() -> None:
    svg = line({"p50": [(0.0, 5.0), (60.0, 5.0), (120.0, 5.0)]})
    root = parse(svg)
    (polyline,) = root.iter("polyline")
    ys = {float(p.split(",")[1]) for p in polyline.attrib["points"].split()}
    assert len(ys) == 1
    assert 0 < ys.pop() < 260
    assert NON_FINITE.search(svg) is None


def test_line_chart_drops_non_finite_points_and_writes_no_nan() -> None:
    points = [(0.0, 1.0), (1.0, math.nan), (2.0, math.inf), (math.nan, 3.0), (3.0, 2.0)]
    svg = line({"p99": points})
    assert len(circles(parse(svg))) == 2
    assert NON_FINITE.search(svg) is None


def test_line_chart_without_points_says_no_data() -> None:
    root = parse(line({"p50": [], "p99": [(1.0, math.nan)]}))
    assert texts(root) == ["no data in this window"]


def test_line_chart_points_stay_inside_the_plot_and_follow_the_data() -> None:
    root = parse(line({"a": [(0.0, 0.0), (10.0, 100.0), (20.0, 50.0)]}))
    (x0, y0), (x1, y1), (x2, y2) = circles(root)
    assert all(0 < x < 600 and 0 < y < 260 for x, y in circles(root))
    assert x0 < x1 < x2
    assert y1 < y2 < y0, "SVG y grows downwards: a larger value sits higher"


def test_line_chart_fixed_bounds_are_the_axis_ends() -> None:
    root = parse(
        line_chart(
            {"v3": [(0.0, 0.93), (60.0, 0.95)]},
            width=600,
            height=260,
            x_label="t",
            y_label="accuracy",
            x_format=format_number,
            y_format=lambda v: f"{v:.0%}",
            y_min=0.0,
            y_max=1.0,
        )
    )
    labels = texts(root)
    assert "0%" in labels
    assert "100%" in labels
    assert "120%" not in labels


def test_line_chart_draws_a_legend_entry_per_series_in_order() -> None:
    root = parse(line({"v3": [(0.0, 1.0), (1.0, 2.0)], "v4": [(0.0, 2.0), (1.0, 1.0)]}))
    labels = texts(root)
    assert labels.index("v3") < labels.index("v4")
    strokes = [p.attrib["stroke"] for p in root.iter("polyline")]
    assert len(set(strokes)) == 2, "each series has its own colour"


def test_line_chart_same_input_gives_same_text() -> None:
    series = {"p50": [(T0 + i * 60, 10.0 + i % 7) for i in range(30)]}
    assert line(series) == line(dict(series))


def test_charts_escape_labels() -> None:
    svg = line_chart(
        {"<v3> & co": [(0.0, 1.0), (1.0, 2.0)]},
        width=600,
        height=260,
        x_label="time <UTC>",
        y_label="a & b",
        x_format=format_number,
        title="</svg><script>",
    )
    root = parse(svg)
    assert "<v3>" not in svg
    assert "<script>" not in svg
    assert "<v3> & co" in texts(root)
    assert "time <UTC>" in texts(root)
    bar_svg = bars([("x<y&z", 0.2, "moderate")])
    assert "x<y&z" not in bar_svg
    assert "x<y&z" in texts(parse(bar_svg))


def test_bar_chart_bar_lengths_are_proportional_to_values() -> None:
    root = parse(bars([("age", 0.1, "moderate"), ("zip", 0.3, "major")]))
    widths = [float(r.attrib["width"]) for r in bar_rects(root)]
    starts = {r.attrib["x"] for r in bar_rects(root)}
    assert len(starts) == 1, "bars share their origin"
    assert widths[1] == pytest.approx(3 * widths[0], abs=0.02)


def test_bar_chart_colours_bars_by_level_and_unknown_levels_grey() -> None:
    root = parse(bars([("a", 0.01, "stable"), ("b", 0.5, "major"), ("c", 0.2, "odd")]))
    fills = [r.attrib["fill"] for r in bar_rects(root)]
    assert fills == ["#009E73", "#D55E00", "#999999"]


def test_bar_chart_draws_thresholds_as_dashed_lines_with_labels() -> None:
    root = parse(bars([("age", 0.04, "stable")]))
    dashed = [
        el for el in root.iter("line") if el.attrib.get("stroke-dasharray") and el.attrib["y2"]
    ]
    lines_x = sorted(float(el.attrib["x1"]) for el in dashed if el.attrib["x1"] == el.attrib["x2"])
    assert len(lines_x) == 2
    assert lines_x[0] < lines_x[1]
    labels = texts(root)
    assert "0.1 moderate" in labels
    assert "0.25 major" in labels
    assert "threshold" in labels, "the legend explains the dashed lines"
    assert [name for name in COLORS if name in labels] == list(COLORS)


def test_bar_chart_threshold_label_at_the_right_edge_stays_inside() -> None:
    root = parse(bars([("score", 0.01, "stable")]))  # the axis ends at the 0.25 line
    (label,) = [t for t in root.iter("text") if t.text == "0.25 major"]
    assert label.attrib["text-anchor"] == "end"
    assert float(label.attrib["x"]) < 600


def test_bar_chart_missing_value_shows_its_level_and_no_bar() -> None:
    svg = bars([("rare", None, "too few"), ("odd", math.nan, "too few")])
    root = parse(svg)
    assert bar_rects(root) == []
    assert texts(root).count("too few") == 2
    assert NON_FINITE.search(svg) is None


def test_bar_chart_cuts_long_labels_but_keeps_them_in_the_tooltip() -> None:
    name = "customer_lifetime_value_bucket_normalised"
    root = parse(bars([(name, 0.2, "moderate")]))
    assert name not in texts(root)
    assert any(t.endswith("…") and name.startswith(t[:-1]) for t in texts(root))
    assert any(name in (title.text or "") for title in root.iter("title"))


def test_bar_chart_grows_with_the_number_of_bars() -> None:
    few = parse(bars([("a", 0.1, "stable")]))
    many = parse(bars([(f"f{i}", 0.1, "stable") for i in range(20)]))
    assert float(many.attrib["height"]) > float(few.attrib["height"]) + 20 * 19


def test_bar_chart_without_bars_says_no_data() -> None:
    assert texts(parse(bars([]))) == ["no data in this window"]


@pytest.mark.parametrize("width", [0, 50, math.nan, math.inf], ids=["zero", "small", "nan", "inf"])
def test_charts_refuse_a_size_they_cannot_draw(width: float) -> None:
    with pytest.raises(ConfigError, match="width"):
        bar_chart([], width=width, x_label="PSI", colors=COLORS)
