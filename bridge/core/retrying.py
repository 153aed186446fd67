"""Quick retries of one HTTP call, shared by the Intercom client and every provider's send API.

Inside one job attempt: 429 waits until the rate-limit window resets (`X-RateLimit-Reset` as unix
seconds, or `Retry-After`), 5xx, 408 and transport errors back off exponentially with jitter.
When attempts run out the caller's retryable error is raised and RQ retries the whole job later
(`BRIDGE_RETRY_DELAYS`). Any other answer is returned for the caller to judge: only it knows the
service's error format. Every 429 and every second waited is counted by service (`bridge.core.metrics`).

A call that must not be made twice (a customer's message posted into a conversation) is not
repeated when its outcome is unknown: a timeout, a dropped connection, a 5xx or a 408 may come
after the service applied it. Its caller gets `outcome_unknown` at once, and looks before trying
again (`IntercomClient.reply_as_contact`). A 429 is still waited out: it refuses before anything
is applied.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bridge.core import metrics
from bridge.core.errors import RetryableError
from bridge.core.metrics import WaitReason

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff: float = 0.5  # seconds before the second attempt; doubles after
    max_wait: float = 30.0  # never wait longer than this for a rate-limit window
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def backoff_delay(self, attempt: int) -> float:
        base: float = self.backoff * 2 ** (attempt - 1)
        return base * (0.5 + random.random() / 2)

    def rate_limit_wait(self, response: httpx.Response, attempt: int) -> float:
        reset = response.headers.get("X-RateLimit-Reset")
        retry_after = response.headers.get("Retry-After")
        try:
            if reset is not None:
                wait = float(reset) - self.clock()
            elif retry_after is not None:
                wait = float(retry_after)
            else:
                wait = self.backoff_delay(attempt)
        except ValueError:
            wait = self.backoff_delay(attempt)
        # A small floor keeps a reset that is "now" by our clock from spinning at the window edge.
        return min(max(wait, 0.05), self.max_wait)


def transient(status: int) -> bool:
    return status >= 500 or status in (408, 429)


def call_with_retries(
    send: Callable[[], httpx.Response],
    *,
    policy: RetryPolicy,
    service: str,
    request: str,
    unavailable: type[RetryableError],
    rate_limited: type[RetryableError],
    describe: Callable[[httpx.Response], str] = lambda response: response.reason_phrase,
    outcome_unknown: type[RetryableError] | None = None,
) -> httpx.Response:
    """The first answer that is not transient; `unavailable` / `rate_limited` when none came.

    `service` and `request` name what failed in the error ("Intercom answered 503 to GET /me after
    4 attempts: service_unavailable"), for the failed-job listing ops read. With `outcome_unknown`
    the call is not repeated after an attempt that may have been applied (module docstring)."""
    for attempt in range(1, policy.max_attempts + 1):
        last = attempt == policy.max_attempts
        try:
            response = send()
        except httpx.TransportError as exc:
            if outcome_unknown is not None:
                raise outcome_unknown(
                    f"{service} gave no answer to {request} ({type(exc).__name__}): it may have been applied"
                ) from exc
            if last:
                raise unavailable(
                    f"{service} unreachable for {request} after {attempt} attempts: {type(exc).__name__}"
                ) from exc
            log.warning("%s %s: %s, retrying", service, request, type(exc).__name__)
            _wait(policy, service, WaitReason.BACKOFF, policy.backoff_delay(attempt))
            continue
        status = response.status_code
        if not transient(status):
            return response
        if status == 429:
            metrics.current().rate_limited(service)
            if last:
                raise rate_limited(
                    f"{service} answered 429 to {request} {attempt} times: {describe(response)}"
                )
            wait = policy.rate_limit_wait(response, attempt)
            log.warning("%s %s: 429, waiting %.2fs for the rate-limit window", service, request, wait)
            _wait(policy, service, WaitReason.RATE_LIMIT, wait)
            continue
        if outcome_unknown is not None:
            raise outcome_unknown(
                f"{service} answered {status} to {request}: it may have been applied ({describe(response)})"
            )
        if last:
            raise unavailable(
                f"{service} answered {status} to {request} after {attempt} attempts: {describe(response)}"
            )
        log.warning("%s %s: %s, retrying", service, request, status)
        _wait(policy, service, WaitReason.BACKOFF, policy.backoff_delay(attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")


def back_off(policy: RetryPolicy, service: str, attempt: int) -> None:
    """Wait before attempt `attempt + 1` of a call its caller repeats itself (after looking
    whether the last one was applied), counted as every backoff is."""
    _wait(policy, service, WaitReason.BACKOFF, policy.backoff_delay(attempt))


def _wait(policy: RetryPolicy, service: str, reason: WaitReason, seconds: float) -> None:
    metrics.current().waited(service, reason, seconds)
    policy.sleep(seconds)
