"""``POST /v1/feedback``: the ground truth for logged predictions, stored before it is acknowledged.

One item, or many::

    {"prediction_id": "6f1c…", "truth": "setosa"}
    {"feedback": [{"prediction_id": "6f1c…", "truth": "setosa"}, …]}

``truth`` is one value for a one-row request, or a list with one value per row. The
items are written to the telemetry sink in one transaction and committed before the
answer goes out, so an acknowledged item survives the server being killed the next
moment; if the sink fails, nothing is acknowledged (503, retry). The answer says, per
item, ``recorded`` or ``duplicate`` (feedback for that id was stored before: the first
is kept, the duplicate counted). Feedback whose prediction is not in the log (not
sampled, not written yet, or unknown) is stored too: the join happens when accuracy is
computed, and ``roost telemetry report`` counts what never matched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.errors import Error
from roost.serving._http import json_response, parse_json, read_body
from roost.serving.errors import RETRY_AFTER_S, BadRequest
from roost.serving.protocols._routing import routes_for
from roost.serving.protocols._tf_serving import json_type
from roost.serving.protocols.kserve_v1 import error_body, error_response
from roost.serving.state import ServerState
from roost.telemetry import DUPLICATE, RECORDED, FeedbackRecord

__all__ = ["MAX_ITEMS", "openapi_paths", "parse_feedback", "routes"]

log = logging.getLogger(__name__)

#: the most items one request may carry
MAX_ITEMS = 10_000
_MAX_ID_CHARS = 128


def _item(value: Any, where: str, received_at: float) -> FeedbackRecord:
    if not isinstance(value, Mapping):
        raise BadRequest(
            f'{where}: expected an object {{"prediction_id": ..., "truth": ...}}, '
            f"got {json_type(value)}"
        )
    unknown = sorted(set(value) - {"prediction_id", "truth"})
    if unknown:
        raise BadRequest(f"{where}: unknown field {unknown[0]!r} (expected prediction_id, truth)")
    prediction_id = value.get("prediction_id")
    if not isinstance(prediction_id, str) or not 0 < len(prediction_id) <= _MAX_ID_CHARS:
        raise BadRequest(
            f"{where}.prediction_id: expected the id of a prediction "
            f"(1 to {_MAX_ID_CHARS} characters), got {json_type(prediction_id)}"
        )
    if "truth" not in value or value["truth"] is None:
        raise BadRequest(
            f"{where}.truth: expected the true value (or a list, one per row), got null"
        )
    return FeedbackRecord(prediction_id, value["truth"], received_at)


def parse_feedback(payload: Any, received_at: float) -> list[FeedbackRecord]:
    """The feedback records of one request body.

    Raises:
        BadRequest: naming the first item and field that is wrong.

    Example:
        >>> parse_feedback({"prediction_id": "abc", "truth": 1}, 0.0)
        [FeedbackRecord(prediction_id='abc', truth=1, received_at=0.0)]
    """
    if isinstance(payload, Mapping) and "feedback" in payload:
        items = payload["feedback"]
        if set(payload) != {"feedback"}:
            other = sorted(set(payload) - {"feedback"})[0]
            raise BadRequest(f"request body: unknown field {other!r} beside 'feedback'")
        if not isinstance(items, list) or not items:
            raise BadRequest(
                f'"feedback": expected a non-empty list of items, got {json_type(items)}'
            )
        if len(items) > MAX_ITEMS:
            raise BadRequest(f'"feedback": expected at most {MAX_ITEMS} items, got {len(items)}')
        return [_item(item, f"feedback[{i}]", received_at) for i, item in enumerate(items)]
    return [_item(payload, "request body", received_at)]


async def feedback(request: Request) -> Response:
    state = ServerState.of(request)
    tap = state.telemetry
    if tap is None:
        return error_body(
            "feedback: this server logs no predictions; start it with "
            "`roost serve --telemetry` to collect feedback",
            409,
        )
    try:
        body = await read_body(request, state.config.max_body_bytes)
        records = parse_feedback(parse_json(body), tap.clock.time())
    except Error as exc:
        return error_response(exc)
    try:
        statuses = await anyio.to_thread.run_sync(tap.sink.write_feedback, records)
    except Exception as exc:  # the sink failed: the transaction did not commit, nothing is kept
        log.warning("feedback: %s could not store %d items: %s", tap.sink.url, len(records), exc)
        return error_body(
            f"feedback: the telemetry sink could not store it ({type(exc).__name__}); "
            "nothing was recorded, retry later",
            503,
            {"Retry-After": str(RETRY_AFTER_S)},
        )
    tap.feedback_done(statuses)
    results = [
        {"prediction_id": r.prediction_id, "status": status}
        for r, status in zip(records, statuses, strict=True)
    ]
    return json_response(
        {
            "recorded": statuses.count(RECORDED),
            "duplicates": statuses.count(DUPLICATE),
            "results": results,
        }
    )


def routes() -> list[Route]:
    """``POST /v1/feedback`` (and with a trailing slash); a wrong method is a JSON 405."""
    return routes_for((("/v1/feedback", "POST", feedback),), error_body, slash=True)


def openapi_paths() -> dict[str, Any]:
    """``/v1/feedback`` in the OpenAPI document."""
    item = {
        "type": "object",
        "required": ["prediction_id", "truth"],
        "additionalProperties": False,
        "properties": {
            "prediction_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": _MAX_ID_CHARS,
                "description": "the X-Prediction-Id of the prediction",
            },
            "truth": {
                "not": {"type": "null"},
                "description": "the true value; a list with one value per row for a "
                "request of several rows",
            },
        },
    }
    many = {
        "type": "object",
        "required": ["feedback"],
        "additionalProperties": False,
        "properties": {
            "feedback": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS, "items": item}
        },
    }
    result = {
        "type": "object",
        "required": ["recorded", "duplicates", "results"],
        "properties": {
            "recorded": {"type": "integer"},
            "duplicates": {"type": "integer"},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["prediction_id", "status"],
                    "properties": {
                        "prediction_id": {"type": "string"},
                        "status": {"enum": ["recorded", "duplicate"]},
                    },
                },
            },
        },
    }
    error = {"$ref": "#/components/schemas/Error"}
    return {
        "/v1/feedback": {
            "post": {
                "operationId": "feedback",
                "summary": "Ground truth for logged predictions",
                "description": (
                    "Stored (committed) before it is acknowledged. Each item's status is "
                    "`recorded`, or `duplicate` when that prediction already had feedback "
                    "(the first is kept). Needs a server started with `--telemetry`."
                ),
                "tags": ["roost server"],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"oneOf": [item, many]}}},
                },
                "responses": {
                    "200": {
                        "description": "Every item was stored.",
                        "content": {"application/json": {"schema": result}},
                    },
                    **{
                        str(status): {
                            "description": description,
                            "content": {"application/json": {"schema": error}},
                        }
                        for status, description in (
                            (400, "The body is malformed: the message names the item and field."),
                            (409, "This server logs no predictions (started without --telemetry)."),
                            (413, "The request body is larger than the server's limit."),
                            (503, "The telemetry sink could not store it: nothing was kept."),
                        )
                    },
                },
            }
        }
    }
