"""A composite saved as one package: pins its members, loads in library mode, passes check_model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import roost
from roost.compose import Cascade, live
from roost.errors import ConfigError, IntegrityError, ModelNotFound
from roost.store import Registry
from roost.testing import check_model


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A registry with ``fast:1`` (logistic regression), ``slow:1`` (a forest) and
    ``cascade:1`` over them, built once; tests work on copies."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    home = tmp_path_factory.mktemp("compose-package") / "home"
    registry = Registry(home)
    x, y = make_classification(n_samples=600, n_features=6, random_state=3)
    registry.save(LogisticRegression().fit(x, y), "fast", example=x[:5])
    registry.save(RandomForestClassifier(30, random_state=0).fit(x, y), "slow", example=x[:5])
    cascade = Cascade(registry.model("fast:1"), registry.model("slow:1"), threshold=0.9)
    registry.save(cascade, "cascade", example=x[:5], data={"train": (x, y)})
    return home, x


@pytest.fixture
def registry(built: tuple[Path, Any], tmp_path: Path) -> Registry:
    home = tmp_path / "home"
    shutil.copytree(built[0], home)
    return Registry(home)


def test_the_package_pins_each_member_by_name_version_and_digest(registry: Registry) -> None:
    flavor = registry.load("cascade:1").metadata["flavor"]
    assert flavor["name"] == "composite"
    assert flavor["options"]["kind"] == "cascade"
    pins = flavor["options"]["members"]
    assert pins == {
        "fast": {"name": "fast", "version": 1, "digest": registry.resolve("fast:1").digest},
        "slow": {"name": "slow", "version": 1, "digest": registry.resolve("slow:1").digest},
    }


def test_the_loaded_package_predicts_as_the_cascade_it_was_saved_from(
    registry: Registry, built: tuple[Path, Any]
) -> None:
    x = built[1]
    cascade = Cascade(registry.model("fast:1"), registry.model("slow:1"), threshold=0.9)
    cascade.load()
    loaded = registry.load("cascade:1")
    assert loaded.predict(x[:50]) == cascade.predict(x[:50])
    phases = {row["phase"] for row in loaded.predict(x)}
    assert phases == {"fast", "slow"}  # both paths are exercised by these rows
    assert [s.name for s in loaded.signature.outputs] == ["label", "probabilities", "phase"]
    assert loaded.signature.outputs[2].description  # the route output says what it means


def test_a_composite_package_passes_check_model(registry: Registry) -> None:
    check_model(registry.model("cascade:1"))


def test_library_mode_loads_a_composite(
    registry: Registry, built: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROOST_HOME", str(registry.home))
    model = roost.load("cascade:latest")
    assert len(model.predict(built[1][:3])) == 3


def test_path_of_names_the_members_that_answered(
    registry: Registry, built: tuple[Path, Any]
) -> None:
    loaded = registry.load("cascade:1")
    outputs = loaded.predict(built[1])
    assert loaded.path_of(outputs) == ["fast", "slow"]
    assert registry.load("fast:1").path_of(outputs) is None  # not a composite


def test_a_missing_member_stops_the_composite_from_loading_with_a_clear_error(
    registry: Registry,
) -> None:
    # delete refuses a pinned member; a registry copied without it gets here
    shutil.rmtree(registry.root / "slow" / "1")
    with pytest.raises(ModelNotFound, match=r"member 'slow' is slow:1, which is not in this"):
        registry.load("cascade:1")


def test_a_tampered_member_is_refused(registry: Registry) -> None:
    artifact = next((registry.root / "fast" / "1" / "artifacts").iterdir())
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    with pytest.raises(IntegrityError):
        registry.load("cascade:1")


def test_an_unregistered_member_cannot_be_saved_and_the_error_says_how(
    registry: Registry, built: tuple[Path, Any]
) -> None:
    from sklearn.linear_model import LogisticRegression

    x = built[1]
    y = (x[:, 0] > 0).astype(int)
    in_memory = live(LogisticRegression().fit(x, y), example=x[:5])
    cascade = Cascade(in_memory, registry.model("slow:1"))
    with pytest.raises(ConfigError, match=r"member 'fast'.*register it first"):
        registry.save(cascade, "unsaved", example=x[:5])
    assert "unsaved" not in [m.name for m in registry.list()]


def test_a_pinned_member_cannot_be_deleted_while_the_composite_exists(
    registry: Registry,
) -> None:
    from roost.errors import VersionConflict

    assert [str(v) for v in registry.dependents("fast:1")] == ["cascade:1"]
    with pytest.raises(VersionConflict, match=r"'fast' version 1 is pinned by cascade:1"):
        registry.delete("fast:1")
    registry.delete("cascade:1")
    registry.delete("fast:1")  # nothing pins it any more


def test_importing_a_composite_needs_its_members_first(registry: Registry, tmp_path: Path) -> None:
    archive = registry.export("cascade:1", tmp_path)
    members = {name: registry.export(f"{name}:1", tmp_path) for name in ("fast", "slow")}
    other = Registry(tmp_path / "other")
    with pytest.raises(ModelNotFound, match=r"it pins fast:1, which is not in this registry"):
        other.import_(archive)
    assert other.list() == []  # nothing was claimed
    for path in members.values():
        other.import_(path)
    other.import_(archive)
    check_model(other.model("cascade:1"))


def test_a_nested_unregistered_composite_is_stored_inline(
    registry: Registry, built: tuple[Path, Any]
) -> None:
    from roost.compose import Fallback, Guarded, Override

    x = built[1]
    cascade = Cascade(registry.model("fast:1"), registry.model("slow:1"), threshold=0.9)
    guarded = Guarded(
        cascade,
        [Override(when="phase == 'slow'", set={"label": 0}, name="unsure_is_negative")],
        Fallback(value={"label": 0, "probabilities": [1.0, 0.0], "phase": "fallback"}),
    )
    registry.save(guarded, "guarded-cascade", example=x[:5])
    loaded = registry.load("guarded-cascade:1")
    assert loaded.predict(x[:40]) == guarded.predict(x[:40])
    pins = loaded.metadata["flavor"]["options"]["members"]
    assert pins["model"]["composite"] == "cascade"
    assert set(pins["model"]["members"]) == {"fast", "slow"}
    assert {(p["name"], p["version"]) for p in loaded.metadata["depends_on"]} == {
        ("fast", 1),
        ("slow", 1),
    }
    outputs = loaded.predict(x)
    slow_rows = [row for row in outputs if row["phase"] == "slow"]
    assert slow_rows
    assert all(r["label"] == 0 for r in slow_rows)
    assert all(r["rules"] == "unsure_is_negative" for r in slow_rows)
    assert loaded.path_of(outputs)[-1] == "rule:unsure_is_negative"
    check_model(registry.model("guarded-cascade:1"))


def test_models_show_lists_the_pinned_members(registry: Registry) -> None:
    from typer.testing import CliRunner

    from roost.cli import app

    result = CliRunner().invoke(
        app,
        ["models", "show", "cascade:1"],
        env={"ROOST_HOME": str(registry.home), "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    digest = registry.resolve("fast:1").digest
    assert "Members (pinned)" in result.output
    assert f"fast  fast:1  {digest[:19]}…" in result.output
