"""The store room: the registry of immutable, hashed model packages."""

from __future__ import annotations

from roost.store._card_fields import CARD_FIELDS
from roost.store._index import Index, open_index
from roost.store._packaged import PackagedModel
from roost.store._refs import ModelRef
from roost.store._versions import ModelSummary, ModelVersion
from roost.store.registry import Registry, VersionLike

__all__ = [
    "CARD_FIELDS",
    "Index",
    "ModelRef",
    "ModelSummary",
    "ModelVersion",
    "PackagedModel",
    "Registry",
    "VersionLike",
    "open_index",
]
