"""Routes that answer a wrong method in the protocol's own error body, not Starlette's text."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["ANY_METHOD", "Endpoint", "ErrorBody", "routes_for"]

#: every method a route accepts, so that a wrong one reaches the guard instead of Starlette
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

Endpoint = Callable[[Request], Awaitable[Response]]
#: writes one protocol's error response: (message, status, headers) -> response
ErrorBody = Callable[[str, int, Mapping[str, str]], Response]


def _only(method: str, endpoint: Endpoint, error: ErrorBody) -> Endpoint:
    allowed = (method, "HEAD") if method == "GET" else (method,)

    async def handle(request: Request) -> Response:
        if request.method not in allowed:
            return error(
                f"{request.method} {request.url.path}: expected {method}",
                405,
                {"Allow": ", ".join(allowed)},
            )
        return await endpoint(request)

    return handle


def routes_for(
    endpoints: tuple[tuple[str, str, Endpoint], ...], error: ErrorBody, *, slash: bool = False
) -> list[Route]:
    """One route per ``(path, method, endpoint)``, in order; a wrong method gets ``error``'s 405.

    Args:
        endpoints: the table; order matters where one path pattern also matches another's.
        error: the protocol's error response.
        slash: also answer each path with a trailing slash (Starlette would redirect it).
    """
    table = []
    for path, method, endpoint in endpoints:
        handle = _only(method, endpoint, error)
        for variant in (path, f"{path}/") if slash else (path,):
            table.append(Route(variant, handle, methods=ANY_METHOD))
    return table
