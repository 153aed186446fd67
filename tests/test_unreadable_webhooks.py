"""Authentic webhooks the parser cannot read: acknowledged, kept, listed for ops with the reason,
and delivered by a replay once the bridge can read them (issue: "refuses nothing authentic").

Real web app, real Redis, in-process workers running the real jobs, the Intercom sandbox.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

import pytest
from rq.registry import FailedJobRegistry
from twilio.request_validator import RequestValidator

from bridge.core.signing import hmac_hex
from bridge.dev.simulators import SIMULATORS, SimulatedMessage, SimulatedRequest
from bridge.infra import keys
from bridge.infra.queueing import inbound_queue
from bridge.providers.registry import ADAPTERS
from bridge.providers.twilio.adapter import TwilioAdapter
from tests.helpers import conversation_bodies, signed_twilio

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"
ADMIN = {"Authorization": "Bearer test-admin-token"}


def twilio_without(settings, request: SimulatedRequest, *names: str, **extra: str) -> SimulatedRequest:
    """`request` with fields dropped (or added), signed again as Twilio signs: authentic, unreadable."""
    fields = [(k, v) for k, v in parse_qsl(request.body.decode(), keep_blank_values=True) if k not in names]
    fields += list(extra.items())
    signature = RequestValidator(settings.secret("twilio_auth_token")).compute_signature(
        request.url, dict(fields)
    )
    return SimulatedRequest(
        request.url, urlencode(fields).encode(), {**request.headers, "X-Twilio-Signature": signature}
    )


def meta_without_message_id(settings, base_url: str) -> SimulatedRequest:
    request = SIMULATORS["whatsapp"](
        SimulatedMessage(CUSTOMER, "106540352242922", "hola"), base_url, settings
    )
    payload = json.loads(request.body)
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac_hex(settings.secret("whatsapp_app_secret"), body, hashlib.sha256)
    return SimulatedRequest(request.url, body, {**request.headers, "X-Hub-Signature-256": signature})


def failed_webhooks(http, bridge) -> list[dict]:
    response = http.get(f"{bridge.url}/admin/jobs/failed", headers=ADMIN)
    assert response.status_code == 200
    return [job for job in response.json()["jobs"] if job["kind"] == "webhook"]


@pytest.mark.parametrize(
    ("unreadable", "reason"),
    [
        (
            lambda s, url: twilio_without(
                s, signed_twilio(url, s, sender=CUSTOMER, recipient=BUSINESS, text="hi"), "To"
            ),
            "To is missing",
        ),
        (
            lambda s, url: twilio_without(
                s,
                signed_twilio(url, s, sender=CUSTOMER, recipient=BUSINESS, text="hi"),
                "NumMedia",
                NumMedia="1",
            ),
            "MediaUrl0 is missing",
        ),
        (meta_without_message_id, "id"),
    ],
    ids=["twilio-without-To", "twilio-NumMedia-without-MediaUrl0", "meta-message-without-id"],
)
def test_a_signed_unreadable_webhook_is_acknowledged_and_listed_with_the_reason(
    bridge, settings, http, drain, sandbox, unreadable, reason
):
    response = unreadable(settings, bridge.url).send(http)
    assert response.status_code == 200
    drain()
    [failed] = failed_webhooks(http, bridge)
    assert reason in failed["reason"]
    assert failed["provider"] in ("twilio", "whatsapp")
    assert sandbox.conversations() == []


def test_a_signed_json_body_nested_past_any_parser_is_listed_not_crashed_on(bridge, settings, http, drain):
    # Well under the body limit, past the interpreter's recursion limit: the reader's parse fails
    # with a reason, and the webhooks behind it are read as usual.
    body = b'{"entry":' * 50_000 + b"{}" + b"}" * 50_000
    signature = "sha256=" + hmac_hex(settings.secret("whatsapp_app_secret"), body, hashlib.sha256)
    nested = SimulatedRequest(
        f"{bridge.url}/webhooks/whatsapp",
        body,
        {"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    assert nested.send(http).status_code == 200
    after = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="still here")
    assert after.send(http).status_code == 200
    drain()
    [failed] = failed_webhooks(http, bridge)
    assert "nested too deeply" in failed["reason"]


def test_an_unsigned_nested_body_is_refused_while_other_requests_are_answered(bridge, http, redis_client):
    body = b"[" * 500_000 + b"]" * 500_000
    response = http.post(
        f"{bridge.url}/webhooks/whatsapp", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 403
    assert http.get(f"{bridge.url}/healthz").status_code == 200
    assert redis_client.keys("bridge:webhook:*") == []


def test_an_identical_retry_of_an_unreadable_webhook_is_stored_once(bridge, settings, http, drain):
    request = twilio_without(
        settings, signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS), "To"
    )
    assert [request.send(http).status_code for _ in range(3)] == [200, 200, 200]
    drain()
    assert len(failed_webhooks(http, bridge)) == 1


def test_a_replay_delivers_it_once_the_parser_can_read_it(
    bridge, settings, http, drain, sandbox, monkeypatch
):
    request = signed_twilio(
        bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="where is my order?"
    )
    twilio_without(settings, request, "To").send(http)
    drain()
    [failed] = failed_webhooks(http, bridge)
    dry = http.post(f"{bridge.url}/admin/jobs/{failed['id']}/replay?dry_run=true", headers=ADMIN).json()
    [planned] = dry["replays"]
    assert planned["outcome"] == "planned"
    assert any("To is missing" in line for line in planned["plan"])

    # The upgrade: a parser that knows what to do without `To` (the messaging service's number).
    class Upgraded(TwilioAdapter):
        def parse(self, request, settings):
            return super().parse(replace(request, body=request.body + b"&To=%2B14155550100"), settings)

    monkeypatch.setitem(ADAPTERS, "twilio", Upgraded())
    replay = http.post(f"{bridge.url}/admin/jobs/{failed['id']}/replay", headers=ADMIN)
    assert [r["outcome"] for r in replay.json()["replays"]] == ["queued"]
    drain()
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["where is my order?"]
    assert failed_webhooks(http, bridge) == []

    again = http.post(f"{bridge.url}/admin/jobs/{failed['id']}/replay", headers=ADMIN)
    assert [r["outcome"] for r in again.json()["replays"]] == ["not_failed"]
    drain()
    assert len(sandbox.conversations()) == 1


def test_a_forged_unreadable_webhook_is_still_refused(bridge, settings, http, redis_client):
    request = twilio_without(
        settings, signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS), "To"
    )
    forged = SimulatedRequest(request.url, request.body, {**request.headers, "X-Twilio-Signature": "AAAA"})
    assert forged.send(http).status_code == 403
    assert redis_client.keys("bridge:webhook:*") == []


def test_a_reader_that_failed_for_good_is_listed_and_replayed_as_a_new_reader(
    bridge, settings, http, drain, sandbox, redis_client
):
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="read me").send(http)
    queue = inbound_queue(redis_client)
    [reader_id] = queue.job_ids
    assert reader_id.startswith("rd-")
    reader = queue.fetch_job(reader_id)
    queue.remove(reader)  # it ran out of retries (Redis kept failing it, say)
    FailedJobRegistry(queue=queue).add(reader, exc_string="ConnectionError: Redis went away")
    redis_client.delete(keys.WEBHOOKS_READER)  # and its flag expired

    listed = http.get(f"{bridge.url}/admin/jobs/failed", headers=ADMIN).json()["jobs"]
    assert [(job["id"], job["kind"]) for job in listed] == [(reader_id, "webhook")]
    replay = http.post(f"{bridge.url}/admin/jobs/{reader_id}/replay", headers=ADMIN).json()
    assert [r["outcome"] for r in replay["replays"]] == ["queued"]
    drain()
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["read me"]
