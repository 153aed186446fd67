"""One Redis round trip for the writes of every request in flight in the web process.

The web process calls Redis from its event loop with the synchronous client: while a command
waits for its answer, nothing else runs. Each round trip costs far more than the command itself
(two system calls, waking Redis and being woken), and a webhook makes two (storing its messages,
counting it). `Batcher` gathers the commands of every request that reaches Redis in the same
turn of the event loop and sends them as one pipeline; each request still waits for its own
answers before it answers its provider. Under load many requests share a round trip; alone, a
request makes the same round trip it would have made by itself.

The pipeline is not a transaction: each request's commands stand alone (a claim is one atomic
script, `bridge.claims`), and a failed command only fails the request it belongs to. A Redis that
cannot be reached fails every request in the batch, as it would have failed each of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis import Redis
from redis.typing import EncodableT

Command = Sequence[EncodableT]


class Batcher:
    """Sends the commands `execute` is given within one event-loop turn as one pipeline."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._pending: list[tuple[Sequence[Command], asyncio.Future[list[Any]]]] = []

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """The answers to `commands`, in order: a command Redis refused answers with its
        `ResponseError`; a Redis that could not be reached raises its `RedisError` here."""
        if not commands:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if not self._pending:
            # After the callbacks already due in this turn: the other requests ready to write.
            loop.call_soon(self._flush)
        self._pending.append((commands, future))
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for commands, _future in batch:
                    for command in commands:
                        pipe.execute_command(*command)  # type: ignore[no-untyped-call]
                answers = pipe.execute(raise_on_error=False)
        except Exception as exc:  # RedisError, or a value Redis cannot take: nobody may hang
            for _commands, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for commands, future in batch:
            if not future.done():  # a request whose client went away is cancelled
                future.set_result(answers[start : start + len(commands)])
            start += len(commands)
