"""HTTP helpers shared by the protocols: bounded body reading, JSON in and out."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope

from roost.serving.errors import BadRequest, PayloadTooLarge

__all__ = ["body_headers", "json_response", "parse_json", "read_body", "receive_body"]


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, decompressed (gzip, deflate), refused past ``limit`` bytes.

    Raises:
        PayloadTooLarge: the body, or what it decompresses to, exceeds ``limit``.
        BadRequest: a compressed body is corrupt, or its encoding is unknown.
        ClientDisconnect: the client went away before sending all of it.
    """
    headers = request.headers
    return await receive_body(
        request.receive, headers.get("content-length"), headers.get("content-encoding"), limit
    )


def body_headers(scope: Scope) -> tuple[str | None, str | None]:
    """``Content-Length`` and ``Content-Encoding`` from a raw ASGI scope (None when absent).

    The first of a repeated header counts, as in Starlette's ``Headers.get``.
    """
    length = encoding = None
    for name, value in scope["headers"]:
        if name == b"content-length" and length is None:
            length = value.decode("latin-1")
        elif name == b"content-encoding" and encoding is None:
            encoding = value.decode("latin-1")
    return length, encoding


async def receive_body(
    receive: Receive, content_length: str | None, content_encoding: str | None, limit: int
) -> bytes:
    """``read_body`` on the raw ASGI channel and the two headers it needs."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise PayloadTooLarge(f"request body: expected at most {limit} bytes, got {content_length}")
    # straight from the ASGI channel: Starlette's request.stream() generator costs more than
    # a small model's whole prediction; the body is read once per request, here
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body: expected at most {limit} bytes, got more")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise BadRequest(f"Content-Encoding: expected gzip, deflate or identity, got {encoding!r}")
    try:
        # a bounded decompressor: a small bomb must not expand past the limit in memory
        wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        decompressor = zlib.decompressobj(wbits)
        plain = decompressor.decompress(body, limit + 1)
        if len(plain) > limit or decompressor.unconsumed_tail:
            raise PayloadTooLarge(
                f"request body: expected at most {limit} bytes once decompressed, got more"
            )
        if not decompressor.eof:
            raise BadRequest(f"request body: truncated {encoding} data")
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise BadRequest(f"request body: corrupt {encoding} data ({exc})") from exc
    return plain


def parse_json(body: bytes, what: str = "request body") -> Any:
    """Parse JSON, or raise a BadRequest that says where it broke."""
    if not body.strip():
        raise BadRequest(f"{what}: expected a JSON document, got an empty body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{what}: malformed JSON ({exc})") from exc


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response written by orjson (numpy values and NaN included: NaN becomes null)."""
    return Response(
        orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        headers=dict(headers or {}),
        media_type="application/json",
    )
