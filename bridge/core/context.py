"""Which request or job the running code works for, so every log line can say so.

A webhook gets a request id (the caller's `X-Request-ID` when it is sane, a new one otherwise),
echoed in the response. The ledgers store it with what the webhook carried, and the worker that
later runs the job puts it back in context with the job's id: one id then finds a message's
lines on both sides, from the provider's request to the last Intercom call.

The ids live in context variables, not thread-locals: each request runs in its own asyncio task
(and sync routes in threads that copy the task's context), each job in its own worker process
or call, so concurrent requests never see each other's id.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

HEADER = "X-Request-ID"

_request_id: ContextVar[str | None] = ContextVar("bridge_request_id", default=None)
_job_id: ContextVar[str | None] = ContextVar("bridge_job_id", default=None)

# What a proxy's or provider's request id looks like (UUIDs, Heroku's and nginx's hex ids).
# Anything else is replaced, not trusted: it lands in every log line and in Redis, so it must
# not be able to forge JSON, break a line, carry a phone number (`+`) or grow without bound.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def current_request_id() -> str | None:
    """The id of the request being handled, or of the request that queued the running job."""
    return _request_id.get()


def current_job_id() -> str | None:
    """The id of the RQ job running in this context, if any."""
    return _job_id.get()


def request_id_fields() -> dict[str, str]:
    """`{"request_id": …}` to store with what this request queues, or nothing outside one."""
    request_id = _request_id.get()
    return {"request_id": request_id} if request_id else {}


def sane_request_id(value: str | None) -> str | None:
    """`value` if it is a usable request id (short, safe characters), else None."""
    return value if value is not None and _SANE.fullmatch(value) else None


def new_request_id() -> str:
    # 32 hex digits like a UUID4's, without building a `UUID` (a few µs on every webhook).
    return os.urandom(16).hex()


@contextmanager
def job_context(*, job_id: str, request_id: str | None) -> Iterator[None]:
    """Log lines inside carry `job_id` and the `request_id` that queued the job."""
    job_token = _job_id.set(job_id)
    request_token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(request_token)
        _job_id.reset(job_token)


class ContextFilter(logging.Filter):
    """Stamps `request_id` and `job_id` from the context on every record (unless already set)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in (("request_id", _request_id), ("job_id", _job_id)):
            if getattr(record, name, None) is None:
                setattr(record, name, variable.get())
        return True


def bind_request_id(request_id: str) -> Token[str | None]:
    """Puts `request_id` in context for the request being handled (`bridge.web.request_id`)."""
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)
