"""The hot route without the framework: ``POST /v1/models/{name}:predict`` as plain ASGI.

For a small model, Starlette's machinery around one request (its exception
middleware, the router's scan of every route's pattern, a ``Request`` and a
``Response`` object, a wrapper around ``send`` per layer) costs about as much as the
prediction itself. This middleware answers KServe V1 predictions before that
machinery, with the very function the route uses (``kserve_v1.answer_predict``), so
both give the same bytes. Everything else, a wrong method included, goes on to
Starlette.

It sits inside ``RequestMetrics``, so its requests are counted and timed like any
other, and inside Starlette's ``ServerErrorMiddleware``, so an unexpected exception
still becomes a 500.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from roost.serving._http import body_headers, receive_body
from roost.serving.protocols.kserve_v1 import answer_predict
from roost.serving.state import ServerState

__all__ = ["PredictLane", "v1_predict_target"]

_PREFIX = "/v1/models/"
_VERB = ":predict"
_JSON = (b"content-type", b"application/json")


def v1_predict_target(path: str) -> str | None:
    """The model name of a V1 predict path (a trailing slash allowed), else None.

    Matches exactly what the route ``/v1/models/{name}:predict`` matches: the name is
    one non-empty path segment, and may itself hold a colon.

    Example:
        >>> v1_predict_target("/v1/models/iris:predict")
        'iris'
        >>> v1_predict_target("/v1/models/iris:explain") is None
        True
    """
    if not path.startswith(_PREFIX):
        return None
    rest = path[len(_PREFIX) :]
    if rest.endswith("/"):
        rest = rest[:-1]
    if not rest.endswith(_VERB):
        return None
    name = rest[: -len(_VERB)]
    return name if name and "/" not in name else None


class PredictLane:
    """Pure ASGI middleware: answer V1 predictions directly, pass everything else on.

    Args:
        app: the rest of the application.
        state: the server's models and settings.
    """

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # a root_path (an app mounted below a prefix) leaves routing to Starlette
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            name = v1_predict_target(scope["path"])
            if name is not None:
                await self._predict(name, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _predict(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        length, encoding = body_headers(scope)

        async def read(limit: int) -> bytes:
            return await receive_body(receive, length, encoding, limit)

        try:
            status, body, headers = await answer_predict(self.state, name, read)
        except ClientDisconnect:
            return  # the client is gone: there is no one to answer
        raw_headers = [_JSON, (b"content-length", str(len(body)).encode())]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})
