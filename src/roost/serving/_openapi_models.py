"""The paths and schemas of one served model, in the OpenAPI document.

KServe V1 and Open Inference Protocol V2 paths for every model, MLflow's for the
default one, and the model's tag (its card, and what the docs page lists). The JSON
Schemas themselves come from ``_openapi_schemas``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from roost.serving import _openapi_schemas as schemas
from roost.serving._openapi_parts import (
    BINARY_TEXT,
    JSON,
    MLFLOW_ERRORS,
    MLFLOW_TAG,
    PARAMETERS_REF,
    PREDICT_ERRORS,
    PREDICTION_ID_HEADER,
    errors,
    ok,
    operation,
    ref,
)
from roost.serving.protocols._v2_codec import input_metadata, output_metadata
from roost.serving.repository import ServedModel
from roost.types import JSONDict

__all__ = ["mlflow_paths", "model_paths", "model_schemas", "model_tag"]

log = logging.getLogger(__name__)


def _output_example(served: ServedModel) -> list[Any] | None:
    path = served.model.path / "examples" / "output_example.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # an older package without one: no example, no failure
        log.info("openapi: no output example for %s (%s)", served.model.ref, exc)
        return None
    return list(rows) if isinstance(rows, list) else None


def model_tag(served: ServedModel, is_default: bool) -> JSONDict:
    """The model's tag: its card as the description, and what the docs page lists."""
    signature = served.model.signature
    card = served.model.metadata.get("card") or {}
    summary = f"Model `{served.name}` version {served.version}, served as `{served.ref}`."
    description = "\n\n".join(filter(None, [summary, schemas.card_text(card)]))
    return {
        "name": served.name,
        "description": description,
        "x-roost-model": {
            "name": served.name,
            "version": str(served.version),
            "ref": served.ref,
            "default": is_default,
            "kind": signature.kind,
            "inputs": [spec.to_dict() for spec in signature.inputs],
            "outputs": [spec.to_dict() for spec in signature.outputs],
            "card": {k: card[k] for k in ("overview", "intended_use", "limitations") if k in card},
            "predict": f"/v1/models/{served.name}:predict",
        },
    }


def model_schemas(served: ServedModel, is_default: bool) -> JSONDict:
    """The typed schemas of one model, named ``<model>.<what>`` in the components
    (MLflow's only for the default model, the one ``/invocations`` serves)."""
    name, signature = served.name, served.model.signature
    row, prediction = f"#/components/schemas/{name}.Row", f"#/components/schemas/{name}.Prediction"
    typed = {
        f"{name}.Row": schemas.row_schema(signature),
        f"{name}.Prediction": schemas.prediction_schema(signature),
        f"{name}.V1Request": schemas.v1_request_schema(signature, row),
        f"{name}.V1Response": {
            "type": "object",
            "required": ["id", "model_version", "predictions"],
            "properties": {
                "predictions": {"type": "array", "items": {"$ref": prediction}},
                "id": {"type": "string", "description": "the prediction id (X-Prediction-Id)"},
                "model_version": {"type": "string"},
            },
        },
        f"{name}.V2InferenceRequest": schemas.v2_infer_request_schema(signature, PARAMETERS_REF),
        f"{name}.V2InferenceResponse": schemas.v2_infer_response_schema(
            name, signature, PARAMETERS_REF
        ),
    }
    if is_default:
        typed[f"{name}.MLflowRequest"] = schemas.mlflow_request_schema(signature, row)
        typed[f"{name}.MLflowResponse"] = {
            "type": "object",
            "required": ["predictions"],
            "properties": {"predictions": {"type": "array", "items": {"$ref": prediction}}},
        }
    return typed


def model_paths(served: ServedModel) -> JSONDict:
    """The model's KServe V1 and V2 paths; the V2 ones also under ``/versions/<v>``."""
    outputs = _output_example(served)
    return {**_v1_paths(served, outputs), **_v2_paths(served, outputs)}


def _v1_paths(served: ServedModel, outputs: list[Any] | None) -> JSONDict:
    name, signature = served.name, served.model.signature
    response = {"schema": ref("schemas", f"{name}.V1Response")}
    if outputs is not None:
        response["example"] = {
            "predictions": outputs[: schemas.EXAMPLE_ROWS],
            "id": "0" * 32,
            "model_version": str(served.version),
        }
    status = {
        "type": "object",
        "required": ["name", "ready"],
        "properties": {
            "name": {"const": name},
            "version": {"type": "string"},
            "ready": {"type": "boolean"},
        },
    }
    request = {
        JSON: {
            "schema": ref("schemas", f"{name}.V1Request"),
            "example": {"instances": schemas.example_rows(signature, served.model.example)},
        }
    }
    return {
        f"/v1/models/{name}": {
            "get": operation(
                f"v1_status_{name}",
                f"Is {name} ready (KServe V1)",
                [name],
                {"200": ok("The model is loaded.", status), **errors([404, 503])},
            )
        },
        f"/v1/models/{name}:predict": {
            "post": operation(
                f"v1_predict_{name}",
                f"Predict with {name} (KServe V1)",
                [name],
                {
                    "200": {
                        "description": "One prediction per instance, in order.",
                        "headers": PREDICTION_ID_HEADER,
                        "content": {JSON: response},
                    },
                    **errors(PREDICT_ERRORS),
                },
                description=f"Each instance is one row of `{name}`'s inputs.",
                request=request,
            )
        },
    }


def _v2_paths(served: ServedModel, outputs: list[Any] | None) -> JSONDict:
    name, version, signature = served.name, served.version, served.model.signature
    response = {"schema": ref("schemas", f"{name}.V2InferenceResponse")}
    if outputs is not None:
        response["example"] = schemas.v2_infer_response_example(name, version, signature, outputs)
    request = {
        JSON: {
            "schema": ref("schemas", f"{name}.V2InferenceRequest"),
            "example": schemas.v2_infer_request_example(signature, served.model.example),
        }
    }
    metadata = {
        "name": name,
        "versions": [str(version)],
        "platform": served.model.metadata["flavor"]["name"],
        "inputs": input_metadata(signature),
        "outputs": output_metadata(signature),
        "parameters": {"content_type": "pd"} if signature.kind == "columns" else {},
    }
    ready = {
        "type": "object",
        "required": ["name", "ready"],
        "properties": {"name": {"const": name}, "ready": {"type": "boolean"}},
    }
    paths: JSONDict = {}
    for prefix, suffix in (
        (f"/v2/models/{name}", ""),
        (f"/v2/models/{name}/versions/{version}", "_version"),
    ):
        paths[prefix] = {
            "get": operation(
                f"v2_metadata_{name}{suffix}",
                f"Metadata of {name} (Open Inference Protocol V2)",
                [name],
                {
                    "200": ok(
                        "Its inputs and outputs as tensors: one per column for a table.",
                        ref("schemas", "V2ModelMetadata"),
                        example=metadata,
                    ),
                    **errors([404, 503]),
                },
            )
        }
        paths[f"{prefix}/ready"] = {
            "get": operation(
                f"v2_ready_{name}{suffix}",
                f"Is {name} ready (Open Inference Protocol V2)",
                [name],
                {
                    "200": ok("The model is loaded.", ready),
                    **errors([404, 503]),
                },
            )
        }
        paths[f"{prefix}/infer"] = {
            "post": operation(
                f"v2_infer_{name}{suffix}",
                f"Infer with {name} (Open Inference Protocol V2)",
                [name],
                {
                    "200": {
                        "description": "The outputs, each flat in row-major order.",
                        "headers": PREDICTION_ID_HEADER,
                        "content": {JSON: response},
                    },
                    **errors(PREDICT_ERRORS),
                },
                description=f"Tensors in, tensors out. {BINARY_TEXT}",
                request=request,
            )
        }
    return paths


def mlflow_paths(served: ServedModel) -> JSONDict:
    name, signature, example = served.name, served.model.signature, served.model.example
    response: JSONDict = {"schema": ref("schemas", f"{name}.MLflowResponse")}
    outputs = _output_example(served)
    if outputs is not None:
        response["example"] = {"predictions": outputs[: schemas.EXAMPLE_ROWS]}
    request: JSONDict = {
        JSON: {
            "schema": ref("schemas", f"{name}.MLflowRequest"),
            "examples": schemas.mlflow_examples(signature, example),
        }
    }
    if signature.kind == "columns":
        request["text/csv"] = {
            "schema": {"type": "string", "description": "a header row, then one line per row"},
            "example": schemas.csv_example(signature, example),
        }
    alive = {
        "200": {"description": "Every model is loaded (the body is a newline).", "content": {}},
        **errors([503], mlflow=True),
    }
    return {
        "/invocations": {
            "post": operation(
                "mlflow_invocations",
                f"Predict with the default model, {name} (MLflow scoring)",
                [MLFLOW_TAG, name],
                {
                    "200": {
                        "description": "One prediction per row, in order.",
                        "headers": PREDICTION_ID_HEADER,
                        "content": {JSON: response},
                    },
                    **errors(MLFLOW_ERRORS, mlflow=True),
                },
                description=(
                    "A JSON body holds exactly one of the formats below, and optionally "
                    "`params`. A missing Content-Type is read as JSON."
                ),
                request=request,
            )
        },
        "/ping": {"get": operation("mlflow_ping", "Readiness (MLflow)", [MLFLOW_TAG], alive)},
        "/health": {"get": operation("mlflow_health", "Readiness (MLflow)", [MLFLOW_TAG], alive)},
        "/version": {
            "get": operation(
                "mlflow_version",
                "roost's version, as bare text (MLflow)",
                [MLFLOW_TAG],
                {
                    "200": {
                        "description": "The version.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
    }
