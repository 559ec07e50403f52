"""Sensitive input fields, hashed or dropped before a prediction is logged.

A model declares them with its card (``card={"sensitive_fields": ...}`` at save time):
a list of column names, which are hashed, or a mapping of column name to ``"hash"`` or
``"drop"``. A hashed value is replaced by ``"blake2b:"`` and 16 bytes of a *keyed*
BLAKE2b hash: equal values still give equal hashes, so one can count distinct values or
join on them, but without the key a value cannot be found again by hashing guesses
(an unkeyed hash of an age or a postcode can be reversed by trying them all). A dropped
field is removed from the logged row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from roost.errors import ConfigError

__all__ = ["DROP", "HASH", "Redactor"]

HASH = "hash"
DROP = "drop"


class Redactor:
    """Hash or drop the sensitive fields of logged rows.

    Args:
        fields: column name to ``"hash"`` or ``"drop"``.
        key: the hashing key (bytes; at most 64).

    Example:
        >>> redactor = Redactor({"email": "hash", "name": "drop"}, b"secret")
        >>> row = redactor.row({"email": "a@b.c", "name": "Ann", "age": 41})
        >>> sorted(row), row["email"].startswith("blake2b:")
        (['age', 'email'], True)
    """

    def __init__(self, fields: Mapping[str, str], key: bytes) -> None:
        for name, action in fields.items():
            if action not in (HASH, DROP):
                raise ConfigError(
                    f"sensitive field {name!r}: expected {HASH!r} or {DROP!r}, got {action!r}"
                )
        if len(key) > hashlib.blake2b.MAX_KEY_SIZE:
            raise ConfigError(f"telemetry hash key: expected at most 64 bytes, got {len(key)}")
        self.fields = dict(fields)
        self._key = key

    @classmethod
    def from_card(cls, declared: Any, key: bytes) -> Redactor | None:
        """The redactor a model's ``sensitive_fields`` card entry asks for; None if none.

        Raises:
            ConfigError: the entry is neither a list of names nor a mapping of name to action.
        """
        if declared in (None, [], {}):
            return None
        if isinstance(declared, list) and all(isinstance(name, str) for name in declared):
            return cls(dict.fromkeys(declared, HASH), key)
        if isinstance(declared, Mapping) and all(isinstance(name, str) for name in declared):
            return cls(dict(declared), key)
        raise ConfigError(
            "card field 'sensitive_fields': expected a list of column names or a mapping of "
            f"column name to 'hash' or 'drop', got {declared!r}"
        )

    def hash(self, value: Any) -> str:
        """The keyed hash of one value (its text form), as logged."""
        digest = hashlib.blake2b(str(value).encode("utf-8"), key=self._key, digest_size=16)
        return f"blake2b:{digest.hexdigest()}"

    def row(self, row: Any) -> Any:
        """A copy of one row with its sensitive fields hashed or dropped (non-dict rows as is)."""
        if not isinstance(row, Mapping):
            return row
        clean = {}
        for name, value in row.items():
            action = self.fields.get(name)
            if action is None:
                clean[name] = value
            elif action == HASH:
                clean[name] = None if value is None else self.hash(value)
        return clean

    def rows(self, rows: list[Any]) -> list[Any]:
        """Every row of a request, redacted."""
        return [self.row(row) for row in rows]
