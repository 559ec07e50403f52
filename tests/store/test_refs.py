"""ModelRef.parse and the name, alias and version checks behind it."""

from __future__ import annotations

import pytest

from roost.errors import InvalidReference
from roost.store import ModelRef
from roost.store._refs import check_alias, check_name, check_version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("iris", ModelRef("iris", "latest", "latest")),
        ("iris:7", ModelRef("iris", "version", "7")),
        ("iris:007", ModelRef("iris", "version", "7")),
        ("iris:latest", ModelRef("iris", "latest", "latest")),
        ("iris@production", ModelRef("iris", "alias", "production")),
        ("  iris:2\n", ModelRef("iris", "version", "2")),
        ("fraud-v2.1_eu", ModelRef("fraud-v2.1_eu", "latest", "latest")),
        ("iris@blue-green.2", ModelRef("iris", "alias", "blue-green.2")),
        ("9lives:1", ModelRef("9lives", "version", "1")),
        ("n" * 128, ModelRef("n" * 128, "latest", "latest")),
        ("iris:2147483647", ModelRef("iris", "version", "2147483647")),
    ],
    ids=[
        "bare-name",
        "version",
        "leading-zeros",
        "latest",
        "alias",
        "surrounding-space",
        "name-punctuation",
        "alias-punctuation",
        "leading-digit",
        "longest-name",
        "largest-version",
    ],
)
def test_parse_valid_form_gives_its_ref(text: str, expected: ModelRef) -> None:
    assert ModelRef.parse(text) == expected


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        (ModelRef("iris", "latest", "latest"), "iris:latest"),
        (ModelRef("iris", "version", "3"), "iris:3"),
        (ModelRef("iris", "alias", "production"), "iris@production"),
    ],
    ids=["latest", "version", "alias"],
)
def test_str_gives_text_that_parses_back(ref: ModelRef, text: str) -> None:
    assert str(ref) == text
    assert ModelRef.parse(text) == ref


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "../x",
        "..",
        ".hidden",
        "a/b",
        "x\\y",
        "/etc/passwd",
        "C:\\models\\iris",
        "a..b",
        "-iris",
        "_iris",
        "iris model",
        "iris\x00",
        "íris",
        "n" * 129,
        "iris:",
        "iris:0",
        "iris:-1",
        "iris:+1",
        "iris:1.0",
        "iris:abc",
        "iris:1:2",
        "iris:2147483648",
        "iris:²",
        "iris:٣",
        "iris:LATEST",
        "iris@",
        "iris@123",
        "iris@latest",
        "iris@../x",
        "iris@.hidden",
        "iris@a/b",
        "iris@a@b",
        "@production",
        ":1",
    ],
    ids=[
        "empty",
        "blank",
        "parent-path",
        "dot-dot",
        "hidden",
        "slash",
        "backslash",
        "absolute",
        "windows-absolute",
        "inner-dot-dot",
        "leading-dash",
        "leading-underscore",
        "space",
        "nul",
        "non-ascii",
        "too-long",
        "empty-version",
        "version-0",
        "version-negative",
        "version-plus",
        "version-float",
        "version-word",
        "two-colons",
        "version-overflow",
        "superscript-digit",
        "arabic-indic-digit",
        "latest-uppercase",
        "empty-alias",
        "numeric-alias",
        "alias-latest",
        "alias-parent-path",
        "alias-hidden",
        "alias-slash",
        "two-ats",
        "alias-without-name",
        "version-without-name",
    ],
)
def test_parse_invalid_form_raises_invalid_reference(text: str) -> None:
    with pytest.raises(InvalidReference):
        ModelRef.parse(text)


@pytest.mark.parametrize(
    "value", [None, 3, b"iris", ["iris"]], ids=["none", "int", "bytes", "list"]
)
def test_parse_non_text_raises_invalid_reference(value: object) -> None:
    with pytest.raises(InvalidReference, match="model reference: expected name"):
        ModelRef.parse(value)  # type: ignore[arg-type]


def test_check_name_message_says_what_was_expected_and_received() -> None:
    with pytest.raises(InvalidReference) as caught:
        check_name("../x")
    assert str(caught.value) == (
        "model name: expected 1-128 letters, digits, '_', '-' or '.' starting with a letter "
        "or digit, got '../x'"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), ("12", 12), (2**31 - 1, 2**31 - 1)],
    ids=["int", "text", "largest"],
)
def test_check_version_valid_gives_int(value: object, expected: int) -> None:
    assert check_version(value) == expected


@pytest.mark.parametrize(
    "value",
    [0, -1, 2**31, True, 1.0, "1.0", None, "٣"],
    ids=["zero", "negative", "overflow", "bool", "float", "float-text", "none", "non-ascii"],
)
def test_check_version_invalid_raises_naming_the_range(value: object) -> None:
    with pytest.raises(InvalidReference, match=r"expected a whole number from 1 to 2147483647"):
        check_version(value)


@pytest.mark.parametrize(
    "alias", ["7", "latest", "", ".x", "a/b"], ids=["number", "latest", "empty", "hidden", "slash"]
)
def test_check_alias_invalid_raises_invalid_reference(alias: str) -> None:
    with pytest.raises(InvalidReference, match="alias: expected a name"):
        check_alias(alias)
