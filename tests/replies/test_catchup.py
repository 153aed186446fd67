"""The reply catch-up: an agent's reply whose webhook never reached the bridge is sent once anyway.

Real parts: the bridge's web app (for the late webhook and /metrics), Valkey, the Intercom
sandbox over HTTP holding its webhooks back (`hold_webhooks`: Intercom fired, the bridge never
heard), the provider stand-ins, the in-process worker (`drain`) and a real `bridge worker`.
Each look is one `catch_up_once`, on a clock the test moves: no test waits out an interval.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from bridge.conversations.threads import ThreadStore
from bridge.dev.simulators import SIMULATORS, SimulatedMessage
from bridge.infra import keys
from bridge.replies.catchup import OVERLAP_SECONDS
from bridge.replies.own import OwnParts
from tests.infra.test_metrics import scrape
from workers.catchup import catch_up_once

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"
CLIENT_SECRET = "test-intercom-client-secret"
INTERVAL = 60  # BRIDGE_REPLY_CATCHUP_SECONDS' default, which the tests run with


@pytest.fixture
def conversation(providers_at_standin, bridge, sandbox, settings, drain, http, request) -> str:
    """A conversation the bridge opened for a customer's SMS, whose webhooks Intercom then fires
    at the bridge but the bridge does not hear (held until the test releases them)."""
    sandbox.configure(webhook_url=f"{bridge.url}/intercom/webhooks", client_secret=CLIENT_SECRET)
    request.addfinalizer(lambda: sandbox.configure(webhook_url="", client_secret=""))  # not reset
    message = SimulatedMessage(sender=CUSTOMER, recipient=BUSINESS, text="Where is my order?")
    assert SIMULATORS["twilio"](message, bridge.url, settings).send(http).status_code == 200
    drain()
    [opened] = sandbox.conversations()
    sandbox.configure(hold_webhooks=True)
    return str(opened["id"])


def sent(providers_at_standin) -> list[str]:
    return [send.text for send in providers_at_standin.state.sends]


def reply(sandbox, conversation_id: str, body: str, *, message_type: str = "comment") -> str:
    """An agent's part in the conversation; its id."""
    answer = sandbox.api(
        "POST",
        f"/conversations/{conversation_id}/reply",
        json={"type": "admin", "admin_id": "991267101", "message_type": message_type, "body": body},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["conversation_parts"]["conversation_parts"][-1]["id"])


def later(seconds: float):
    """A clock `seconds` ahead of the real one (the sandbox's parts keep the real time)."""
    return lambda: time.time() + seconds


def test_a_reply_whose_webhook_never_came_is_sent_once_and_its_late_webhook_sends_nothing(
    conversation, providers_at_standin, sandbox, redis_client, settings, drain
):
    part_id = reply(sandbox, conversation, "It ships today")
    drain()
    assert sent(providers_at_standin) == []  # the webhook is held: the bridge knows nothing yet

    run = catch_up_once(redis_client, settings)
    drain()
    assert run.ran and run.queued == [part_id]
    assert sent(providers_at_standin) == ["It ships today"]

    assert sandbox.release_webhooks() == 1  # Intercom's retry, late
    drain()
    [delivery] = sandbox.deliveries()
    assert delivery["status"] == 200
    assert sent(providers_at_standin) == ["It ships today"]


def test_a_reply_the_webhook_sent_first_is_not_sent_again_by_the_catch_up(
    conversation, providers_at_standin, sandbox, redis_client, settings, drain
):
    reply(sandbox, conversation, "Already on its way")
    assert sandbox.release_webhooks() == 1
    drain()
    run = catch_up_once(redis_client, settings)
    drain()
    assert run.read == 1 and run.queued == []
    assert sent(providers_at_standin) == ["Already on its way"]


def test_notes_are_never_sent_and_a_bots_reply_is(
    conversation, providers_at_standin, sandbox, redis_client, settings, drain
):
    reply(sandbox, conversation, "Customer sounds upset, be gentle", message_type="note")
    bot = sandbox._http.post(f"/_sandbox/conversations/{conversation}/bot_reply", json={"body": "Fin here"})
    assert bot.status_code == 200
    run = catch_up_once(redis_client, settings)
    drain()
    assert run.queued == [bot.json()["id"]]
    assert sent(providers_at_standin) == ["Fin here"]


def test_a_part_the_bridge_posted_itself_is_not_queued(
    conversation, providers_at_standin, sandbox, redis_client, settings, drain
):
    own = reply(sandbox, conversation, "Sent by the team's message API")
    OwnParts(redis_client, settings).record(own)
    run = catch_up_once(redis_client, settings)
    assert run.read == 1 and run.queued == []
    assert redis_client.exists(keys.reply(own)) == 0


def test_parts_written_before_the_bridge_carried_the_conversation_are_not_sent(
    conversation, providers_at_standin, sandbox, redis_client, settings, drain
):
    reply(sandbox, conversation, "From before the bridge")
    threads = ThreadStore(redis_client)
    thread = threads.by_conversation(conversation)
    # As if the bridge took the conversation on an hour from now (past the clock-skew allowance).
    threads.save(replace(thread, created_at=time.time() + 3600))
    run = catch_up_once(redis_client, settings)
    drain()
    assert run.read == 1 and run.queued == []
    assert sent(providers_at_standin) == []


def test_a_new_catch_up_after_a_restart_reads_the_mark_and_resends_nothing(
    conversation, providers_at_standin, sandbox, redis_client, settings, drain
):
    first_part = reply(sandbox, conversation, "First")
    first = catch_up_once(redis_client, settings)
    drain()
    assert first.queued == [first_part]
    mark = float(redis_client.get(keys.REPLY_CATCHUP_MARK))

    second_part = reply(sandbox, conversation, "Second, while the workers restarted")
    assert catch_up_once(redis_client, settings).skipped == "not due"  # within the interval
    # A new worker process, an interval later: a new catch-up, with only Redis in common.
    after_restart = catch_up_once(redis_client, settings, clock=later(INTERVAL + 1))
    drain()
    assert after_restart.ran and after_restart.queued == [second_part]
    assert after_restart.since == mark - OVERLAP_SECONDS  # from the mark the first one left
    assert sent(providers_at_standin) == ["First", "Second, while the workers restarted"]


def test_the_first_look_after_an_outage_covers_the_outage(
    conversation, providers_at_standin, sandbox, redis_client, settings, drain
):
    assert catch_up_once(redis_client, settings, clock=later(-3600)).ran  # the last look, an hour ago
    part_id = reply(sandbox, conversation, "Written while every worker was down")
    # Ten minutes on, far more than one interval: the first look ever would start one interval back.
    run = catch_up_once(redis_client, settings, clock=later(600))
    drain()
    assert run.since is not None and run.since < time.time() - 3600
    assert run.queued == [part_id]
    assert sent(providers_at_standin) == ["Written while every worker was down"]


def test_the_first_look_ever_starts_one_interval_back(conversation, redis_client, settings, sandbox):
    reply(sandbox, conversation, "Just now")
    run = catch_up_once(redis_client, settings, clock=later(INTERVAL + OVERLAP_SECONDS + 5))
    assert run.ran and run.listed == 0 and run.queued == []


def test_a_mark_that_is_not_a_time_is_looked_past_not_stuck_on(conversation, redis_client, settings, sandbox):
    part_id = reply(sandbox, conversation, "Still found")
    redis_client.set(keys.REPLY_CATCHUP_MARK, "yesterday")
    run = catch_up_once(redis_client, settings)
    assert run.queued == [part_id]
    assert float(redis_client.get(keys.REPLY_CATCHUP_MARK)) == pytest.approx(time.time(), abs=30)


def test_two_workers_looking_at_the_same_moment_send_once(
    conversation, providers_at_standin, sandbox, redis_client, settings, drain
):
    part_id = reply(sandbox, conversation, "Only once")
    sandbox.configure(latency=0.3)  # each look takes a while: the second comes while the first runs
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: catch_up_once(redis_client, settings), range(2)))
    sandbox.configure(latency=0)
    drain()
    assert sorted(run.ran for run in runs) == [False, True]
    assert [run.skipped for run in runs if not run.ran] == ["another worker is running the catch-up"]
    assert [part for run in runs for part in run.queued] == [part_id]
    assert sent(providers_at_standin) == ["Only once"]


def test_metrics_count_the_parts_the_catch_up_found(
    conversation, providers_at_standin, sandbox, redis_client, settings, drain, bridge, http
):
    before = scrape(http, bridge)
    reply(sandbox, conversation, "Counted")
    sandbox._http.post(f"/_sandbox/conversations/{conversation}/bot_reply", json={"body": "Counted too"})
    catch_up_once(redis_client, settings)
    catch_up_once(redis_client, settings, clock=later(INTERVAL + 1))  # finds them again: not counted
    after = scrape(http, bridge)
    name = "bridge_reply_catchup_parts_total"
    assert after(name, author="admin") - before(name, author="admin") == 1
    assert after(name, author="bot") - before(name, author="bot") == 1


def test_a_running_bridge_worker_sends_a_reply_whose_webhook_never_came(
    conversation, providers_at_standin, sandbox, bridge_env
):
    reply(sandbox, conversation, "Sent by the worker's own catch-up")
    env = os.environ | {"BRIDGE_REPLY_CATCHUP_SECONDS": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "bridge", "worker"], env=env)
    try:
        deadline = time.monotonic() + 30
        while not sent(providers_at_standin) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(30)
    assert sent(providers_at_standin) == ["Sent by the worker's own catch-up"]
