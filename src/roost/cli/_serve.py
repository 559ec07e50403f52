"""``roost serve``: registered models behind one HTTP port, in one or several processes.

The command checks every reference first (an unknown model is one line on stderr and
exit code 3, before any port is opened), then runs uvicorn (uvloop and httptools
when installed) on ``roost.serving.server:app_from_env``.

Why an environment variable carries the settings: with ``--workers N`` uvicorn
spawns N fresh interpreters that build the app by importing a factory by name, so
no Python object can be handed to them. This command, the one place that reads the
user's environment, writes everything a worker needs into ``ROOST_SERVE_SPEC`` (and,
for several workers, a fresh ``PROMETHEUS_MULTIPROC_DIR``) just before uvicorn starts,
and puts both variables back as they were when the server stops.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import shlex
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Annotated, Any

import typer

from roost.cli._session import session_of
from roost.cli._telemetry import telemetry_config
from roost.config import BatchingConfig, ServingConfig, TelemetryConfig
from roost.errors import ConfigError
from roost.store import ModelRef, ModelVersion, Registry
from roost.telemetry import mask_password

__all__ = ["parse_batch_option", "serve"]

#: the prometheus_client variable naming the folder worker processes share metrics in
METRICS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: what a worker may take beyond the request timeout to finish its last requests
_DRAIN_MARGIN_S = 5


def parse_wait_ms(text: str, option: str = "--max-wait-ms") -> float | None:
    """Read a wait in milliseconds, or ``auto`` (None: the batcher decides).

    Raises:
        ConfigError: neither ``auto`` nor a number.

    Example:
        >>> parse_wait_ms("auto") is None, parse_wait_ms("2.5")
        (True, 2.5)
    """
    if text.strip().lower() == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(
            f"{option}: expected a number of milliseconds or auto, got {text!r}"
        ) from None


def parse_batch_option(text: str, max_queue: int) -> tuple[str, BatchingConfig]:
    """Read one ``--batch NAME=SIZE[:WAIT_MS]`` option (WAIT_MS a number or ``auto``).

    Raises:
        ConfigError: the text is not of that form, or a number is out of range.

    Example:
        >>> parse_batch_option("iris=64:5", 512)
        ('iris', BatchingConfig(max_batch_size=64, max_wait_ms=5.0, max_queue=512))
        >>> parse_batch_option("iris=64", 512)[1].max_wait_ms is None
        True
    """
    name, equals, sizes = text.partition("=")
    size, colon, wait = sizes.partition(":")
    usage = f"--batch: expected NAME=SIZE[:WAIT_MS] such as iris=64:5 or iris=64, got {text!r}"
    if not equals or not name.strip() or (colon and not wait.strip()):
        raise ConfigError(usage)
    try:
        max_batch_size = int(size)
        max_wait_ms = parse_wait_ms(wait, "--batch") if colon else None
    except (ValueError, ConfigError):
        raise ConfigError(usage) from None
    try:
        return name.strip(), BatchingConfig(max_batch_size, max_wait_ms, max_queue)
    except ConfigError as exc:
        raise ConfigError(f"--batch {text}: {exc}") from exc


def _check_refs(registry: Registry, refs: list[str]) -> list[ModelVersion]:
    """Resolve every reference now, so a typo fails before the server starts."""
    names = [ModelRef.parse(ref).name for ref in refs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"serve: expected each model once, got {', '.join(duplicates)} twice")
    return [registry.resolve(ref) for ref in refs]


def _example_row(registry: Registry, found: ModelVersion) -> Any:
    """The first row of the model's stored input example, for the curl hint; None if none.

    Read without verifying the package's hashes: it is only printed, and hashing a large
    package here would delay start-up for nothing (every worker verifies it before loading).
    """
    path = registry.path(found) / "examples" / "input_example.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rows[0] if isinstance(rows, list) and rows else None


def _sampling(telemetry: TelemetryConfig) -> str:
    """``100% of requests``, ``10% of requests, iris 50%``: what the log keeps."""

    def percent(rate: float) -> str:
        return f"{rate * 100:.3g}%"

    others = "".join(
        f", {name} {percent(rate)}" for name, rate in sorted(telemetry.sample_rates.items())
    )
    return f"{percent(telemetry.sample_rate)} of requests{others}"


def _banner(
    config: ServingConfig,
    found: list[ModelVersion],
    refs: list[str],
    row: Any,
    telemetry: TelemetryConfig | None = None,
) -> str:
    host = config.host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"  # where a local client reaches a server bound to every address
    elif ":" in host:
        host = f"[{host}]"  # an IPv6 address in a URL
    base = f"http://{host}:{config.port}"
    served = ", ".join(f"{ref} (version {v.version})" for ref, v in zip(refs, found, strict=True))
    workers = f"{config.workers} worker{'s' if config.workers > 1 else ''}"
    payload = json.dumps({"instances": [row if row is not None else "ROW"]})
    return "\n".join(
        [
            f"serving {served}",
            f"listening on http://{config.host}:{config.port} ({workers})",
            f"docs     {base}/docs",
            f"metrics  {base}/metrics    ready: {base}/health/ready",
            f"try      curl -s {base}/v1/models/{found[0].name}:predict -d {shlex.quote(payload)}",
            *(
                [
                    f"telemetry {mask_password(telemetry.url)} ({_sampling(telemetry)})    "
                    f"feedback: POST {base}/v1/feedback"
                ]
                if telemetry is not None
                else []
            ),
            "stop with Ctrl-C or SIGTERM: requests in flight are answered first",
        ]
    )


def _log_config(level: int) -> dict[str, Any]:
    """uvicorn's logging setup plus roost's logger, applied in every worker process.

    A spawned worker starts with no logging configured; uvicorn applies this dict there,
    so roost's records (a model that failed to load, a hot swap) reach stderr too.
    """
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["roost"] = {"format": "%(levelname)s %(name)s: %(message)s"}
    config["handlers"]["roost"] = {
        "class": "logging.StreamHandler",
        "formatter": "roost",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["roost"] = {
        "handlers": ["roost"],
        "level": logging.getLevelName(level),
        "propagate": False,
    }
    return config


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set variables for the workers to inherit; put the old values back afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


@contextlib.contextmanager
def _graceful_signals() -> Iterator[list[int]]:
    """Make SIGTERM and SIGINT end the command with exit code 0 once uvicorn has drained.

    uvicorn handles both while it runs, then raises the signal again under the handler
    it found, so that a default handler would kill the process (-15) or raise
    KeyboardInterrupt. The handler found is this one: it notes the signal, and
    ``roost serve`` returns normally, because a drained server stopped as asked.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received  # signal handlers can only be set from the main thread
        return

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_port_free(host: str, port: int) -> None:
    """Fail with one clear line before starting, rather than with uvicorn's exit code 3."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot listen on {host}:{port}: {exc.strerror} (choose another --port)"
            ) from None


def _run(config: ServingConfig, spec_json: str, metrics_dir: str | None) -> None:
    import uvicorn

    from roost.serving.server import SPEC_VARIABLE

    variables = {SPEC_VARIABLE: spec_json}
    if metrics_dir is not None:
        variables[METRICS_VARIABLE] = metrics_dir
    level = logging.getLogger("roost").getEffectiveLevel()
    with _environment(variables), _graceful_signals():
        uvicorn.run(
            "roost.serving.server:app_from_env",
            factory=True,
            host=config.host,
            port=config.port,
            workers=config.workers,
            loop="auto",  # uvloop when installed
            http="auto",  # httptools when installed
            lifespan="on",
            log_config=_log_config(level),
            log_level="info" if level <= logging.INFO else "warning",
            # an access line per request is only wanted with -v; off, uvicorn skips building it
            access_log=level <= logging.INFO,
            timeout_graceful_shutdown=math.ceil(config.request_timeout_s) + _DRAIN_MARGIN_S,
        )


def serve(
    ctx: typer.Context,
    refs: Annotated[
        list[str],
        typer.Argument(
            metavar="REF",
            help="The model versions to serve (NAME, NAME:VERSION, NAME@ALIAS); "
            "the first is the default model of MLflow's /invocations.",
            show_default=False,
        ),
    ],
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes sharing the port (each loads every model).")
    ] = 1,
    max_batch_size: Annotated[
        int, typer.Option(help="The most rows one predict call receives.")
    ] = 32,
    max_wait_ms: Annotated[
        str,
        typer.Option(
            metavar="MS|auto",
            help="How long a batch's first request waits for company; auto: only while "
            "more requests are expected, up to a quarter of the model's batch time.",
        ),
    ] = "auto",
    max_queue: Annotated[
        int, typer.Option(help="Requests waiting per model (per worker) before new ones get 503.")
    ] = 512,
    batch: Annotated[
        list[str] | None,
        typer.Option(
            "--batch",
            metavar="NAME=SIZE[:WAIT_MS]",
            help="Batching for one model, e.g. iris=64:5 or iris=64 (repeat for several).",
            show_default=False,
        ),
    ] = None,
    timeout_s: Annotated[
        float, typer.Option(help="A request unanswered after this many seconds gets 504.")
    ] = 30.0,
    max_body_mb: Annotated[
        float, typer.Option(help="A larger request body gets 413 (MiB).")
    ] = 16.0,
    poll_s: Annotated[
        float, typer.Option(help="How often aliases are checked for a new version (hot swap).")
    ] = 2.0,
    telemetry: Annotated[
        bool,
        typer.Option(
            "--telemetry",
            help="Log predictions and take feedback at /v1/feedback "
            "(in ROOST_TELEMETRY_URL, else telemetry.sqlite3 in the roost home).",
        ),
    ] = False,
    telemetry_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Log to this sink (implies --telemetry): a .sqlite3 path, "
            "postgresql://…, or a .jsonl path.",
            show_default=False,
        ),
    ] = None,
    sample: Annotated[
        list[str] | None,
        typer.Option(
            metavar="RATE|NAME=RATE",
            help="Share of requests logged, 0 to 1 (default 1), or one model's share.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve model versions over HTTP: KServe V1, Open Inference Protocol V2 and MLflow.

    Aliases and NAME (latest) are followed: when `roost models alias` moves one, the new
    version is loaded beside the old and takes over within --poll-s, dropping nothing.
    """
    from roost.serving.server import ServeSpec

    session = session_of(ctx)
    if not max_body_mb > 0:
        raise ConfigError(f"--max-body-mb: expected a positive size, got {max_body_mb:g}")
    per_model = dict(parse_batch_option(text, max_queue) for text in batch or [])
    telemetry_settings = telemetry_config(
        session.settings, enabled=telemetry, url=telemetry_url, samples=sample or []
    )
    config = ServingConfig(
        host=host,
        port=port,
        workers=workers,
        batching=BatchingConfig(max_batch_size, parse_wait_ms(max_wait_ms), max_queue),
        per_model=per_model,
        request_timeout_s=timeout_s,
        max_body_bytes=max(1, round(max_body_mb * 1024 * 1024)),  # 1 byte at least
        poll_interval_s=poll_s,
    )
    registry = session.registry()
    found = _check_refs(registry, refs)
    served_names = {v.name for v in found}
    sampled = telemetry_settings.sample_rates if telemetry_settings else {}
    for option, names in (("--batch", per_model), ("--sample", sampled)):
        unknown = sorted(set(names) - served_names)
        if unknown:
            raise ConfigError(
                f"{option}: expected names of served models "
                f"({', '.join(v.name for v in found)}), got {', '.join(unknown)}"
            )
    if config.port:
        _check_port_free(config.host, config.port)
    metrics_dir = tempfile.mkdtemp(prefix="roost-metrics-") if workers > 1 else None
    spec = ServeSpec(
        tuple(refs),
        session.settings.store,
        config,
        metrics_dir,
        telemetry_settings,
        features_url=session.settings.features_url,
    )
    typer.echo(_banner(config, found, refs, _example_row(registry, found[0]), telemetry_settings))
    try:
        _run(config, spec.to_json(), metrics_dir)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
