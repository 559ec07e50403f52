"""The parts of the OpenAPI document that do not depend on a model.

The building blocks of an operation, the components every model shares (the error
bodies and responses, the V2 metadata), and the server's own paths (health, lists,
metrics, docs). ``_openapi_models`` adds each served model; ``openapi`` assembles.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from roost.types import JSONDict

__all__ = [
    "BINARY_TEXT",
    "JSON",
    "MLFLOW_ERRORS",
    "MLFLOW_TAG",
    "PARAMETERS_REF",
    "PREDICTION_ID_HEADER",
    "PREDICT_ERRORS",
    "SERVER_TAG",
    "components",
    "errors",
    "ok",
    "operation",
    "ref",
    "server_paths",
]

JSON = "application/json"
# tag names with a space: a model name cannot hold one, so a model's own tag never clashes
SERVER_TAG = "roost server"
MLFLOW_TAG = "MLflow scoring"
PARAMETERS_REF = "#/components/schemas/V2Parameters"

#: the error statuses of the protocols (serving/errors.py), and what each means
_ERRORS = {
    400: "The request is malformed, or its data does not match the model's signature.",
    404: "The model (or that version of it) is not served here.",
    413: "The request body is larger than the server's limit.",
    415: "The Content-Type is neither application/json nor text/csv.",
    503: "The model's queue is full (retry after Retry-After seconds), or it is not ready.",
    504: "The model did not answer within the server's request timeout.",
}
PREDICT_ERRORS = (400, 404, 413, 503, 504)
MLFLOW_ERRORS = (400, 404, 413, 415, 503, 504)

BINARY_TEXT = (
    "**Binary tensor extension.** Instead of `data`, an input may give "
    "`parameters.binary_data_size` and append its raw little-endian bytes after the JSON; "
    "the JSON's length then goes in the `Inference-Header-Content-Length` header. Set "
    "`parameters.binary_data` on a requested output (or `binary_data_output` on the request) "
    "to receive it in binary: the response is then `application/octet-stream` with its own "
    "`Inference-Header-Content-Length`. This document describes the JSON form only."
)

PREDICTION_ID_HEADER = {
    "X-Prediction-Id": {
        "description": "the prediction's id: send it back with feedback (ground truth)",
        "schema": {"type": "string"},
    }
}


def ref(kind: str, name: str) -> JSONDict:
    return {"$ref": f"#/components/{kind}/{name}"}


def ok(description: str, schema: JSONDict, **media: Any) -> JSONDict:
    """A 200 response with a JSON body (``example=...`` goes with the schema)."""
    return {"description": description, "content": {JSON: {"schema": schema, **media}}}


def errors(statuses: Iterable[int], mlflow: bool = False) -> JSONDict:
    prefix = "MLflowError" if mlflow else "Error"
    return {str(s): ref("responses", f"{prefix}{s}") for s in statuses}


def operation(
    operation_id: str,
    summary: str,
    tags: list[str],
    responses: JSONDict,
    description: str | None = None,
    request: JSONDict | None = None,
) -> JSONDict:
    operation: JSONDict = {
        "operationId": operation_id,
        "summary": summary,
        "tags": tags,
        "responses": responses,
    }
    if description:
        operation["description"] = description
    if request is not None:
        operation["requestBody"] = {"required": True, "content": request}
    return operation


def components() -> JSONDict:
    """The schemas and error responses every model shares."""
    schemas: JSONDict = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string", "description": "what went wrong"}},
        },
        "MLflowError": {
            "type": "object",
            "required": ["error_code", "message"],
            "properties": {
                "error_code": {"type": "string", "examples": ["BAD_REQUEST"]},
                "message": {"type": "string"},
            },
        },
        "ModelList": {
            "type": "object",
            "required": ["models"],
            "properties": {"models": {"type": "array", "items": {"type": "string"}}},
        },
        "V2Parameters": {
            "type": "object",
            "description": "free parameters; those this server does not know are ignored",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "V2TensorMetadata": {
            "type": "object",
            "required": ["datatype", "name", "shape"],
            "properties": {
                "name": {"type": "string"},
                "datatype": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": -1}},
                "parameters": ref("schemas", "V2Parameters"),
            },
        },
    }
    schemas["V2ModelMetadata"] = {
        "type": "object",
        "required": ["name", "platform"],
        "properties": {
            "name": {"type": "string"},
            "versions": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "string"},
            "inputs": {"type": "array", "items": ref("schemas", "V2TensorMetadata")},
            "outputs": {"type": "array", "items": ref("schemas", "V2TensorMetadata")},
            "parameters": ref("schemas", "V2Parameters"),
        },
    }
    responses: JSONDict = {}
    for prefix, statuses in (("Error", PREDICT_ERRORS), ("MLflowError", MLFLOW_ERRORS)):
        for status in statuses:
            response = {
                "description": _ERRORS[status],
                "content": {JSON: {"schema": ref("schemas", prefix)}},
            }
            if status == 503:
                response["headers"] = {
                    "Retry-After": {
                        "description": "seconds to wait before retrying (a full queue)",
                        "schema": {"type": "integer"},
                    }
                }
            responses[f"{prefix}{status}"] = response
    return {"schemas": schemas, "responses": responses}


def server_paths() -> JSONDict:
    """The endpoints that do not depend on a model."""
    tags = [SERVER_TAG]
    v2_ready = {
        "type": "object",
        "required": ["ready"],
        "properties": {"ready": {"type": "boolean"}},
    }
    live = {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}}
    health = {
        "type": "object",
        "required": ["models", "ready"],
        "properties": {
            "ready": {"type": "boolean"},
            "models": {
                "type": "object",
                "description": "the version served, by model name",
                "additionalProperties": {"type": "string"},
            },
            "failed": {
                "type": "object",
                "description": "why each model that failed to load failed (when not ready)",
                "additionalProperties": {"type": "string"},
            },
            "loading": {
                "type": "array",
                "description": "the models still loading (when not ready)",
                "items": {"type": "string"},
            },
        },
    }
    return {
        "/v1/models": {
            "get": operation(
                "v1_models",
                "The served models (KServe V1)",
                tags,
                {"200": ok("Their names.", ref("schemas", "ModelList"))},
            )
        },
        "/v2": {
            "get": operation(
                "v2_server_metadata",
                "Server metadata (Open Inference Protocol V2)",
                tags,
                {
                    "200": ok(
                        "The server's name, version and protocol extensions.",
                        {
                            "type": "object",
                            "required": ["extensions", "name", "version"],
                            "properties": {
                                "name": {"type": "string"},
                                "version": {"type": "string"},
                                "extensions": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    )
                },
            )
        },
        "/v2/models": {
            "get": operation(
                "v2_models",
                "The served models (Open Inference Protocol V2)",
                tags,
                {"200": ok("Their names.", ref("schemas", "ModelList"))},
            )
        },
        "/v2/health/live": {
            "get": operation(
                "v2_live", "Liveness (Open Inference Protocol V2)", tags, {"200": ok("Up.", live)}
            )
        },
        "/health/live": {
            "get": operation(
                "health_live", "Liveness (for Kubernetes probes)", tags, {"200": ok("Up.", live)}
            )
        },
        "/health/ready": {
            "get": operation(
                "health_ready",
                "Readiness, with each model's state (for Kubernetes probes)",
                tags,
                {
                    "200": ok("Every model is loaded: the versions served.", health),
                    "503": {
                        "description": "Some model failed to load, or is still loading.",
                        "content": {JSON: {"schema": health}},
                    },
                },
            )
        },
        "/v2/health/ready": {
            "get": operation(
                "v2_ready",
                "Readiness (Open Inference Protocol V2)",
                tags,
                {
                    "200": ok("Every model is loaded.", v2_ready),
                    "503": {
                        "description": "Some model is not loaded (yet).",
                        "content": {JSON: {"schema": v2_ready}},
                    },
                },
            )
        },
        "/metrics": {
            "get": operation(
                "metrics",
                "Prometheus metrics",
                tags,
                {
                    "200": {
                        "description": "The Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
        "/openapi.json": {
            "get": operation(
                "openapi",
                "This document",
                tags,
                {"200": ok("OpenAPI 3.1.", {"type": "object"})},
            )
        },
        "/docs": {
            "get": operation(
                "docs",
                "The interactive docs page (works offline)",
                tags,
                {
                    "200": {
                        "description": "An HTML page.",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
        "/": {
            "get": operation(
                "root",
                "Redirects to the docs page",
                tags,
                {
                    "307": {
                        "description": "Go to /docs.",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
    }
