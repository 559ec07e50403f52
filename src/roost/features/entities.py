"""Entities (what features are about) and the event tables aggregate views read.

An ``Entity`` names the join keys that identify one thing (a card, a customer); an
``Events`` table declares the timestamped facts recorded about it (transactions), which
``FeatureStore.ingest`` checks and stores and aggregate views summarise.

Example:
    >>> card = Entity("card", keys={"card_id": "int64"})
    >>> card.key_of({"card_id": 42, "amount": 3.5})
    '[42]'
    >>> payments = Events("payments", entity=card, columns={"amount": "float64"})
    >>> payments.timestamp
    'ts'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roost.errors import ConfigError, FeatureError
from roost.types import JSONDict

__all__ = ["KEY_DTYPES", "VALUE_DTYPES", "Entity", "Events", "check_name", "columns_of"]

#: the types an entity key may have
KEY_DTYPES = ("int64", "string")
#: the types a feature value, a request field or an event column may have
VALUE_DTYPES = ("bool", "int64", "float64", "string")

# names become SQL table names and Redis keys: keep them plain
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def check_name(kind: str, name: object) -> str:
    """``name`` if it is a plain identifier (letters, digits, underscores), else ConfigError."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"{kind} name: expected letters, digits and underscores (not starting with a "
            f"digit, at most 63), got {name!r}"
        )
    return name


def columns_of(
    kind: str, columns: Mapping[str, str], dtypes: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """Checked ``{name: dtype}`` pairs, in the order given, as a hashable tuple."""
    if not isinstance(columns, Mapping) or not columns:
        raise ConfigError(f"{kind}: expected a mapping of column name to dtype, got {columns!r}")
    pairs = []
    for name, dtype in columns.items():
        check_name(f"{kind} column", name)
        if name.startswith("_"):  # the stores' own columns (_key, _time_us) start so
            raise ConfigError(f"{kind} column {name!r}: names starting with _ are reserved")
        if dtype not in dtypes:
            raise ConfigError(
                f"{kind} column {name!r}: dtype must be one of {', '.join(dtypes)}, got {dtype!r}"
            )
        pairs.append((name, dtype))
    return tuple(pairs)


@dataclass(frozen=True, slots=True)
class Entity:
    """A thing features describe, identified by its join keys.

    Args:
        name: the entity's name (``card``).
        keys: each join key and its dtype (``int64`` or ``string``), in order.
        description: what the entity is, for the catalog.
    """

    name: str
    keys: tuple[tuple[str, str], ...]
    description: str | None = None

    def __init__(self, name: str, keys: Mapping[str, str], description: str | None = None) -> None:
        object.__setattr__(self, "name", check_name("entity", name))
        object.__setattr__(self, "keys", columns_of(f"entity {name!r} keys", keys, KEY_DTYPES))
        object.__setattr__(self, "description", description)

    @property
    def key_names(self) -> list[str]:
        return [name for name, _ in self.keys]

    def key_of(self, row: Mapping[str, Any]) -> str:
        """The canonical key of the entity a row names: JSON of its key values, in order.

        The same entity gives the same string in training, materialization and serving,
        whatever type the value arrived as (``42``, ``42.0`` and ``"42"`` for an int key).

        Raises:
            FeatureError: a key is missing, null or of the wrong type (naming it).
        """
        return json.dumps([self._key_value(name, dtype, row) for name, dtype in self.keys])

    def _key_value(self, name: str, dtype: str, row: Mapping[str, Any]) -> int | str:
        if name not in row:
            raise FeatureError(f"entity {self.name!r}: key {name!r} is missing from the row")
        value = row[name]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise FeatureError(f"entity {self.name!r}: key {name!r} is null")
        if dtype == "string":
            if not isinstance(value, str):
                raise FeatureError(
                    f"entity {self.name!r}: key {name!r} expected a string, got {value!r}"
                )
            return value
        try:
            number = int(value)
            exact = number == value or (isinstance(value, str) and str(number) == value.strip())
        except (TypeError, ValueError, OverflowError):
            exact = False
        if isinstance(value, bool) or not exact:
            raise FeatureError(
                f"entity {self.name!r}: key {name!r} expected a whole number, got {value!r}"
            )
        return number

    def to_spec(self) -> JSONDict:
        return {"name": self.name, "keys": [list(pair) for pair in self.keys]}


@dataclass(frozen=True, slots=True)
class Events:
    """A table of timestamped events about one entity, kept in the offline store.

    Args:
        name: the table's name (``payments``).
        entity: whose events they are; the table holds its key columns.
        columns: each value column and its dtype.
        timestamp: the column holding when each event happened (UTC; naive means UTC).
        description: what one event is, for the catalog.
    """

    name: str
    entity: Entity
    columns: tuple[tuple[str, str], ...]
    timestamp: str = "ts"
    description: str | None = None

    def __init__(
        self,
        name: str,
        entity: Entity,
        columns: Mapping[str, str],
        timestamp: str = "ts",
        description: str | None = None,
    ) -> None:
        object.__setattr__(self, "name", check_name("events", name))
        if not isinstance(entity, Entity):
            raise ConfigError(f"events {name!r}: entity must be an Entity, got {entity!r}")
        object.__setattr__(self, "entity", entity)
        pairs = columns_of(f"events {name!r}", columns, VALUE_DTYPES)
        clash = {c for c, _ in pairs} & {*entity.key_names, timestamp}
        if timestamp in entity.key_names or timestamp.startswith("_"):
            clash.add(timestamp)
        if clash:
            raise ConfigError(
                f"events {name!r}: columns {sorted(clash)} clash with the entity keys or the "
                "timestamp column"
            )
        object.__setattr__(self, "columns", pairs)
        object.__setattr__(self, "timestamp", check_name(f"events {name!r} timestamp", timestamp))
        object.__setattr__(self, "description", description)

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def dtype_of(self, column: str) -> str:
        for name, dtype in self.columns:
            if name == column:
                return dtype
        raise ConfigError(
            f"events {self.name!r} has no column {column!r} "
            f"(columns: {', '.join(self.column_names)})"
        )

    def to_spec(self) -> JSONDict:
        return {
            "name": self.name,
            "entity": self.entity.to_spec(),
            "columns": [list(pair) for pair in self.columns],
            "timestamp": self.timestamp,
        }
