"""Fixtures shared by every room's tests. Keep them few; reusable fakes live in roost.testing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from roost.store import Registry, open_index

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_service(variable: str, what: str) -> str:
    """The URL of a real service for an integration test: skip without it, fail in CI."""
    url = os.environ.get(variable, "").strip()
    if not url:
        message = f"{variable} is not set: no {what} to test against"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: integration tests may not skip)")
        pytest.skip(message)
    return url


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """An empty registry with its SQLite index, in a temporary folder."""
    return Registry(tmp_path / "roost-home")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    base = require_service("ROOST_TEST_POSTGRES_URL", "PostgreSQL server")
    schema = f"roost_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_registry(tmp_path: Path, postgres_url: str) -> Registry:
    """An empty registry whose index lives in the real PostgreSQL server."""
    return Registry(tmp_path / "roost-home", open_index(postgres_url))


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The real Redis server's URL; keys a test writes start ``roost-test-`` (removed after)."""
    redis = pytest.importorskip("redis")
    url = require_service("ROOST_TEST_REDIS_URL", "Redis server")
    yield url
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter("roost-test-*"):
            client.delete(key)
    finally:
        client.close()
