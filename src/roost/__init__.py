"""roost: from a trained model to a documented, observable, composable inference component."""

from __future__ import annotations

from roost._api import default_registry, load, save
from roost._version import __version__
from roost.errors import (
    ConfigError,
    Error,
    FlavorError,
    IntegrityError,
    InvalidReference,
    ModelError,
    ModelNotFound,
    NotLoadedError,
    SignatureError,
    StoreError,
    VersionConflict,
)
from roost.model import ColumnSpec, Model, OutputSpec, Signature, TensorSpec
from roost.store import ModelRef, ModelVersion, PackagedModel, Registry

__all__ = [
    "ColumnSpec",
    "ConfigError",
    "Error",
    "FlavorError",
    "IntegrityError",
    "InvalidReference",
    "Model",
    "ModelError",
    "ModelNotFound",
    "ModelRef",
    "ModelVersion",
    "NotLoadedError",
    "OutputSpec",
    "PackagedModel",
    "Registry",
    "Signature",
    "SignatureError",
    "StoreError",
    "TensorSpec",
    "VersionConflict",
    "__version__",
    "default_registry",
    "load",
    "save",
]
