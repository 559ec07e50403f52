"""Shared type aliases: the vocabulary the rooms use to talk to each other."""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["JSONDict", "JSONValue", "Rows"]

#: A value that survives ``json.dumps`` and ``yaml.safe_dump`` unchanged.
JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

#: A JSON object, as stored in ``model.yaml``. Its values are JSON-safe, but typed ``Any``:
#: metadata is read back from YAML untyped, and a recursive union would force a cast at
#: every lookup without catching a real bug.
JSONDict: TypeAlias = dict[str, Any]

#: What ``predict`` accepts: a pandas DataFrame, a list of dicts or rows, a numpy array,
#: one dict (one row), or a mapping of tensor name to array. Typed loosely on purpose:
#: the signature, not the type checker, decides what is acceptable at run time.
Rows: TypeAlias = Any
