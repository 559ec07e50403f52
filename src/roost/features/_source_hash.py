"""The hash that identifies a definition's code, beside its ``name@version``.

A function's hash covers its normalised source (the syntax tree: comments, blank lines
and formatting do not count, decorators are left out because they hold the version),
the values of the module-level constants it reads (an exchange-rate table), and the
hashes of the module-level functions it calls, followed one module deep. Changes inside
imported libraries are not tracked: pin those in the model's environment instead.

A declarative definition (an aggregate view, an encoder) hashes its canonical JSON spec.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import textwrap
import types
from collections.abc import Callable
from typing import Any

from roost.errors import ConfigError
from roost.types import JSONDict

__all__ = ["function_hash", "function_source", "spec_hash"]

_CONSTANT_TYPES = (bool, int, float, str, bytes, type(None))


def spec_hash(spec: JSONDict) -> str:
    """``sha256:`` of a spec's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def function_source(fn: Callable[..., Any]) -> str:
    """The function's source text, dedented.

    Raises:
        ConfigError: the source cannot be read (a lambda typed at a prompt, a builtin).
    """
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise ConfigError(
            f"feature function {getattr(fn, '__qualname__', fn)!r}: its source cannot be "
            f"read ({exc}); define it in a module file"
        ) from exc


def function_hash(fn: Callable[..., Any]) -> str:
    """``sha256:`` of the function's normalised code and what it reads (module docstring)."""
    return "sha256:" + hashlib.sha256(_fingerprint(fn, seen=set()).encode("utf-8")).hexdigest()


def _fingerprint(fn: Callable[..., Any], seen: set[int]) -> str:
    seen.add(id(fn))
    try:
        tree = ast.parse(function_source(fn))
    except SyntaxError:
        # a lambda inside a call split over lines: its source lines alone do not parse;
        # its compiled code says the same thing (if in a Python-version-specific way)
        parts = [_code_text(fn.__code__)]
        names = sorted(_code_names(fn.__code__))
    else:
        node = tree.body[0] if tree.body else tree
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.decorator_list = []
        parts = [ast.dump(node, annotate_fields=False, include_attributes=False)]
        names = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)})
    scope = getattr(fn, "__globals__", {})
    for name in names:
        if name not in scope:
            continue  # a local, an argument or a builtin
        value = scope[name]
        if isinstance(value, types.FunctionType) and value.__module__ == fn.__module__:
            if id(value) not in seen:
                parts.append(f"{name}=fn:{_fingerprint(value, seen)}")
        else:
            constant = _constant(value)
            if constant is not None:
                parts.append(f"{name}={constant}")
    return "\n".join(parts)


def _code_text(code: types.CodeType) -> str:
    """A code object's instructions, constants and names (nested code objects included)."""
    constants = [
        _code_text(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts
    ]
    return f"{code.co_code.hex()}|{constants}|{code.co_names}|{code.co_varnames}"


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _code_names(constant)
    return names


def _constant(value: Any) -> str | None:
    """A canonical text for a plain constant (numbers, text, and containers of them)."""
    if isinstance(value, _CONSTANT_TYPES):
        return repr(value)
    if isinstance(value, list | tuple | frozenset | set):
        items = [_constant(v) for v in value]
        if any(item is None for item in items):
            return None
        ordered = sorted(items) if isinstance(value, frozenset | set) else items  # type: ignore[type-var]
        return f"{type(value).__name__}[{','.join(ordered)}]"  # type: ignore[arg-type]
    if isinstance(value, dict):
        pairs = [(_constant(k), _constant(v)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "dict{" + ",".join(sorted(f"{k}:{v}" for k, v in pairs)) + "}"
    return None
