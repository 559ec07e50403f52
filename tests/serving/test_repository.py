"""ModelRepository: finding a model, not-ready versus unknown, and quiet hot-swap failures."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from roost.config import ServingConfig
from roost.errors import ModelNotFound, ModelNotReady
from roost.serving import ModelRepository
from roost.store import Registry

LOGGER = "roost.serving.repository"


def _save_broken_iris(registry: Registry, iris_data: Any) -> int:
    """Register a new iris version whose artifact no longer matches its hash (fails to load)."""
    from sklearn.linear_model import LogisticRegression

    x, y = iris_data
    saved = registry.save(LogisticRegression(max_iter=1000).fit(x, y), "iris", example=x[:5])
    artifact = registry.path(saved) / "artifacts" / "model.pkl"
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    return saved.version


def _swap_records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.name == LOGGER and "hot swap" in record.getMessage()
    ]


def test_repository_get_unknown_name_raises_model_not_found(serving_registry: Registry) -> None:
    repository = ModelRepository(serving_registry, ["iris@production"], ServingConfig())
    with pytest.raises(ModelNotFound, match=r"model 'nope' is not served here \(served: iris\)"):
        repository.get("nope")


def test_repository_get_before_load_raises_model_not_ready(serving_registry: Registry) -> None:
    repository = ModelRepository(serving_registry, ["iris@production"], ServingConfig())
    with pytest.raises(ModelNotReady, match="model 'iris' is still loading"):
        repository.get("iris")


def test_repository_get_model_that_failed_raises_model_not_ready(
    serving_registry: Registry,
) -> None:
    repository = ModelRepository(serving_registry, ["iris@production", "ghost"], ServingConfig())

    async def scenario() -> None:
        await repository.load_all()
        await repository.close()

    asyncio.run(scenario())
    with pytest.raises(ModelNotReady, match="model 'ghost' failed to load: model 'ghost' not"):
        repository.get("ghost")
    assert repository.get("iris").version == 1


def test_refresh_failing_swap_is_logged_once(
    serving_registry: Registry, iris_data: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Every poll retries the swap; only the first failure is a warning."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    repository = ModelRepository(serving_registry, ["iris@production"], ServingConfig())

    async def scenario() -> None:
        await repository.load_all()
        broken = _save_broken_iris(serving_registry, iris_data)
        serving_registry.set_alias("iris", "production", broken)
        for _ in range(5):
            assert await repository.refresh() == []
        await repository.close()

    asyncio.run(scenario())
    records = _swap_records(caplog)
    assert [level for level, _ in records] == [logging.WARNING]
    assert records[0][1].startswith("hot swap of iris@production to version 2 failed")
    assert "does not match its sha256" in records[0][1]
    assert repository.get("iris").version == 1  # the old version serves on


def test_refresh_failing_swap_to_another_version_is_logged_again(
    serving_registry: Registry, iris_data: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    repository = ModelRepository(serving_registry, ["iris@production"], ServingConfig())

    async def scenario() -> None:
        await repository.load_all()
        for _ in range(2):
            broken = _save_broken_iris(serving_registry, iris_data)
            serving_registry.set_alias("iris", "production", broken)
            await repository.refresh()
            await repository.refresh()
        await repository.close()

    asyncio.run(scenario())
    messages = [message for level, message in _swap_records(caplog) if level == logging.WARNING]
    assert [message.split(" failed")[0] for message in messages] == [
        "hot swap of iris@production to version 2",
        "hot swap of iris@production to version 3",
    ]


def test_refresh_unresolvable_reference_is_logged_once(
    serving_registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    repository = ModelRepository(serving_registry, ["iris@production"], ServingConfig())

    async def scenario() -> None:
        await repository.load_all()
        serving_registry.remove_alias("iris", "production")
        await repository.refresh()
        await repository.refresh()
        await repository.close()

    asyncio.run(scenario())
    assert _swap_records(caplog) == [
        (
            logging.WARNING,
            "hot swap of iris@production to its target failed (retried every poll): "
            "model 'iris' has no alias 'production' (known: none)",
        )
    ]


@pytest.mark.parametrize("fixed_by", ["swap", "move-back"])
def test_refresh_logs_recovery_once(
    serving_registry: Registry, iris_data: Any, caplog: pytest.LogCaptureFixture, fixed_by: str
) -> None:
    """Recovered: a good version is swapped in, or the alias moves back to the served one."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    repository = ModelRepository(serving_registry, ["iris@production"], ServingConfig())

    async def scenario() -> None:
        await repository.load_all()
        broken = _save_broken_iris(serving_registry, iris_data)
        serving_registry.set_alias("iris", "production", broken)
        await repository.refresh()
        if fixed_by == "swap":
            x, y = iris_data
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(max_iter=1000).fit(x, y)
            good = serving_registry.save(model, "iris", example=x[:5]).version
        else:
            good = 1
        serving_registry.set_alias("iris", "production", good)
        await repository.refresh()
        await repository.refresh()
        await repository.close()

    asyncio.run(scenario())
    levels = [level for level, _ in _swap_records(caplog)]
    recovered = [m for _, m in _swap_records(caplog) if "recovered" in m]
    served = repository.get("iris").version
    assert levels.count(logging.WARNING) == 1
    assert recovered == [f"hot swap of iris@production recovered: version {served} is served"]
    assert served == (3 if fixed_by == "swap" else 1)


def test_refresh_loads_a_model_that_failed_at_start(
    serving_registry: Registry, iris_data: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A model that never loaded is retried on each poll, and serves once its alias is fixed."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    broken = _save_broken_iris(serving_registry, iris_data)
    serving_registry.set_alias("iris", "production", broken)
    repository = ModelRepository(serving_registry, ["iris@production"], ServingConfig())

    async def scenario() -> None:
        await repository.load_all()
        await repository.refresh()
        assert not repository.is_ready
        serving_registry.set_alias("iris", "production", 1)
        assert await repository.refresh() == [("iris", 0, 1)]
        await repository.close()

    asyncio.run(scenario())
    assert repository.is_ready
    assert repository.failures == {}
    assert repository.get("iris").version == 1
    assert _swap_records(caplog)[-1] == (
        logging.INFO,
        "hot swap of iris@production recovered: version 1 is served",
    )
