"""Reading YAML nodes with their line numbers, and quantities with units.

``Field`` wraps one ``yaml.Node`` (from ``yaml.compose``) with its dotted name, so that
every check can fail with ``ConfigError("system.yaml, line 12: components.ocr.ram_mb:
expected …, got …")``. Numbers may carry a unit (``2 MB``, ``20 ms``, ``3 Mbit/s``);
they are converted to bytes, seconds and bits per second.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import re
from collections.abc import Iterator
from typing import Any, NoReturn

import yaml

from roost.errors import ConfigError
from roost.plan.spec import Interval

__all__ = ["RATE", "SIZE", "TIME", "Field", "known"]

# unit tables: the factor to the base unit (bytes, seconds, bits per second)
SIZE = {"B": 1.0, "KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
SIZE |= {"KiB": 1024.0, "MiB": 1024.0**2, "GiB": 1024.0**3}
TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0, "h": 3600.0}
RATE = {"bps": 1.0, "bit/s": 1.0, "kbps": 1e3, "kbit/s": 1e3, "Mbps": 1e6, "Mbit/s": 1e6}
RATE |= {"Gbps": 1e9, "Gbit/s": 1e9}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*?)?\s*$")
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class _Located(ConfigError):
    """A ConfigError whose message already names its line."""


class Field:
    """A node of the YAML and its dotted name (``components.ocr.ram_mb``), for messages."""

    __slots__ = ("name", "node", "source")

    def __init__(self, node: yaml.Node, name: str, source: str) -> None:
        self.node = node
        self.name = name
        self.source = source

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    def fail(self, expected: str, got: object = None, *, name: str | None = None) -> NoReturn:
        shown = _show(self.node) if got is None else got
        where = f"{self.source}, line {self.line}: {name or self.name}"
        raise _Located(f"{where}: expected {expected}, got {shown}")

    def child(self, node: yaml.Node, key: str) -> Field:
        return Field(node, f"{self.name}.{key}" if self.name else key, self.source)

    @contextlib.contextmanager
    def located(self) -> Iterator[None]:
        """Give a ConfigError raised inside (a dataclass check) this field's line."""
        try:
            yield
        except _Located:
            raise
        except ConfigError as exc:
            raise _Located(f"{self.source}, line {self.line}: {exc}") from exc

    # -- shapes

    def mapping(
        self, known: tuple[str, ...] | None = None, required: tuple[str, ...] = ()
    ) -> dict[str, Field]:
        """The entries of a mapping, by key; unknown keys (when ``known`` is given) fail."""
        if not isinstance(self.node, yaml.MappingNode):
            self.fail("a mapping")
        entries: dict[str, Field] = {}
        for key_node, value_node in self.node.value:
            key = _CONSTRUCTOR.construct_object(key_node, deep=True)
            key_field = self.child(key_node, str(key))
            if not isinstance(key, str):
                key_field.fail("a text key", repr(key))
            if key in entries:
                raise _Located(
                    f"{self.source}, line {key_field.line}: {key_field.name}: duplicate key"
                )
            if known is not None and key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise _Located(
                    f"{self.source}, line {key_field.line}: {key_field.name}: unknown key "
                    f"'{key}' (known: {', '.join(known)}){hint}"
                )
            entries[key] = self.child(value_node, key)
        for key in required:
            if key not in entries:
                self.fail(f"a key '{key}'", "none")
        return entries

    def sequence(self) -> list[Field]:
        if not isinstance(self.node, yaml.SequenceNode):
            self.fail("a list")
        return [
            Field(node, f"{self.name}[{i}]", self.source) for i, node in enumerate(self.node.value)
        ]

    # -- scalars

    def value(self) -> Any:
        if not isinstance(self.node, yaml.ScalarNode):
            self.fail("a single value")
        return _CONSTRUCTOR.construct_object(self.node, deep=True)

    def text(self) -> str:
        value = self.value() if isinstance(self.node, yaml.ScalarNode) else None
        if not isinstance(value, str) or not value:
            self.fail("a name (text)")
        return value

    def choice(self, *allowed: str) -> str:
        value = self.value() if isinstance(self.node, yaml.ScalarNode) else None
        if value not in allowed:
            self.fail(" or ".join(allowed))
        return str(value)

    def boolean(self) -> bool:
        value = self.value() if isinstance(self.node, yaml.ScalarNode) else None
        if not isinstance(value, bool):
            self.fail("true or false")
        return value

    def integer(self, minimum: int = 0) -> int:
        value = self.value() if isinstance(self.node, yaml.ScalarNode) else None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = float(value)
                value = int(number) if number.is_integer() else value
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.fail(f"a whole number >= {minimum}")
        return value

    def number(
        self, *, minimum: float | None = 0.0, units: dict[str, float] | None = None, unit: str = ""
    ) -> float:
        """A finite number, in the field's unit; with ``units``, a string may carry its own."""
        expected = "a number" if minimum is None else f"a number >= {minimum:g}"
        if units:
            expected += f" in {unit} (or with a unit: {', '.join(units)})"
        if not isinstance(self.node, yaml.ScalarNode):
            self.fail(expected)
        value = self.value()
        if isinstance(value, bool) or value is None:
            self.fail(expected)
        if isinstance(value, int | float):
            number = float(value)
        else:
            number = self._parse_quantity(str(value), units, unit, expected)
        if not math.isfinite(number) or (minimum is not None and number < minimum):
            self.fail(expected)
        return number

    def _parse_quantity(
        self, text: str, units: dict[str, float] | None, unit: str, expected: str
    ) -> float:
        # a quoted string is text the author meant as text, never a number
        is_plain = isinstance(self.node, yaml.ScalarNode) and self.node.style is None
        match = _QUANTITY.match(text) if is_plain else None
        if match is None:
            self.fail(expected)
        number, written = float(match.group(1).replace("_", "")), match.group(2)
        if written is None:
            return number
        if not units or written not in units:
            self.fail(expected)
        return number * units[written] / units[unit]

    def size(self, unit: str = "MB") -> float:
        """A size in bytes; a plain number is in ``unit``."""
        return self.number(units=SIZE, unit=unit) * SIZE[unit]

    def seconds(self) -> float:
        return self.number(units=TIME, unit="s")

    def interval(self) -> Interval:
        """A time interval: a value, or ``{best, worst}``."""
        if isinstance(self.node, yaml.MappingNode):
            entries = self.mapping(("best", "worst"), required=("best", "worst"))
            with self.located():
                return Interval(entries["best"].seconds(), entries["worst"].seconds())
        return Interval.exactly(self.seconds())

    def names(self) -> list[tuple[str, Field]]:
        return [(item.text(), item) for item in self.sequence()]


def _show(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = _CONSTRUCTOR.construct_object(node, deep=True)
    return "nothing" if value is None else repr(value)


def known(
    field: Field, name: str, known: dict[str, Any] | tuple[str, ...] | list[str], what: str
) -> str:
    if name not in known:
        names = ", ".join(known)
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        field.fail(f"one of the {what} ({names}){hint}", repr(name))
    return name
