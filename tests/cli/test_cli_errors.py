"""How the CLI turns exceptions into one line and an exit code (roost.cli._errors)."""

from __future__ import annotations

import errno

import pytest

from roost.cli._errors import EXIT_INTERNAL, describe, exit_code_for, is_debug
from roost.errors import (
    ConfigError,
    Error,
    FlavorError,
    IntegrityError,
    InvalidReference,
    ModelNotFound,
    PlanError,
    SignatureError,
    StoreError,
    VersionConflict,
)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConfigError("x"), 2),
        (InvalidReference("x"), 2),
        (SignatureError("x"), 2),
        (ModelNotFound("x"), 3),
        (VersionConflict("x"), 4),
        (IntegrityError("x"), 5),
        (StoreError("x"), 1),
        (FlavorError("x"), 1),
        (PlanError("x"), 1),
        (Error("x"), 1),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "a.csv"), 1),
        (RuntimeError("x"), EXIT_INTERNAL),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_exit_code_for_class_is_mapped(exc: BaseException, code: int) -> None:
    assert exit_code_for(exc) == code


def test_describe_folds_lines_into_one() -> None:
    assert describe(ConfigError("first\n  second\tthird")) == "first second third"


def test_describe_os_error_names_file_and_reason() -> None:
    exc = FileNotFoundError(errno.ENOENT, "No such file or directory", "rows.csv")
    assert describe(exc) == "rows.csv: No such file or directory"


def test_describe_unexpected_error_asks_for_debug() -> None:
    text = describe(KeyError("k"))
    assert text.startswith("unexpected KeyError: 'k'")
    assert "ROOST_DEBUG=1" in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("", False), ("0", False), ("no", False)],
)
def test_is_debug_reads_roost_debug(value: str, expected: bool) -> None:
    assert is_debug({"ROOST_DEBUG": value}) is expected
