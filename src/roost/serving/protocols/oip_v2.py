"""The Open Inference Protocol (KServe V2, Triton HTTP), with the binary tensor extension.

Health, server and model metadata, model readiness and inference under ``/v2``, each
with or without a trailing slash, and with an optional ``/versions/{version}``.
``tritonclient.http`` and its aio client work unchanged. Every error is
``{"error": "<message>"}`` with the status from ``serving.errors``, including wrong
methods (405) and unknown ``/v2`` paths (404), because tritonclient reads that key.
A model that is served but not loaded answers 503 everywhere, its ``ready`` included
(``tritonclient``'s ``is_model_ready`` only asks whether the status is 200).

How signatures map to tensors: ``_v2_codec``. The request and response documents:
``_v2_messages``. The binary framing: ``_v2_binary``. The full story: docs/protocol-v2.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roost._version import __version__
from roost.errors import Error
from roost.serving._http import json_response, read_body
from roost.serving._predict import PREDICTION_ID_HEADER, new_prediction_id, predict_rows
from roost.serving.errors import retry_headers, status_for
from roost.serving.protocols._routing import ANY_METHOD, Endpoint, routes_for
from roost.serving.protocols._v2_binary import HEADER_LENGTH
from roost.serving.protocols._v2_codec import (
    check_output_names,
    input_metadata,
    output_metadata,
    outputs_as_tensors,
    rows_from_tensors,
)
from roost.serving.protocols._v2_messages import parse_infer_request, render_infer_response
from roost.serving.repository import ServedModel
from roost.serving.state import ServerState

__all__ = ["EXTENSIONS", "routes"]

#: the protocol extensions this server implements, as ``GET /v2`` reports them
EXTENSIONS = ("binary_tensor_data",)


def error_response(exc: Error) -> Response:
    return json_response({"error": str(exc)}, status_for(exc), retry_headers(exc))


def _served(request: Request) -> ServedModel:
    """The model the path names (``version`` too, when the path has one).

    Raises:
        ModelNotFound: not served, or not at that version.
        ModelNotReady: served, but not loaded.
    """
    state = ServerState.of(request)
    return state.repository.get(request.path_params["name"], request.path_params.get("version"))


async def live(request: Request) -> Response:
    return json_response({"live": True})


async def ready(request: Request) -> Response:
    is_ready = ServerState.of(request).repository.is_ready
    return json_response({"ready": is_ready}, 200 if is_ready else 503)


async def server_metadata(request: Request) -> Response:
    return json_response({"name": "roost", "version": __version__, "extensions": list(EXTENSIONS)})


async def list_models(request: Request) -> Response:
    state = ServerState.of(request)
    return json_response({"models": [ref.name for ref in state.repository.refs]})


async def model_metadata(request: Request) -> Response:
    try:
        served = _served(request)
    except Error as exc:
        return error_response(exc)
    signature = served.model.signature
    flavor = served.model.metadata.get("flavor") or {}
    parameters = {"content_type": "pd"} if signature.kind == "columns" else {}
    return json_response(
        {
            "name": served.name,
            "versions": [str(served.version)],
            "platform": str(flavor.get("name", "roost")),
            "inputs": input_metadata(signature),
            "outputs": output_metadata(signature),
            "parameters": parameters,
        }
    )


async def model_ready(request: Request) -> Response:
    try:
        served = _served(request)
    except Error as exc:
        return error_response(exc)
    return json_response({"name": served.name, "ready": True})


async def infer(request: Request) -> Response:
    state = ServerState.of(request)
    prediction_id = new_prediction_id()
    try:
        served = _served(request)
        signature = served.model.signature
        body = await read_body(request, state.config.max_body_bytes)
        parsed = parse_infer_request(body, request.headers.get(HEADER_LENGTH))
        names = [output.name for output in parsed.outputs] or [o.name for o in signature.outputs]
        check_output_names(signature, names)
        rows = rows_from_tensors(signature, parsed.inputs)
        outputs = await predict_rows(
            state, served, rows, prediction_id=prediction_id, protocol="v2"
        )
        tensors = outputs_as_tensors(signature, outputs, names)
    except Error as exc:
        return error_response(exc)
    content, header_length = render_infer_response(
        model_name=served.name,
        model_version=str(served.version),
        request=parsed,
        prediction_id=prediction_id,
        tensors=tensors,
    )
    headers = {PREDICTION_ID_HEADER: prediction_id}
    if header_length is None:
        return Response(content, headers=headers, media_type="application/json")
    headers[HEADER_LENGTH] = str(header_length)
    return Response(content, headers=headers, media_type="application/octet-stream")


async def unknown_path(request: Request) -> Response:
    return json_response(
        {"error": f"{request.url.path}: no such endpoint in this server's V2 protocol"}, 404
    )


def _error(message: str, status: int, headers: Mapping[str, str]) -> Response:
    return json_response({"error": message}, status, headers)


_ENDPOINTS: tuple[tuple[str, str, Endpoint], ...] = (
    ("/v2", "GET", server_metadata),
    ("/v2/health/live", "GET", live),
    ("/v2/health/ready", "GET", ready),
    ("/v2/models", "GET", list_models),
    ("/v2/models/{name}", "GET", model_metadata),
    ("/v2/models/{name}/ready", "GET", model_ready),
    ("/v2/models/{name}/infer", "POST", infer),
    ("/v2/models/{name}/versions/{version}", "GET", model_metadata),
    ("/v2/models/{name}/versions/{version}/ready", "GET", model_ready),
    ("/v2/models/{name}/versions/{version}/infer", "POST", infer),
)


def routes() -> list[BaseRoute]:
    """The V2 routes; each path also answers with a trailing slash (no redirect)."""
    return [
        *routes_for(_ENDPOINTS, _error, slash=True),
        Route("/v2/{rest:path}", unknown_path, methods=ANY_METHOD),
    ]
