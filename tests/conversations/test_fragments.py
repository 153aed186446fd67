"""Long SMS delivered in parts: one message in Intercom, gaps marked, late parts never lost."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
from rq.registry import ScheduledJobRegistry

from bridge.conversations.attachments import AttachmentResolver
from bridge.conversations.delivery import Deliverer, Result
from bridge.conversations.fragments import FRAGMENT_WAIT_SECONDS, assemble
from bridge.conversations.media import media_store
from bridge.dev.simulators import SimulatedMessage
from bridge.dev.simulators.vonage import inbound_parts
from bridge.infra.queueing import inbound_queue
from bridge.intake.ledger import inbound_id
from bridge.intercom.client import IntercomClient
from bridge.model.messages import Channel, Fragment, InboundMessage
from bridge.model.senders import classify_sender
from bridge.providers.registry import ADAPTERS
from tests.helpers import conversation_bodies

TEXT = "Hello! This message is long enough that the network cut it into three separate parts."


def part(index: int, text: str, total: int = 3) -> InboundMessage:
    return InboundMessage(
        provider="vonage",
        channel=Channel.SMS,
        provider_message_id=f"m{index}",
        sender=classify_sender("447700900123", country_code_included=True, default_region="GB"),
        business_number="447700900000",
        text=text,
        received_at=datetime(2026, 11, 23, tzinfo=UTC),
        fragment=Fragment(group="447700900123:7", index=index, total=total),
    )


def test_parts_are_joined_in_order_as_they_were_cut():
    whole = assemble(
        {2: part(2, "lo wor"), 1: part(1, "Hel"), 3: part(3, "ld")}, total=3, delivered_before=frozenset()
    )
    assert whole.text == "Hello world"
    assert whole.fragment is None
    assert whole.provider_message_id == "m1"


def test_a_missing_part_is_marked_where_it_belongs():
    whole = assemble({1: part(1, "Hello "), 3: part(3, " world")}, total=3, delivered_before=frozenset())
    assert whole.text == "Hello  [part 2 of 3 did not arrive]  world"


def test_a_late_part_is_labelled_as_the_rest_of_the_earlier_message():
    late = assemble({2: part(2, "lo wor")}, total=3, delivered_before=frozenset({1, 3}))
    assert late.text == "[rest of an earlier message, part 2 of 3] lo wor"


# --- end to end, as Vonage delivers them ---


def vonage_parts(bridge, settings, parts: int = 3):
    message = SimulatedMessage(sender="+447700900123", recipient="447700900000", text=TEXT)
    return inbound_parts(message, bridge.url, settings, parts)


def send(requests, http) -> None:
    for request in requests:
        assert request.send(http).status_code == 200


def message_id(request) -> str:
    fields = parse_qs(request.body.decode()) if request.body else parse_qs(request.url.split("?", 1)[1])
    return fields["messageId"][0]


def test_a_long_sms_in_three_parts_becomes_one_message(bridge, settings, sandbox, drain, http):
    send(vonage_parts(bridge, settings), http)
    drain()
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [TEXT]


def test_parts_arriving_out_of_order_still_read_in_order(bridge, settings, sandbox, drain, http):
    send(list(reversed(vonage_parts(bridge, settings))), http)
    drain()
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [TEXT]


def test_a_part_that_never_comes_is_marked_and_a_late_one_still_arrives(
    bridge, settings, sandbox, drain, http, redis_client
):
    first, middle, last = vonage_parts(bridge, settings)
    send([first, last], http)
    drain()
    assert sandbox.conversations() == []  # waiting for the middle part
    waiting_id = inbound_id("vonage", message_id(first))
    scheduled = ScheduledJobRegistry(queue=inbound_queue(redis_client)).get_job_ids()
    assert scheduled, "a later look at the parts is scheduled"

    later = time.time() + FRAGMENT_WAIT_SECONDS + 1  # the wait is over: deliver what arrived
    with IntercomClient.from_settings(settings) as intercom, httpx.Client() as http_media:
        attachments = AttachmentResolver(
            settings=settings, store=media_store(settings.data_dir, 14), adapters=ADAPTERS, http=http_media
        )
        deliverer = Deliverer(
            redis_client=redis_client,
            intercom=intercom,
            attachments=attachments,
            settings=settings,
            clock=lambda: later,
        )
        assert deliverer.deliver(waiting_id).result is Result.CREATED

    [conversation] = sandbox.conversations()
    [body] = conversation_bodies(conversation)
    assert "[part 2 of 3 did not arrive]" in body

    send([middle], http)
    drain()
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation)[1].startswith("[rest of an earlier message, part 2 of 3]")


def test_a_redelivered_part_changes_nothing(bridge, settings, sandbox, drain, http):
    requests = vonage_parts(bridge, settings)
    send(requests + requests[:1], http)
    drain()
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [TEXT]
