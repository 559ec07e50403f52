"""The serving room: registered models behind one HTTP port (KServe V1, OIP V2, MLflow).

Example:
    >>> config = ServingConfig()
    >>> repository = ModelRepository(Registry(home), ["iris@production"], config)
    >>> app = create_app(repository, config)  # then: uvicorn.run(app)
"""

from __future__ import annotations

from roost.serving.app import create_app
from roost.serving.batcher import Batcher, BatchObserver
from roost.serving.metrics import Metrics
from roost.serving.openapi import build_document
from roost.serving.repository import ModelRepository, ServedModel
from roost.serving.server import ServeSpec, app_from_spec

__all__ = [
    "BatchObserver",
    "Batcher",
    "Metrics",
    "ModelRepository",
    "ServeSpec",
    "ServedModel",
    "app_from_spec",
    "build_document",
    "create_app",
]
