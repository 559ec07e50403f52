"""KServe V1: ``POST /v1/models/{name}:predict`` with ``{"instances": [...]}``.

Instances are rows: dicts for a column signature, nested lists for a tensor one.
Errors are ``{"error": "<message>"}`` with the status from ``serving.errors``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.errors import Error
from roost.serving._http import json_response, parse_json, read_body
from roost.serving._predict import PREDICTION_ID_HEADER, new_prediction_id, predict_rows
from roost.serving.errors import BadRequest, retry_headers, status_for
from roost.serving.state import ServerState

__all__ = ["routes"]


def error_response(exc: Error) -> Response:
    return json_response({"error": str(exc)}, status_for(exc), retry_headers(exc))


def _instances(payload: Any) -> Any:
    if not isinstance(payload, Mapping):
        raise BadRequest(
            'request body: expected an object such as {"instances": [...]}, '
            f"got {type(payload).__name__}"
        )
    if "instances" in payload:
        instances = payload["instances"]
        key = "instances"
    elif "inputs" in payload:
        instances = payload["inputs"]
        key = "inputs"
    else:
        raise BadRequest('request body: expected an "instances" list, got none')
    if not isinstance(instances, list):
        raise BadRequest(f'"{key}": expected a list of rows, got {type(instances).__name__}')
    return instances


async def list_models(request: Request) -> Response:
    state = ServerState.of(request)
    return json_response({"models": [r.name for r in state.repository.refs]})


async def model_status(request: Request) -> Response:
    state = ServerState.of(request)
    try:
        served = state.repository.get(request.path_params["name"])
    except Error as exc:
        return error_response(exc)
    return json_response({"name": served.name, "version": str(served.version), "ready": True})


async def predict(request: Request) -> Response:
    state = ServerState.of(request)
    prediction_id = new_prediction_id()
    try:
        served = state.repository.get(request.path_params["name"])
        payload = parse_json(await read_body(request, state.config.max_body_bytes))
        outputs = await predict_rows(served, _instances(payload), state.config.request_timeout_s)
    except Error as exc:
        return error_response(exc)
    return json_response(
        {"predictions": outputs, "id": prediction_id, "model_version": str(served.version)},
        headers={PREDICTION_ID_HEADER: prediction_id},
    )


def routes() -> list[Route]:
    return [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{name}:predict", predict, methods=["POST"]),
        Route("/v1/models/{name}", model_status, methods=["GET"]),
    ]
