"""``EvaluationHistory``: evaluations saved beside the registry, listed oldest first."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier

from roost.cards.evaluation import Evaluation, MetricValue
from roost.cards.history import EvaluationHistory
from roost.errors import ConfigError, IntegrityError, ModelNotFound
from roost.store import ModelVersion, Registry


@pytest.fixture
def version(registry: Registry) -> ModelVersion:
    """``tiny:1``, a dummy classifier: evaluations need a real version and digest."""
    x, y = [[0.0], [1.0], [2.0]], [0, 1, 1]
    return registry.save(DummyClassifier().fit(x, y), "tiny", example=x)


def an_evaluation(version: ModelVersion, id: str, created_at: str, accuracy: float) -> Evaluation:
    return Evaluation(
        id=id,
        model=version.name,
        version=version.version,
        digest=version.digest,
        created_at=created_at,
        task="classification",
        data={"source": "test.csv", "n_rows": 3, "sha256": "0" * 64},
        label="y",
        confidence=0.95,
        n_bootstrap=10,
        seed=0,
        overall=(MetricValue("accuracy", accuracy, accuracy - 0.1, accuracy + 0.1),),
    )


def test_history_lists_oldest_first(registry: Registry, version: ModelVersion) -> None:
    """Order comes from ``created_at``, not from the file names."""
    history = EvaluationHistory(registry)
    newer = an_evaluation(version, "a-newer", "2027-01-02T00:00:00.000+00:00", 0.9)
    older = an_evaluation(version, "b-older", "2027-01-01T00:00:00.000+00:00", 0.8)
    for evaluation in (newer, older):
        history.save(evaluation)
    assert history.list("tiny:1") == [older, newer]
    assert history.latest("tiny") == newer
    assert history.list(version) == [older, newer]


def test_history_saves_outside_the_package(registry: Registry, version: ModelVersion) -> None:
    evaluation = an_evaluation(version, "20270101T000000Z-ab12", "2027-01-01T00:00:00+00:00", 0.9)
    path = EvaluationHistory(registry).save(evaluation)
    assert path == registry.home / "evaluations" / "tiny" / "1" / "20270101T000000Z-ab12.json"
    assert json.loads(path.read_text(encoding="utf-8")) == evaluation.to_dict()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    registry.load("tiny:1")  # the package's hashes still hold


def test_history_of_a_version_never_evaluated(registry: Registry, version: ModelVersion) -> None:
    history = EvaluationHistory(registry)
    assert history.list("tiny:1") == []
    assert history.latest("tiny:1") is None


def wrong_shape(good: Evaluation) -> bytes:
    """The good evaluation with a metric that is a list, not an object."""
    return json.dumps({**good.to_dict(), "overall": [["accuracy", 0.9]]}).encode()


@pytest.mark.parametrize(
    "content",
    [
        lambda good: b"{not json",
        lambda good: b"[1, 2]",
        lambda good: b'{"id": "x"}',
        wrong_shape,
        lambda good: b"\xff\xfe",
    ],
    ids=["not-json", "a-list", "missing-fields", "wrong-shape", "not-utf8"],
)
def test_history_skips_a_malformed_file(
    registry: Registry,
    version: ModelVersion,
    caplog: pytest.LogCaptureFixture,
    content: Callable[[Evaluation], bytes],
) -> None:
    history = EvaluationHistory(registry)
    good = an_evaluation(version, "good", "2027-01-01T00:00:00+00:00", 0.9)
    folder = history.save(good).parent
    (folder / "bad.json").write_bytes(content(good))
    with caplog.at_level(logging.WARNING, logger="roost.cards.history"):
        assert history.list("tiny:1") == [good]
    assert "bad.json" in caplog.text
    assert "not an evaluation" in caplog.text


def test_history_skips_an_evaluation_of_another_package(
    registry: Registry, version: ModelVersion, caplog: pytest.LogCaptureFixture
) -> None:
    """A file left from a deleted version whose number was reused measured other files."""
    history = EvaluationHistory(registry)
    stale = an_evaluation(version, "stale", "2027-01-01T00:00:00+00:00", 0.5)
    folder = registry.home / "evaluations" / "tiny" / "1"
    folder.mkdir(parents=True)
    stale_data = dataclasses.replace(stale, digest="sha256:" + "f" * 64).to_dict()
    (folder / "stale.json").write_text(json.dumps(stale_data), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="roost.cards.history"):
        assert history.list("tiny:1") == []
    assert "not of tiny:1" in caplog.text


def test_history_refuses_an_evaluation_of_other_files(
    registry: Registry, version: ModelVersion
) -> None:
    evaluation = an_evaluation(version, "x", "2027-01-01T00:00:00+00:00", 0.9)
    other = dataclasses.replace(evaluation, digest="sha256:" + "0" * 64)
    with pytest.raises(IntegrityError, match="measured package sha256:0000"):
        EvaluationHistory(registry).save(other)


@pytest.mark.parametrize("bad_id", ["../escape", "", ".hidden", "a/b"], ids=repr)
def test_history_refuses_an_id_that_is_no_file_name(
    registry: Registry, version: ModelVersion, bad_id: str
) -> None:
    evaluation = an_evaluation(version, bad_id, "2027-01-01T00:00:00+00:00", 0.9)
    with pytest.raises(ConfigError, match="evaluation id"):
        EvaluationHistory(registry).save(evaluation)
    assert not (registry.home / "evaluations").exists() or not any(
        (registry.home / "evaluations").rglob("*.json")
    )


def test_history_of_an_unknown_version(registry: Registry, version: ModelVersion) -> None:
    history = EvaluationHistory(registry)
    with pytest.raises(ModelNotFound, match="version 9"):
        history.list("tiny:9")
    with pytest.raises(ModelNotFound):
        history.save(dataclasses.replace(an_evaluation(version, "x", "t", 0.9), version=9))


def test_history_ignores_files_being_written(registry: Registry, version: ModelVersion) -> None:
    history = EvaluationHistory(registry)
    folder: Path = history.save(an_evaluation(version, "done", "t", 0.9)).parent
    (folder / ".next.1234.tmp").write_text("{", encoding="utf-8")
    assert [e.id for e in history.list("tiny:1")] == ["done"]
