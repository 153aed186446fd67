"""A media host that misbehaves on request, as a real HTTP server on 127.0.0.1 (the `media_host`
fixture): redirects anywhere, bodies without a length, gzip bombs, a declared length past the
cap, and a slow drip. It records every request and how many body bytes it sent."""

from __future__ import annotations

import asyncio
import io
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from bridge.providers.media.fetch import Sink

PIECE = b"\0" * (64 * 1024)


@dataclass
class MediaHostState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0  # body bytes handed to the server so far, over every answer


def memory_sink(*, max_bytes: int = 1024 * 1024, seconds: float = 10.0) -> Sink:
    """A sink writing to memory (`sink.file.getvalue()`), for a download in a test."""
    return Sink.within(io.BytesIO(), max_bytes=max_bytes, seconds=seconds)


def create_media_host(state: MediaHostState) -> Starlette:
    def recorded(request: Request) -> None:
        state.requests.append({"path": request.url.path, "headers": dict(request.headers)})

    async def counted(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for piece in pieces:
            state.sent += len(piece)
            yield piece

    async def zeros(size: int) -> AsyncIterator[bytes]:
        while size > 0:
            piece = PIECE[: min(size, len(PIECE))]
            size -= len(piece)
            yield piece
            await asyncio.sleep(0)  # let the server notice a client that hung up

    async def file(request: Request) -> Response:
        """`?type=` as the Content-Type (none without it), `?size=` bytes of zeros."""
        recorded(request)
        size = int(request.query_params.get("size", "16"))
        state.sent += size
        kind = request.query_params.get("type")
        return Response(b"\0" * size, headers={"content-type": kind} if kind else {})

    async def redirect(request: Request) -> Response:
        """302 to `?to=`."""
        recorded(request)
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def loop(request: Request) -> Response:
        """302 to itself, for ever."""
        recorded(request)
        return RedirectResponse("/loop", status_code=302)

    async def chunked(request: Request) -> Response:
        """`?size=` bytes with no Content-Length (chunked transfer encoding)."""
        recorded(request)
        size = int(request.query_params["size"])
        return StreamingResponse(counted(zeros(size)), media_type="image/png")

    async def declared(request: Request) -> Response:
        """A Content-Length of `?size=`, and that many bytes sent as fast as they go."""
        recorded(request)
        size = int(request.query_params["size"])
        headers = {"content-length": str(size)}
        return StreamingResponse(counted(zeros(size)), media_type="image/png", headers=headers)

    async def bomb(request: Request) -> Response:
        """`?size=` zeros, gzip-encoded: a few KB on the wire, `size` bytes once decoded."""
        recorded(request)
        compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        pieces = [compressor.compress(PIECE) for _ in range(int(request.query_params["size"]) // len(PIECE))]
        body = b"".join([*pieces, compressor.flush()])
        state.sent += len(body)
        return Response(body, media_type="image/png", headers={"content-encoding": "gzip"})

    async def drip(request: Request) -> Response:
        """One byte every `?every=` seconds, for `?size=` bytes."""
        recorded(request)
        every, size = float(request.query_params["every"]), int(request.query_params["size"])

        async def bytes_one_by_one() -> AsyncIterator[bytes]:
            for _ in range(size):
                yield b"\0"
                await asyncio.sleep(every)

        return StreamingResponse(counted(bytes_one_by_one()), media_type="image/png")

    return Starlette(
        routes=[
            Route("/file", file),
            Route("/redirect", redirect),
            Route("/loop", loop),
            Route("/chunked", chunked),
            Route("/declared", declared),
            Route("/bomb", bomb),
            Route("/drip", drip),
        ]
    )
