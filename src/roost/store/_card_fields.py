"""The declared card fields: what a person writes about a model, stored as given.

Everything else in a card is measured. Unknown keys are refused, so that a typo
(``limitatons``) does not silently vanish from the model's documentation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from roost.errors import ConfigError
from roost.types import JSONDict

__all__ = ["CARD_FIELDS", "check_card"]

#: field → what it holds (shown in errors and in docs/store.md).
CARD_FIELDS: dict[str, str] = {
    "overview": "one paragraph: what the model does",
    "intended_use": "what it is for",
    "out_of_scope": "uses it is not meant for",
    "users": "who is expected to use it",
    "owners": "people or teams responsible, with contacts",
    "license": "the license of the model",
    "factors": "groups or conditions its performance may vary across",
    "limitations": "known limitations",
    "tradeoffs": "trade-offs that were made",
    "ethical_considerations": "risks and their mitigations",
    "caveats": "caveats and recommendations",
    "training_data": "where the training data came from",
    "evaluation_data": "where the evaluation data came from",
    "monitoring": "how the model is watched in production",
    "sensitive_fields": (
        "input columns telemetry must hide: a list of names (hashed), "
        "or a mapping of name to hash or drop"
    ),
    "references": "papers, links",
    "citation": "how to cite it",
    "tags": "free labels",
}


def _check_value(path: str, value: Any) -> None:
    if value is None or isinstance(value, str | bool | int | float):
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_value(f"{path}[{i}]", item)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"card field {path!r}: keys must be text, got {key!r}")
            _check_value(f"{path}.{key}", item)
        return
    raise ConfigError(
        f"card field {path!r}: expected text, numbers, lists or mappings, "
        f"got {type(value).__name__}"
    )


def _check_sensitive_fields(declared: Any) -> None:
    """A list of column names, or a mapping of column name to "hash" or "drop"."""
    if declared is None:
        return
    if isinstance(declared, list | tuple) and all(isinstance(n, str) for n in declared):
        return
    if isinstance(declared, Mapping) and all(
        isinstance(n, str) and a in ("hash", "drop") for n, a in declared.items()
    ):
        return
    raise ConfigError(
        "card field 'sensitive_fields': expected a list of column names or a mapping of "
        f"column name to 'hash' or 'drop', got {declared!r}"
    )


def check_card(card: Mapping[str, Any] | None) -> JSONDict:
    """Return the card as plain data, or refuse unknown fields and unstorable values.

    Raises:
        ConfigError: naming the field and listing the known ones.
    """
    if card is None:
        return {}
    if not isinstance(card, Mapping):
        raise ConfigError(f"card: expected a mapping of field to text, got {type(card).__name__}")
    for key, value in card.items():
        if key not in CARD_FIELDS:
            raise ConfigError(
                f"card field {key!r} is not known (known: {', '.join(sorted(CARD_FIELDS))})"
            )
        _check_value(key, value)
    _check_sensitive_fields(card.get("sensitive_fields"))
    # a JSON round trip turns tuples into lists, which YAML can store safely
    result: JSONDict = json.loads(json.dumps(dict(card)))
    return result
