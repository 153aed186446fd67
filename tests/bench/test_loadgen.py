"""The benchmarks' load generator (`bench/loadgen.py`): every request sent once, every answer read.

Counts and statuses only: how fast anything went is what the benchmarks print, never asserted.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge.runtime.serving import BackgroundServer
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from loadgen import LoadGenerator, Target, encode_request  # noqa: E402


class Recorder:
    """A server that answers 200 and remembers every body it was sent (a 418 for `teapot`)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/echo", self.echo, methods=["POST"])])

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.bodies.append(body)
        return Response(b"ok" * 10, status_code=418 if body == b"teapot" else 200)


@dataclass(frozen=True)
class Numbered:
    """Requests whose bodies say which generator process built them, and their number."""

    authority: str
    teapots: int = 0

    def __call__(self, process: int, count: int) -> Sequence[bytes]:
        bodies = [b"teapot"] * self.teapots + [f"{process}-{n}".encode() for n in range(count - self.teapots)]
        return [encode_request("POST", "/echo", host=self.authority, body=body) for body in bodies]


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, Target]]:
    server = Recorder()
    with BackgroundServer(server.app) as running:
        yield server, Target(running.host, running.port)


def test_a_closed_loop_without_reuse_sends_each_request_exactly_once(recorder):
    server, target = recorder
    with LoadGenerator(2) as generator:
        result = generator.closed(
            target, Numbered(target.authority), connections=4, duration=60, budget=300, cycle=False
        )
    assert result.exhausted  # ran out of requests long before 60 s
    assert result.sent == result.answered_ok == result.completed == 300
    assert result.statuses == {200: 300} and result.errors == 0 and result.not_ok == 0
    assert sorted(server.bodies) == sorted(f"{p}-{n}".encode() for p in (0, 1) for n in range(150))


def test_an_open_loop_sends_what_its_schedule_says_and_counts_every_answer(recorder):
    server, target = recorder
    with LoadGenerator(1) as generator:
        result = generator.open(
            target, Numbered(target.authority, teapots=5), rate=100, connections=8, duration=1
        )
    assert result.sent == result.completed == len(server.bodies) == 100  # 100 a second, for a second
    assert result.statuses == {200: 95, 418: 5}
    assert result.not_ok == 5
    assert len(result.latencies) == len(result.lag) == 100
    assert min(result.lag) >= 0 and min(result.latencies) > 0


def test_a_server_that_is_not_there_is_an_error_not_a_hang():
    from bridge.runtime.serving import free_port

    target = Target("127.0.0.1", free_port())
    with LoadGenerator(1) as generator, pytest.raises(RuntimeError, match="generator process failed"):
        generator.closed(target, Numbered(target.authority), connections=1, duration=1, budget=10, cycle=True)
