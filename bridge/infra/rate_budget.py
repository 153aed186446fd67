"""One budget of Intercom API calls, shared through Redis by every process of the bridge.

Intercom allows an app 10,000 calls a minute (25,000 per workspace, shared by its apps), counted
in 10-second windows (about 1,666 each); past that it answers 429 until `X-RateLimit-Reset`.
Retrying one's own 429s (`bridge.core.retrying`) keeps one process polite, but nothing stopped N
workers, each forked job and every web process (the inbox app calls Intercom too) from going
over together. So every HTTP attempt at Intercom first books a slot here.

**How: GCRA without a burst allowance**, in one Lua script per booking (atomic across processes
and machines). Redis keeps `tat`, the earliest free slot, and `paused_until`. A caller books
`slot = max(tat, now, paused_until)`, moves `tat` to `slot + interval` and sleeps until its slot.
Slots are therefore exactly `interval` apart: any half-open window of `W` seconds holds at most
`ceil(W / interval)` of them, whichever moment it starts at, so Intercom's windows are covered
whatever their alignment. And when callers queue, every slot is taken: the bridge sustains its
whole share (`bench/rate_budget.py` prints it). There is deliberately no burst allowance: calls
saved up while idle and spent at once would land in one of Intercom's windows together.

Times are Redis' (`TIME`, in microseconds), not the callers': processes on machines whose clocks
disagree still share one timeline, and each only sleeps a duration Redis computed. Tests inject
a clock instead (`clock=`), which the script then uses.

**The margin.** The bridge books 90 % (`SHARE`) of `BRIDGE_INTERCOM_CALLS_PER_MINUTE`. A slot is
when a call may leave; Intercom counts it when it arrives, later by a delay that varies (waking
from sleep, a new connection, the network). Evenly booked calls delayed unevenly bunch up: one of
Intercom's windows can see up to `share + spread / interval` of them. 10 % of headroom absorbs a
spread of 10 % of the window, one second, about 166 calls at the default, far more than a
healthy deployment's jitter, for 10 % of throughput. A 429 that comes anyway (another app on the
workspace, a lower limit than configured) pauses every process until its `X-RateLimit-Reset`
(`pause`), not only the one that got it.

**Failure.** A wait longer than `max_wait` books nothing and raises `IntercomRateLimited`: RQ
retries the job later (`BRIDGE_RETRY_DELAYS`). Redis not answering raises `StorageUnavailable`,
retryable too, as for any other Redis outage: the budget is never silently skipped.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis, RedisError

from bridge.core import metrics
from bridge.core.errors import IntercomRateLimited, StorageUnavailable
from bridge.core.metrics import WaitReason
from bridge.core.settings import Settings
from bridge.infra import keys

log = logging.getLogger(__name__)

SHARE = 0.9  # of the configured limit the bridge books (the margin: see the module docstring)
INTERCOM_WINDOW_SECONDS = 10.0  # Intercom counts calls in windows of this length
DEFAULT_MAX_WAIT = 30.0  # longer than a 10-second window plus a queue of callers
SERVICE = "intercom"
_MICROS = 1_000_000

# `now` in µs: the caller's (its last argument), or Redis' own clock when that is ''.
_NOW = """
local now = tonumber(ARGV[#ARGV])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
"""

# KEYS[1]: the budget's hash. ARGV: interval (µs), max wait (µs), now. Returns {1 booked / 0
# refused, µs from now until the slot}. Integers are written with '%d': Lua may turn large
# numbers into strings with 14 significant digits.
_BOOK = (
    _NOW
    + """
local state = redis.call('HMGET', KEYS[1], 'tat', 'paused_until')
local slot = math.max(tonumber(state[1]) or 0, tonumber(state[2]) or 0, now)
local wait = slot - now
if wait > tonumber(ARGV[2]) then
  return {0, wait}
end
local tat = slot + tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'tat', string.format('%d', tat))
redis.call('PEXPIRE', KEYS[1], math.ceil((tat - now) / 1000) + 60000)
return {1, wait}
"""
)

# KEYS[1]: the budget's hash. ARGV: pause (µs), now. Returns µs from now until the pause ends.
_PAUSE = (
    _NOW
    + """
local until_ = math.max(tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0, now + tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'paused_until', string.format('%d', until_))
local tat = tonumber(redis.call('HGET', KEYS[1], 'tat')) or 0
redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(until_, tat) - now) / 1000) + 60000)
return until_ - now
"""
)


def slot_interval_us(calls_per_minute: int) -> int:
    """Microseconds between two slots: the booked share of `calls_per_minute`, rounded up so
    slots are never closer than it allows."""
    return math.ceil(60 * _MICROS / (calls_per_minute * SHARE))


def slots_per_window(calls_per_minute: int, seconds: float = INTERCOM_WINDOW_SECONDS) -> int:
    """The most slots any window of `seconds` can hold: the bridge's share of Intercom's window."""
    return math.ceil(seconds * _MICROS / slot_interval_us(calls_per_minute))


@dataclass(frozen=True)
class Slot:
    """A booking: whether a slot was taken, and the seconds from now until it (when refused,
    until the first free one)."""

    booked: bool
    wait: float


class CallBudget:
    """Intercom calls shared by every process using the same Redis: `acquire` before each one."""

    def __init__(
        self,
        redis_client: Redis,
        *,
        calls_per_minute: int,
        max_wait: float = DEFAULT_MAX_WAIT,
        key: str = keys.INTERCOM_BUDGET,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls_per_minute <= 0:
            raise ValueError("a call budget needs a positive number of calls a minute")
        self._calls_per_minute = calls_per_minute
        self._key = key
        self._max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._interval_us = slot_interval_us(calls_per_minute)
        self._book = redis_client.register_script(_BOOK)
        self._pause = redis_client.register_script(_PAUSE)

    @classmethod
    def from_settings(
        cls, settings: Settings, redis_client: Redis, *, max_wait: float = DEFAULT_MAX_WAIT
    ) -> CallBudget | None:
        """The budget `BRIDGE_INTERCOM_CALLS_PER_MINUTE` sets; None when it is 0 (off)."""
        if settings.intercom_calls_per_minute == 0:
            return None
        return cls(redis_client, calls_per_minute=settings.intercom_calls_per_minute, max_wait=max_wait)

    @property
    def interval(self) -> float:
        """Seconds between two slots."""
        return self._interval_us / _MICROS

    def per_window(self, seconds: float = INTERCOM_WINDOW_SECONDS) -> int:
        """The most slots any window of `seconds` can hold (the share of Intercom's limit)."""
        return slots_per_window(self._calls_per_minute, seconds)

    def reserve(self) -> Slot:
        """Book the next free slot unless it is more than `max_wait` away; never sleeps."""
        try:
            booked, wait_us = self._book(
                keys=[self._key], args=[self._interval_us, round(self._max_wait * _MICROS), self._now()]
            )
        except RedisError as exc:
            raise StorageUnavailable(f"could not book an Intercom call: {type(exc).__name__}") from exc
        return Slot(booked=bool(booked), wait=int(wait_us) / _MICROS)

    def acquire(self) -> float:
        """Book a slot and sleep until it; the seconds waited (counted as `reason="budget"`)."""
        slot = self.reserve()
        if not slot.booked:
            raise IntercomRateLimited(
                f"no Intercom call slot within {self._max_wait:.0f} s (the next is {slot.wait:.1f} s away: "
                "paused after a 429, or more callers than BRIDGE_INTERCOM_CALLS_PER_MINUTE serves)"
            )
        if slot.wait > 0:
            metrics.current().waited(SERVICE, WaitReason.BUDGET, slot.wait)
            self._sleep(slot.wait)
        return slot.wait

    def pause(self, seconds: float) -> None:
        """No slot for anyone before `seconds` from now (Intercom answered 429 until then).

        Best effort: when Redis does not answer, the caller still waits out its own 429, as
        every process did before the budget, and its next booking fails loudly."""
        try:
            self._pause(keys=[self._key], args=[round(max(seconds, 0.0) * _MICROS), self._now()])
        except RedisError as exc:
            log.warning("Intercom's rate-limit pause not shared: %s", type(exc).__name__)

    def _now(self) -> str:
        """The injected clock's time in µs, or '' for the script to read Redis' own."""
        return "" if self._clock is None else str(round(self._clock() * _MICROS))
