"""The telemetry report page: latency buckets, and one self-contained, escaped HTML file.

The page's snapshot lives in ``snapshots/telemetry_report.html``. After a deliberate
change to the page, rewrite it with
``ROOST_UPDATE_SNAPSHOTS=1 pytest tests/telemetry/test_report_html.py`` and review the diff
(open the file in a browser too).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from roost.errors import ConfigError
from roost.telemetry.report import (
    AccuracyPoint,
    DriftBar,
    LatencyPoint,
    TelemetryReport,
    bucket_latencies,
    choose_bucket_s,
    render_html,
)

SNAPSHOT = Path(__file__).parent / "snapshots" / "telemetry_report.html"
T0 = 1_714_521_600.0  # 2024-05-01T00:00:00Z
HOUR = 3600.0
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def sample_report(**changes: Any) -> TelemetryReport:
    """Six hours of a fraud model: v3 answering, then a v4 canary; fixed numbers."""
    samples = [
        (T0 + i * 7.0, 8.0 + (i % 13) * 0.9 + (25.0 if i % 97 == 0 else 0.0))
        for i in range(6 * 3600 // 7)
    ]
    accuracy = [AccuracyPoint(T0 + h * HOUR, 3, 180 + h, 0.95 - h * 0.01) for h in range(6)]
    accuracy += [AccuracyPoint(T0 + h * HOUR, 4, 40 + h, 0.9 + h * 0.02) for h in (3, 4, 5)]
    report = TelemetryReport(
        model="fraud",
        versions=[3, 4],
        since=T0,
        until=T0 + 6 * HOUR,
        generated_at=T0 + 6 * HOUR + 42,
        requests=len(samples),
        rows=len(samples) * 3,
        latency_p50_ms=13.4,
        latency_p99_ms=39.5,
        latency=bucket_latencies(samples, choose_bucket_s(6 * HOUR)),
        accuracy_metric="accuracy",
        accuracy=accuracy,
        overall=[(3, 1095, 0.925), (4, 129, 0.92)],
        drift_features=[
            DriftBar("amount", 0.031, "stable", 3085),
            DriftBar("merchant_category", 0.142, "moderate", 3085),
            DriftBar("country", 0.318, "major", 3085),
            DriftBar("customer_lifetime_value_bucket_normalised", 0.087, "stable", 3085),
            DriftBar("promo_code", None, "too few", 12),
        ],
        drift_outputs=[DriftBar("is_fraud", 0.012, "stable", 3085)],
        feedback={
            "recorded": 1224,
            "duplicates": 3,
            "unmatched": 17,
            "late": 5,
            "median_delay_s": 5400.0,
        },
        sink="postgresql://roost:***@db.internal:5432/telemetry",
        notes=["v4 answered only from 03:00 on: it is a canary."],
    )
    return dataclasses.replace(report, **changes)


def empty_report() -> TelemetryReport:
    return sample_report(
        versions=[],
        requests=0,
        rows=0,
        latency_p50_ms=None,
        latency_p99_ms=None,
        latency=[],
        accuracy=[],
        overall=[],
        drift_features=[],
        drift_outputs=[],
        feedback={},
        notes=["no baseline in the package: drift not computed"],
    )


class StrictParser(HTMLParser):
    """Records every start tag and its attributes, and every nesting error."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.open == [], "every element is closed"
    return parser


def svgs(page: str) -> list[ET.Element]:
    chunks = page.split("<svg ")[1:]
    return [ET.fromstring("<svg " + chunk.split("</svg>")[0] + "</svg>") for chunk in chunks]


def test_bucket_latencies_nearest_rank_hand_checked() -> None:
    # one a second, 100 ms down to 1 ms: 100..41 fall in the first minute, 40..1 in the second
    samples = [(T0 + i, float(v)) for i, v in enumerate(range(100, 0, -1))]
    samples += [(T0 + 60 + i, float(v)) for i, v in enumerate([7, 1, 9, 3, 5, 2, 10, 4, 8, 6])]
    first, second = bucket_latencies(samples, 60)
    # 60 values 41..100: p50 is the ceil(30)th = 70, p99 the ceil(59.4)th = 100
    assert first == LatencyPoint(T0, 60, 70.0, 100.0)
    # 50 values 1,1,2,2..10,10,11..40: p50 is the 25th = 15, p99 the ceil(49.5)th = 40
    assert second == LatencyPoint(T0 + 60, 50, 15.0, 40.0)
    (only,) = bucket_latencies([(T0, float(v)) for v in range(1, 11)], 60)
    assert (only.p50_ms, only.p99_ms) == (5.0, 10.0)


def test_bucket_latencies_aligns_buckets_to_multiples_of_the_width() -> None:
    points = bucket_latencies([(T0 + 299.9, 2.0), (T0 + 5.0, 1.0), (T0 + 300.0, 3.0)], 300)
    assert [p.start for p in points] == [T0, T0 + 300]
    assert [p.requests for p in points] == [2, 1]
    assert points[0].p99_ms == 2.0


def test_bucket_latencies_leaves_out_empty_buckets_and_bad_samples() -> None:
    samples = [(T0, 4.0), (T0 + 3 * HOUR, 6.0), (math.nan, 1.0), (T0, math.inf)]
    points = bucket_latencies(samples, HOUR)
    assert points == [LatencyPoint(T0, 1, 4.0, 4.0), LatencyPoint(T0 + 3 * HOUR, 1, 6.0, 6.0)]
    assert bucket_latencies([], 60) == []


@pytest.mark.parametrize("bucket_s", [0.0, -60.0, math.nan], ids=["zero", "negative", "nan"])
def test_bucket_latencies_bad_width_raises(bucket_s: float) -> None:
    with pytest.raises(ConfigError, match="bucket_s"):
        bucket_latencies([(T0, 1.0)], bucket_s)


@pytest.mark.parametrize(
    ("span_s", "bucket_s"),
    [
        (0, 10),
        (600, 10),
        (601, 60),
        (2 * HOUR, 60),
        (2 * HOUR + 1, 300),
        (12 * HOUR, 300),
        (12 * HOUR + 1, HOUR),
        (7 * 86400, HOUR),
        (7 * 86400 + 1, 86400),
        (365 * 86400, 86400),
    ],
)
def test_choose_bucket_s_at_the_limits(span_s: float, bucket_s: float) -> None:
    assert choose_bucket_s(span_s) == bucket_s


@pytest.mark.parametrize("span_s", [-1.0, math.nan, math.inf], ids=["negative", "nan", "inf"])
def test_choose_bucket_s_bad_span_raises(span_s: float) -> None:
    with pytest.raises(ConfigError, match="span_s"):
        choose_bucket_s(span_s)


def test_report_unknown_accuracy_metric_raises() -> None:
    with pytest.raises(ConfigError, match="accuracy_metric"):
        sample_report(accuracy_metric="f1")


def test_render_html_matches_snapshot() -> None:
    page = render_html(sample_report())
    if os.environ.get("ROOST_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(page, encoding="utf-8")
    if not SNAPSHOT.is_file():
        pytest.fail(f"no snapshot at {SNAPSHOT}: ROOST_UPDATE_SNAPSHOTS=1 writes it")
    expected = SNAPSHOT.read_text(encoding="utf-8")
    assert page == expected, "the page changed: ROOST_UPDATE_SNAPSHOTS=1 rewrites it"


@pytest.mark.parametrize("report", [sample_report(), empty_report()], ids=["full", "empty"])
def test_render_html_references_nothing_outside_the_file(report: TelemetryReport) -> None:
    page = render_html(report)
    assert "http://" not in page
    assert "https://" not in page
    assert "url(" not in page
    assert "@import" not in page
    for tag, attrs in parse(page).tags:
        assert not {"src", "href", "xlink:href"} & attrs.keys(), tag
        assert tag not in ("script", "link", "img", "iframe", "object")


@pytest.mark.parametrize("report", [sample_report(), empty_report()], ids=["full", "empty"])
def test_render_html_is_a_well_formed_document(report: TelemetryReport) -> None:
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>\n")
    assert re.search(r"\b(nan|inf|infinity)\b", page, re.IGNORECASE) is None
    tags = [tag for tag, _ in parse(page).tags]
    head = tags[: tags.index("body")]
    assert head == ["html", "head", "meta", "meta", "title", "style"]


def test_render_html_draws_every_chart_as_inline_svg() -> None:
    page = render_html(sample_report())
    charts = svgs(page)
    assert len(charts) == 4  # latency, accuracy, feature drift, output drift
    titles = [chart.findtext("title") or "" for chart in charts]
    assert "latency" in titles[0].lower()
    assert "accuracy" in titles[1].lower()
    assert "feature" in titles[2]
    assert "output" in titles[3]
    for chart in charts:
        assert chart.find("text") is not None, "axis labels"
    latency_labels = [t.text for t in charts[0].iter("text")]
    assert {"p50", "p99", "latency (ms)", "time (UTC, 2024-05-01)"} <= set(latency_labels)
    accuracy_labels = [t.text for t in charts[1].iter("text")]
    assert {"v3", "v4", "accuracy (%)", "0%", "100%"} <= set(accuracy_labels)
    assert len(list(charts[1].iter("polyline"))) == 2, "one line per version"
    bars = [rect for group in charts[2].iter("g") for rect in group.iter("rect")]
    assert len(bars) == 4, "promo_code has too few values for a bar"


def test_render_html_shows_the_summary_and_notes() -> None:
    text = " ".join(parse(render_html(sample_report())).text)
    for expected in (
        "Telemetry — fraud",
        "2024-05-01T00:00:00Z to 2024-05-01T06:00:00Z (6.0 h)",
        "3,085",  # requests
        "13.4 ms / 39.5 ms",
        "92.5% on 1,095 rows",
        "1,224",
        "1.5 h",  # median feedback delay
        "postgresql://roost:***@db.internal:5432/telemetry",
        "v4 answered only from 03:00 on: it is a canary.",
    ):
        assert expected in text


def test_render_html_tables_repeat_the_chart_numbers() -> None:
    report = sample_report()
    text = " ".join(parse(render_html(report)).text)
    first = report.latency[0]
    assert f"{first.p99_ms:.1f} ms" in text
    assert "2024-05-01T05:00:00Z" in text
    assert "0.318" in text
    assert "customer_lifetime_value_bucket_normalised" in text, "whole names in the tables"


def test_render_html_regressor_shows_mae() -> None:
    points = [AccuracyPoint(T0 + h * HOUR, 3, 100, 12.5 + h) for h in range(3)]
    page = render_html(
        sample_report(accuracy_metric="mae", accuracy=points, overall=[(3, 300, 13.5)])
    )
    text = " ".join(parse(page).text)
    assert "Production mean absolute error (MAE)" in text
    assert "MAE of v3" in text
    assert "13.5 on 300 rows" in text
    labels = [t.text or "" for t in svgs(page)[1].iter("text")]
    assert "mean absolute error" in labels
    assert not any(label.endswith("%") for label in labels)


def test_render_html_empty_report_shows_placeholders_not_charts() -> None:
    page = render_html(empty_report())
    text = " ".join(parse(page).text)
    assert "<svg" not in page
    assert text.count("No data in this window") == 4
    assert "no baseline in the package: drift not computed" in text
    assert "the first record" not in text


def test_render_html_all_history_window() -> None:
    text = " ".join(parse(render_html(sample_report(since=None))).text)
    assert "the first record to 2024-05-01T06:00:00Z" in text


def test_render_html_escapes_everything_from_the_data() -> None:
    hostile = "<script>alert(1)</script>"
    report = sample_report(
        model=hostile,
        drift_features=[DriftBar("a<b&c", 0.2, "moderate", 500)],
        drift_outputs=[DriftBar('"><img>', 0.01, "<i>", 500)],
        sink="sqlite:///tmp/t.db?x=<y>&z",
        notes=[hostile],
    )
    page = render_html(report)
    parser = parse(page)
    assert "<script" not in page
    assert "<img" not in page
    assert "a<b&c" not in page
    assert "<y>" not in page
    text = " ".join(parser.text)
    assert f"Telemetry — {hostile}" in text
    assert "a<b&c" in text
    assert all(tag not in ("script", "img", "i") for tag, _ in parser.tags)
    for chart in svgs(page):
        assert chart.tag == "svg"
