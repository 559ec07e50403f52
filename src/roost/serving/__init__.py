"""The serving room: registered models behind one HTTP port (KServe V1, OIP V2, MLflow)."""

from __future__ import annotations

from roost.serving.app import create_app
from roost.serving.batcher import Batcher, BatchObserver
from roost.serving.repository import ModelRepository, ServedModel

__all__ = ["BatchObserver", "Batcher", "ModelRepository", "ServedModel", "create_app"]
