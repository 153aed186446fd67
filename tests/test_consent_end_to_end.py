"""Consent on real parts: a customer who texts STOP hears nothing more from that number.

The bridge's web app on a real port, the Intercom sandbox (which announces agents' replies to the
bridge as Intercom would), the providers' API stand-ins, a real Redis and the in-process worker.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.consent.store import ConsentStore
from bridge.core.settings import get_settings
from bridge.dev.simulators import SIMULATORS, SimulatedMessage
from tests.helpers import conversation_bodies, post_message, twilio_status

CUSTOMER, BUSINESS, OTHER_BUSINESS = "+14155550123", "+14155550100", "+14155550199"
CLIENT_SECRET = "test-intercom-client-secret"


@pytest.fixture
def loop(providers_at_standin, bridge, sandbox):
    sandbox.configure(webhook_url=f"{bridge.url}/intercom/webhooks", client_secret=CLIENT_SECRET)
    return providers_at_standin


def texts(provider: str, bridge, http, drain, text: str, *, to: str = BUSINESS) -> None:
    """The customer texts `text` to `to` through `provider`."""
    message = SimulatedMessage(sender=CUSTOMER, recipient=to, text=text)
    assert SIMULATORS[provider](message, bridge.url, get_settings()).send(http).status_code == 200
    drain()


def conversation_to(sandbox, text: str) -> dict[str, Any]:
    return next(c for c in sandbox.conversations() if text in " ".join(conversation_bodies(c)))


def notes(conversation: dict[str, Any]) -> list[str]:
    parts = conversation["conversation_parts"]["conversation_parts"]
    return [part["body"] for part in parts if part["part_type"] == "note"]


def sent_texts(loop) -> list[str]:
    return [sent.text for sent in loop.state.sends]


def test_stop_blocks_the_agents_reply_with_one_note_and_the_api_with_409_start_restores(
    loop, bridge, sandbox, drain, http
):
    texts("twilio", bridge, http, drain, "Hi, where is my order?")
    texts("twilio", bridge, http, drain, "  stop ")
    conversation = conversation_to(sandbox, "where is my order")
    assert "stop" in " ".join(conversation_bodies(conversation))  # the agent still sees it
    [opted_out] = notes(conversation)
    assert "opted out" in opted_out and BUSINESS in opted_out

    sandbox.agent_reply(conversation["id"], "It ships tomorrow")
    sandbox.agent_reply(conversation["id"], "Are you there?")
    drain()
    assert sent_texts(loop) == []  # Twilio confirms STOP itself: the bridge sent nothing
    blocked = [note for note in notes(sandbox.api("GET", f"/conversations/{conversation['id']}").json())[1:]]
    assert len(blocked) == 2 and all("Not sent" in note and "START" in note for note in blocked)
    api = post_message(
        http, bridge.url, {"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": "Sale!"}
    )
    assert api.status_code == 409 and "opted out" in api.json()["error"]["reason"]

    texts("twilio", bridge, http, drain, "START")
    sandbox.agent_reply(conversation["id"], "Welcome back")
    drain()
    assert sent_texts(loop) == ["Welcome back"]
    again = post_message(
        http, bridge.url, {"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": "Sale!"}
    )
    assert again.status_code == 202


def test_a_stop_to_one_number_does_not_silence_the_businesss_other_numbers(loop, bridge, drain, http):
    texts("twilio", bridge, http, drain, "STOP")
    other = post_message(
        http, bridge.url, {"to": CUSTOMER, "provider": "twilio", "from": OTHER_BUSINESS, "text": "Hi"}
    )
    assert other.status_code == 202, other.text
    drain()
    assert sent_texts(loop) == ["Hi"]
    whatsapp = {"to": CUSTOMER, "channel": "whatsapp", "provider": "whatsapp", "from": "106540352242922"}
    template = post_message(
        http, bridge.url, whatsapp | {"template": {"name": "we_are_here", "language": "en_US"}}
    )
    assert template.status_code == 202  # WhatsApp consent is its own channel


@pytest.mark.parametrize("keyword", ["UNSUBSCRIBE", "cancel", "End", "QUIT", "stopall", "OPTOUT", "revoke"])
def test_every_default_opt_out_keyword_opts_out(keyword, loop, bridge, drain, http):
    texts("twilio", bridge, http, drain, keyword)
    answer = post_message(
        http, bridge.url, {"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": "x"}
    )
    assert answer.status_code == 409


def test_a_sentence_containing_stop_is_no_opt_out(loop, bridge, sandbox, drain, http):
    texts("twilio", bridge, http, drain, "Please stop sending the parcel to my old address")
    answer = post_message(
        http, bridge.url, {"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": "x"}
    )
    assert answer.status_code == 202
    [conversation] = sandbox.conversations()
    assert notes(conversation) == []


def test_where_the_provider_sends_no_confirmation_the_bridge_sends_one_once(
    loop, bridge, sandbox, drain, http
):
    texts("vonage", bridge, http, drain, "STOP")
    drain()  # a second pass: nothing more goes out
    [confirmation] = loop.state.sends
    assert confirmation.provider == "vonage" and "unsubscribed" in confirmation.text
    [conversation] = sandbox.conversations()
    assert confirmation.text in conversation_bodies(conversation)  # the agent sees what was sent

    texts("vonage", bridge, http, drain, "START")
    assert "resubscribed" in loop.state.sends[-1].text and len(loop.state.sends) == 2


def test_help_is_answered_where_the_provider_does_not_and_changes_nothing(loop, bridge, drain, http):
    texts("vonage", bridge, http, drain, "HELP")
    [answer] = loop.state.sends
    assert "STOP" in answer.text
    ok = post_message(http, bridge.url, {"to": CUSTOMER, "provider": "vonage", "from": BUSINESS, "text": "x"})
    assert ok.status_code == 202


def test_every_change_is_in_the_audit_trail(loop, bridge, drain, http, redis_client):
    texts("twilio", bridge, http, drain, "STOP")
    texts("twilio", bridge, http, drain, "STOP")  # already so: no new entry
    texts("twilio", bridge, http, drain, "START")
    history = ConsentStore(redis_client).history(f"phone:{CUSTOMER}")
    assert [(entry["opted_out"], entry["reason"], entry["scope"]) for entry in history] == [
        (True, "texted STOP", f"sms:{BUSINESS}"),
        (False, "texted START", f"sms:{BUSINESS}"),
    ]
    assert all(entry["by"] and entry["source"] == "keyword" for entry in history)


def test_the_contacts_sms_subscription_in_intercom_follows_both_ways(loop, bridge, sandbox, drain, http):
    texts("vonage", bridge, http, drain, "Hello")
    texts("vonage", bridge, http, drain, "STOP")
    [contact] = sandbox.contacts()
    assert [(s["name"], s["choice"]) for s in contact["subscriptions"]] == [("SMS messages", "opted_out")]

    texts("vonage", bridge, http, drain, "START")
    [contact] = sandbox.contacts()
    assert contact["subscriptions"] == []


def test_an_operator_records_a_choice_made_by_phone_and_reads_the_trail(loop, bridge, sandbox, drain, http):
    from click.testing import CliRunner

    from bridge.cli.main import main

    texts("vonage", bridge, http, drain, "Hello")  # the bridge knows the contact now
    run = CliRunner().invoke(
        main,
        [
            "consent",
            "set",
            "(415) 555-0123",
            "--from",
            BUSINESS,
            "--opt-out",
            "--reason",
            "asked by phone, call 4711",
        ],
        catch_exceptions=False,
    )
    assert run.exit_code == 0, run.output
    assert f"Recorded: opted out of sms:{BUSINESS}" in run.output
    api = post_message(
        http, bridge.url, {"to": CUSTOMER, "provider": "vonage", "from": BUSINESS, "text": "x"}
    )
    assert api.status_code == 409 and "asked by phone" in api.json()["error"]["reason"]
    [contact] = sandbox.contacts()
    assert [s["choice"] for s in contact["subscriptions"]] == ["opted_out"]

    shown = CliRunner().invoke(main, ["consent", "show", CUSTOMER], catch_exceptions=False)
    assert f"sms:{BUSINESS}: opted out since" in shown.output and "asked by phone" in shown.output
    assert CUSTOMER not in shown.output  # masked

    admin = {"Authorization": "Bearer test-admin-token"}
    back = http.post(
        f"{bridge.url}/admin/consent",
        json={
            "number": CUSTOMER,
            "from": BUSINESS,
            "opted_out": False,
            "reason": "emailed us",
            "operator": "ana",
        },
        headers=admin,
    )
    assert back.status_code == 200 and back.json()["changed"]
    report = http.get(f"{bridge.url}/admin/consent/{CUSTOMER}", headers=admin).json()
    assert [(entry["reason"], entry["source"], entry["by"]) for entry in report["history"]][-1] == (
        "emailed us",
        "operator",
        "ana",
    )
    assert report["consent"][0]["opted_out"] is False


def test_a_21610_delivery_report_opts_the_customer_out(loop, bridge, sandbox, drain, http):
    texts("twilio", bridge, http, drain, "Hello")
    [conversation] = sandbox.conversations()
    sandbox.agent_reply(conversation["id"], "Hi!")
    drain()
    [sent] = loop.state.sends
    twilio_status(bridge.url, http, sent.message_id, "undelivered", "21610", to=CUSTOMER, sender=BUSINESS)
    drain()

    answer = post_message(
        http, bridge.url, {"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": "x"}
    )
    assert answer.status_code == 409 and "twilio error 21610" in answer.json()["error"]["reason"]
    sandbox.agent_reply(conversation["id"], "Still there?")
    drain()
    assert [s.text for s in loop.state.sends] == ["Hi!"]


def test_a_send_refused_with_21610_opts_the_customer_out(loop, bridge, sandbox, drain, http, redis_client):
    texts("twilio", bridge, http, drain, "Hello")
    [conversation] = sandbox.conversations()
    http.post(f"{loop.url}/_standin/faults/twilio", json={"statuses": [400]}).raise_for_status()
    sandbox.agent_reply(conversation["id"], "Hi!")
    drain()

    [consent] = ConsentStore(redis_client).of_customer(f"phone:{CUSTOMER}")
    assert consent.opted_out and consent.source.value == "provider" and consent.reason == "twilio error 21610"
