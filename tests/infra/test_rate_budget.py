"""The Intercom call budget every process shares (bridge.infra.rate_budget), on a real Redis.

Accounting runs on an injected clock: "processes" are budgets on their own connections sharing
one key, booking and "sleeping" in simulated time, so what is checked is exactly which slots
were handed out, never how fast this machine is. The end-to-end test drains a backlog with
worker processes against the sandbox enforcing a limit over real HTTP.
"""

from __future__ import annotations

import ast
import heapq
import random
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from pydantic import ValidationError

from bridge.core import metrics
from bridge.core.errors import IntercomRateLimited, RetryableError, StorageUnavailable
from bridge.core.metrics import RETRY_WAIT, series_field
from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings, get_settings, reset_settings_cache
from bridge.infra import keys
from bridge.infra.connection import redis_client as redis_client_for
from bridge.infra.metrics import hash_key, redis_metrics
from bridge.infra.rate_budget import DEFAULT_MAX_WAIT, SHARE, CallBudget
from bridge.intercom.client import IntercomClient
from bridge.runtime.serving import free_port
from tests.conftest import TEST_INTERCOM_TOKEN
from tests.helpers import ROOT, SandboxControl, conversation_bodies, signed_twilio

BUSINESS = "+14155550100"


class Clock:
    """Simulated time: moves only when told."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def connections(redis_url: str, redis_client: redis.Redis) -> Iterator[list[redis.Redis]]:
    """Separate connections, one per simulated process (redis_client empties the database)."""
    opened = [redis.Redis.from_url(redis_url) for _ in range(5)]
    yield opened
    for connection in opened:
        connection.close()


def budgets(
    connections: list[redis.Redis], clock: Clock, *, max_wait: float = DEFAULT_MAX_WAIT
) -> list[CallBudget]:
    """One budget of 600 calls a minute per simulated process, all on `clock`."""
    return [CallBudget(c, calls_per_minute=600, max_wait=max_wait, clock=clock) for c in connections]


def most_in_any_window(slots: list[float], seconds: float) -> int:
    """The most slots any half-open window [t, t + seconds) holds (the fullest starts at a slot)."""
    ordered = sorted(slots)
    most, end = 0, 0
    for begin, start in enumerate(ordered):
        while end < len(ordered) and ordered[end] < start + seconds:
            end += 1
        most = max(most, end - begin)
    return most


def test_processes_sharing_the_budget_never_exceed_its_share_in_any_window_and_sustain_it(connections):
    clock = Clock()
    processes = budgets(connections, clock)
    share = processes[0].per_window(10)
    assert share == 90  # 90 % of Intercom's 100 per 10-second window at 600 a minute
    rng = random.Random(7)
    # Each process wants its next slot as soon as its last call (0-50 ms) is done: more demand
    # than 600 calls a minute, for two simulated minutes.
    wanting = [(clock.now, index) for index in range(len(processes))]
    slots: list[float] = []
    end = clock.now + 120
    while wanting[0][0] < end:
        at, index = heapq.heappop(wanting)
        clock.now = max(clock.now, at)
        slot = processes[index].reserve()
        assert slot.booked
        slots.append(clock.now + slot.wait)
        heapq.heappush(wanting, (clock.now + slot.wait + rng.uniform(0.0, 0.05), index))

    assert most_in_any_window(slots, 10.0) <= share
    assert most_in_any_window(slots, 1.0) <= processes[0].per_window(1)
    first_minute = [slot for slot in slots if slot < slots[0] + 60]
    assert len(first_minute) >= 0.9 * 6 * share


def test_the_default_budget_stays_under_intercoms_window_with_its_margin(redis_client):
    budget = CallBudget(redis_client, calls_per_minute=10_000)
    assert budget.per_window(10) == 1_500  # of Intercom's 1,666 per 10-second window
    assert budget.per_window(10) <= SHARE * 10_000 / 6 + 1


def test_idle_time_is_not_saved_up_for_a_burst(connections):
    clock = Clock()
    budget = budgets(connections[:1], clock)[0]
    budget.reserve()
    clock.now += 3600  # an idle hour
    waits = [budget.reserve().wait for _ in range(3)]
    assert waits == pytest.approx([0.0, budget.interval, 2 * budget.interval], abs=1e-6)


def test_a_429s_pause_holds_every_process_and_is_never_shortened(connections):
    clock = Clock()
    first, second, third = budgets(connections[:3], clock)
    first.pause(5.0)
    second.pause(1.0)  # a shorter pause reported later does not cut the longer one
    assert third.reserve().wait == pytest.approx(5.0)
    clock.now += 5.0
    assert third.reserve().wait == pytest.approx(third.interval)


def test_a_slot_further_than_max_wait_is_refused_and_not_booked(connections):
    clock = Clock()
    budget, other = budgets(connections[:2], clock, max_wait=2.0)
    budget.pause(10.0)
    refused = budget.reserve()
    assert not refused.booked and refused.wait == pytest.approx(10.0)
    with pytest.raises(IntercomRateLimited, match="no Intercom call slot within 2 s"):
        budget.acquire()
    clock.now += 10.0
    assert other.reserve().wait == 0.0  # the refusals took no slot


def test_acquire_sleeps_until_its_slot_and_counts_it_as_waiting_for_the_budget(redis_client):
    clock = Clock()
    slept: list[float] = []
    budget = CallBudget(redis_client, calls_per_minute=600, clock=clock, sleep=slept.append)
    with metrics.installed(redis_metrics(redis_client)):
        waits = [budget.acquire() for _ in range(3)]  # three callers at the same instant
    interval = budget.interval
    assert waits == pytest.approx([0.0, interval, 2 * interval], abs=1e-6)
    assert slept == pytest.approx([interval, 2 * interval], abs=1e-6)
    recorded = redis_client.hget(hash_key(RETRY_WAIT), series_field(["intercom", "budget"]))
    assert float(recorded or 0) == pytest.approx(3 * interval, abs=1e-5)


def test_redis_not_answering_fails_the_call_retryably_and_sends_nothing(sandbox):
    unreachable = redis_client_for(f"redis://127.0.0.1:{free_port()}", timeout=0.5)  # nothing listens
    budget = CallBudget(unreachable, calls_per_minute=600)
    with pytest.raises(StorageUnavailable) as raised:
        budget.reserve()
    assert isinstance(raised.value, RetryableError)
    with _client(sandbox, budget, RetryPolicy()) as intercom, pytest.raises(StorageUnavailable):
        intercom.me()
    assert sandbox.requests() == []  # the budget is not skipped when it cannot be read
    budget.pause(1.0)  # best effort: a lost pause is logged, the caller waits its own 429 out


def test_a_429_from_intercom_pauses_the_other_processes_until_its_reset(sandbox, connections):
    clock = Clock(time.time())  # frozen at a real time: the sandbox's resets are real ones
    slept: list[float] = []
    mine = CallBudget(connections[0], calls_per_minute=600, clock=clock, sleep=slept.append)
    [theirs] = budgets(connections[1:2], clock)
    policy = RetryPolicy(max_attempts=2, sleep=lambda seconds: None, clock=clock)
    sandbox.fault(429, times=1, reset_in=5)
    with _client(sandbox, mine, policy) as intercom:
        assert intercom.me()["type"] == "admin"

    limited, served = sandbox.requests()
    assert (limited["status"], served["status"]) == (429, 200)
    pause = float(limited["response_headers"]["x-ratelimit-reset"]) - clock.now
    assert pause > 0
    assert slept == pytest.approx([pause], abs=1e-5)  # the retry itself waited in the budget
    # Another process books after this one's retry, whose slot was the end of the pause.
    assert theirs.reserve().wait == pytest.approx(pause + theirs.interval, abs=1e-5)


def test_the_setting_defaults_to_intercoms_limit_and_zero_turns_the_budget_off(
    bridge_env, monkeypatch, redis_client, sandbox
):
    assert get_settings().intercom_calls_per_minute == 10_000
    with IntercomClient.from_settings(get_settings(), redis_client=redis_client) as intercom:
        intercom.me()
    assert redis_client.exists(keys.INTERCOM_BUDGET)

    redis_client.delete(keys.INTERCOM_BUDGET)
    monkeypatch.setenv("BRIDGE_INTERCOM_CALLS_PER_MINUTE", "0")
    reset_settings_cache()
    settings = get_settings()
    assert CallBudget.from_settings(settings, redis_client) is None
    with IntercomClient.from_settings(settings, redis_client=redis_client) as intercom:
        intercom.me()
    assert not redis_client.exists(keys.INTERCOM_BUDGET)

    monkeypatch.setenv("BRIDGE_INTERCOM_CALLS_PER_MINUTE", "-1")
    with pytest.raises(ValidationError, match="BRIDGE_INTERCOM_CALLS_PER_MINUTE"):
        Settings()


def test_every_intercom_client_the_bridge_builds_says_which_budget_it_shares():
    """Each `IntercomClient.from_settings(...)` in the product passes `redis_client=`: the
    budget's Redis, or an explicit None for a one-off check (doctor)."""
    calls = []
    for path in [*(ROOT / "bridge").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "from_settings"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "IntercomClient"
            ):
                calls.append((path.relative_to(ROOT), {keyword.arg for keyword in node.keywords}))
    assert len(calls) >= 5  # workers (one shared job set-up), web, ops (replay plans), CLI (2)
    assert [path for path, keywords in calls if "redis_client" not in keywords] == []


@pytest.mark.slow
def test_worker_processes_draining_a_backlog_share_the_budget_and_intercom_never_says_429(
    bridge, settings, sandbox, monkeypatch, worker_processes, http
):
    # The sandbox allows 20 calls per 2-second window (600 a minute); the bridge books 90 % of
    # 330 a minute, one call every 0.2 s, 10 per window: a window sees 20 only if calls are
    # delayed by 2 s on their way. Without a shared budget three workers go far faster.
    sandbox.rate_limit(20, window_seconds=2)
    monkeypatch.setenv("BRIDGE_INTERCOM_CALLS_PER_MINUTE", "330")
    texts = [f"backlog message {n}" for n in range(12)]
    for n, text in enumerate(texts):
        request = signed_twilio(
            bridge.url, settings, sender=f"+1415555{n:04d}", recipient=BUSINESS, text=text
        )
        assert request.send(http).status_code == 200

    worker_processes(3)

    counts = sandbox.rate_counts()
    assert counts["limited"] == 0
    assert counts["calls"] >= 2 * len(texts)  # each new number: at least a lookup and a conversation
    delivered = sorted(body for c in sandbox.conversations() for body in conversation_bodies(c))
    assert delivered == sorted(texts)  # every message, once


def test_the_sandbox_answers_past_its_limit_as_intercom_does_and_counts_each_window(sandbox):
    assert sandbox.rate_limit(3, window_seconds=3600)["per_window"] == 3
    answers = [sandbox.api("GET", "/me") for _ in range(8)]
    counts = sandbox.rate_counts()
    assert counts["calls"] == 8 and counts["window_seconds"] == 3600
    # Whatever window boundary fell between the calls, each window refused all past its third.
    assert [w["limited"] for w in counts["windows"]] == [max(w["calls"] - 3, 0) for w in counts["windows"]]
    refused = [answer for answer in answers if answer.status_code == 429]
    assert len(refused) == counts["limited"] >= 2
    body = refused[0].json()
    assert body["type"] == "error.list" and body["request_id"]
    assert body["errors"] == [
        {"code": "rate_limit_exceeded", "message": "Exceeded rate limit of 3 in 3600_seconds"}
    ]
    headers = refused[0].headers
    assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("3", "0")
    assert int(headers["x-ratelimit-reset"]) % 3600 == 0

    off = sandbox.rate_limit(None)
    assert off["per_window"] == 0 and off["calls"] == 8  # off: counting goes on
    assert sandbox.api("GET", "/me").status_code == 200
    assert sandbox.rate_counts()["calls"] == 9


def _client(sandbox: SandboxControl, budget: CallBudget, policy: RetryPolicy) -> IntercomClient:
    http = httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {TEST_INTERCOM_TOKEN}"})
    return IntercomClient(http, policy=policy, budget=budget)
