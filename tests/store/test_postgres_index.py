"""The registry with its index in a real PostgreSQL server behaves as with SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import roost
from roost.errors import ModelNotFound, StoreError, VersionConflict
from roost.store import Registry, open_index

pytestmark = pytest.mark.integration


def save_iris(registry: Registry, iris: Any) -> str:
    return str(registry.save(iris.model, "iris", example=iris.example))


def test_save_numbers_versions_from_1(postgres_registry: Registry, iris: Any) -> None:
    assert [save_iris(postgres_registry, iris) for _ in range(3)] == ["iris:1", "iris:2", "iris:3"]
    assert not (postgres_registry.home / "registry.db").exists()


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("iris", 2), ("iris:1", 1), ("iris:latest", 2), ("iris@production", 1)],
    ids=["bare-name", "version", "latest", "alias"],
)
def test_resolve_each_ref_form_finds_its_version(
    postgres_registry: Registry, iris: Any, ref: str, expected: int
) -> None:
    save_iris(postgres_registry, iris)
    save_iris(postgres_registry, iris)
    postgres_registry.set_alias("iris", "production", 1)
    assert postgres_registry.resolve(ref).version == expected


def test_resolve_unknown_version_raises_naming_known(
    postgres_registry: Registry, iris: Any
) -> None:
    save_iris(postgres_registry, iris)
    with pytest.raises(ModelNotFound, match=r"^model 'iris' version 4 not found \(known: 1\)$"):
        postgres_registry.resolve("iris:4")


def test_aliases_set_move_and_remove(postgres_registry: Registry, iris: Any) -> None:
    save_iris(postgres_registry, iris)
    save_iris(postgres_registry, iris)
    assert postgres_registry.set_alias("iris", "production", 1) is None
    assert postgres_registry.set_alias("iris", "production", 2) == 1
    assert postgres_registry.summary("iris").aliases == {"production": 2}
    assert postgres_registry.remove_alias("iris", "production") == 2
    assert postgres_registry.summary("iris").aliases == {}


def test_delete_refused_while_an_alias_points_to_it(postgres_registry: Registry, iris: Any) -> None:
    save_iris(postgres_registry, iris)
    postgres_registry.set_alias("iris", "production", 1)
    with pytest.raises(VersionConflict, match=r"still pointed to by @production"):
        postgres_registry.delete("iris:1")
    postgres_registry.load("iris:1")


def test_delete_never_reuses_the_number(postgres_registry: Registry, iris: Any) -> None:
    save_iris(postgres_registry, iris)
    save_iris(postgres_registry, iris)
    postgres_registry.delete("iris:2")
    assert save_iris(postgres_registry, iris) == "iris:3"
    assert [v.version for v in postgres_registry.summary("iris").versions] == [1, 3]


def test_export_import_between_sqlite_and_postgres(
    postgres_registry: Registry, iris: Any, tmp_path: Path
) -> None:
    sqlite_registry = Registry(tmp_path / "sqlite-home")
    save_iris(sqlite_registry, iris)
    archive = sqlite_registry.export("iris:1", tmp_path)
    imported = postgres_registry.import_(
        archive, expected_digest=sqlite_registry.get("iris").digest
    )
    assert imported == postgres_registry.get("iris:1")
    assert postgres_registry.import_(archive) == imported  # again: a no-op
    expected = sqlite_registry.load("iris:1").predict(iris.x_test)
    assert postgres_registry.load("iris:1").predict(iris.x_test) == expected


def test_import_different_package_under_same_version_refused(
    postgres_registry: Registry, iris: Any, tmp_path: Path
) -> None:
    other = Registry(tmp_path / "other-home")
    other.save(iris.model, "iris", example=iris.x_test[:3])  # another example: another package
    save_iris(postgres_registry, iris)
    with pytest.raises(VersionConflict, match=r"version 1 already exists with different contents"):
        postgres_registry.import_(other.export("iris:1", tmp_path))


def test_import_into_a_deleted_number_refused(
    postgres_registry: Registry, iris: Any, tmp_path: Path
) -> None:
    save_iris(postgres_registry, iris)
    save_iris(postgres_registry, iris)
    archive = postgres_registry.export("iris:1", tmp_path)
    postgres_registry.delete("iris:1")
    with pytest.raises(VersionConflict, match=r"version 1 was used before: it was deleted"):
        postgres_registry.import_(archive)


def test_open_index_twice_keeps_what_is_there(
    postgres_registry: Registry, iris: Any, postgres_url: str
) -> None:
    save_iris(postgres_registry, iris)
    again = Registry(postgres_registry.home, open_index(postgres_url))
    assert str(again.get("iris")) == "iris:1"


def test_roost_save_and_load_honour_home_and_registry_url(
    tmp_path: Path, iris: Any, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("ROOST_HOME", str(home))
    monkeypatch.setenv("ROOST_REGISTRY_URL", postgres_url)
    assert str(roost.save(iris.model, "iris", example=iris.example)) == "iris:1"
    assert (home / "models" / "iris" / "1" / "model.yaml").is_file()
    assert not (home / "registry.db").exists()
    assert str(Registry(home, open_index(postgres_url)).get("iris")) == "iris:1"
    rows = roost.load("iris").predict(iris.example)
    assert [row["label"] for row in rows] == iris.model.predict(iris.example).tolist()


def test_unreachable_server_raises_store_error_without_password() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError, match=r"registry index postgresql://127\.0\.0\.1:1/x") as caught:
        open_index("postgresql://roost:s3cret@127.0.0.1:1/x?connect_timeout=5")
    assert "s3cret" not in str(caught.value)
