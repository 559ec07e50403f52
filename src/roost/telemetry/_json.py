"""JSON as telemetry stores it: orjson, and never an exception for an odd value."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["dump_json", "dump_json_array", "load_json"]

_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dump_json(value: Any) -> bytes:
    """``value`` as JSON; never raises, so one odd value cannot block a whole batch.

    numpy arrays and scalars become lists and numbers, NaN becomes null, other objects
    their ``str``; a value that still fails (an integer past 64 bits) is stored as its repr.
    """
    try:
        return orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS)
    except orjson.JSONEncodeError:
        return orjson.dumps(repr(value))


def dump_json_array(values: list[Any]) -> bytes:
    """``values`` as a JSON array; a value ``dump_json`` would store as its repr is so
    stored on its own, so one odd value cannot spoil the others."""
    try:
        return orjson.dumps(values, default=_json_default, option=_JSON_OPTIONS)
    except orjson.JSONEncodeError:
        return orjson.dumps([orjson.Fragment(dump_json(value)) for value in values])


def _json_default(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)  # numpy arrays orjson declines (object dtype)
    return tolist() if callable(tolist) else str(value)


def load_json(text: str | bytes) -> Any:
    return orjson.loads(text)
