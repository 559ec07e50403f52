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

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from roost.errors import ConfigError

__all__ = ["Settings", "StoreConfig"]

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
class Settings:
    """All of roost's settings; one part per room."""

    store: StoreConfig = field(default_factory=StoreConfig)

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
        return cls(store=StoreConfig(home=home, index_url=index_url))
