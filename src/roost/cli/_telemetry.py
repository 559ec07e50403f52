"""``roost serve``'s telemetry options, and the ``roost telemetry`` commands."""

from __future__ import annotations

import json
import math
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from roost.cli._output import heading, key_value_table, plain_table, stdout_console
from roost.cli._params import RefArgument
from roost.cli._session import session_of
from roost.config import Settings, TelemetryConfig
from roost.errors import ConfigError, TelemetryError
from roost.store import Registry

__all__ = [
    "default_telemetry_url",
    "parse_duration",
    "parse_sample_options",
    "telemetry_app",
    "telemetry_config",
]

telemetry_app = typer.Typer(
    help="What served models did in production: reports and volume estimates.",
    no_args_is_help=True,
)

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}

#: the SQLite file telemetry writes to when no URL is given, in the roost home
TELEMETRY_FILE = "telemetry.sqlite3"


def default_telemetry_url(settings: Settings) -> str:
    """``ROOST_TELEMETRY_URL`` if set, else a SQLite file in the roost home."""
    return settings.telemetry_url or str(Path(settings.store.home) / TELEMETRY_FILE)


def parse_sample_options(texts: list[str]) -> tuple[float, dict[str, float]]:
    """Read ``--sample RATE`` and ``--sample NAME=RATE`` options: (default, per model).

    Raises:
        ConfigError: a rate is not a number from 0 to 1, or the default is given twice.

    Example:
        >>> parse_sample_options(["0.1", "iris=1"])
        (0.1, {'iris': 1.0})
    """
    default: float | None = None
    per_model: dict[str, float] = {}
    for text in texts:
        name, equals, rate_text = text.rpartition("=")
        try:
            rate = float(rate_text)
        except ValueError:
            rate = float("nan")
        if not 0 <= rate <= 1 or (equals and not name.strip()):
            raise ConfigError(
                f"--sample: expected RATE or NAME=RATE with RATE from 0 to 1, got {text!r}"
            )
        if equals:
            per_model[name.strip()] = rate
        elif default is not None:
            raise ConfigError(f"--sample: the default rate is given twice ({default:g}, {rate:g})")
        else:
            default = rate
    return (1.0 if default is None else default), per_model


def telemetry_config(
    settings: Settings, *, enabled: bool, url: str | None, samples: list[str]
) -> TelemetryConfig | None:
    """What ``roost serve`` logs: None unless ``--telemetry`` or ``--telemetry-url`` is given.

    Raises:
        ConfigError: ``--sample`` without telemetry switched on, or a malformed rate.
    """
    if not enabled and url is None:
        if samples:
            raise ConfigError("--sample: expected --telemetry too (nothing is logged without it)")
        return None
    rate, per_model = parse_sample_options(samples)
    return TelemetryConfig(
        url=url or default_telemetry_url(settings), sample_rate=rate, sample_rates=per_model
    )


def parse_duration(text: str, option: str = "--since") -> float:
    """``30s``, ``15m``, ``1h``, ``2d`` or ``1w`` in seconds.

    Raises:
        ConfigError: anything else, naming the option.

    Example:
        >>> parse_duration("90m")
        5400.0
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if match is None:
        raise ConfigError(f"{option}: expected a duration such as 30m, 1h, 2d or 1w, got {text!r}")
    return float(match.group(1)) * _UNITS_S[match.group(2)]


def _local_file(target: str) -> Path | None:
    """The file a sink's path or URL names; None for a database server (PostgreSQL)."""
    for prefix in ("sqlite:///", "jsonl:///"):
        if target.startswith(prefix):
            return Path(target.removeprefix(prefix)).expanduser()
    return None if "://" in target else Path(target).expanduser()


def _open(settings: Settings, url: str | None) -> Any:
    from roost.telemetry import open_sink

    target = url or default_telemetry_url(settings)
    # opening a file sink creates it: a report on a mistyped path would make an empty
    # sink and report nothing, instead of saying there is nothing there
    local = _local_file(target)
    if local is not None and not local.exists():
        raise TelemetryError(
            f"no telemetry at {target}: serve the model with `roost serve REF --telemetry` "
            "first, or name the sink with --url"
        )
    return open_sink(target)


def _baseline(registry: Registry, ref: str) -> tuple[Any, list[str]]:
    """The version's training baseline (None if it has none) and its input names."""
    metadata = registry.metadata(ref)
    names = [column["name"] for column in metadata.get("signature", {}).get("inputs", [])]
    relative = metadata.get("baseline")
    if not relative:
        return None, names
    return json.loads((registry.path(ref) / relative).read_text(encoding="utf-8")), names


def _utc(seconds: float | None) -> str:
    if seconds is None:
        return "the first record"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}g}"


@telemetry_app.command("report")
def report(
    ctx: typer.Context,
    ref: RefArgument,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only the last 30m, 1h, 2d, 1w… (default: everything logged).", show_default=False
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Also write a self-contained HTML report with plots.",
            show_default=False,
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="The sink the server logged to (default: "
            "ROOST_TELEMETRY_URL, else telemetry.sqlite3 in the roost home).",
            show_default=False,
        ),
    ] = None,
    late_after: Annotated[
        str, typer.Option(help="Feedback later than this after its prediction counts as late.")
    ] = "1d",
) -> None:
    """Summarise one model's production traffic: latency, accuracy from feedback, drift.

    Every version of the model logged in the window is included; drift is measured
    against the training baseline of the version REF names.
    """
    from roost.telemetry.report import render_html
    from roost.telemetry.summary import collect_report

    session = session_of(ctx)
    registry = session.registry()
    found = registry.resolve(ref)
    window_s = parse_duration(since) if since is not None else None
    late_after_s = parse_duration(late_after, "--late-after")
    baseline, names = _baseline(registry, ref)
    now = time.time()
    sink = _open(session.settings, url)
    try:
        summary = collect_report(
            sink,
            found.name,
            since=now - window_s if window_s is not None else None,
            until=now,
            now=now,
            baseline=baseline,
            feature_order=names,
            late_after_s=late_after_s,
        )
    finally:
        sink.close()
    _print_report(summary)
    if html is not None:
        html.write_text(render_html(summary), encoding="utf-8")
        typer.echo(f"wrote {html}")


def _print_report(summary: Any) -> None:
    console = stdout_console()
    console.print(heading(f"Telemetry of {summary.model}"))
    feedback = summary.feedback
    delay = feedback.get("median_delay_s")
    console.print(
        key_value_table(
            [
                ("window", f"{_utc(summary.since)} to {_utc(summary.until)}"),
                ("sink", summary.sink),
                ("versions", ", ".join(map(str, summary.versions)) or "none"),
                (
                    "requests",
                    f"{summary.requests} ({summary.rows} row{'' if summary.rows == 1 else 's'})",
                ),
                (
                    "latency",
                    "none logged"
                    if summary.latency_p50_ms is None
                    else f"p50 {_number(summary.latency_p50_ms)} ms, "
                    f"p99 {_number(summary.latency_p99_ms)} ms",
                ),
                (
                    "feedback",
                    f"{feedback['recorded']} recorded, {feedback['duplicates']} "
                    f"duplicates, {feedback['unmatched']} unmatched, "
                    f"{feedback['late']} late",
                ),
                ("median delay", "" if delay is None else f"{delay:.1f} s"),
            ]
        )
    )
    metric = "MAE" if summary.accuracy_metric == "mae" else "accuracy"
    if summary.overall:
        console.print(heading(f"\nProduction {metric}, from feedback"))
        table = plain_table("version", "rows", metric, right=("rows", metric))
        for version, n, value in summary.overall:
            table.add_row(str(version), str(n), _number(value))
        console.print(table)
    bars = [*summary.drift_features, *summary.drift_outputs]
    if bars:
        console.print(heading("\nDrift against the training baseline (PSI)"))
        table = plain_table("feature", "PSI", "level", "values", right=("PSI", "values"))
        outputs = {bar.name for bar in summary.drift_outputs}
        for bar in bars:
            name = f"{bar.name} (output)" if bar.name in outputs else bar.name
            table.add_row(name, _number(bar.psi, 2), bar.level, str(bar.n))
        console.print(table)
    for note in summary.notes:
        console.print(f"note: {note}")


@telemetry_app.command("estimate")
def estimate(
    ctx: typer.Context,
    ref: RefArgument,
    rate: Annotated[float, typer.Option(help="Prediction requests per second.")],
    sample: Annotated[float, typer.Option(help="Share of requests logged, 0 to 1.")] = 1.0,
    rows_per_request: Annotated[int, typer.Option(help="Rows in one request.")] = 1,
    retention_days: Annotated[float, typer.Option(help="How long records are kept.")] = 30,
    price_per_gb: Annotated[
        float, typer.Option(help="Storage price per GB-month (an example default; set yours).")
    ] = 0.023,
    feedback_rate: Annotated[
        float, typer.Option(help="Share of logged requests that get feedback, 0 to 1.")
    ] = 0.0,
) -> None:
    """Estimate telemetry's volume and storage cost from the model's real payloads.

    One record is built from the package's input example and the model's own outputs
    on it, and measured as it would be stored.
    """
    from roost.telemetry import PredictionRecord
    from roost.telemetry.estimate import estimate_volume, format_bytes, record_bytes

    if rows_per_request < 1:
        raise ConfigError(f"--rows-per-request: expected 1 or more, got {rows_per_request}")
    # checked here, before the model loads, so a message names the option as typed
    for option, value, is_share in (
        ("--rate", rate, False),
        ("--sample", sample, True),
        ("--retention-days", retention_days, False),
        ("--price-per-gb", price_per_gb, False),
        ("--feedback-rate", feedback_rate, True),
    ):
        if not (math.isfinite(value) and 0 <= value <= (1 if is_share else math.inf)):
            expected = "a share from 0 to 1" if is_share else "a number >= 0"
            raise ConfigError(f"{option}: expected {expected}, got {value:g}")
    session = session_of(ctx)
    registry = session.registry()
    found = registry.resolve(ref)
    example = registry.path(found) / "examples" / "input_example.json"
    try:
        rows = json.loads(example.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{found}: expected an input example in its package ({exc})") from exc
    rows = [rows[i % len(rows)] for i in range(rows_per_request)]
    outputs = registry.load(found).predict(rows)
    record = PredictionRecord(
        "0" * 32, time.time(), found.name, found.version, "v1", rows, outputs, 1.0
    )
    size = record_bytes(record)
    volume = estimate_volume(
        record_bytes=size,
        rate_per_s=rate,
        sample_rate=sample,
        retention_days=retention_days,
        price_per_gb_month=price_per_gb,
        feedback_rate=feedback_rate,
    )
    console = stdout_console()
    console.print(heading(f"Telemetry volume of {found}"))
    console.print(
        key_value_table(
            [
                (
                    "one record",
                    f"{format_bytes(size)} ({rows_per_request} row"
                    f"{'s' if rows_per_request > 1 else ''}, measured)",
                ),
                ("logged", f"{rate * sample:g} requests/s ({sample:.0%} of {rate:g})"),
                ("records a day", f"{volume.records_per_day:,.0f}"),
                ("written a day", format_bytes(volume.bytes_per_day)),
                ("written a month", f"{volume.gb_per_month:.3g} GB (30 days)"),
                ("stored", f"{volume.stored_gb:.3g} GB (kept {retention_days:g} days)"),
                ("cost a month", f"{volume.cost_per_month:.2f} at {price_per_gb:g} per GB-month"),
            ]
        )
    )
