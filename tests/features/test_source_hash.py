"""Definition hashes: what changes a function's hash, what does not, and spec hashes.

Each "version" of a feature module is written to its own file under tmp_path and imported
under a unique name: ``inspect.getsource`` needs real files.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from types import ModuleType

import pytest

from roost.errors import ConfigError
from roost.features._source_hash import function_hash, function_source, spec_hash

Load = Callable[[str], ModuleType]

BASE = """
from roost.features.transforms import transform

FX = {"EUR": 1.0, "USD": 0.92}
CODES = ["EUR", "USD"]
SCALE = 2.0
DIGITS = 2
UNUSED = 1


def rounded(value):
    return round(value, DIGITS)


@transform(
    version=1, inputs={"amount": "float64", "currency": "string"}, outputs={"eur": "float64"}
)
def amount_eur(amount, currency):
    # a comment
    if currency not in CODES:
        return None
    return rounded(amount * FX[currency] * SCALE)
"""

REFORMATTED = '''
"""Another module docstring."""
from roost.features.transforms import transform

FX = {"EUR": 1.0, "USD": 0.92}
CODES = ["EUR", "USD"]
SCALE = 2.0
DIGITS = 2
UNUSED = 1

def rounded(value):  # no blank lines around, another comment

    return round(value,DIGITS)

@transform(
    version=1,
    inputs={"amount": "float64", "currency": "string"},
    outputs={"eur": "float64"},
)
def amount_eur(amount,
               currency):

    # a different comment


    if currency not in CODES: return None
    return rounded(
        amount * FX[currency] * SCALE  # trailing comment
    )
'''


@pytest.fixture
def load(load_features: Load) -> Load:
    """Import a module's (indented) source from its own file, under a unique name."""
    return lambda source: load_features(textwrap.dedent(source))


def edited(old: str, new: str, source: str = BASE) -> str:
    assert source.count(old) == 1, old
    return source.replace(old, new)


def hashes(module: ModuleType) -> tuple[str, str]:
    """The function's hash and its transform's definition hash."""
    return function_hash(module.amount_eur.fn), module.amount_eur.source_hash


# ------------------------------------------------------------------ spec_hash


def test_spec_hash_is_sha256_of_the_spec() -> None:
    digest = spec_hash({"kind": "request", "name": "hour"})
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert digest == spec_hash({"kind": "request", "name": "hour"})


def test_spec_hash_ignores_key_order_at_every_level() -> None:
    a = {"name": "v", "spec": {"window_s": 60.0, "defaults": {"a": 0, "b": 1.5}}}
    b = {"spec": {"defaults": {"b": 1.5, "a": 0}, "window_s": 60.0}, "name": "v"}
    assert spec_hash(a) == spec_hash(b)


@pytest.mark.parametrize(
    "other",
    [
        {"name": "v", "items": [2, 1]},
        {"name": "v", "items": [1, 2, 3]},
        {"name": "w", "items": [1, 2]},
        {"name": "v", "items": [1.0, 2]},
        {"name": "v", "items": ["1", 2]},
    ],
    ids=["list-order", "more", "value", "float-vs-int", "str-vs-int"],
)
def test_spec_hash_changes_with_values_and_list_order(other: dict[str, object]) -> None:
    assert spec_hash(other) != spec_hash({"name": "v", "items": [1, 2]})


# ------------------------------------------------------------------ what does not count


def test_function_hash_same_code_in_two_modules_is_equal(load: Load) -> None:
    assert hashes(load(BASE)) == hashes(load(BASE))


def test_function_hash_ignores_comments_blank_lines_and_formatting(load: Load) -> None:
    assert hashes(load(REFORMATTED)) == hashes(load(BASE))


def test_function_hash_ignores_the_decorator_version(load: Load) -> None:
    base, bumped = load(BASE), load(edited("version=1", "version=2"))
    assert function_hash(bumped.amount_eur.fn) == function_hash(base.amount_eur.fn)
    # the definition's hash covers the version through its spec
    assert bumped.amount_eur.source_hash != base.amount_eur.source_hash


def test_function_hash_ignores_constants_it_does_not_read(load: Load) -> None:
    assert hashes(load(edited("UNUSED = 1", "UNUSED = 2"))) == hashes(load(BASE))


def test_function_hash_ignores_dict_constant_key_order(load: Load) -> None:
    reordered = edited('FX = {"EUR": 1.0, "USD": 0.92}', 'FX = {"USD": 0.92, "EUR": 1.0}')
    assert hashes(load(reordered)) == hashes(load(BASE))


def test_function_hash_ignores_set_constant_order(load: Load) -> None:
    a = edited('CODES = ["EUR", "USD"]', 'CODES = {"EUR", "USD"}')
    b = edited('CODES = ["EUR", "USD"]', 'CODES = {"USD", "EUR"}')
    assert hashes(load(a)) == hashes(load(b))


# ------------------------------------------------------------------ what counts


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("return rounded(amount * FX[currency] * SCALE)", "return rounded(SCALE * amount)"),
        ("if currency not in CODES:", "if currency in CODES:"),
        ("def amount_eur(amount, currency):", "def amount_eur(currency, amount):"),
    ],
    ids=["expression", "condition", "parameters"],
)
def test_function_hash_changes_with_code_edits(load: Load, old: str, new: str) -> None:
    base, changed = hashes(load(BASE)), hashes(load(edited(old, new)))
    assert changed[0] != base[0]
    assert changed[1] != base[1]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('FX = {"EUR": 1.0, "USD": 0.92}', 'FX = {"EUR": 1.0, "USD": 0.93}'),
        ('FX = {"EUR": 1.0, "USD": 0.92}', 'FX = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}'),
        ('CODES = ["EUR", "USD"]', 'CODES = ["EUR", "USD", "GBP"]'),
        ('CODES = ["EUR", "USD"]', 'CODES = ["USD", "EUR"]'),
        ('CODES = ["EUR", "USD"]', 'CODES = ("EUR", "USD")'),
        ("SCALE = 2.0", "SCALE = 2.5"),
        ("SCALE = 2.0", "SCALE = 2"),
    ],
    ids=["dict-value", "dict-key", "list-item", "list-order", "list-to-tuple", "number", "type"],
)
def test_function_hash_changes_with_a_constant_it_reads(load: Load, old: str, new: str) -> None:
    base, changed = hashes(load(BASE)), hashes(load(edited(old, new)))
    assert changed[0] != base[0]
    assert changed[1] != base[1]


def test_function_hash_changes_with_a_helper_it_calls(load: Load) -> None:
    helper_edit = edited("return round(value, DIGITS)", "return round(value + 0.0, DIGITS)")
    base, changed = hashes(load(BASE)), hashes(load(helper_edit))
    assert changed[0] != base[0]
    assert changed[1] != base[1]


def test_function_hash_changes_with_a_constant_its_helper_reads(load: Load) -> None:
    base, changed = hashes(load(BASE)), hashes(load(edited("DIGITS = 2", "DIGITS = 3")))
    assert changed[0] != base[0]
    assert changed[1] != base[1]


def test_function_hash_of_recursive_functions_terminates_and_tracks_both(load: Load) -> None:
    source = """
    def is_even(n):
        return True if n == 0 else is_odd(n - 1)

    def is_odd(n):
        return False if n == 0 else is_even(n - 1)

    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)
    """
    base = load(source)
    changed = load(source.replace("return False if n == 0", "return False if n == 1"))
    assert function_hash(base.fact) == function_hash(load(source).fact)
    assert function_hash(changed.is_even) != function_hash(base.is_even)


def test_function_hash_of_one_line_lambda_in_a_module(load: Load) -> None:
    source = """
    from roost.features.transforms import transform
    X, Y = {"x": "float64"}, {"y": "float64"}
    twice = transform(version=1, inputs=X, outputs=Y, name="twice")(lambda x: 2 * x)
    """
    module = load(source)
    assert module.twice({"x": 2.0}) == {"y": 4.0}
    other = load(source.replace("2 * x", "x + x"))
    assert other.twice.source_hash != module.twice.source_hash


def test_function_hash_of_multi_line_lambda_follows_its_code(load: Load) -> None:
    """A lambda whose source lines do not parse alone is hashed by its compiled code."""
    source = """
    from roost.features.transforms import transform
    FACTOR = 2
    twice = transform(
        version=1, inputs={"x": "float64"}, outputs={"y": "float64"}, name="twice"
    )(lambda x: FACTOR * x)
    """
    module = load(source)
    assert module.twice({"x": 2.0}) == {"y": 4.0}
    assert module.twice.source_hash.startswith("sha256:")
    assert load(source).twice.source_hash == module.twice.source_hash
    assert load(source.replace("FACTOR * x", "x + x")).twice.source_hash != (
        module.twice.source_hash
    )
    # the constant it reads is part of the hash, as for a function whose source parses
    assert load(source.replace("FACTOR = 2", "FACTOR = 3")).twice.source_hash != (
        module.twice.source_hash
    )


BELOW = """
from roost.features.transforms import transform


@transform(version=1, inputs={"x": "float64"}, outputs={"y": "float64"})
def scaled(x):
    return helper(x) * RATE


def helper(x):
    return x + 1.0


RATE = 2.0
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [("return x + 1.0", "return x + 5.0"), ("RATE = 2.0", "RATE = 3.0")],
    ids=["helper", "constant"],
)
def test_transform_hash_covers_helpers_and_constants_defined_below_it(
    load: Load, old: str, new: str
) -> None:
    base, changed = load(BELOW), load(edited(old, new, BELOW))
    assert base.scaled({"x": 1.0}) != changed.scaled({"x": 1.0})
    assert base.scaled.source_hash != changed.scaled.source_hash


def test_function_hash_defined_below_is_tracked_once_the_module_is_loaded(load: Load) -> None:
    """function_hash itself, called after import, does see what follows the function."""
    base, changed = load(BELOW), load(edited("RATE = 2.0", "RATE = 3.0", BELOW))
    assert function_hash(base.scaled.fn) != function_hash(changed.scaled.fn)


# ------------------------------------------------------------------ function_source


def test_function_source_of_a_nested_function_is_dedented() -> None:
    def inner(x: int) -> int:
        return x

    assert function_source(inner) == "def inner(x: int) -> int:\n    return x\n"


def test_function_source_without_a_file_raises_config_error_naming_the_function() -> None:
    scope: dict[str, object] = {}
    exec("def typed(x):\n    return x\n", scope)
    with pytest.raises(ConfigError, match="feature function 'typed': its source cannot be read"):
        function_source(scope["typed"])  # type: ignore[arg-type]


def test_function_source_of_a_builtin_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="define it in a module file"):
        function_hash(len)
