"""What replaying a failed job would do, said before doing it: the same decisions the job would take
(which contact, which conversation, which messages, which note), against the current state, and
nothing written: not to Redis, not to Intercom. Real Redis and the Intercom sandbox.

Replaying through `bridge jobs replay --dry-run` and the admin API is tests/ops/test_jobs.py's."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from rq.job import Job
from rq.serializers import JSONSerializer

from bridge.contacts.resolution import IdentityMap
from bridge.core.errors import ConfigurationError
from bridge.core.settings import Settings, get_settings, reset_settings_cache
from bridge.infra import keys
from bridge.infra.claims import claim
from bridge.infra.queueing import (
    INBOUND_JOB,
    OUTREACH_JOB,
    REPLY_JOB,
    STATUS_JOB,
    WEBHOOK_JOB,
    JobType,
    enqueue_webhook,
    inbound_queue,
)
from bridge.intake.ledger import InboundLedger, RawPayload, inbound_id
from bridge.intake.raw import RawWebhook
from bridge.intercom.models import ContactRef
from bridge.intercom.webhooks import ReplyPart
from bridge.model.messages import Channel, DeliveryState, DeliveryStatus, Media
from bridge.ops.jobs import JobRecord
from bridge.ops.replay_plan import ReplayPlanner, dry_run_planner
from bridge.outreach.requests import MessageRequest, address
from bridge.outreach.store import OutreachStore
from bridge.providers.registry import ADAPTERS
from bridge.replies.ledger import ReplyLedger
from bridge.replies.reports import StatusLedger, status_id
from bridge.replies.sent import OutboundStore
from tests.conversations.support import BUSINESS, CUSTOMER, opened_thread
from tests.helpers import SandboxControl, inbound_sms

# What a new conversation gets after its message: its channel attributes and tag (issue 17).
LABELLING = ", PUT /conversations/{new} (its channel attributes), POST /conversations/{new}/tags (SMS)"
RAW = RawPayload(
    content_type="application/x-www-form-urlencoded", body="MessageSid=SM1", path="/webhooks/twilio"
)


@pytest.fixture
def planner(redis_client: redis.Redis, settings: Settings) -> Iterator[ReplayPlanner]:
    with dry_run_planner(redis_client, settings, ADAPTERS) as made:
        yield made


@pytest.fixture
def plan(
    planner: ReplayPlanner, redis_client: redis.Redis, sandbox: SandboxControl
) -> Callable[[JobRecord], list[str]]:
    """The planner, checked to have written nothing: not to Redis, not to Intercom."""

    def planned(record: JobRecord) -> list[str]:
        before = snapshot(redis_client)
        lines = planner(record)
        assert snapshot(redis_client) == before
        assert intercom_writes(sandbox) == []
        return lines

    return planned


def job_record(client: redis.Redis, job_type: JobType, record_id: str, **records: Any) -> JobRecord:
    """The failed job's record as `FailedJobs` reads it: the job the ledger queued, and its entry."""
    job = Job.fetch(job_type.job_id(record_id), connection=client, serializer=JSONSerializer)
    return JobRecord(job=job, job_type=job_type, record_id=record_id, **records)


def inbound(client: redis.Redis, settings: Settings, **message: Any) -> JobRecord:
    """A customer's SMS stored and queued as the reader does; its job's record."""
    ledger = InboundLedger(client, settings)
    stored = inbound_sms(**message)
    ledger.accept(stored, RAW)
    entry_id = inbound_id(stored.provider, stored.provider_message_id)
    return job_record(client, INBOUND_JOB, entry_id, inbound=ledger.get(entry_id))


def reply(
    client: redis.Redis, settings: Settings, *, conversation_id: str = "101", body: str = "Shipped"
) -> JobRecord:
    """An agent's reply part stored and queued as the Intercom webhook does; its job's record."""
    ledger = ReplyLedger(client, settings)
    part = ReplyPart(
        part_id="p1",
        conversation_id=conversation_id,
        body=f"<p>{body}</p>",
        author_type="admin",
        author_id="991267101",
        attachments=(),
        created_at=time.time(),
    )
    claim(client, ledger.claim(part))
    return job_record(client, REPLY_JOB, "p1", reply=ledger.get("p1"))


def outreach(client: redis.Redis, settings: Settings, *, text: str = "Shipped", **asked: Any) -> JobRecord:
    """A message the team wrote first to the tests' customer, stored and queued as the message
    API does; its job's record."""
    request = MessageRequest(to=CUSTOMER, provider="twilio", sender=BUSINESS, text=text, **asked)
    stored = OutreachStore(client, settings).store(
        request, address(request, settings, ADAPTERS), rendered=text, template_name=None, source="api"
    )
    return outreach_record(client, settings, stored.entry.message_id)


def outreach_record(client: redis.Redis, settings: Settings, message_id: str) -> JobRecord:
    """The record of message `message_id`'s job, with what its entry holds now."""
    entry = OutreachStore(client, settings).get(message_id)
    return job_record(client, OUTREACH_JOB, message_id, outreach=entry)


def report(client: redis.Redis, settings: Settings, state: DeliveryState) -> JobRecord:
    status = DeliveryStatus(
        provider="twilio", provider_message_id="SMout", state=state, occurred_at="2026-11-23T12:00:00Z"
    )
    StatusLedger(client, settings).accept(status)
    return job_record(client, STATUS_JOB, status_id(status))


def snapshot(client: redis.Redis) -> dict[bytes, Any]:
    """Everything in Redis, to show a plan wrote nothing; but the Intercom call budget, which
    every read of Intercom books a slot of (reading is what a plan is allowed)."""
    return {
        key: (client.type(key), client.dump(key))
        for key in client.keys("*")
        if key != keys.INTERCOM_BUDGET.encode()
    }


def intercom_writes(sandbox: SandboxControl) -> list[str]:
    return [
        f"{e['method']} {e['path']}"
        for e in sandbox.requests()
        if e["method"] != "GET" and e["path"] != "/contacts/search"
    ]


# --- inbound ---


def test_a_message_from_a_new_number_would_create_a_lead_and_open_a_conversation(
    plan, redis_client, settings, sandbox
):
    record = inbound(redis_client, settings)
    assert plan(record) == [
        "twilio sms from +14155****23",
        "contact: nobody holds +14155****23: a new lead would be created",
        "conversation: open a new one",
        "calls: POST /contacts/search, POST /contacts (a new lead), POST /conversations" + LABELLING,
    ]
    assert sandbox.contacts() == []


def test_a_known_number_with_an_open_conversation_would_continue_it(plan, redis_client, settings, sandbox):
    lead = sandbox.seed_contact(role="lead", phone=CUSTOMER)
    IdentityMap(redis_client).set(f"phone:{CUSTOMER}", ContactRef(lead["id"], "lead"))
    opened_thread(redis_client, lead["id"])
    record = inbound(redis_client, settings)

    lines = plan(record)

    assert lines[1] == f"contact: contact {lead['id']} (lead) by identity_map"
    assert lines[2:] == ["conversation: continue 101", "calls: POST /conversations/101/reply"]


def test_the_number_several_contacts_hold_is_said_with_the_rule_that_chose(
    plan, redis_client, settings, sandbox
):
    sandbox.seed_contact(role="lead", phone=CUSTOMER, updated_at=1_000)
    newest = sandbox.seed_contact(role="user", phone=CUSTOMER, email="ada@example.com", updated_at=2_000)
    lines = plan(inbound(redis_client, settings))
    assert lines[1] == (
        f"contact: contact {newest['id']} (user) by search_latest_updated; 1 other contact(s) hold the number"
    )
    assert lines[-1] == "calls: POST /contacts/search, POST /conversations" + LABELLING


def test_a_contact_matched_on_an_earlier_attempt_and_merged_since_is_followed_to_the_survivor(
    plan, redis_client, settings, sandbox
):
    record = inbound(redis_client, settings)
    ledger = InboundLedger(redis_client, settings)
    ledger.record_contact(record.record_id, ContactRef("lead1", "lead"), {"rule": "search"})
    redis_client.set(keys.alias("lead1"), "user1")  # merged from the inbox app meanwhile
    opened_thread(redis_client, "user1")
    record = job_record(redis_client, INBOUND_JOB, record.record_id, inbound=ledger.get(record.record_id))

    lines = plan(record)

    assert lines[1] == "contact: contact user1 (user), matched on an earlier attempt by search"
    assert lines[2:] == ["conversation: continue 101", "calls: POST /conversations/101/reply"]
    assert [e for e in sandbox.requests() if e["path"].startswith("/contacts")] == []  # nothing to look up


def test_media_not_yet_re_served_would_be_downloaded_first_and_those_kept_would_not(
    plan, redis_client, settings, sandbox
):
    media = (Media(url="https://api.twilio.com/media/ME1", content_type="image/jpeg"),)
    record = inbound(redis_client, settings, media=media)
    assert plan(record)[-1].startswith("calls: download 1 media from twilio, ")

    InboundLedger(redis_client, settings).record_attachments(
        record.record_id, {"urls": ["https://bridge/m/1"]}
    )
    kept = job_record(
        redis_client,
        INBOUND_JOB,
        record.record_id,
        inbound=InboundLedger(redis_client, settings).get(record.record_id),
    )
    assert "download" not in plan(kept)[-1]


def test_the_media_of_a_message_opening_a_conversation_would_go_in_its_first_reply(
    plan, redis_client, settings
):
    media = (Media(url="https://api.twilio.com/media/ME1", content_type="image/jpeg"),)
    lines = plan(inbound(redis_client, settings, media=media))
    assert lines[-1].endswith(
        ", POST /conversations, POST /conversations/{new}/reply (its files)" + LABELLING
    )


def test_a_closed_conversation_past_the_buffer_would_open_a_new_one(plan, redis_client, settings, sandbox):
    lead = sandbox.seed_contact(role="lead", phone=CUSTOMER)
    IdentityMap(redis_client).set(f"phone:{CUSTOMER}", ContactRef(lead["id"], "lead"))
    closed_at = time.time() - settings.new_conversation_after - 60
    opened_thread(redis_client, lead["id"], state="closed", closed_at=closed_at)
    lines = plan(inbound(redis_client, settings))
    assert lines[2:] == ["conversation: open a new one", "calls: POST /conversations" + LABELLING]


def test_a_conversation_opened_before_labels_would_be_labelled_once_it_continues(
    plan, redis_client, settings, sandbox
):
    lead = sandbox.seed_contact(role="lead", phone=CUSTOMER)
    IdentityMap(redis_client).set(f"phone:{CUSTOMER}", ContactRef(lead["id"], "lead"))
    opened_thread(redis_client, lead["id"], labelled_at=0.0)  # as an earlier version left it
    assert plan(inbound(redis_client, settings))[-1] == (
        "calls: POST /conversations/101/reply, PUT /conversations/101 (its channel attributes), "
        "POST /conversations/101/tags (SMS)"
    )


def test_a_routed_numbers_new_conversation_would_be_assigned_to_its_team(
    redis_client, bridge_env, sandbox, monkeypatch
):
    monkeypatch.setenv("BRIDGE_ROUTES", f"{BUSINESS}=team:501")
    reset_settings_cache()
    routed = get_settings()
    with dry_run_planner(redis_client, routed, ADAPTERS) as planner:
        lines = planner(inbound(redis_client, routed))
    assert lines[-1].endswith(LABELLING + ", POST /conversations/{new}/parts (assigned to team 501)")


# --- outbound ---


def test_a_reply_would_be_sent_through_the_thread_s_provider_to_the_masked_number(
    plan, redis_client, settings
):
    opened_thread(redis_client, "c1")
    record = reply(redis_client, settings)
    assert plan(record) == [
        "reply in conversation 101 to +14155****23 through twilio",
        "sent: 1 message(s), 0 already sent (not again), 1 to send",
        "calls: twilio send",
    ]


def test_a_message_sent_before_the_failure_would_not_be_sent_again(plan, redis_client, settings):
    opened_thread(redis_client, "c1")
    reply(redis_client, settings)
    ReplyLedger(redis_client, settings).record_sent("p1", 0, "SMalready")
    record = job_record(redis_client, REPLY_JOB, "p1", reply=ReplyLedger(redis_client, settings).get("p1"))
    assert plan(record)[1:] == ["sent: 1 message(s), 1 already sent (not again), 0 to send", "calls: none"]


def test_a_whatsapp_reply_outside_the_window_would_send_nothing_and_tell_the_agent(
    plan, redis_client, settings
):
    opened_thread(redis_client, "c1", channel="whatsapp", last_inbound_at=time.time() - 30 * 3600)
    lines = plan(reply(redis_client, settings))
    assert lines[1].startswith(
        "note to the agent: Not sent to the customer: their last WhatsApp message was 30"
    )
    assert lines[2:] == ["blocked: 0 message(s), 0 already sent (not again), 0 to send", "calls: none"]


def test_a_reply_in_a_conversation_the_bridge_does_not_know_cannot_be_sent(plan, redis_client, settings):
    lines = plan(reply(redis_client, settings, conversation_id="999"))
    assert lines == ["cannot be sent as things are: conversation 999 is not one the bridge opened"]


# --- messages the team wrote first ---


def test_a_message_to_a_new_number_would_create_a_lead_open_a_conversation_and_be_sent(
    plan, redis_client, settings, sandbox
):
    assert plan(outreach(redis_client, settings)) == [
        "sms message to +14155****23 through twilio",
        "contact: nobody holds +14155****23: a new lead would be created",
        "conversation: open a new one with it as the team's message",
        "message 0 will be sent",
        "calls: POST /contacts/search, POST /contacts (a new lead), POST /messages, twilio send",
    ]
    assert sandbox.contacts() == []


def test_a_message_resumes_after_the_steps_it_recorded_and_sends_only_what_was_not_sent(
    plan, redis_client, settings
):
    record = outreach(redis_client, settings, text="word " * 400)  # 2,000 characters: two SMS
    store = OutreachStore(redis_client, settings)
    store.record_contact(record.record_id, "lead1", "lead")
    opened_thread(redis_client, "lead1")
    store.record_conversation(record.record_id, "101", None)
    store.record_sent(record.record_id, 0, "SMalready")

    assert plan(outreach_record(redis_client, settings, record.record_id))[1:] == [
        "contact lead1 already found",
        "conversation 101 already shows it",
        "message 0 already sent as SMalready: not sent again",
        "message 1 will be sent",
        "calls: twilio send",
    ]
    store.record_sent(record.record_id, 1, "SMalso")
    assert plan(outreach_record(redis_client, settings, record.record_id))[-3:] == [
        "message 0 already sent as SMalready: not sent again",
        "message 1 already sent as SMalso: not sent again",
        "calls: none",
    ]


def test_a_message_to_a_known_number_would_continue_its_open_conversation_as_the_teams_reply(
    plan, redis_client, settings, sandbox
):
    lead = sandbox.seed_contact(role="lead", phone=CUSTOMER)
    IdentityMap(redis_client).set(f"phone:{CUSTOMER}", ContactRef(lead["id"], "lead"))
    opened_thread(redis_client, lead["id"])
    assert plan(outreach(redis_client, settings))[1:] == [
        f"contact: contact {lead['id']} (lead) by identity_map",
        "conversation: continue 101 with it as the team's reply",
        "message 0 will be sent",
        "calls: POST /conversations/101/reply, twilio send",
    ]


def test_a_message_for_a_named_contact_that_intercom_took_is_looked_up_not_written_again(
    plan, redis_client, settings
):
    record = outreach(redis_client, settings, intercom_contact_id="user7")
    assert plan(record)[1] == "contact: user7, as the request names it"
    assert plan(record)[-1] == "calls: GET /contacts/user7, POST /messages, twilio send"

    store = OutreachStore(redis_client, settings)
    store.record_contact(record.record_id, "user7", "user")
    store.record_intercom_message(record.record_id, "m1")  # Intercom was slow to show its conversation
    assert plan(outreach_record(redis_client, settings, record.record_id))[1:] == [
        "contact user7 already found",
        "conversation: the one Intercom opened for message m1 (looked up, not written again)",
        "message 0 will be sent",
        "calls: POST /conversations/search, twilio send",
    ]


# --- webhooks and delivery reports ---


def test_an_unreadable_webhook_would_be_read_again_and_its_reason_masked(plan, redis_client, settings):
    enqueue_webhook(inbound_queue(redis_client), "twilio-abc", settings=settings)
    stored = RawWebhook(
        webhook_id="twilio-abc",
        provider="twilio",
        raw=RAW,
        received_at=inbound_sms().received_at,
        seq=1,
        verified=True,
        reason=f"From {CUSTOMER} is not a number",
        read_at=None,
    )
    lines = plan(job_record(redis_client, WEBHOOK_JOB, "twilio-abc", webhook=stored))
    assert lines[0].startswith(
        "read the stored twilio webhook again with this bridge's parser (it failed with: "
    )
    assert CUSTOMER not in lines[0]
    assert lines[1].startswith("calls: none directly")


def test_a_webhook_past_retention_has_nothing_to_read(plan, redis_client, settings):
    enqueue_webhook(inbound_queue(redis_client), "twilio-abc", settings=settings)
    assert plan(job_record(redis_client, WEBHOOK_JOB, "twilio-abc")) == ["the webhook is past retention"]


def test_a_failure_report_on_a_recorded_send_would_note_it_in_its_conversation(plan, redis_client, settings):
    OutboundStore(redis_client, settings).record_sent(
        "twilio", "SMout", conversation_id="215", part_id="p1", text="Shipped"
    )
    record = report(redis_client, settings, DeliveryState.FAILED)
    assert plan(record) == [
        "twilio reports failed for message SMout",
        "calls: a note in conversation 215 (said once)",
    ]


@pytest.mark.parametrize("sent", [True, False], ids=["send recorded", "send not recorded yet"])
def test_a_report_that_tells_no_agent_would_only_be_recorded(plan, redis_client, settings, sent):
    if sent:
        OutboundStore(redis_client, settings).record_sent(
            "twilio", "SMout", conversation_id="215", part_id="p1", text="Shipped"
        )
    state = DeliveryState.DELIVERED if sent else DeliveryState.FAILED
    assert plan(report(redis_client, settings, state))[1] == "calls: none (recorded on the sent message)"


def test_a_report_past_retention_has_nothing_to_apply(plan, redis_client, settings):
    record = report(redis_client, settings, DeliveryState.DELIVERED)
    redis_client.delete(keys.status(record.record_id))
    assert plan(record) == ["the report is past retention"]


# --- the planner ---


def test_a_dry_run_needs_the_intercom_token_it_reads_with(redis_client, settings):
    with pytest.raises(ConfigurationError, match="INTERCOM_ACCESS_TOKEN"):
        with dry_run_planner(
            redis_client, settings.model_copy(update={"intercom_access_token": None}), ADAPTERS
        ):
            pass


def test_a_message_is_said_with_the_channel_it_came_over(plan, redis_client, settings):
    record = inbound(redis_client, settings, channel=Channel.WHATSAPP, provider_message_id="SM2")
    assert plan(record)[0] == "twilio whatsapp from +14155****23"
