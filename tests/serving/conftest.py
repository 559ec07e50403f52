"""Fixtures of the serving room: a registry with models to serve, the app, a live server."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient

from roost.config import ServingConfig
from roost.serving import ModelRepository, create_app
from roost.store import Registry

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="session")
def iris_data() -> Any:
    """Iris with short column names and species labels, as a DataFrame and a label array."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True)
    x = frame.data.set_axis(IRIS_COLUMNS, axis=1)
    y = frame.target_names[frame.target]
    return x, y


@pytest.fixture(scope="session")
def serving_registry_home(tmp_path_factory: pytest.TempPathFactory, iris_data: Any) -> Path:
    """Built once per session: ``iris:1`` (LogisticRegression, columns) with alias
    ``production``, and ``digits:1`` (a tensor model: LogisticRegression on 8 floats)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    home = tmp_path_factory.mktemp("serving") / "roost-home"
    registry = Registry(home)
    x, y = iris_data
    registry.save(LogisticRegression(max_iter=1000).fit(x, y), "iris", example=x[:5])
    registry.set_alias("iris", "production", 1)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 8))
    labels = (features[:, 0] + features[:, 1] > 0).astype(np.int64)
    registry.save(LogisticRegression().fit(features, labels), "digits", example=features[:5])
    return home


@pytest.fixture
def serving_registry(tmp_path: Path, serving_registry_home: Path) -> Registry:
    """A copy of the session's serving registry that the test may change freely.

    Copying a folder is far cheaper than fitting and saving the models again per test.
    """
    home = tmp_path / "roost-home"
    shutil.copytree(serving_registry_home, home)
    return Registry(home)


@pytest.fixture
def make_app(serving_registry: Registry) -> Callable[..., Starlette]:
    """Build the app for some refs (default: iris@production and digits:1) and settings."""

    def build(refs: list[str] | None = None, **settings: Any) -> Starlette:
        config = ServingConfig(**settings)
        repository = ModelRepository(
            serving_registry, refs or ["iris@production", "digits:1"], config
        )
        return create_app(repository, config)

    return build


@pytest.fixture
def client(make_app: Callable[..., Starlette]) -> Iterator[TestClient]:
    """An in-process client of the default app, models loaded (lifespan run)."""
    with TestClient(make_app()) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_in_thread(app: Starlette, timeout_s: float = 30.0) -> Iterator[str]:
    """Run ``app`` on a real 127.0.0.1 port in a thread; yield its base URL; stop it after."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="roost-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)


@pytest.fixture
def live_url(make_app: Callable[..., Starlette]) -> Iterator[str]:
    """The default app served on a real port (for real clients: tritonclient, schemathesis)."""
    with serve_in_thread(make_app()) as url:
        yield url


@pytest.fixture
def serve_live() -> Callable[[Starlette], contextlib.AbstractContextManager[str]]:
    """Run any app on a real port: ``with serve_live(app) as url: ...``."""
    return serve_in_thread
