"""Small ASGI middlewares: every answer of this API is JSON, a GET route answers HEAD, and a
Host header it does not serve gets a 400.

- FastAPI's own `max_body_size` answers with a text/plain 413 when the Content-Length header
  is already too big (Starlette's body limiter); LimitBody answers JSON in both cases: the
  header says too much, or a chunked body turns out too big while it is read.
- FastAPI routes a GET path for GET only, so HEAD gets a 405; HTTP says a resource that answers
  GET answers HEAD too, with the same headers and no body. HeadAsGet does that, except where a
  GET starts work.
"""

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class LimitBody:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.message = f"The body is over {max_bytes // 1024} KB."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            # Refused before a byte of it is read; the server drops the connection after.
            answer = JSONResponse({"detail": self.message}, status_code=413)
            return await answer(scope, receive, send)
        read = 0

        async def counted() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.max_bytes:  # FastAPI answers an HTTPException with JSON
                raise HTTPException(status_code=413, detail=self.message)
            return message

        await self.app(scope, counted, send)


class KnownHost:
    """A Host header outside `allowed` gets a JSON 400. (Starlette's TrustedHostMiddleware does
    the same with a text/plain answer.)"""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app, self.allowed = app, set(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host", "")
            name, _, port = host.rpartition(":")
            if name not in self.allowed or not port.isdigit():
                name = host  # no port, or not a number: the whole header is the name
            if name not in self.allowed:
                detail = "This Host header is not one this app serves (ALLOWED_HOSTS)."
                return await JSONResponse({"detail": detail}, status_code=400)(scope, receive, send)
        await self.app(scope, receive, send)


class HeadAsGet:
    """`starts_work`: the paths whose GET starts a task (the seed's /solo/...). HEAD is a 405
    there: a link checker or a browser's prefetch must never start a task."""

    def __init__(self, app: ASGIApp, starts_work: tuple[str, ...] = ()) -> None:
        self.app, self.starts_work = app, starts_work

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)
        if scope["path"].startswith(self.starts_work):
            detail = "HEAD is not answered here: a GET of this path starts a task."
            answer = JSONResponse({"detail": detail}, status_code=405, headers={"Allow": "GET"})
            return await answer(scope, receive, send)

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
