"""Every exception roost raises, in one tree.

Callers catch the branch they care about; each leaf also subclasses the builtin
that plain Python code would expect (as scikit-learn's ``NotFittedError`` does)::

    Error
    ├── ConfigError(Error, ValueError)            bad settings or arguments
    ├── ModelError                                a model cannot be saved, loaded or run
    │   ├── NotLoadedError(ModelError, RuntimeError)   predict before load
    │   ├── FlavorError(ModelError, TypeError)          no flavor knows this object
    │   └── SignatureError(ModelError, TypeError)       input does not match the signature
    ├── StoreError                                the registry refused or failed
    │   ├── ModelNotFound(StoreError, LookupError)     no such name, version or alias
    │   ├── VersionConflict(StoreError, ValueError)    a version or alias is taken, or in use
    │   ├── IntegrityError(StoreError, ValueError)     a package's files do not match its hashes
    │   └── InvalidReference(StoreError, ValueError)   a name, version, alias or ref is malformed
    ├── ServingError                              a request could not be served
    │   ├── ModelNotReady(ServingError, RuntimeError)  served here, but not loaded (yet)
    │   ├── Overloaded(ServingError, RuntimeError)     the server is shedding load
    │   └── RequestTimeout(ServingError, TimeoutError) no answer within the deadline
    ├── TelemetryError(Error, RuntimeError)       a telemetry sink cannot be opened, written or read
    ├── FeatureError(Error)                       a feature definition, store or lookup failed
    │   ├── FeatureVersionError(FeatureError, ValueError)  code changed without a version bump
    │   ├── FeatureSkewError(FeatureError, RuntimeError)   served feature code differs from training
    │   └── FeatureUnavailable(FeatureError, ConnectionError)  a feature store cannot be reached
    └── PlanError(Error, ValueError)              no feasible placement

Messages name the thing, what was expected and what was received:
``"model 'fraud' version 7 not found (known: 3, 5, 6)"``.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "Error",
    "FeatureError",
    "FeatureSkewError",
    "FeatureUnavailable",
    "FeatureVersionError",
    "FlavorError",
    "IntegrityError",
    "InvalidReference",
    "ModelError",
    "ModelNotFound",
    "ModelNotReady",
    "NotLoadedError",
    "Overloaded",
    "PlanError",
    "RequestTimeout",
    "ServingError",
    "SignatureError",
    "StoreError",
    "TelemetryError",
    "VersionConflict",
]


class Error(Exception):
    """The root of every roost error."""


class ConfigError(Error, ValueError):
    """A setting or argument has a value roost cannot use."""


class ModelError(Error):
    """A model cannot be saved, loaded or run."""


class NotLoadedError(ModelError, RuntimeError):
    """``predict`` was called before ``load``."""


class FlavorError(ModelError, TypeError):
    """No flavor knows how to save this object, or a flavor's framework is missing."""


class SignatureError(ModelError, TypeError):
    """Input rows do not match the model's signature.

    Attributes:
        field: the column or tensor at fault, when there is one.
        row: the index of the offending row in the batch, when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.row = row


class StoreError(Error):
    """The registry refused an operation or failed to complete it."""


class ModelNotFound(StoreError, LookupError):
    """No model, version or alias matches the reference."""


class VersionConflict(StoreError, ValueError):
    """A version or alias is already taken, or is still in use."""


class IntegrityError(StoreError, ValueError):
    """A package's files do not match the hashes recorded when it was registered."""


class InvalidReference(StoreError, ValueError):
    """A model name, version, alias or reference is malformed or unsafe."""


class ServingError(Error):
    """A request could not be served."""


class ModelNotReady(ServingError, RuntimeError):
    """A model the server serves is not loaded: it failed to load, or is still loading.

    Unlike ``ModelNotFound``, the name is right; a client may retry later (a hot swap
    can load a fixed version), so the serving room answers 503 rather than 404.
    """


class Overloaded(ServingError, RuntimeError):
    """The server is shedding load; the client should retry later."""


class RequestTimeout(ServingError, TimeoutError):
    """A request took longer than its deadline."""


class PlanError(Error, ValueError):
    """No placement satisfies the constraints."""


class TelemetryError(Error, RuntimeError):
    """A telemetry sink cannot be opened, written or read (serving carries on without it)."""


class FeatureError(Error):
    """A feature definition is malformed, or a feature store cannot be read or written."""


class FeatureVersionError(FeatureError, ValueError):
    """A feature definition's code changed but its version did not.

    ``name@version`` must always mean the same code: a change needs a new version, so
    that models trained on the old code never silently get the new one.
    """


class FeatureSkewError(FeatureError, RuntimeError):
    """A model was trained with other feature code than the code imported to serve it.

    Serving it would be training–serving skew: the server refuses the model (not ready,
    with this message) rather than answer with features the model never saw.
    """


class FeatureUnavailable(FeatureError, ConnectionError):
    """A feature store (Redis, a database file) cannot be reached or read right now.

    Unlike a bad key or a failing transform, the request was fine: serving answers 503
    so the client retries.
    """
