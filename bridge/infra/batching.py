"""One Redis round trip for the writes of every request in flight in the web process.

Each round trip costs far more than the command itself (system calls, waking Redis and being
woken), so `Batcher` sends the commands of every request that reaches Redis while no round trip
is on its way as one pipeline, and those that arrive while one is on its way as the next, like a
database's group commit. Each request still waits for its own answers before it answers its
provider. Under load many requests share a round trip; alone, a request makes the round trip it
would have made by itself, at once.

The round trip is asynchronous: while Redis works, the event loop goes on reading, verifying
and answering other requests. With a synchronous client the loop stood still for every round
trip, and on a busy machine (Redis waiting for a core) for milliseconds at a time, which was
the whole tail of the intake's latency (docs/benchmarks.md, "Ingest").

The pipeline is not a transaction: each request's commands stand alone (a claim is one atomic
script, `bridge.infra.claims`), and a failed command only fails the request it belongs to. A Redis that
cannot be reached fails every request in the batch, as it would have failed each of them.

Under `BRIDGE_ACK_AFTER=fsync` or `replica` the batch is also the unit of durability: its pipeline
ends with one WAITAOF or WAIT (`bridge.infra.durability`) that covers every request in it, and
when that wait falls short, every request of the batch fails with `NotDurable`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis.asyncio
from redis.typing import EncodableT

if TYPE_CHECKING:
    from bridge.infra.durability import Durability

Command = Sequence[EncodableT]
_Waiting = tuple[Sequence[Command], "asyncio.Future[list[Any]]"]


class Batcher:
    """Sends the commands `execute` is given as pipelines, one round trip on its way at a time."""

    def __init__(self, client: redis.asyncio.Redis, durability: Durability | None = None) -> None:
        self._client = client
        self._durability = durability
        self._pending: list[_Waiting] = []
        self._sender: asyncio.Task[None] | None = None
        self._asked_at = 0.0  # when the first request waiting for the next batch asked (durable only)

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """The answers to `commands`, in order: a command Redis refused answers with its
        `ResponseError`; a Redis that could not be reached raises its `RedisError` here, and
        one that did not confirm the batch as durable as asked raises `NotDurable`."""
        if not commands:
            return []
        return await self._queue(commands)

    async def durable(self) -> None:
        """Once everything written before this call, by any client, is as durable as the batcher
        was asked to make it (`NotDurable` otherwise): for a write made outside the batches.
        Under `write`, at once and without a round trip."""
        if self._durability is not None:
            await self._queue(())

    async def _queue(self, commands: Sequence[Command]) -> list[Any]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        if not self._pending and self._durability is not None:
            self._asked_at = time.monotonic()
        self._pending.append((commands, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send(), name="redis-batch")
        return await future

    async def aclose(self) -> None:
        """Waits for the round trip on its way, then closes the client's connections."""
        if self._sender is not None:
            await asyncio.wait([self._sender])
        await self._client.aclose()

    async def _send(self) -> None:
        # Started in this turn of the event loop, it first runs in the next one: the other
        # requests ready to write in this turn join the first batch.
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._round_trip(batch, self._asked_at)
        finally:
            self._sender = None

    async def _round_trip(self, batch: list[_Waiting], asked_at: float) -> None:
        durability = self._durability
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for commands, _future in batch:
                    for command in commands:
                        pipe.execute_command(*command)
                if durability is not None:
                    for command in durability.commands(durability.time_left(asked_at)):
                        pipe.execute_command(*command)
                answers = await pipe.execute(raise_on_error=False)
            if durability is not None:
                durability.check(answers[-2:])
        except asyncio.CancelledError:  # the process is stopping
            for _commands, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # RedisError, NotDurable, a value Redis cannot take: nobody may hang
            for _commands, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for commands, future in batch:
            if not future.done():  # a request whose client went away is cancelled
                future.set_result(answers[start : start + len(commands)])
            start += len(commands)
