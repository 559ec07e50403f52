"""What the registry hands back: a registered version, and a model's summary."""

from __future__ import annotations

from dataclasses import dataclass

from roost.store._index import VersionRow

__all__ = ["ModelSummary", "ModelVersion"]


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version; ``str()`` gives its reference, ``iris:3``."""

    name: str
    version: int
    digest: str
    flavor: str
    created_at: str

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"

    @classmethod
    def _from_row(cls, row: VersionRow) -> ModelVersion:
        return cls(row.name, row.version, row.digest, row.flavor, row.created_at)


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """A model name with its live versions and aliases."""

    name: str
    versions: tuple[ModelVersion, ...]
    aliases: dict[str, int]

    @property
    def latest(self) -> ModelVersion:
        return self.versions[-1]
