"""Reading every record of one kind: Redis keys by pattern, their values in pipelined batches.

Some of what the bridge keeps is indexed by an id that says nothing of whom it is about (the
inbound ledger by message id, sent messages by the provider's id), so finding a person's records
(`bridge.ops.forget`) means reading them all. SCAN walks the keyspace without blocking Redis,
and each batch of keys is read in one round trip.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from redis import Redis

BATCH = 500


def text(value: bytes | str | None) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


def scanned_keys(client: Redis, pattern: str) -> Iterator[list[str]]:
    """The keys matching `pattern`, a batch at a time."""
    batch: list[str] = []
    for name in client.scan_iter(match=pattern, count=1000):
        batch.append(text(name))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def scanned_hashes(
    client: Redis, pattern: str, fields: Sequence[str] | None
) -> Iterator[tuple[str, dict[str, str]]]:
    """Each hash matching `pattern` with `fields` (None: all of them), as text; keys of another
    type that match the pattern (a counter among entries) are passed over."""
    for batch in scanned_keys(client, pattern):
        with client.pipeline(transaction=False) as pipe:
            for name in batch:
                if fields is None:
                    pipe.hgetall(name)
                else:
                    pipe.hmget(name, list(fields))
            answers = pipe.execute(raise_on_error=False)
        for name, answer in zip(batch, answers, strict=True):
            if isinstance(answer, dict):
                yield name, {text(key): text(value) for key, value in answer.items()}
            elif isinstance(answer, list) and fields is not None:
                yield name, {field: text(value) for field, value in zip(fields, answer, strict=True) if value}


def scanned_strings(client: Redis, pattern: str) -> Iterator[tuple[str, str]]:
    """Each string value matching `pattern`, as text (keys of other types passed over)."""
    for batch in scanned_keys(client, pattern):
        with client.pipeline(transaction=False) as pipe:
            for name in batch:
                pipe.get(name)
            answers = pipe.execute(raise_on_error=False)
        for name, answer in zip(batch, answers, strict=True):
            if isinstance(answer, bytes | str):
                yield name, text(answer)
