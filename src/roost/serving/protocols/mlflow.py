"""MLflow's scoring protocol, as ``mlflow models serve`` speaks it, for the default model.

``POST /invocations`` dispatches on Content-Type, as MLflow does:

- ``application/json`` (or no Content-Type at all, where MLflow itself fails with a
  500) holds an object with exactly one of ``dataframe_split``, ``dataframe_records``,
  ``instances`` and ``inputs``, and optionally ``params``; other keys are ignored.
  ``params`` must be an object; it is accepted and ignored, as MLflow ignores the
  params of a model whose signature declares none (roost's signatures have no params).
  ``NaN`` and ``Infinity`` are read, since MLflow's own client writes them for
  missing values.
- ``text/csv`` is read with the model's signature (``roost.model.parse_csv``).
- Any other media type, or a parameter other than ``charset=utf-8`` (such as MLflow 1's
  ``format=pandas-split``), is 415.

The answer is ``{"predictions": [...]}`` and nothing else, as MLflow writes it, so clients
that compare or validate the body keep working; the prediction id travels in the
``X-Prediction-Id`` header. Errors are ``{"error_code": "BAD_REQUEST", "message": "..."}``
with the status from ``serving.errors`` (``_ERROR_CODES`` names the code of each).
``GET /ping`` and ``GET /health`` are 200 once every model is loaded, else 503 naming
the first model that is not; ``GET /version`` is roost's version as bare text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from roost._version import __version__
from roost.errors import Error
from roost.model import Signature, parse_csv
from roost.serving._http import json_response, parse_json, read_body
from roost.serving._predict import PREDICTION_ID_HEADER, new_prediction_id, predict_rows
from roost.serving.errors import BadRequest, retry_headers, status_for
from roost.serving.protocols._routing import Endpoint, routes_for
from roost.serving.protocols._tf_serving import json_type, rows_from_columns, rows_from_instances
from roost.serving.state import ServerState
from roost.types import Rows

__all__ = ["FORMAT_KEYS", "MEDIA_TYPES", "routes", "rows_from_json"]

#: the keys of a JSON request that carry the rows; a request holds exactly one
FORMAT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
#: the Content-Types ``/invocations`` reads, and how
MEDIA_TYPES = {"application/json": "json", "text/csv": "csv"}

#: MLflow's error code for each status (``mlflow.protos.databricks_pb2``); see error_code_for
_ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "RESOURCE_DOES_NOT_EXIST",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_code_for(status: int) -> str:
    """MLflow's ``error_code`` for an HTTP status (413 and 415 have none of their own)."""
    return _ERROR_CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")


def _error(message: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    return json_response(
        {"error_code": error_code_for(status), "message": message}, status, headers
    )


def error_response(exc: Error) -> Response:
    return _error(str(exc), status_for(exc), retry_headers(exc))


def media_kind(content_type: str | None) -> tuple[str | None, str]:
    """``("json" | "csv", "")`` for a Content-Type ``/invocations`` reads, else ``(None, why)``."""
    if content_type is None or not content_type.strip():
        return "json", ""  # MLflow fails with a 500 here; JSON is what such clients send
    mime, *parts = (part.strip() for part in content_type.split(";"))
    parameters = {}
    for part in parts:
        if part:
            name, _, value = part.partition("=")
            parameters[name.strip().lower()] = value.strip().strip('"').lower()
    charset = parameters.pop("charset", "utf-8")
    kind = MEDIA_TYPES.get(mime.lower())
    if kind is None:
        return None, f"Content-Type: expected {' or '.join(MEDIA_TYPES)}, got {content_type!r}"
    if charset != "utf-8":
        return None, f"Content-Type: expected charset=utf-8, got charset={charset}"
    if parameters:
        return None, (
            f"Content-Type: expected no parameter but charset=utf-8, got "
            f"{', '.join(sorted(parameters))} in {content_type!r} (MLflow 2 dropped "
            f"format=pandas-split and format=pandas-records: send the format as a JSON key)"
        )
    return kind, ""


def _load_json(body: bytes) -> Any:
    try:
        return parse_json(body)
    except BadRequest as exc:
        # MLflow reads JSON with Python's json module, which accepts NaN and Infinity,
        # and MLflow's client writes NaN for a missing value: read them the same way
        try:
            return json.loads(body)
        except ValueError:
            raise exc from None


def _frame_rows(key: str, records: list[Any], signature: Signature) -> Rows:
    """Rows from a DataFrame's records, fed to a tensor signature the way MLflow feeds it."""
    specs = signature.inputs
    if (
        signature.kind == "tensors"
        and len(specs) == 1
        and records
        and all(isinstance(r, Mapping) for r in records)
        and specs[0].name not in records[0]
    ):
        # a table for a single tensor: its values, in the first record's column order
        names = list(records[0])
        return [[r.get(n) for n in names] for r in records]
    return rows_from_instances(records, signature, key)


def _dataframe_split(split: Any, signature: Signature) -> Rows:
    key = "dataframe_split"
    if not isinstance(split, Mapping):
        raise BadRequest(
            f'"{key}": expected an object {{"columns": [...], "data": [[...], ...]}}, '
            f"got {json_type(split)}"
        )
    extra = sorted(set(split) - {"columns", "data", "index"})
    if "data" not in split or extra:
        raise BadRequest(
            f'"{key}": expected "data" and optionally "columns" and "index", '
            f"got keys {', '.join(map(str, split)) or 'none'}"
        )
    data, columns, index = split["data"], split.get("columns"), split.get("index")
    if not isinstance(data, list):
        raise BadRequest(f'"{key}" "data": expected a list of rows, got {json_type(data)}')
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        got = f"{len(index)} labels" if isinstance(index, list) else json_type(index)
        raise BadRequest(f'"{key}" "index": expected {len(data)} labels, one per row, got {got}')
    if columns is None:
        return data  # positional rows: the signature's columns (or the tensor), in order
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise BadRequest(f'"{key}" "columns": expected a list of column names (strings)')
    if len(set(columns)) != len(columns):
        duplicates = sorted({c for c in columns if columns.count(c) > 1})
        raise BadRequest(f'"{key}" "columns": expected distinct names, got {duplicates} twice')
    records = []
    for row, values in enumerate(data):
        if not isinstance(values, list) and len(columns) == 1:
            values = [values]  # one column: a bare value per row, as pandas reads it
        if not isinstance(values, list) or len(values) != len(columns):
            got = f"{len(values)}" if isinstance(values, list) else json_type(values)
            raise BadRequest(
                f'"{key}" "data" row {row}: expected {len(columns)} values '
                f"({', '.join(columns)}), got {got}"
            )
        records.append(dict(zip(columns, values, strict=True)))
    return _frame_rows(key, records, signature)


def rows_from_json(payload: Any, signature: Signature) -> Rows:
    """Rows from a decoded ``application/json`` body, in any of MLflow's four formats.

    Raises:
        BadRequest: the body is not an object with exactly one format key, or the
            format's structure is wrong; the signature judges the values later.
    """
    if not isinstance(payload, Mapping):
        old = " (MLflow 1's format; MLflow 2 wants an object)" if isinstance(payload, list) else ""
        raise BadRequest(
            f"request body: expected an object with one of {', '.join(FORMAT_KEYS)}, "
            f"got {json_type(payload)}{old}"
        )
    present = [key for key in FORMAT_KEYS if key in payload]
    if len(present) != 1:
        got = ", ".join(present) or f"none (keys: {', '.join(map(str, payload)) or 'none'})"
        raise BadRequest(
            f"request body: expected exactly one of {', '.join(FORMAT_KEYS)}, got {got}"
        )
    params = payload.get("params")
    if params is not None and not isinstance(params, Mapping):
        raise BadRequest(f'"params": expected an object, got {json_type(params)}')
    key = present[0]
    value = payload[key]
    if key == "dataframe_split":
        return _dataframe_split(value, signature)
    if key == "dataframe_records":
        if not isinstance(value, list):
            raise BadRequest(f'"{key}": expected a list of records, got {json_type(value)}')
        return _frame_rows(key, value, signature)
    if key == "inputs" and isinstance(value, Mapping):
        return rows_from_columns(value, signature, key)
    return rows_from_instances(value, signature, key)


def _rows_from_csv(body: bytes, signature: Signature) -> Rows:
    try:
        text = body.decode("utf-8-sig")  # spreadsheets often start CSV with a byte-order mark
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"request body: expected UTF-8 text, got byte {exc.object[exc.start]:#04x} "
            f"at offset {exc.start}"
        ) from None
    return parse_csv(text, signature, source="request body")


async def invocations(request: Request) -> Response:
    state = ServerState.of(request)
    prediction_id = new_prediction_id()
    kind, unsupported = media_kind(request.headers.get("content-type"))
    if kind is None:
        return _error(unsupported, 415)
    try:
        served = state.repository.get(state.repository.default_name)
        body = await read_body(request, state.config.max_body_bytes)
        signature = served.model.signature
        if kind == "csv":
            rows = _rows_from_csv(body, signature)
        else:
            rows = rows_from_json(_load_json(body), signature)
        outputs = await predict_rows(
            state, served, rows, prediction_id=prediction_id, protocol="mlflow"
        )
    except Error as exc:
        return error_response(exc)
    return json_response({"predictions": outputs}, headers={PREDICTION_ID_HEADER: prediction_id})


async def ping(request: Request) -> Response:
    repository = ServerState.of(request).repository
    try:
        for ref in repository.refs:
            repository.get(ref.name)  # raises ModelNotReady for one that is not loaded
    except Error as exc:
        return error_response(exc)
    return Response("\n", media_type="application/json")  # MLflow's body, byte for byte


async def version(request: Request) -> Response:
    return PlainTextResponse(__version__)


_ENDPOINTS: tuple[tuple[str, str, Endpoint], ...] = (
    ("/invocations", "POST", invocations),
    ("/ping", "GET", ping),
    ("/health", "GET", ping),
    ("/version", "GET", version),
)


def routes() -> list[Route]:
    """MLflow's routes; a wrong method is a 405 with MLflow's error body."""
    return routes_for(_ENDPOINTS, _error)
