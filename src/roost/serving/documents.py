"""``GET /v1/models/{name}/card`` and ``/factsheet``: the served version's documents.

Both describe the version being served now, built from its package (metadata and
stored input example) and the evaluations the registry keeps for it; the factsheet adds
live facts from this server's metrics (``_live``). They read files, so they are built
in a worker thread.

**Format.** ``?format=json|html|md`` decides when given. Otherwise the ``Accept`` header
does: ``application/json`` gives JSON (Model Card Toolkit field names), ``text/html`` a
self-contained page with plots, ``text/markdown`` Markdown with Hugging Face front
matter. Each offered type takes the quality (``q``) of the most specific range that
matches it (``text/html`` before ``text/*`` before ``*/*``); the highest wins, then the
one the client named exactly, then JSON, HTML, Markdown in that order. So a browser
(``text/html,…,*/*;q=0.8``) gets HTML, and ``curl`` or a client sending ``*/*`` or no
``Accept`` at all gets JSON: the format a program can read. Nothing acceptable is a 406
with the usual ``{"error": …}`` body, and an unknown model a 404, as for ``:predict``.

**Caching.** A card changes only when another version is served or its evaluation
history grows, so its ``ETag`` is made of the package digest, the latest evaluation's
id, the format and roost's version (the renderer); ``If-None-Match`` with it gets a 304
without the card being built again. Cards say ``Cache-Control: no-cache`` (revalidate:
a hot swap can change the version at any moment). A factsheet's live facts change with
every request, so it has no ``ETag`` and says ``no-store``. Both say ``Vary: Accept``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost._version import __version__
from roost.cards.document import factsheet, model_card, render
from roost.cards.evaluation import Evaluation
from roost.cards.history import EvaluationHistory
from roost.cards.live import LiveFacts
from roost.errors import Error
from roost.serving import _live
from roost.serving._openapi_parts import errors, operation
from roost.serving.errors import BadRequest
from roost.serving.protocols._routing import routes_for
from roost.serving.protocols.kserve_v1 import error_body, error_response
from roost.serving.repository import ServedModel
from roost.serving.state import ServerState
from roost.types import JSONDict

__all__ = ["FORMATS", "NotAcceptable", "etag_for", "negotiate", "openapi_paths", "routes"]

log = logging.getLogger(__name__)

Kind = Literal["card", "factsheet"]
Format = Literal["json", "html", "md"]

#: each format's media type, in the server's order of preference (JSON first)
FORMATS: dict[Format, str] = {
    "json": "application/json",
    "html": "text/html",
    "md": "text/markdown",
}
_CONTENT_TYPES: dict[Format, str] = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}
#: the HTML page is self-contained: it may load nothing, and run no script
_HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class NotAcceptable(Error, ValueError):
    """The client accepts none of the formats a document comes in (406)."""


def _ranges(accept: str) -> list[tuple[str, str, float]]:
    """The media ranges of an ``Accept`` header: (type, subtype, q), lower case."""
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if "/" not in media:
            continue  # not a media range; RFC 9110 has clients send none such
        main, sub = media.lower().split("/", 1)
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0  # a malformed weight accepts nothing rather than everything
        ranges.append((main, sub, q))
    return ranges


def negotiate(accept: str | None, query: str | None = None) -> Format:
    """The format to answer in: ``?format=`` when given, else from the ``Accept`` header.

    Raises:
        BadRequest: ``?format=`` names no format.
        NotAcceptable: the header accepts none of them.

    Example:
        >>> negotiate("text/html,application/xhtml+xml,*/*;q=0.8")
        'html'
        >>> negotiate("*/*"), negotiate(None), negotiate("text/html", query="md")
        ('json', 'json', 'md')
    """
    if query is not None:
        for name in FORMATS:
            if query == name:
                return name
        raise BadRequest(f"format: expected one of {', '.join(FORMATS)}, got {query!r}")
    if accept is None or not accept.strip():
        return "json"
    ranges = _ranges(accept)
    best: tuple[float, int, int] = (0.0, 0, 0)
    chosen: Format | None = None
    for order, (name, media) in enumerate(FORMATS.items()):
        main, sub = media.split("/")
        # the most specific range that matches decides this type's quality
        matches = [
            (2 if (m, s) == (main, sub) else 1 if s == "*" and m == main else 0, q)
            for m, s, q in ranges
            if (m, s) in ((main, sub), (main, "*"), ("*", "*"))
        ]
        if not matches:
            continue
        specificity, q = max(matches)
        rank = (q, specificity, -order)
        if q > 0 and (chosen is None or rank > best):
            best, chosen = rank, name
    if chosen is None:
        offered = ", ".join(FORMATS.values())
        raise NotAcceptable(
            f"Accept: expected one of {offered} (or ?format=json, html or md), got {accept!r}"
        )
    return chosen


def etag_for(served: ServedModel, evaluations: list[Evaluation], fmt: Format) -> str:
    """The card's entity tag: its package digest, latest evaluation, format and renderer.

    Example:
        >>> etag_for(served, [], "json")  # doctest: +SKIP
        '"9f2c…-none-json-0.1.0"'
    """
    digest = served.model.digest.removeprefix("sha256:")[:32]
    latest = evaluations[-1].id if evaluations else "none"
    return f'"{digest}-{latest}-{fmt}-{__version__}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 says for it)."""
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _example(served: ServedModel) -> Any:
    """The package's stored input example; None for a package without one."""
    try:
        return served.model.example
    except (OSError, ValueError) as exc:
        log.info("documents: no input example for %s (%s)", served.model.ref, exc)
        return None


def _evaluations(state: ServerState, served: ServedModel) -> list[Evaluation]:
    """The version's evaluations, oldest first (reads files: run it in a worker thread)."""
    return EvaluationHistory(state.repository.registry).list(f"{served.name}:{served.version}")


def _render(
    kind: Kind,
    fmt: Format,
    served: ServedModel,
    evaluations: list[Evaluation],
    live: LiveFacts | None = None,
) -> str:
    """Build one document and write it in ``fmt`` (blocking: run it in a worker thread)."""
    metadata, digest = served.model.metadata, served.model.digest
    example = _example(served)
    if kind == "card":
        document = model_card(metadata, evaluations, example=example, digest=digest)
    else:
        document = factsheet(metadata, evaluations, example=example, live=live, digest=digest)
    return render(document, fmt)


def _factsheet(state: ServerState, fmt: Format, served: ServedModel) -> str:
    """The factsheet with this moment's live facts (blocking: metric files, evaluations)."""
    live = _live.live_facts(
        _live.collect(state.metrics),
        served,
        telemetry=state.telemetry is not None,
        now=state.repository.clock.time(),
    )
    return _render("factsheet", fmt, served, _evaluations(state, served), live)


def _headers(kind: Kind, fmt: Format, etag: str | None = None) -> dict[str, str]:
    headers = {
        "Vary": "Accept",
        "Cache-Control": "no-cache" if kind == "card" else "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if etag is not None:
        headers["ETag"] = etag
    if fmt == "html":
        headers["Content-Security-Policy"] = _HTML_CSP
    return headers


async def _answer(request: Request, kind: Kind) -> Response:
    state = ServerState.of(request)
    try:
        served = state.repository.get(request.path_params["name"])
        fmt = negotiate(request.headers.get("accept"), request.query_params.get("format"))
    except NotAcceptable as exc:
        return error_body(str(exc), 406, {"Vary": "Accept"})
    except Error as exc:
        return error_response(exc)
    etag = None
    try:
        if kind == "card":
            evaluations = await anyio.to_thread.run_sync(_evaluations, state, served)
            etag = etag_for(served, evaluations, fmt)
            if _matches(request.headers.get("if-none-match"), etag):
                return Response(status_code=304, headers=_headers(kind, fmt, etag))
            text = await anyio.to_thread.run_sync(_render, kind, fmt, served, evaluations)
        else:
            state.metrics.flush()  # here, on the loop: this process's tallies are the loop's
            text = await anyio.to_thread.run_sync(_factsheet, state, fmt, served)
    except (Error, OSError) as exc:
        # a corrupt evaluation file, say: the server's fault, not the request's
        log.error("documents: the %s of %s could not be built: %s", kind, served.model.ref, exc)
        return error_body(
            f"{kind} of {served.name}:{served.version}: could not be built ({exc})", 500
        )
    headers = _headers(kind, fmt, etag)
    return Response(text.encode("utf-8"), 200, headers, media_type=_CONTENT_TYPES[fmt])


async def card(request: Request) -> Response:
    return await _answer(request, "card")


async def factsheet_endpoint(request: Request) -> Response:
    return await _answer(request, "factsheet")


def routes() -> list[Route]:
    """Both documents' routes (and with a trailing slash); a wrong method is a JSON 405."""
    return routes_for(
        (
            ("/v1/models/{name}/card", "GET", card),
            ("/v1/models/{name}/factsheet", "GET", factsheet_endpoint),
        ),
        error_body,
        slash=True,
    )


def openapi_paths(served: ServedModel) -> JSONDict:
    """The two document paths of one served model, in the OpenAPI document."""
    name, version = served.name, served.version
    text = {"schema": {"type": "string"}}
    error = {"$ref": "#/components/schemas/Error"}
    format_parameter = {
        "name": "format",
        "in": "query",
        "required": False,
        "description": "overrides the Accept header",
        "schema": {"enum": list(FORMATS)},
    }
    not_acceptable = {
        "description": "The Accept header accepts none of JSON, HTML and Markdown.",
        "content": {"application/json": {"schema": error}},
    }

    def document_operation(kind: Kind, summary: str, description: str) -> JSONDict:
        responses: JSONDict = {
            "200": {
                "description": f"The {kind}, in the format negotiated.",
                "headers": {
                    "Cache-Control": {"schema": {"type": "string"}},
                    **({"ETag": {"schema": {"type": "string"}}} if kind == "card" else {}),
                },
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "text/html": text,
                    "text/markdown": text,
                },
            },
            **errors([400, 404]),
            "406": not_acceptable,
            **errors([503]),
        }
        parameters: list[JSONDict] = [format_parameter]
        if kind == "card":
            responses["304"] = {"description": "The card has not changed (If-None-Match)."}
            parameters.append(
                {
                    "name": "If-None-Match",
                    "in": "header",
                    "required": False,
                    "description": "the ETag of a card fetched before",
                    "schema": {"type": "string"},
                }
            )
        result = operation(f"{kind}_{name}", summary, [name], responses, description)
        result["parameters"] = parameters
        return result

    negotiation = (
        "`Accept: application/json` (the default, also for `*/*`), `text/html` (a "
        "self-contained page with plots) or `text/markdown` (with Hugging Face front "
        "matter); `?format=json|html|md` overrides it. Each fact is marked measured, "
        "declared or live."
    )
    return {
        f"/v1/models/{name}/card": {
            "get": document_operation(
                "card",
                f"The model card of {name}",
                f"The model card of the version served (now {version}): its declared fields, "
                f"evaluations and interface. {negotiation} The ETag changes with the version "
                "and its evaluations.",
            )
        },
        f"/v1/models/{name}/factsheet": {
            "get": document_operation(
                "factsheet",
                f"The factsheet of {name}",
                f"The factsheet of the version served (now {version}), with live facts from "
                "this server: requests, errors, latency percentiles, throughput and, with "
                f"telemetry on, production accuracy and drift. {negotiation}",
            )
        },
    }
