"""The server's OpenAPI document, built from the served models, and the docs page that reads it.

- ``GET /openapi.json``: OpenAPI 3.1. Every served model gets concrete paths
  (``/v1/models/iris:predict``, ``/v2/models/iris/infer``, …), each with request and
  response schemas typed from its signature, descriptions from the signature and the
  model card, and examples from the package's stored input and output examples.
  The default model also documents MLflow's ``/invocations``.
- ``GET /docs``: a small page that works offline (its assets are served from this
  package, and its Content-Security-Policy forbids any other host). ``GET /`` redirects there.

The document lists only the routes this app really has, so an endpoint that is not
mounted (metrics turned off, say) is never advertised. It is rebuilt when the set of
served versions changes (a hot swap) and served from a cache otherwise. Keys are sorted,
so the same models always give the same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route

from roost._version import __version__
from roost.serving import _openapi_models as models
from roost.serving import _openapi_parts as parts
from roost.serving import documents, feedback
from roost.serving._http import json_response
from roost.serving.repository import ServedModel
from roost.serving.state import ServerState
from roost.types import JSONDict

__all__ = ["OPENAPI_VERSION", "build_document", "routes"]

log = logging.getLogger(__name__)

OPENAPI_VERSION = "3.1.0"

#: says which (path, method) pairs the app routes; the document keeps only those
IsRouted = Callable[[str, str], bool]


def build_document(
    served: list[ServedModel], default_name: str | None = None, is_routed: IsRouted | None = None
) -> JSONDict:
    """The OpenAPI 3.1 document of a server serving ``served``.

    Args:
        served: the loaded models, in the order the server lists them.
        default_name: the model behind MLflow's ``/invocations``; when it is not among
            ``served`` (it failed to load), ``/invocations`` is left out.
        is_routed: keeps only the (path, method) pairs it accepts; None keeps them all.

    Example:
        >>> build_document(repository.served(), repository.default_name)  # doctest: +SKIP
        {'openapi': '3.1.0', 'info': {...}, 'paths': {...}, 'components': {...}, ...}
    """
    components = parts.components()
    paths = parts.server_paths()
    paths.update(feedback.openapi_paths())
    tags: list[JSONDict] = [{"name": parts.SERVER_TAG, "description": "Health, metadata and docs."}]
    for model in served:
        is_default = model.name == default_name
        components["schemas"].update(models.model_schemas(model, is_default))
        paths.update(models.model_paths(model))
        paths.update(documents.openapi_paths(model))
        tags.append(models.model_tag(model, is_default))
    default = next((m for m in served if m.name == default_name), None)
    if default is not None:
        paths.update(models.mlflow_paths(default))
        tags.append({"name": parts.MLFLOW_TAG, "description": "MLflow's scoring protocol."})
    if is_routed is not None:
        paths = _routed_only(paths, is_routed)
    names = ", ".join(f"`{m.name}` (version {m.version})" for m in served) or "none"
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "roost model server",
            "version": __version__,
            "description": (
                f"Models served here: {names}. Each speaks three wire protocols on this one "
                "port: KServe V1 (`/v1/models/<name>:predict`), the Open Inference Protocol "
                "V2 (`/v2/models/<name>/infer`, binary tensor extension included) and, for "
                "the default model, MLflow scoring (`/invocations`). Errors are "
                '`{"error": "..."}` (MLflow: `{"error_code": ..., "message": ...}`). '
                "The schemas come from each model's signature: this document changes when "
                "a new version is swapped in."
            ),
        },
        "tags": tags,
        "paths": paths,
        "components": components,
    }


def _routed_only(paths: JSONDict, is_routed: IsRouted) -> JSONDict:
    kept: JSONDict = {}
    for path, item in paths.items():
        methods = {m: op for m, op in item.items() if is_routed(path, m.upper())}
        if methods:
            kept[path] = methods
    return kept


def _router_check(app_routes: list[BaseRoute]) -> IsRouted:
    """Whether one of the app's routes fully matches a request for (path, method)."""

    def is_routed(path: str, method: str) -> bool:
        scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        return any(route.matches(scope)[0] == Match.FULL for route in app_routes)

    return is_routed


class _Document:
    """One app's document, rebuilt when the set of served versions changes (a hot swap)."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._body = b""

    async def endpoint(self, request: Request) -> Response:
        repository = ServerState.of(request).repository
        served = repository.served()
        key = (repository.default_name, tuple((m.name, m.version) for m in served))
        if key != self._key:
            document = await run_in_threadpool(
                build_document, served, repository.default_name, _router_check(request.app.routes)
            )
            self._body = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
            self._key = key
            log.info("openapi: document built for %s", key[1])
        return Response(self._body, media_type=parts.JSON)


#: what the docs page may load: only this server (no CDN, fonts or other hosts)
_CSP = "default-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"
_ASSET_TYPES = {
    "docs.html": "text/html; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
    "docs.css": "text/css; charset=utf-8",
}


def routes() -> list[Route]:
    """``/openapi.json``, ``/docs`` (and its two assets), and ``/`` redirecting to ``/docs``."""
    static = resources.files("roost.serving") / "static"
    # read once, when the app is built: a package missing its assets fails at start-up
    assets = {name: (static / name).read_bytes() for name in _ASSET_TYPES}
    document = _Document()

    def asset_response(name: str) -> Response:
        return Response(
            assets[name],
            media_type=_ASSET_TYPES[name],
            headers={"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff"},
        )

    async def docs(request: Request) -> Response:
        return asset_response("docs.html")

    async def asset(request: Request) -> Response:
        name = request.path_params["asset"]
        if name not in assets or name == "docs.html":
            return json_response({"error": f"no docs asset {name!r}"}, 404)
        return asset_response(name)

    async def root(request: Request) -> Response:
        return RedirectResponse("docs")  # relative: also right behind a path prefix

    return [
        Route("/openapi.json", document.endpoint, methods=["GET"], name="openapi"),
        Route("/docs", docs, methods=["GET"], name="docs"),
        Route("/docs/{asset}", asset, methods=["GET"]),
        Route("/", root, methods=["GET"]),
    ]
