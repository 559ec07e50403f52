"""What a server process needs to build its app, and the factory uvicorn calls in each worker.

``roost serve --workers N`` asks uvicorn for N processes sharing one port. uvicorn
starts each worker as a fresh interpreter (``spawn``) and builds the app there by
importing a factory *by name*, so the parent cannot hand a worker any object: the
registry, the references and the settings must travel as text. The CLI writes them
as one JSON ``ServeSpec`` into the ``ROOST_SERVE_SPEC`` environment variable before
uvicorn starts the workers, and ``app_from_env`` reads that one variable back.

That makes this module the one place outside ``roost.cli`` that reads the
environment, and only the variable its parent wrote for it: everything else (the
registry folder, ``ROOST_REGISTRY_URL``, the limits) was read by the CLI and arrives
inside the spec, so a worker never re-reads the user's settings and can never
disagree with the process that checked them.

Example:
    >>> spec = ServeSpec(("iris@production",), StoreConfig(home=Path("/srv/roost")),
    ...                  ServingConfig(workers=2))
    >>> ServeSpec.from_json(spec.to_json()) == spec
    True
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from roost.config import BatchingConfig, ServingConfig, StoreConfig, TelemetryConfig
from roost.errors import ConfigError
from roost.features import FeatureStore, bind_store
from roost.serving._telemetry import PredictionTap
from roost.serving.app import create_app
from roost.serving.metrics import Metrics
from roost.serving.repository import ModelRepository
from roost.store import Registry
from roost.telemetry import PredictionLog, open_sink

__all__ = ["SPEC_VARIABLE", "ServeSpec", "app_from_env", "app_from_spec"]

#: the environment variable ``roost serve`` hands its workers the spec in
SPEC_VARIABLE = "ROOST_SERVE_SPEC"


@dataclass(frozen=True, slots=True)
class ServeSpec:
    """Everything one server process needs: what to serve, from where, how.

    Attributes:
        refs: the references to serve; the first is the default model.
        store: the registry to load them from.
        serving: limits, batching, hot-swap interval.
        metrics_dir: the folder the worker processes share their metrics in
            (prometheus_client's multiprocess mode); ``None`` for a single process.
        telemetry: where to log predictions and feedback; ``None`` logs nothing.
        features_url: the online feature store featured models read (``ROOST_FEATURES_URL``);
            ``None`` means the SQLite file in the registry's home.
    """

    refs: tuple[str, ...]
    store: StoreConfig = field(default_factory=StoreConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    metrics_dir: str | None = None
    telemetry: TelemetryConfig | None = None
    features_url: str | None = None

    def __post_init__(self) -> None:
        if not self.refs or not all(isinstance(ref, str) for ref in self.refs):
            raise ConfigError(f"serve spec: expected model references, got {self.refs!r}")

    def to_json(self) -> str:
        """The spec as one line of JSON (settings are re-validated when read back)."""
        serving = dataclasses.asdict(self.serving)
        serving["per_model"] = {
            name: dataclasses.asdict(batching) for name, batching in self.serving.per_model.items()
        }
        document = {
            "refs": list(self.refs),
            "store": {"home": str(self.store.home), "index_url": self.store.index_url},
            "serving": serving,
            "metrics_dir": self.metrics_dir,
            "telemetry": dataclasses.asdict(self.telemetry) if self.telemetry else None,
            "features_url": self.features_url,
        }
        return json.dumps(document, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ServeSpec:
        """Read a spec ``to_json`` wrote.

        Raises:
            ConfigError: the text is not such a spec, or a setting in it is invalid.
        """
        try:
            document: dict[str, Any] = json.loads(text)
            serving = dict(document["serving"])
            serving["batching"] = BatchingConfig(**serving["batching"])
            serving["per_model"] = {
                name: BatchingConfig(**batching) for name, batching in serving["per_model"].items()
            }
            store = document["store"]
            telemetry = document.get("telemetry")
            return cls(
                refs=tuple(document["refs"]),
                store=StoreConfig(home=Path(store["home"]), index_url=store["index_url"]),
                serving=ServingConfig(**serving),
                metrics_dir=document["metrics_dir"],
                telemetry=TelemetryConfig(**telemetry) if telemetry is not None else None,
                features_url=document.get("features_url"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(
                f"{SPEC_VARIABLE}: expected the JSON that roost serve writes, got {text[:80]!r} "
                f"({type(exc).__name__}: {exc})"
            ) from exc


def telemetry_key(config: TelemetryConfig, home: Path) -> bytes:
    """The key sensitive fields are hashed with: the configured one, else the home's own.

    The home's key is drawn once and kept in ``telemetry.key`` (readable by its owner
    only), so every worker, and every later server on that home, hashes alike.
    """
    if config.hash_key:
        return hashlib.blake2b(config.hash_key.encode(), digest_size=32).digest()
    path = home / "telemetry.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two workers starting at once must not each write a different key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(32) + "\n")
    for _ in range(50):  # the worker that created it may still be writing
        text = path.read_text().strip()
        if len(text) == 64:
            return bytes.fromhex(text)
        time.sleep(0.01)
    raise ConfigError(f"{path}: expected a 64-digit hex key, got {len(text)} characters")


def app_from_spec(spec: ServeSpec) -> Starlette:
    """The app one server process runs for ``spec``: registry, models, metrics, telemetry."""
    metrics = Metrics(spec.metrics_dir)
    # one feature store per process: its online connection and cache serve every model
    features = FeatureStore(spec.store.home / "features", online_url=spec.features_url)
    repository = ModelRepository(
        Registry.from_config(spec.store),
        list(spec.refs),
        spec.serving,
        observer_factory=metrics.observer,
        on_load=functools.partial(bind_store, store=features),
    )
    tap = None
    if spec.telemetry is not None:
        config = spec.telemetry
        sink = open_sink(config.url)
        log = PredictionLog(
            sink,
            sample_rate=config.sample_rate,
            sample_rates=config.sample_rates,
            max_buffer=config.max_buffer,
        )
        tap = PredictionTap(log, sink, repository.clock, telemetry_key(config, spec.store.home))
    return create_app(repository, spec.serving, metrics=metrics, telemetry=tap)


def app_from_env() -> Starlette:
    """The app factory uvicorn imports in each worker: the spec ``roost serve`` handed over.

    Raises:
        ConfigError: ``ROOST_SERVE_SPEC`` is missing or not a spec.
    """
    text = os.environ.get(SPEC_VARIABLE)
    if text is None:
        raise ConfigError(
            f"{SPEC_VARIABLE}: expected the spec that `roost serve` sets for its workers, "
            "got nothing; start the server with `roost serve REF`"
        )
    return app_from_spec(ServeSpec.from_json(text))
