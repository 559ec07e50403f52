"""A small, safe expression language for guardrail conditions.

A condition is one line of text, such as ``amount > 10000 and country in ["FR", "DE"]``,
stored beside a model as data and evaluated for a whole batch at once. The text is parsed
with Python's ``ast`` and only a whitelist is accepted:

- names of input columns and model outputs (a name that is not an identifier is written
  between backticks: `` `sepal length (cm)` > 5 ``);
- numbers, strings, ``True``, ``False`` and ``None``;
- comparisons ``== != < <= > >=`` (chains too: ``0 < x <= 10``), ``in`` and ``not in``
  followed by a list, tuple or set of values;
- ``and``, ``or``, ``not``; ``+ - * /`` and parentheses.

Nothing else: no attribute access, calls, indexing, ``**``, lambdas or comprehensions, so
a condition can only read the row it is given. Everything is checked when the condition is
compiled (when a rule is declared or a package loaded), including the names and whether
the two sides of a comparison can be compared.

A missing value (None, NaN) makes any comparison False, ``!=`` and ``not in`` included;
``x == None`` and ``x != None`` test whether a value is missing.

Example:
    >>> condition = compile_condition("amount > 10000", {"amount": "number"})
    >>> condition.evaluate({"amount": [50.0, 20000.0, None]}, 3).tolist()
    [False, True, False]
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from roost.compose._condition import (
    Condition,
    Fn,
    combine,
    compare_present,
    is_in,
    is_missing,
    numpy_op,
    truth,
)
from roost.errors import ConfigError

__all__ = ["KINDS", "Condition", "compile_condition"]

#: What a name can hold, as far as conditions care: ``list`` marks an output with several
#: values per row (probabilities), which conditions cannot read; ``any`` skips type checks.
KINDS = ("number", "string", "bool", "any", "list")

#: Longer conditions are refused: a rule is a sentence, and the parser's work must stay small.
MAX_LENGTH = 1000
MAX_DEPTH = 50
_INT64_MAX = 2**63 - 1

_ORDERING = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
_ARITHMETIC = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "true_divide"}
_FORBIDDEN_OPERATORS = {
    ast.Pow: "'**'",
    ast.FloorDiv: "'//'",
    ast.Mod: "'%'",
    ast.MatMult: "'@'",
    ast.LShift: "'<<'",
    ast.RShift: "'>>'",
    ast.BitOr: "'|' (write or)",
    ast.BitAnd: "'&' (write and)",
    ast.BitXor: "'^'",
    ast.Invert: "'~' (write not)",
    ast.Is: "'is' (write == None to test for a missing value)",
    ast.IsNot: "'is not' (write != None to test for a present value)",
}
_FORBIDDEN_NODES = {
    ast.Attribute: "attribute access",
    ast.Call: "a function call",
    ast.Subscript: "indexing",
    ast.Lambda: "a lambda",
    ast.IfExp: "an if-else expression",
    ast.NamedExpr: "':='",
    ast.JoinedStr: "an f-string",
    ast.Dict: "a dict",
    ast.Starred: "'*'",
}
_KIND_WORDS = dict(
    number="a number", string="a string", bool="True/False", none="None", list="a list"
)
# a string literal, kept as is, or a backtick-quoted name
_QUOTED = re.compile(r"(\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*')|`([^`\n]+)`")


def compile_condition(
    text: str, known_names: Mapping[str, str] | Iterable[str] | None, *, rule: str | None = None
) -> Condition:
    """Parse and check a condition, so that a bad one fails when it is declared.

    Args:
        text: the condition, e.g. ``"amount > 10000"``.
        known_names: the names it may read, each with its kind (one of ``KINDS``), or
            just the names (no type checks), or None to check only the syntax.
        rule: the rule's name, for messages.

    Raises:
        ConfigError: a syntax error, a construct that is not allowed, an unknown name, or
            values that cannot be compared; naming the rule, the text and the offending part.
    """
    where = f"rule {rule!r}: " if rule is not None else ""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}condition: expected a non-empty string, got {text!r}")
    text = text.strip()
    if len(text) > MAX_LENGTH:
        raise ConfigError(
            f"{where}condition: at most {MAX_LENGTH} characters, got {len(text)} ({text[:40]!r}...)"
        )
    if known_names is not None and not isinstance(known_names, Mapping):
        known_names = dict.fromkeys(known_names, "any")
    source, quoted = _unquote(where, text)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        at = f" at column {exc.offset}" if exc.offset else ""
        raise ConfigError(
            f"{where}condition {text!r}: not a valid expression{at} ({exc.msg})"
        ) from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ConfigError(f"{where}condition {text!r}: cannot be parsed ({exc})") from exc
    if _depth(tree) > MAX_DEPTH:  # compiling and evaluating recurse: keep both far from the limit
        raise ConfigError(f"{where}condition {text!r}: nested deeper than {MAX_DEPTH} levels")
    compiler = _Compiler(where, text, known_names, quoted)
    kind, test = compiler.compile(tree.body)
    if kind not in ("bool", "any"):
        raise compiler.fail(tree.body, f"expected True/False per row, got {_KIND_WORDS[kind]}")
    return Condition(text, frozenset(compiler.names), test)


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _unquote(where: str, text: str) -> tuple[str, dict[str, str]]:
    """Swap each backtick-quoted name for an identifier of the same length (columns stay right)."""
    quoted: dict[str, str] = {}

    def swap(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(0)
        placeholder = f"_{len(quoted)}".ljust(len(match.group(0)), "_")
        if len(placeholder) > len(match.group(0)) or placeholder in text:
            raise ConfigError(f"{where}condition {text!r}: too many quoted names")
        quoted[placeholder] = match.group(2)
        return placeholder

    return _QUOTED.sub(swap, text), quoted


class _Compiler:
    """Turn an ``ast`` tree into nested functions over a batch, checking kinds on the way."""

    def __init__(
        self, where: str, text: str, kinds: Mapping[str, str] | None, quoted: Mapping[str, str]
    ) -> None:
        self.where, self.text, self.kinds, self.quoted = where, text, kinds, quoted
        self.names: set[str] = set()

    def fail(self, node: ast.AST, problem: str) -> ConfigError:
        column = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", None) or column + 1
        part = self.text.splitlines()[getattr(node, "lineno", 1) - 1][column:end]
        return ConfigError(
            f"{self.where}condition {self.text!r}: {problem} at column {column + 1} ({part!r})"
        )

    def expect(self, node: ast.AST, kind: str, allowed: tuple[str, ...], what: str) -> None:
        if kind != "any" and kind not in allowed:
            needs = " or ".join(_KIND_WORDS[k] for k in allowed)
            raise self.fail(node, f"{what} needs {needs}, got {_KIND_WORDS[kind]}")

    def compile(self, node: ast.AST) -> tuple[str, Fn]:
        if isinstance(node, ast.Constant):
            value = _literal(self, node)
            return _kind_of_literal(value), lambda env: value
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.arithmetic(node)
        if isinstance(node, ast.BoolOp):
            parts = [self.compile(value) for value in node.values]
            for value, (kind, _) in zip(node.values, parts, strict=True):
                self.expect(value, kind, ("bool",), "'and'/'or'")
            ufunc = "logical_and" if isinstance(node.op, ast.And) else "logical_or"
            fns = [fn for _, fn in parts]
            return "bool", lambda env: combine(ufunc, [truth(fn(env)) for fn in fns])
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            raise self.fail(node, "a list is only allowed after 'in' or 'not in'")
        problem = _FORBIDDEN_NODES.get(type(node), type(node).__name__)
        if isinstance(node, ast.comprehension | ast.ListComp | ast.GeneratorExp | ast.SetComp):
            problem = "a comprehension"
        raise self.fail(node, f"{problem} is not allowed")

    def name(self, node: ast.Name) -> tuple[str, Fn]:
        name = self.quoted.get(node.id, node.id)
        kind = "any"
        if self.kinds is not None:
            if name not in self.kinds:
                raise self.fail(node, f"unknown name {name!r} (known: {', '.join(self.kinds)})")
            kind = self.kinds[name]
        if kind == "list":
            raise self.fail(node, f"{name!r} holds several values per row; conditions read one")
        self.names.add(name)
        return kind, lambda env: env[name]

    def unary(self, node: ast.UnaryOp) -> tuple[str, Fn]:
        if isinstance(node.op, ast.Invert):
            raise self.fail(node, f"{_FORBIDDEN_OPERATORS[ast.Invert]} is not allowed")
        kind, fn = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            self.expect(node.operand, kind, ("bool",), "'not'")
            return "bool", lambda env: ~truth(fn(env))
        self.expect(node.operand, kind, ("number",), "a sign")
        if isinstance(node.op, ast.USub):
            return "number", lambda env: numpy_op("negative")(fn(env))
        return "number", fn

    def arithmetic(self, node: ast.BinOp) -> tuple[str, Fn]:
        name = _ARITHMETIC.get(type(node.op))
        if name is None:
            symbol = _FORBIDDEN_OPERATORS.get(type(node.op), type(node.op).__name__)
            raise self.fail(node, f"{symbol} is not allowed")
        (left_kind, left), (right_kind, right) = self.compile(node.left), self.compile(node.right)
        self.expect(node.left, left_kind, ("number",), "arithmetic")
        self.expect(node.right, right_kind, ("number",), "arithmetic")
        return "number", lambda env: numpy_op(name)(left(env), right(env))

    def compare(self, node: ast.Compare) -> tuple[str, Fn]:
        tests: list[Fn] = []
        left_node, (left_kind, left) = node.left, self.compile(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                if left_kind == "list":
                    raise self.fail(node, "a list cannot be compared; only 'in' takes a list")
                values = self.values(right_node, left_kind)
                tests.append(_membership(left, values, negate=isinstance(op, ast.NotIn)))
                left_node, left_kind = right_node, "list"
                continue
            if type(op) in _FORBIDDEN_OPERATORS:
                raise self.fail(node, f"{_FORBIDDEN_OPERATORS[type(op)]} is not allowed")
            if left_kind == "list":
                raise self.fail(node, "a list cannot be compared; only 'in' takes a list")
            right_kind, right = self.compile(right_node)
            tests.append(
                self.pair(op, (left_node, left_kind, left), (right_node, right_kind, right))
            )
            left_node, left_kind, left = right_node, right_kind, right
        if len(tests) == 1:
            return "bool", tests[0]
        return "bool", lambda env: combine("logical_and", [truth(t(env)) for t in tests])

    def pair(
        self, op: ast.cmpop, left: tuple[ast.expr, str, Fn], right: tuple[ast.expr, str, Fn]
    ) -> Fn:
        """One comparison of a chain: ``left op right``."""
        (left_node, left_kind, lfn), (right_node, right_kind, rfn) = left, right
        node = _span(left_node, right_node)
        if isinstance(op, ast.Eq | ast.NotEq) and "none" in (left_kind, right_kind):
            fn, present = (rfn if left_kind == "none" else lfn), isinstance(op, ast.NotEq)
            return lambda env: is_missing(fn(env)) ^ present
        if "none" in (left_kind, right_kind):
            raise self.fail(node, "None can only be compared with == or !=")
        check: Callable[[Any, Any], Any]
        if isinstance(op, ast.Eq | ast.NotEq):
            check = operator.eq if isinstance(op, ast.Eq) else operator.ne
        else:
            check = _ORDERING[type(op)]
            self.expect(left_node, left_kind, ("number", "string"), "ordering")
            self.expect(right_node, right_kind, ("number", "string"), "ordering")
        self.same(node, left_kind, right_kind)
        return lambda env: compare_present(check, lfn(env), rfn(env))

    def same(self, node: ast.AST, left: str, right: str) -> None:
        if "any" not in (left, right) and left != right:
            raise self.fail(node, f"compares {_KIND_WORDS[left]} with {_KIND_WORDS[right]}")

    def values(self, node: ast.AST, kind: str) -> list[Any]:
        if not isinstance(node, ast.List | ast.Tuple | ast.Set):
            raise self.fail(node, "'in' needs a list of values, such as [1, 2] or ['a', 'b']")
        values = []
        for element in node.elts:
            try:  # a constant, or a signed number: nothing literal_eval runs can do harm
                value = ast.literal_eval(element)
            except (ValueError, TypeError, SyntaxError) as exc:
                raise self.fail(element, "a list after 'in' holds only values") from exc
            _literal(self, ast.Constant(value, **_where(element)))
            if value is None:
                raise self.fail(element, "None in a list never matches; write x == None")
            self.same(element, kind, _kind_of_literal(value))
            values.append(value)
        return values


def _span(first: ast.expr, last: ast.expr) -> ast.expr:
    """A node covering ``first`` to ``last``, so a message quotes the whole comparison."""
    node = ast.Constant(None)
    node.lineno, node.col_offset = first.lineno, first.col_offset
    node.end_col_offset = last.end_col_offset if first.lineno == last.end_lineno else None
    return node


def _membership(value: Fn, values: list[Any], *, negate: bool) -> Fn:
    return lambda env: is_in(value(env), values, negate)


def _where(node: ast.expr) -> dict[str, Any]:
    return {k: getattr(node, k) for k in ("lineno", "col_offset", "end_lineno", "end_col_offset")}


def _literal(compiler: _Compiler, node: ast.AST) -> Any:
    if not isinstance(node, ast.Constant):
        raise compiler.fail(node, "expected a value")
    value = node.value
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        if abs(value) > _INT64_MAX:
            raise compiler.fail(node, "the number is too large (at most 2**63 - 1)")
        return value
    raise compiler.fail(node, f"a {type(value).__name__} value is not allowed")


def _kind_of_literal(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str) else "number"
