"""Frozen settings objects, built once from an injected environment.

Only ``roost.cli`` (and the ``roost.save``/``roost.load`` conveniences, which
stand in for a CLI in notebooks) read ``os.environ``; everything else receives a
``Settings`` or one of its parts, so tests hand in a plain dict.

Example:
    >>> settings = Settings.from_env({"ROOST_HOME": "/tmp/roost"})
    >>> settings.store.home
    PosixPath('/tmp/roost')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from roost.errors import ConfigError

__all__ = [
    "BatchingConfig",
    "ServingConfig",
    "Settings",
    "StoreConfig",
    "TelemetryConfig",
    "mask_password",
]

DEFAULT_HOME = Path("~/.roost")
_INDEX_SCHEMES = ("sqlite", "postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Where the registry keeps packages and its index.

    Attributes:
        home: the folder holding ``models/`` (package files) and, by default, ``registry.db``.
        index_url: ``sqlite:///path`` or ``postgresql://…``; ``None`` means a SQLite file
            in ``home``.
    """

    home: Path = field(default_factory=lambda: DEFAULT_HOME.expanduser())
    index_url: str | None = None

    def __post_init__(self) -> None:
        if self.index_url is not None:
            scheme = self.index_url.split(":", 1)[0]
            if "://" not in self.index_url or scheme not in _INDEX_SCHEMES:
                raise ConfigError(
                    f"ROOST_REGISTRY_URL: expected sqlite:///PATH or postgresql://…, "
                    f"got {self.index_url!r}"
                )

    @property
    def resolved_index_url(self) -> str:
        """The index URL, defaulting to a SQLite file inside ``home``."""
        return self.index_url or f"sqlite:///{self.home / 'registry.db'}"


@dataclass(frozen=True, slots=True)
class BatchingConfig:
    """How one model's requests are merged into batches.

    Attributes:
        max_batch_size: the most rows one ``predict`` call receives.
        max_wait_ms: how long the first request of a batch waits for company; 0 batches
            only what queued while the model was busy. ``None`` (the default) waits
            adaptively: only while more requests are expected, and for at most a quarter
            of the model's own batch time (docs/serving.md, measured there).
        max_queue: requests waiting for this model before new ones are shed (503).
    """

    max_batch_size: int = 32
    max_wait_ms: float | None = None
    max_queue: int = 512

    def __post_init__(self) -> None:
        if not isinstance(self.max_batch_size, int) or self.max_batch_size < 1:
            raise ConfigError(
                f"max_batch_size: expected a whole number >= 1, got {self.max_batch_size!r}"
            )
        wait = self.max_wait_ms
        if wait is not None and (
            isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 10_000
        ):
            raise ConfigError(f"max_wait_ms: expected 0 to 10000 or None (auto), got {wait!r}")
        if not isinstance(self.max_queue, int) or self.max_queue < 1:
            raise ConfigError(f"max_queue: expected a whole number >= 1, got {self.max_queue!r}")


@dataclass(frozen=True, slots=True)
class ServingConfig:
    """How ``roost serve`` listens and protects itself.

    Attributes:
        host: the address to bind.
        port: the TCP port.
        workers: server processes sharing the port.
        batching: the default batching of every model.
        per_model: batching that differs for some models, by model name.
        request_timeout_s: a request still unanswered after this gets 504.
        max_body_bytes: a larger request body gets 413.
        poll_interval_s: how often aliases are checked for a new version (hot swap).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    per_model: Mapping[str, BatchingConfig] = field(default_factory=dict)
    request_timeout_s: float = 30.0
    max_body_bytes: int = 16 * 1024 * 1024
    poll_interval_s: float = 2.0

    def __post_init__(self) -> None:
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigError(f"port: expected 0 to 65535, got {self.port!r}")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"workers: expected a whole number >= 1, got {self.workers!r}")
        for name, value in (
            ("request_timeout_s", self.request_timeout_s),
            ("poll_interval_s", self.poll_interval_s),
        ):
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"{name}: expected a positive number of seconds, got {value!r}")
        if not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1:
            raise ConfigError(
                f"max_body_bytes: expected a positive size, got {self.max_body_bytes!r}"
            )

    def batching_for(self, model: str) -> BatchingConfig:
        """The batching of one model: its own, or the default."""
        return self.per_model.get(model, self.batching)


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    """What serving records about its predictions, and where (docs/telemetry.md).

    Attributes:
        url: the sink: a SQLite file (a path ending ``.sqlite3``, ``.sqlite`` or ``.db``,
            or ``sqlite:///path``), a PostgreSQL URL, or a JSON-lines file (``.jsonl``).
        sample_rate: the share of prediction requests logged, 0 to 1.
        sample_rates: a share that differs for some models, by model name.
        max_buffer: records held in memory for the writer; past it the oldest are dropped
            (and counted), so serving never waits for the sink.
        hash_key: the key sensitive fields are hashed with (keyed BLAKE2b), so equal values
            give equal hashes without the values being guessable from them; empty means
            the random key ``roost serve`` keeps in the roost home (``telemetry.key``).
    """

    url: str
    sample_rate: float = 1.0
    sample_rates: Mapping[str, float] = field(default_factory=dict)
    max_buffer: int = 100_000
    hash_key: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.strip():
            raise ConfigError(f"telemetry url: expected a path or URL, got {self.url!r}")
        for name, rate in (("sample_rate", self.sample_rate), *self.sample_rates.items()):
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ConfigError(f"sample rate of {name}: expected 0 to 1, got {rate!r}")
        if not isinstance(self.max_buffer, int) or self.max_buffer < 1:
            raise ConfigError(f"max_buffer: expected a whole number >= 1, got {self.max_buffer!r}")

    def sample_rate_for(self, model: str) -> float:
        """The share of one model's requests that is logged."""
        return float(self.sample_rates.get(model, self.sample_rate))


@dataclass(frozen=True, slots=True)
class Settings:
    """All of roost's settings; one part per room."""

    store: StoreConfig = field(default_factory=StoreConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    #: where ``ROOST_TELEMETRY_URL`` points, if set (telemetry itself is switched on per command)
    telemetry_url: str | None = None
    #: the online feature store ``ROOST_FEATURES_URL`` names (``redis://…``, ``sqlite:///…``);
    #: None means a SQLite file in ``<home>/features``
    features_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str], prefix: str = "ROOST_") -> Settings:
        """Build settings from an environment mapping (``os.environ`` in the CLI).

        Args:
            environ: the variables to read; nothing else is consulted.
            prefix: the prefix of roost's variables.

        Raises:
            ConfigError: a variable holds a value roost cannot use.
        """
        home_text = environ.get(f"{prefix}HOME", "").strip()
        home = Path(home_text).expanduser() if home_text else DEFAULT_HOME.expanduser()
        index_url = environ.get(f"{prefix}REGISTRY_URL", "").strip() or None
        telemetry_url = environ.get(f"{prefix}TELEMETRY_URL", "").strip() or None
        features_url = environ.get(f"{prefix}FEATURES_URL", "").strip() or None
        return cls(
            store=StoreConfig(home=home, index_url=index_url),
            telemetry_url=telemetry_url,
            features_url=features_url,
        )


def mask_password(url: str) -> str:
    """``url`` with any password replaced by ``***``, for messages, logs and banners.

    Both places libpq takes one are masked: ``user:password@`` and ``password=`` in the
    query. The credentials end at the last ``@`` before the query, so a password holding
    an unescaped ``@`` or ``/`` is still masked whole, and an ``@`` in the query is not
    taken for the end of the credentials.

    Example:
        >>> mask_password("postgresql://roost:s3cret@db/telemetry")
        'postgresql://roost:***@db/telemetry'
        >>> mask_password("postgresql://db/telemetry?user=roost&password=s3cret")
        'postgresql://db/telemetry?user=roost&password=***'
    """
    scheme, separator, rest = url.partition("://")
    if separator and not rest.startswith("/"):  # ``sqlite:///path`` has no credentials
        head, question, query = rest.partition("?")
        credentials, at, host = head.rpartition("@")
        user, colon, _password = credentials.partition(":")
        if at and colon:
            url = f"{scheme}://{user}:***@{host}{question}{query}"
    return re.sub(r"(?i)(\bpassword=)[^&#\s]*", r"\1***", url)
