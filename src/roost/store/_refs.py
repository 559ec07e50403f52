"""Model references: ``name:7``, ``name:latest``, ``name@alias`` and a bare ``name``.

Names and aliases become folder names and SQL values, so they are checked here,
once, against a strict pattern: nothing that could climb out of the registry
folder (``..``, ``/``, ``\\``) or hide (a leading dot) ever gets through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from roost.errors import InvalidReference

__all__ = ["ModelRef", "check_alias", "check_name", "check_version"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_RESERVED_ALIASES = ("latest",)
# the index stores versions in an INTEGER column, which is 32-bit in PostgreSQL
_MAX_VERSION = 2**31 - 1


def check_name(name: object) -> str:
    """Return ``name`` if it is a valid model name.

    Raises:
        InvalidReference: the name is empty, too long, or has characters other than
            letters, digits, ``_``, ``-`` and ``.`` (or does not start with a letter or digit).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise InvalidReference(
            f"model name: expected 1-128 letters, digits, '_', '-' or '.' starting with a "
            f"letter or digit, got {name!r}"
        )
    return name


def check_alias(alias: object) -> str:
    """Return ``alias`` if it is a valid alias (a name that is not a number or ``latest``)."""
    if (
        not isinstance(alias, str)
        or not _NAME.fullmatch(alias)
        or ".." in alias
        or alias.isdigit()
        or alias in _RESERVED_ALIASES
    ):
        raise InvalidReference(
            f"alias: expected a name of letters, digits, '_', '-' or '.' that is not a number "
            f"or 'latest', got {alias!r}"
        )
    return alias


def check_version(version: object) -> int:
    """Return ``version`` as an int if it is a positive whole number (``3`` or ``"3"``)."""
    # str.isdigit() alone also accepts '²' (int() fails) and '٣' (int() gives 3): ASCII only
    if isinstance(version, str) and version.isascii() and version.isdigit():
        version = int(version)
    if (
        isinstance(version, bool)
        or not isinstance(version, int)
        or not 1 <= version <= _MAX_VERSION
    ):
        raise InvalidReference(
            f"version: expected a whole number from 1 to {_MAX_VERSION}, got {version!r}"
        )
    return version


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed reference to a model version.

    Example:
        >>> ModelRef.parse("iris@production")
        ModelRef(name='iris', kind='alias', value='production')
        >>> str(ModelRef.parse("iris"))
        'iris:latest'
    """

    name: str
    kind: Literal["version", "latest", "alias"]
    value: str

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """Parse ``name``, ``name:7``, ``name:latest`` or ``name@alias``.

        Raises:
            InvalidReference: the text is not one of these forms, or a part is unsafe.
        """
        if not isinstance(text, str) or not text.strip():
            raise InvalidReference(
                f"model reference: expected name, name:VERSION, name:latest or name@ALIAS, "
                f"got {text!r}"
            )
        text = text.strip()
        if "@" in text:
            name, _, alias = text.partition("@")
            return cls(check_name(name), "alias", check_alias(alias))
        if ":" in text:
            name, _, version = text.partition(":")
            if version == "latest":
                return cls(check_name(name), "latest", "latest")
            return cls(check_name(name), "version", str(check_version(version)))
        return cls(check_name(text), "latest", "latest")

    def __str__(self) -> str:
        if self.kind == "alias":
            return f"{self.name}@{self.value}"
        return f"{self.name}:{self.value}"
