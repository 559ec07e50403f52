"""Telemetry volume and cost estimates."""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing
from dataclasses import astuple
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from roost.errors import ConfigError
from roost.telemetry import open_sink
from roost.telemetry._records import PredictionRecord
from roost.telemetry.estimate import (
    RECORD_OVERHEAD_BYTES,
    VolumeEstimate,
    estimate_volume,
    format_bytes,
    record_bytes,
)


def _record(**changes: Any) -> PredictionRecord:
    fields: dict[str, Any] = {
        "prediction_id": "p1",
        "timestamp": 0.0,
        "model": "m",
        "version": 1,
        "protocol": "v1",
        "inputs": [{"x": 1}],
        "outputs": [0],
        "latency_ms": 1.0,
    }
    return PredictionRecord(**(fields | changes))


# ------------------------------------------------------------- record_bytes


def test_record_bytes_hand_computed() -> None:
    # '[{"x":1}]' 9 + '[0]' 3 + "p1" "m" "v1" 5 + three numbers 24 + overhead
    assert record_bytes(_record()) == 9 + 3 + 5 + 24 + RECORD_OVERHEAD_BYTES
    assert RECORD_OVERHEAD_BYTES == 100


@pytest.mark.parametrize("rows", [1, 4, 16])
def test_record_bytes_is_close_to_what_the_sqlite_sink_stores(rows: int, tmp_path: Path) -> None:
    """The estimate says what a SQLite file really grows by: at most 15% above, never below."""
    row = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    output = {"label": "setosa", "probabilities": [0.98, 0.015, 0.005]}
    records = [
        PredictionRecord(
            f"{i:032x}", 1.8e9 + i / 1000, "iris", 1, "v1", [row] * rows, [output] * rows, 1.25
        )
        for i in range(5000)
    ]
    path = tmp_path / "telemetry.sqlite3"
    sink = open_sink(str(path))
    for start in range(0, len(records), 1000):  # as the prediction log writes them
        sink.write_predictions(records[start : start + 1000])
    sink.close()
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file holds everything
    stored = path.stat().st_size / len(records)
    assert stored <= record_bytes(records[0]) <= stored * 1.15


def test_record_bytes_counts_utf8_text_and_the_path() -> None:
    plain = record_bytes(_record())

    # "é" is 2 bytes in UTF-8; '["a","b"]' is 9
    assert record_bytes(_record(model="é")) == plain + 1
    assert record_bytes(_record(path=["a", "b"])) == plain + 9


def test_record_bytes_grows_with_rows() -> None:
    one = record_bytes(_record(inputs=[[1.5, 2.5]], outputs=[1]))
    three = record_bytes(_record(inputs=[[1.5, 2.5]] * 3, outputs=[1] * 3))

    # each extra row adds ',[1.5,2.5]' (10) and ',1' (2)
    assert three - one == 2 * (10 + 2)


def test_record_bytes_encodes_numpy_values() -> None:
    record = _record(inputs=[np.array([1.5, 2.5])], outputs=[np.float64(0.5)])

    assert record_bytes(record) == len("[[1.5,2.5]]") + len("[0.5]") + 5 + 24 + 100


def test_record_bytes_unencodable_value_raises_type_error() -> None:
    with pytest.raises(TypeError):
        record_bytes(_record(inputs=[object()]))


# ------------------------------------------------------------- estimate_volume


def test_estimate_volume_hand_computed() -> None:
    est = estimate_volume(
        record_bytes=500,
        rate_per_s=20,
        sample_rate=0.5,
        retention_days=90,
        price_per_gb_month=0.1,
        feedback_rate=0.2,
        feedback_bytes=150,
    )

    # 20/s * 0.5 * 86,400 s = 864,000 records; 172,800 feedback
    # 864,000 * 500 + 172,800 * 150 = 432,000,000 + 25,920,000 bytes a day
    # 30 days of it is 13.7376 GB; 90 days held, 41.2128 GB at 0.1 a GB-month
    assert astuple(est) == pytest.approx(
        astuple(VolumeEstimate(864_000, 172_800, 457_920_000, 13.7376, 41.2128, 4.12128))
    )


def test_estimate_volume_defaults() -> None:
    """Everything logged, 30 days kept, no feedback, 0.023 per GB-month."""
    est = estimate_volume(record_bytes=1000, rate_per_s=1)

    assert est.feedback_per_day == 0
    assert est.stored_gb == pytest.approx(est.gb_per_month)
    assert est.stored_gb == pytest.approx(2.592)
    assert est.cost_per_month == pytest.approx(2.592 * 0.023)


def test_estimate_volume_zero_rate_is_zero() -> None:
    est = estimate_volume(record_bytes=1000, rate_per_s=0)

    assert (est.records_per_day, est.bytes_per_day, est.cost_per_month) == (0, 0, 0)


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("record_bytes", -1),
        ("rate_per_s", -0.5),
        ("rate_per_s", math.nan),
        ("rate_per_s", math.inf),
        ("sample_rate", 1.5),
        ("sample_rate", -0.1),
        ("retention_days", -1),
        ("price_per_gb_month", -0.01),
        ("feedback_rate", 2),
        ("feedback_bytes", -5),
        ("rate_per_s", "10"),
        ("sample_rate", True),
    ],
    ids=[
        "negative-bytes",
        "negative-rate",
        "nan-rate",
        "inf-rate",
        "sample-above-1",
        "sample-below-0",
        "negative-retention",
        "negative-price",
        "feedback-above-1",
        "negative-feedback-bytes",
        "text",
        "bool",
    ],
)
def test_estimate_volume_bad_argument_raises_naming_it(argument: str, value: Any) -> None:
    arguments: dict[str, Any] = {"record_bytes": 100, "rate_per_s": 1.0, argument: value}

    with pytest.raises(ConfigError, match=rf"^{argument}: expected a number"):
        estimate_volume(**arguments)


# ------------------------------------------------------------- format_bytes


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (999.6, "1.0 kB"),
        (1000, "1.0 kB"),
        (1_234_567, "1.2 MB"),
        (999_999, "1.0 MB"),
        (41.2128e9, "41.2 GB"),
        (3e15, "3.0 PB"),
        (5e21, "5000.0 EB"),
    ],
    ids=["zero", "bytes", "rounds-up", "kB", "MB", "no-1000-kB", "GB", "PB", "past-the-last"],
)
def test_format_bytes_uses_decimal_units(n: float, text: str) -> None:
    assert format_bytes(n) == text


@pytest.mark.parametrize("n", [-1, math.nan], ids=["negative", "nan"])
def test_format_bytes_bad_count_raises(n: float) -> None:
    with pytest.raises(ConfigError, match="n: expected"):
        format_bytes(n)
