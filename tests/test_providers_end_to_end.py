"""Every provider through the real bridge: a genuine message lands in Intercom; a forged one, a
tampered one or one for a provider that is not configured is refused and leaves nothing behind."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest

from bridge.app import create_app
from bridge.core.settings import get_settings, reset_settings_cache
from bridge.dev.simulators import SIMULATORS, SimulatedMessage, SimulatedRequest
from bridge.dev.simulators.messagebird import signature as messagebird_signature
from bridge.infra import keys
from bridge.infra.queueing import inbound_queue
from bridge.runtime.serving import BackgroundServer
from tests.helpers import conversation_bodies

PROVIDERS = sorted(SIMULATORS)
SIGNED = ["messagebird", "twilio", "vonage", "whatsapp"]  # the body is covered by the signature
SECRET_VARIABLE = {
    "twilio": "TWILIO_AUTH_TOKEN",
    "whatsapp": "WHATSAPP_APP_SECRET",
    "messagebird": "MESSAGEBIRD_SIGNING_KEY",
    "vonage": "VONAGE_SIGNATURE_SECRET",
    "textmagic": "TEXTMAGIC_WEBHOOK_SECRET",
    "africastalking": "AFRICASTALKING_WEBHOOK_SECRET",
}
TEXT = "Hello from a real provider"


def genuine(provider: str, bridge, settings) -> SimulatedRequest:
    message = SimulatedMessage(sender="+14155550123", recipient="+14155550100", text=TEXT)
    return SIMULATORS[provider](message, bridge.url, settings)


def _headers(request: SimulatedRequest, **changes: str) -> SimulatedRequest:
    return dataclasses.replace(request, headers={**request.headers, **changes})


# How an attacker without the secret would have to send each provider's webhook.
FORGERIES: dict[str, Callable[[SimulatedRequest], SimulatedRequest]] = {
    "twilio": lambda r: _headers(r, **{"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA=="}),
    "whatsapp": lambda r: _headers(r, **{"X-Hub-Signature-256": "sha256=" + "0" * 64}),
    "messagebird": lambda r: _headers(
        r,
        **{
            "MessageBird-Signature-JWT": messagebird_signature(
                r.url, r.body, "not-the-signing-key-" + "x" * 40, time.time()
            )
        },
    ),
    "vonage": lambda r: dataclasses.replace(r, body=_replace_param(r.body, "sig", "0" * 32)),
    "textmagic": lambda r: dataclasses.replace(r, url=r.url.replace("token=", "token=x")),
    "africastalking": lambda r: dataclasses.replace(r, url=r.url.replace("token=", "token=x")),
}


def _replace_param(body: bytes, name: str, value: str) -> bytes:
    from urllib.parse import parse_qsl, urlencode

    return urlencode([(k, value if k == name else v) for k, v in parse_qsl(body.decode())]).encode()


def nothing_stored(redis_client) -> bool:
    # Counting the refusal is not storing the request: metrics hold counts by provider and outcome.
    stored = [
        key
        for key in redis_client.keys(keys.PREFIX + "*")
        if not key.startswith(keys.METRICS_PREFIX.encode())
    ]
    return not stored and inbound_queue(redis_client).count == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_genuine_message_lands_in_intercom(provider, bridge, settings, sandbox, drain, http):
    response = genuine(provider, bridge, settings).send(http)
    assert response.status_code == 200, response.text
    drain()
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [TEXT]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_forged_request_gets_403_and_nothing_is_stored(provider, bridge, settings, http, redis_client):
    response = FORGERIES[provider](genuine(provider, bridge, settings)).send(http)
    assert response.status_code == 403, response.text
    assert nothing_stored(redis_client)


@pytest.mark.parametrize("provider", SIGNED)
def test_a_body_changed_after_signing_gets_403_and_nothing_is_stored(
    provider, bridge, settings, http, redis_client
):
    request = genuine(provider, bridge, settings)
    tampered = dataclasses.replace(request, body=request.body.replace(b"Hello", b"Hallo", 1))
    assert tampered.body != request.body
    response = tampered.send(http)
    assert response.status_code == 403, response.text
    assert nothing_stored(redis_client)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_provider_that_is_not_configured_answers_404_naming_its_variable(
    provider, bridge_env, monkeypatch, http, redis_client
):
    monkeypatch.delenv(SECRET_VARIABLE[provider])
    reset_settings_cache()
    settings = get_settings()
    with BackgroundServer(create_app(settings)) as server:
        response = http.post(f"{server.url}/webhooks/{provider}", content=b"anything")
        status = http.post(f"{server.url}/webhooks/{provider}/status", content=b"anything")
    assert response.status_code == 404 and status.status_code == 404
    assert SECRET_VARIABLE[provider] in response.json()["detail"]
    assert nothing_stored(redis_client)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_provider_redelivering_the_same_message_creates_it_once(
    provider, bridge, settings, sandbox, drain, http
):
    request = genuine(provider, bridge, settings)
    for _ in range(2):
        assert request.send(http).status_code == 200
    drain()
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [TEXT]


def test_meta_verifies_its_subscription_with_a_get_handshake(bridge, http, redis_client):
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": "test-meta-verify-token",
        "hub.challenge": "1158201444",
    }
    response = http.get(f"{bridge.url}/webhooks/whatsapp", params=params)
    assert response.status_code == 200
    assert response.text == "1158201444"
    wrong = http.get(f"{bridge.url}/webhooks/whatsapp", params={**params, "hub.verify_token": "guess"})
    assert wrong.status_code == 403
    assert nothing_stored(redis_client)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_unsigned_delivery_report_gets_403_and_nothing_is_stored(provider, bridge, http, redis_client):
    form = {"MessageSid": "SM1", "MessageStatus": "failed", "messageId": "1", "status": "failed", "id": "1"}
    response = http.post(f"{bridge.url}/webhooks/{provider}/status", data=form)
    assert response.status_code == 403, response.text
    assert nothing_stored(redis_client)


def _whatsapp_webhook(bridge, settings, message: dict) -> SimulatedRequest:
    import hashlib
    import json

    from bridge.core.signing import hmac_hex

    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550100", "phone_number_id": "106540352242922"},
        "messages": [message],
    }
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
        }
    )
    signature = "sha256=" + hmac_hex(settings.secret("whatsapp_app_secret"), body.encode(), hashlib.sha256)
    return SimulatedRequest(
        url=f"{bridge.url}/webhooks/whatsapp",
        body=body.encode(),
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )


def _whatsapp_text(sender: str, message_id: str, timestamp: str, text: str) -> dict[str, object]:
    """A `messages[]` text item, as Meta's webhook reference shows it."""
    return {"from": sender, "id": message_id, "timestamp": timestamp, "type": "text", "text": {"body": text}}


def test_a_whatsapp_number_change_keeps_the_contact_and_the_conversation(
    bridge, settings, sandbox, drain, http
):
    sandbox.configure(search_lag=300)
    now = str(int(time.time()))
    hello = _whatsapp_text("31612345678", "wamid.1", now, "hoi")
    changed = {
        "from": "31612345678",
        "id": "wamid.2",
        "timestamp": now,
        "type": "system",
        "system": {
            "body": "User A changed from 31612345678 to 31687654321",
            "wa_id": "31687654321",
            "type": "user_changed_number",
        },
    }
    again = _whatsapp_text("31687654321", "wamid.3", now, "new nr")
    for message in (hello, changed, again):
        assert _whatsapp_webhook(bridge, settings, message).send(http).status_code == 200
        drain()

    assert len(sandbox.contacts()) == 1
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["hoi", "new nr"]
