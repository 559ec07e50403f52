"""The registry as a user meets it: save, refs, aliases, list, delete, what a package records."""

from __future__ import annotations

import hashlib
import json
import subprocess
from importlib import metadata as distributions
from pathlib import Path
from typing import Any

import pytest

import roost
from roost.errors import (
    ConfigError,
    InvalidReference,
    ModelError,
    ModelNotFound,
    StoreError,
    VersionConflict,
)
from roost.store import CARD_FIELDS, ModelRef, ModelVersion, Registry

IRIS_COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def save_iris(registry: Registry, iris: Any, **kwargs: Any) -> ModelVersion:
    kwargs.setdefault("example", iris.example)
    return registry.save(kwargs.pop("model", iris.model), kwargs.pop("name", "iris"), **kwargs)


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=roost", "-c", "user.email=r@example.com"]
    command += ["-c", "commit.gpgsign=false", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def staged_leftovers(registry: Registry) -> list[Path]:
    return sorted((registry.home / "staging").glob("*"))


# ------------------------------------------------------------------ versions and refs


def test_save_first_time_gives_version_1(registry: Registry, iris: Any) -> None:
    version = save_iris(registry, iris)
    assert (str(version), version.flavor) == ("iris:1", "sklearn")
    assert version.digest.startswith("sha256:")


def test_save_again_gives_next_version(registry: Registry, iris: Any) -> None:
    save_iris(registry, iris)
    assert str(save_iris(registry, iris)) == "iris:2"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("iris", 2),
        ("iris:1", 1),
        ("iris:2", 2),
        ("iris:latest", 2),
        ("iris@production", 1),
        (ModelRef("iris", "version", "1"), 1),
    ],
    ids=["bare-name", "version-1", "version-2", "latest", "alias", "parsed-ref"],
)
def test_resolve_each_ref_form_finds_its_version(
    saved: Registry, ref: str | ModelRef, expected: int
) -> None:
    saved.set_alias("iris", "production", 1)
    assert saved.resolve(ref).version == expected


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("iris:9", "model 'iris' version 9 not found (known: 1, 2)"),
        ("iris@staging", "model 'iris' has no alias 'staging' (known: production)"),
        ("wine", "model 'wine' not found (known models: iris)"),
        ("wine@production", "model 'wine' not found (known models: iris)"),
    ],
    ids=["version", "alias", "model", "alias-of-unknown-model"],
)
def test_resolve_unknown_raises_naming_what_exists(saved: Registry, ref: str, message: str) -> None:
    saved.set_alias("iris", "production", 2)
    with pytest.raises(ModelNotFound) as caught:
        saved.resolve(ref)
    assert str(caught.value) == message


def test_resolve_empty_registry_says_no_models(registry: Registry) -> None:
    with pytest.raises(ModelNotFound, match=r"\(known models: none\)"):
        registry.resolve("iris")


def test_load_predicts_like_the_fitted_model(saved: Registry, iris: Any) -> None:
    rows = saved.load("iris:1").predict(iris.x_test)
    assert [row["label"] for row in rows] == iris.model.predict(iris.x_test).tolist()
    expected = iris.model.predict_proba(iris.x_test)
    for row, probabilities in zip(rows, expected, strict=True):
        assert row["probabilities"] == pytest.approx(probabilities.tolist())


# --------------------------------------------------------------------------- aliases


def test_set_alias_new_returns_none(saved: Registry) -> None:
    assert saved.set_alias("iris", "production", 1) is None


def test_set_alias_moved_returns_previous_version(saved: Registry) -> None:
    saved.set_alias("iris", "production", 1)
    assert saved.set_alias("iris", "production", "2") == 1
    assert saved.resolve("iris@production").version == 2


def test_set_alias_unknown_version_raises_naming_known(saved: Registry) -> None:
    with pytest.raises(ModelNotFound, match=r"^model 'iris' version 7 not found \(known: 1, 2\)$"):
        saved.set_alias("iris", "production", 7)


def test_set_alias_unknown_model_raises_naming_known(saved: Registry) -> None:
    with pytest.raises(ModelNotFound, match=r"model 'wine' not found \(known models: iris\)"):
        saved.set_alias("wine", "production", 1)


def test_remove_alias_returns_version_and_forgets_it(saved: Registry) -> None:
    saved.set_alias("iris", "production", 1)
    assert saved.remove_alias("iris", "production") == 1
    assert saved.summary("iris").aliases == {}
    with pytest.raises(ModelNotFound, match=r"no alias 'production' \(known: none\)"):
        saved.resolve("iris@production")


def test_remove_alias_unknown_raises_naming_known(saved: Registry) -> None:
    saved.set_alias("iris", "production", 1)
    with pytest.raises(ModelNotFound, match=r"no alias 'staging' \(known: production\)"):
        saved.remove_alias("iris", "staging")


# ---------------------------------------------------------------------- list, summary


def test_list_empty_registry_is_empty(registry: Registry) -> None:
    assert registry.list() == []


def test_list_gives_each_model_with_versions_and_aliases(saved: Registry, iris: Any) -> None:
    save_iris(saved, iris, name="wine")
    saved.set_alias("iris", "production", 1)
    summaries = saved.list()
    assert [s.name for s in summaries] == ["iris", "wine"]
    assert [str(v) for v in summaries[0].versions] == ["iris:1", "iris:2"]
    assert (str(summaries[0].latest), summaries[0].aliases) == ("iris:2", {"production": 1})
    assert summaries[1].aliases == {}


def test_summary_unknown_model_raises_naming_known(saved: Registry) -> None:
    with pytest.raises(ModelNotFound, match=r"model 'wine' not found \(known models: iris\)"):
        saved.summary("wine")


def test_index_events_record_each_change(saved: Registry) -> None:
    saved.set_alias("iris", "production", 2)
    saved.remove_alias("iris", "production")
    saved.delete("iris:1")
    actions = [(action, version) for _, action, version, _ in saved.index.events("iris")]
    assert actions == [
        ("register", 1),
        ("register", 2),
        ("alias", 2),
        ("unalias", 2),
        ("delete", 1),
    ]


# --------------------------------------------------------------------------- delete


def test_delete_removes_version_and_its_files(saved: Registry) -> None:
    folder = saved.path("iris:1")
    assert str(saved.delete("iris:1")) == "iris:1"
    assert not folder.exists()
    assert [v.version for v in saved.summary("iris").versions] == [2]
    with pytest.raises(ModelNotFound, match=r"version 1 not found \(known: 2\)"):
        saved.resolve("iris:1")


def test_delete_never_reuses_the_number(saved: Registry, iris: Any) -> None:
    saved.delete("iris:2")
    assert str(save_iris(saved, iris)) == "iris:3"


def test_delete_last_version_removes_the_model(registry: Registry, iris: Any) -> None:
    save_iris(registry, iris)
    registry.delete("iris:1")
    assert registry.list() == []
    assert str(save_iris(registry, iris)) == "iris:2"


def test_delete_refused_while_an_alias_points_to_it(saved: Registry) -> None:
    saved.set_alias("iris", "production", 1)
    saved.set_alias("iris", "canary", 1)
    with pytest.raises(VersionConflict) as caught:
        saved.delete("iris:1")
    assert str(caught.value) == (
        "model 'iris' version 1 is still pointed to by @canary, @production; "
        "move or remove the alias first"
    )
    saved.load("iris:1")  # still whole


def test_delete_after_alias_moved_succeeds(saved: Registry) -> None:
    saved.set_alias("iris", "production", 1)
    saved.set_alias("iris", "production", 2)
    saved.delete("iris:1")
    assert [str(v) for v in saved.summary("iris").versions] == ["iris:2"]


def test_delete_unknown_version_raises_naming_known(saved: Registry) -> None:
    with pytest.raises(ModelNotFound, match=r"version 5 not found \(known: 1, 2\)"):
        saved.delete("iris:5")


def test_delete_twice_raises_not_found(saved: Registry) -> None:
    saved.delete("iris:1")
    with pytest.raises(ModelNotFound, match=r"version 1 not found \(known: 2\)"):
        saved.delete("iris:1")


@pytest.mark.parametrize("ref", ["iris", "iris:latest"], ids=["bare-name", "latest"])
def test_delete_without_explicit_version_refused(saved: Registry, ref: str) -> None:
    """ "rm iris" must not quietly mean "the newest iris"."""
    with pytest.raises(InvalidReference, match=r"name the version explicitly, e\.g\. iris:3"):
        saved.delete(ref)
    assert [v.version for v in saved.summary("iris").versions] == [1, 2]


def test_lookups_accept_the_version_a_save_returned(registry: Registry, iris: Any) -> None:
    version = save_iris(registry, iris)
    assert registry.resolve(version) == version
    assert registry.load(version).predict(iris.example) == registry.load("iris:1").predict(
        iris.example
    )


def test_index_unwritable_raises_store_error(registry: Registry, iris: Any) -> None:
    """A locked, corrupt or unwritable SQLite file is a StoreError, not a raw sqlite3 error."""
    save_iris(registry, iris)
    (registry.home / "registry.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"registry index .*registry\.db"):
        registry.resolve("iris")


def test_delete_empties_only_its_own_trash(saved: Registry) -> None:
    """Another process's trash entry (a delete in flight, a kept leftover) survives."""
    trash = saved.home / "trash"
    (trash / "another-process" / "package").mkdir(parents=True)
    saved.delete("iris:1")
    assert sorted(p.relative_to(trash).as_posix() for p in trash.rglob("*")) == [
        "another-process",
        "another-process/package",
    ]


# ----------------------------------------------------------------------- failed saves


class FailingModel:
    """A model whose predict raises, as a broken feature step would."""

    def predict(self, batch: Any) -> list[int]:
        raise RuntimeError("feature 'age' is missing")


def test_save_model_failing_on_example_claims_nothing(registry: Registry, iris: Any) -> None:
    with pytest.raises(ModelError, match=r"failed on its own example: RuntimeError: feature 'age'"):
        save_iris(registry, iris, model=FailingModel())
    assert (registry.list(), staged_leftovers(registry)) == ([], [])
    assert str(save_iris(registry, iris)) == "iris:1"


def test_save_bad_card_claims_nothing(registry: Registry, iris: Any) -> None:
    with pytest.raises(ConfigError):
        save_iris(registry, iris, card={"owner": "ml-team"})
    assert (registry.list(), staged_leftovers(registry)) == ([], [])
    assert str(save_iris(registry, iris)) == "iris:1"


def test_save_failing_after_claim_gives_the_number_back(
    registry: Registry, iris: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    # the first step of moving the package into place, after the number was claimed
    monkeypatch.setattr(registry, "_version_dir", full_disk)
    with pytest.raises(OSError, match="No space left"):
        save_iris(registry, iris)
    monkeypatch.undo()
    assert (registry.list(), staged_leftovers(registry)) == ([], [])
    assert str(save_iris(registry, iris)) == "iris:1"


# -------------------------------------------------------------- what a package records


def test_metadata_records_the_signature(saved: Registry) -> None:
    signature = saved.metadata("iris")["signature"]
    assert signature["kind"] == "columns"
    assert [c["name"] for c in signature["inputs"]] == IRIS_COLUMNS
    assert {c["dtype"] for c in signature["inputs"]} == {"float64"}
    outputs = {o["name"]: o for o in signature["outputs"]}
    assert sorted(outputs) == ["label", "probabilities"]
    assert outputs["probabilities"]["labels"] == [0, 1, 2]


def test_every_file_matches_its_recorded_sha256(saved: Registry) -> None:
    version = saved.get("iris:2")
    folder = saved.path("iris:2")
    listing = (folder / "CHECKSUMS.sha256").read_text(encoding="utf-8").splitlines()
    recorded = {rel: digest for digest, rel in (line.split("  ", 1) for line in listing)}
    on_disk = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "CHECKSUMS.sha256"
    }
    assert set(recorded) == on_disk
    assert "artifacts/model.pkl" in on_disk
    for rel, digest in recorded.items():
        assert hashlib.sha256((folder / rel).read_bytes()).hexdigest() == digest, rel
    package_digest = hashlib.sha256((folder / "CHECKSUMS.sha256").read_bytes()).hexdigest()
    assert version.digest == f"sha256:{package_digest}"


def test_metadata_records_framework_versions(saved: Registry) -> None:
    meta = saved.metadata("iris")
    sklearn_version = distributions.version("scikit-learn")
    assert meta["framework"] == {"name": "scikit-learn", "version": sklearn_version}
    environment = meta["provenance"]["environment"]
    assert environment["frameworks"]["scikit-learn"] == sklearn_version
    assert environment["frameworks"]["numpy"] == distributions.version("numpy")
    assert environment["python"].count(".") == 2


def test_package_holds_the_environment_lock(saved: Registry) -> None:
    assert saved.metadata("iris")["provenance"]["environment"]["lock"] == "env/requirements.lock"
    lock = (saved.path("iris") / "env" / "requirements.lock").read_text(encoding="utf-8")
    assert f"scikit-learn=={distributions.version('scikit-learn')}\n" in lock


def test_metadata_records_git_commit_of_a_clean_repo(
    registry: Registry, iris: Any, tmp_path: Path
) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("print('training')\n", encoding="utf-8")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "train")
    save_iris(registry, iris, source_dir=repo)
    code = registry.metadata("iris")["provenance"]["code"]
    assert code == {"commit": git(repo, "rev-parse", "HEAD"), "branch": "main", "dirty": False}


def test_metadata_records_a_dirty_repo_with_its_diff(
    registry: Registry, iris: Any, tmp_path: Path
) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("print('training')\n", encoding="utf-8")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "train")
    (repo / "train.py").write_text("print('training, changed')\n", encoding="utf-8")
    save_iris(registry, iris, source_dir=repo)
    code = registry.metadata("iris")["provenance"]["code"]
    assert (code["commit"], code["dirty"]) == (git(repo, "rev-parse", "HEAD"), True)
    assert len(code["diff_sha256"]) == 64


def test_metadata_code_is_none_outside_a_repo(
    registry: Registry, iris: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    # keep git from finding a repository above the temporary folder
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    save_iris(registry, iris, source_dir=plain)
    assert registry.metadata("iris")["provenance"]["code"] is None


def test_metadata_records_data_hashes_and_row_counts(saved: Registry) -> None:
    train, test = saved.metadata("iris:2")["provenance"]["data"]
    assert (train["role"], train["n_rows"], train["y_rows"]) == ("train", 100, 100)
    assert (test["role"], test["n_rows"], test["y_rows"]) == ("test", 50, 50)
    assert train["columns"] == IRIS_COLUMNS
    assert train["x_sha256"] != test["x_sha256"]
    assert all(len(facts[key]) == 64 for facts in (train, test) for key in ("x_sha256", "y_sha256"))


def test_data_hash_same_for_a_copy_of_the_data(registry: Registry, iris: Any) -> None:
    save_iris(registry, iris, data={"train": (iris.x_train, iris.y_train)})
    copy = {"train": (iris.x_train.copy(), iris.y_train.copy())}
    save_iris(registry, iris, data=copy)
    first, second = (registry.metadata(f"iris:{n}")["provenance"]["data"][0] for n in (1, 2))
    assert (first["x_sha256"], first["y_sha256"]) == (second["x_sha256"], second["y_sha256"])


def test_data_hash_changes_with_one_value(registry: Registry, iris: Any) -> None:
    save_iris(registry, iris, data={"train": (iris.x_train, iris.y_train)})
    changed = iris.x_train.copy()
    changed.iloc[7, 2] += 0.1
    save_iris(registry, iris, data={"train": (changed, iris.y_train)})
    first, second = (registry.metadata(f"iris:{n}")["provenance"]["data"][0] for n in (1, 2))
    assert first["x_sha256"] != second["x_sha256"]
    assert first["y_sha256"] == second["y_sha256"]


def test_metadata_records_the_params(saved: Registry) -> None:
    training = saved.metadata("iris")["training"]
    assert training["algorithm"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert (training["params"]["max_iter"], training["params"]["C"]) == (1000, 1.0)


def test_card_fields_stored_as_given(registry: Registry, iris: Any) -> None:
    card = {
        "intended_use": "teaching the registry",
        "owners": ("ml-team", "ada@example.com"),
        "limitations": "three species only",
        "factors": {"species": ["setosa", "versicolor", "virginica"], "greenhouse": False},
    }
    save_iris(registry, iris, card=card)
    assert registry.metadata("iris")["card"] == {**card, "owners": ["ml-team", "ada@example.com"]}


def test_card_unknown_field_refused_naming_the_known_ones(registry: Registry, iris: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        save_iris(registry, iris, card={"limitatons": "three species only"})
    message = str(caught.value)
    assert message.startswith("card field 'limitatons' is not known (known: ")
    assert all(field in message for field in CARD_FIELDS)


@pytest.mark.parametrize("declared", ["email", [1], {"email": "mask"}])
def test_card_malformed_sensitive_fields_refused(
    registry: Registry, iris: Any, declared: Any
) -> None:
    with pytest.raises(ConfigError, match="card field 'sensitive_fields': expected a list"):
        save_iris(registry, iris, card={"sensitive_fields": declared})


def test_baseline_has_an_entry_per_feature(saved: Registry, iris: Any) -> None:
    assert saved.metadata("iris:2")["baseline"] == "eval/baseline.json"
    baseline = json.loads((saved.path("iris:2") / "eval" / "baseline.json").read_text("utf-8"))
    assert sorted(baseline["features"]) == sorted(IRIS_COLUMNS)
    petal = baseline["features"]["petal length (cm)"]
    assert (petal["kind"], petal["count"], petal["missing"]) == ("numeric", 100, 0)
    assert sum(petal["proportions"]) == pytest.approx(1.0)
    assert min(iris.x_train["petal length (cm)"]) == petal["min"]


def test_baseline_absent_without_training_data(saved: Registry) -> None:
    assert saved.metadata("iris:1")["baseline"] is None
    assert not (saved.path("iris:1") / "eval" / "baseline.json").exists()


# ------------------------------------------------------------------- roost.save / load


def test_roost_save_and_load_use_roost_home(
    tmp_path: Path, iris: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("ROOST_HOME", str(home))
    monkeypatch.delenv("ROOST_REGISTRY_URL", raising=False)
    version = roost.save(iris.model, "iris", example=iris.example)
    assert str(version) == "iris:1"
    assert (home / "registry.db").is_file()
    assert (home / "models" / "iris" / "1" / "model.yaml").is_file()
    assert roost.load("iris:1").predict(iris.example) == Registry(home).load("iris").predict(
        iris.example
    )
