"""The one place serving turns roost's errors into HTTP statuses.

Each protocol formats the body its clients expect (``{"error": …}`` for KServe and
the Open Inference Protocol, ``{"error_code": …, "message": …}`` for MLflow); the
status comes from here, so the three protocols never disagree.
"""

from __future__ import annotations

from roost.errors import (
    ConfigError,
    Error,
    FeatureError,
    FeatureSkewError,
    FeatureUnavailable,
    InvalidReference,
    ModelNotFound,
    ModelNotReady,
    Overloaded,
    RequestTimeout,
    SignatureError,
)

__all__ = ["RETRY_AFTER_S", "BadRequest", "PayloadTooLarge", "retry_headers", "status_for"]

#: what a shed request is told to wait before retrying (the Retry-After header)
RETRY_AFTER_S = 1


class BadRequest(Error, ValueError):
    """The request itself is malformed: not JSON, wrong structure, inconsistent binary body."""


class PayloadTooLarge(Error, ValueError):
    """The request body is larger than ``max_body_bytes``."""


_STATUS: dict[type[BaseException], int] = {
    BadRequest: 400,
    ConfigError: 400,
    SignatureError: 400,
    InvalidReference: 400,
    FeatureError: 400,  # a key or request field a transform cannot use, named in the message
    ModelNotFound: 404,
    PayloadTooLarge: 413,
    ModelNotReady: 503,
    FeatureSkewError: 503,
    FeatureUnavailable: 503,
    Overloaded: 503,
    RequestTimeout: 504,
}


def status_for(exc: BaseException) -> int:
    """The HTTP status for an exception: its nearest class in the table, else 500."""
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500


def retry_headers(exc: BaseException) -> dict[str, str]:
    """``Retry-After`` for a shed request (503), nothing otherwise."""
    return {"Retry-After": str(RETRY_AFTER_S)} if isinstance(exc, Overloaded) else {}
