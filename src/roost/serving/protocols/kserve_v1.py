"""KServe V1: ``POST /v1/models/{name}:predict`` with ``{"instances": [...]}`` (or ``"inputs"``).

Instances are rows: objects for a column signature, nested lists for a tensor one;
``inputs`` is TensorFlow Serving's columnar form (``_tf_serving`` reads both). The
body is parsed as JSON whatever its Content-Type, as KServe does. Errors are
``{"error": "<message>"}`` with the status from ``serving.errors``: an unknown model
is 404, and one that is served but not loaded (it failed) 503, as KServe answers a
model that is not ready. Besides those:

- ``:explain`` is recognised and answered 501 (roost has no explainers yet), an
  unknown ``:verb`` 404, and a wrong method 405, each with an ``{"error"}`` body.
- Every path is also accepted with a trailing slash, so no client is redirected.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.errors import Error
from roost.serving._http import json_response, parse_json, read_body
from roost.serving._predict import PREDICTION_ID_HEADER, new_prediction_id, predict_rows
from roost.serving.errors import BadRequest, retry_headers, status_for
from roost.serving.protocols._routing import Endpoint, routes_for
from roost.serving.protocols._tf_serving import json_type, rows_from_payload
from roost.serving.state import ServerState

__all__ = ["routes"]

_VERBS = ("predict", "explain")


def error_response(exc: Error) -> Response:
    return json_response({"error": str(exc)}, status_for(exc), retry_headers(exc))


def error_body(message: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    """``{"error": message}``: the error body of KServe V1, which ``/v1/feedback`` shares."""
    return json_response({"error": message}, status, headers)


def _payload(body: bytes) -> Mapping[str, Any]:
    payload = parse_json(body)
    if not isinstance(payload, Mapping):
        raise BadRequest(
            'request body: expected an object such as {"instances": [...]}, '
            f"got {json_type(payload)}"
        )
    return payload


async def list_models(request: Request) -> Response:
    state = ServerState.of(request)
    return json_response({"models": [r.name for r in state.repository.refs]})


async def model_status(request: Request) -> Response:
    try:
        served = ServerState.of(request).repository.get(request.path_params["name"])
    except Error as exc:
        return error_response(exc)
    return json_response({"name": served.name, "version": str(served.version), "ready": True})


async def answer_predict(
    state: ServerState, name: str, read: Callable[[int], Awaitable[bytes]]
) -> tuple[int, bytes, dict[str, str]]:
    """One ``:predict`` request, as (status, JSON body, headers): the route's and the lane's.

    Args:
        state: the server's models and settings.
        name: the model the path names.
        read: reads the request body, refusing more than the given number of bytes.
    """
    prediction_id = new_prediction_id()
    try:
        served = state.repository.get(name)
        payload = _payload(await read(state.config.max_body_bytes))
        rows = rows_from_payload(payload, served.model.signature)
        outputs = await predict_rows(
            state, served, rows, prediction_id=prediction_id, protocol="v1"
        )
    except Error as exc:
        return status_for(exc), orjson.dumps({"error": str(exc)}), retry_headers(exc)
    answer = {"predictions": outputs, "id": prediction_id, "model_version": str(served.version)}
    body = orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
    return 200, body, {PREDICTION_ID_HEADER: prediction_id}


async def predict(request: Request) -> Response:
    async def read(limit: int) -> bytes:
        return await read_body(request, limit)

    state = ServerState.of(request)
    status, body, headers = await answer_predict(state, request.path_params["name"], read)
    return Response(body, status, headers, media_type="application/json")


async def explain(request: Request) -> Response:
    try:
        served = ServerState.of(request).repository.get(request.path_params["name"])
    except Error as exc:
        return error_response(exc)
    return error_body(f"model {served.name!r} has no explainer: :explain is not implemented", 501)


async def unknown_verb(request: Request) -> Response:
    verb = request.path_params["verb"]
    return error_body(
        f"POST /v1/models/{request.path_params['name']}:{verb}: unknown verb {verb!r} "
        f"(expected {' or '.join(_VERBS)})",
        404,
    )


#: order matters: "{name}" also matches "iris:predict", so the verbs come first
_ENDPOINTS: tuple[tuple[str, str, Endpoint], ...] = (
    ("/v1/models", "GET", list_models),
    ("/v1/models/{name}:predict", "POST", predict),
    ("/v1/models/{name}:explain", "POST", explain),
    ("/v1/models/{name}:{verb}", "POST", unknown_verb),
    ("/v1/models/{name}", "GET", model_status),
)


def routes() -> list[Route]:
    """The V1 routes, each also with a trailing slash; a wrong method is a JSON 405."""
    return routes_for(_ENDPOINTS, error_body, slash=True)
