"""Helpers the tests share: the sandbox's control API, signed provider requests, shared samples, a
stored inbound message."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.core.settings import Settings
from bridge.dev.simulators import SIMULATORS, SimulatedMessage, SimulatedRequest
from bridge.model.messages import Channel, InboundMessage
from bridge.model.senders import classify_sender

ROOT = Path(__file__).resolve().parent.parent
# Reference material that is not ours to ship (Intercom's official OpenAPI description, provider payloads
# taken from public SDKs): beside the checkout as ../shared, or wherever BRIDGE_SHARED_DIR says.
SHARED = Path(os.environ.get("BRIDGE_SHARED_DIR") or ROOT.parent / "shared")
INTERCOM_OPENAPI = ("intercom-openapi", "api.intercom.io.2.16.yaml")
# The bridge's variables, by prefix: what a test's environment starts without.
ENV_PREFIXES = (
    "BRIDGE_",
    "INTERCOM_",
    "TWILIO_",
    "WHATSAPP_",
    "MESSAGEBIRD_",
    "VONAGE_",
    "TEXTMAGIC_",
    "AFRICASTALKING_",
)
# Every skip for absent reference material starts with this, so the run can count them (conftest.py).
REFERENCE_ABSENT = "reference material absent"


def shared_path(*parts: str) -> Path:
    """Where a reference file is: BRIDGE_INTERCOM_OPENAPI names a downloaded copy of Intercom's official
    description, anything else is under SHARED."""
    override = os.environ.get("BRIDGE_INTERCOM_OPENAPI")
    if override and parts == INTERCOM_OPENAPI:
        return Path(override)
    return SHARED.joinpath(*parts)


def reference_absent(path: Path) -> str:
    """The skip reason for a test whose reference file is missing (README, "Run the tests")."""
    return f"{REFERENCE_ABSENT}: {path} (see the README, 'Run the tests')"


def shared_file(*parts: str) -> Path:
    """A reference file (provider samples, Intercom's OpenAPI); skips the test if absent."""
    path = shared_path(*parts)
    if not path.exists():
        pytest.skip(reference_absent(path))
    return path


class SandboxControl:
    """The sandbox's `/_sandbox` switches and its Intercom API, over HTTP. Every POST is JSON, even
    a bodiless one: the control routes refuse anything else (`bridge.dev.devtools`)."""

    def __init__(self, url: str, token: str = "test-intercom-token-0123456789") -> None:
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=10.0)
        self._token = token

    def close(self) -> None:
        self._http.close()

    def reset(self) -> None:
        self._http.post("/_sandbox/reset", json={}).raise_for_status()

    def configure(self, **fields: Any) -> None:
        self._http.put("/_sandbox/config", json=fields).raise_for_status()

    def fault(
        self,
        status: int,
        *,
        times: int | None = 1,
        path_prefix: str = "/",
        rate: float = 1.0,
        reset_in: float = 1.0,
        after: bool = False,
    ) -> None:
        """Answer `status` to matching requests instead of serving them; `after`: serve them (the
        call is applied), then answer `status`."""
        self._http.post(
            "/_sandbox/faults",
            json={
                "status": status,
                "times": times,
                "path_prefix": path_prefix,
                "rate": rate,
                "reset_in": reset_in,
                "after": after,
            },
        ).raise_for_status()

    def clear_faults(self) -> None:
        self._http.delete("/_sandbox/faults").raise_for_status()

    def rate_limit(self, per_window: int | None, *, window_seconds: float = 10.0) -> dict[str, Any]:
        """Answer 429 past `per_window` calls in each window, as Intercom does (None: no limit);
        counts start afresh. The report `rate_counts` gives."""
        if per_window is None:
            response = self._http.delete("/_sandbox/rate_limit")
        else:
            limit = {"per_window": per_window, "window_seconds": window_seconds}
            response = self._http.post("/_sandbox/rate_limit", json=limit)
        response.raise_for_status()
        return dict(response.json())

    def rate_counts(self) -> dict[str, Any]:
        """The limit, total calls and 429s, and each window's (`windows`: start, calls, limited)."""
        return dict(self._http.get("/_sandbox/rate_limit").json())

    def seed_contact(self, **fields: Any) -> dict[str, Any]:
        response = self._http.post("/_sandbox/contacts", json=fields)
        response.raise_for_status()
        return dict(response.json())

    def state(self) -> dict[str, Any]:
        return dict(self._http.get("/_sandbox/state").json())

    def release_webhooks(self) -> int:
        """Send the notifications held since `configure(hold_webhooks=True)`, late; how many."""
        response = self._http.post("/_sandbox/webhooks/release", json={})
        response.raise_for_status()
        return int(response.json()["released"])

    def deliveries(self) -> list[dict[str, Any]]:
        """The notifications the sandbox sent: topic, notification id, the status answered."""
        return list(self._http.get("/_sandbox/deliveries").json())

    def contacts(self) -> list[dict[str, Any]]:
        return [c for c in self.state()["contacts"] if not c.get("merged_into")]

    def conversations(self) -> list[dict[str, Any]]:
        return list(self.state()["conversations"])

    def requests(self) -> list[dict[str, Any]]:
        return list(self._http.get("/_sandbox/requests").json())

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the sandbox's Intercom API as a client with a valid token."""
        headers = {"Authorization": f"Bearer {self._token}", "Intercom-Version": "2.16"}
        return self._http.request(method, path, headers=headers, **kwargs)

    def agent_reply(self, conversation_id: str, body: str, *, admin_id: str = "991267101") -> httpx.Response:
        """An agent's reply in a conversation, as Intercom's API takes it (the sandbox then sends
        the bridge Intercom's signed webhook for it)."""
        return self.api(
            "POST",
            f"/conversations/{conversation_id}/reply",
            json={"type": "admin", "admin_id": admin_id, "message_type": "comment", "body": body},
        )


def conversation_bodies(conversation: dict[str, Any]) -> list[str]:
    """The customer's messages in a conversation, in order: the opening one, then each reply."""
    parts = conversation["conversation_parts"]["conversation_parts"]
    return [conversation["source"]["body"], *(p["body"] for p in parts if p["part_type"] == "comment")]


def run_one_job(redis_client: Any) -> None:
    """Run exactly one job, so a test sees what its first attempt did (retries run at once in
    tests: BRIDGE_RETRY_DELAYS=0,0)."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from bridge.infra.queueing import QUEUES

    worker = SimpleWorker(list(QUEUES), connection=redis_client, serializer=JSONSerializer)
    worker.work(burst=True, max_jobs=1)


def held_files(conversation: dict[str, Any], http: httpx.Client) -> list[tuple[str, str, bytes]]:
    """Every file Intercom (the sandbox) holds in a conversation, in order: name, type, and the
    bytes its URL serves."""
    parts = [conversation["source"], *conversation["conversation_parts"]["conversation_parts"]]
    return [
        (attachment["name"], attachment["content_type"], http.get(attachment["url"]).content)
        for part in parts
        for attachment in part["attachments"]
        if attachment.get("filesize") is not None
    ]


def inbound_sms(**fields: Any) -> InboundMessage:
    """A customer's SMS to the business through Twilio, as the bridge holds it once parsed; `fields`
    changed."""
    message: dict[str, Any] = {
        "provider": "twilio",
        "channel": Channel.SMS,
        "provider_message_id": "SM1",
        "sender": classify_sender("+14155550123", country_code_included=False, default_region="US"),
        "business_number": "+14155550100",
        "received_at": datetime(2026, 11, 23, tzinfo=UTC),
    }
    return InboundMessage(**(message | fields))


def signed_twilio(base_url: str, settings: Settings, **message: Any) -> SimulatedRequest:
    """A Twilio inbound webhook for `message`, signed as Twilio signs it."""
    return SIMULATORS["twilio"](SimulatedMessage(**message), base_url, settings)


def signed_meta(base_url: str, settings: Settings, *, sent_at: float, **message: Any) -> SimulatedRequest:
    """A WhatsApp Cloud API (Meta) inbound webhook for `message`, its messages' `timestamp` saying
    the customer sent them at `sent_at` (unix seconds), signed as Meta signs it."""
    import hashlib
    import json

    from bridge.core.signing import hmac_hex

    request = SIMULATORS["whatsapp"](SimulatedMessage(**message), base_url, settings)
    payload = json.loads(request.body)
    for entry in payload["entry"]:
        for change in entry["changes"]:
            for item in change["value"].get("messages", []):
                item["timestamp"] = str(int(sent_at))
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac_hex(settings.secret("whatsapp_app_secret"), body, hashlib.sha256)
    return SimulatedRequest(request.url, body, {**request.headers, "X-Hub-Signature-256": signature})


def read_stored_webhooks(redis_client: Any, settings: Settings) -> None:
    """Do the work of the reader job the web process queued (its id is on the reader's flag), in
    this process: the stored webhooks become ledger entries and their jobs, nothing delivered yet."""
    from bridge.infra import keys
    from workers.webhooks import read_pending

    holder = redis_client.get(keys.WEBHOOKS_READER)
    read_pending(redis_client, settings, reader=holder.decode() if holder else "test-reader")


def twilio_status(
    base_url: str,
    http: httpx.Client,
    sid: str,
    status: str,
    error_code: str | None = None,
    *,
    to: str,
    sender: str,
) -> None:
    """Post a delivery report for message `sid` as Twilio signs it, to the bridge at `base_url`."""
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    from bridge.core.settings import get_settings

    url = f"{base_url}/webhooks/twilio/status"
    params = {"MessageSid": sid, "MessageStatus": status, "To": to, "From": sender, "AccountSid": "AC1"}
    if error_code:
        params["ErrorCode"] = error_code
    signature = RequestValidator(get_settings().secret("twilio_auth_token")).compute_signature(url, params)
    response = http.post(
        url,
        content=urlencode(params),
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text


# The message API's token in the tests' environment (conftest's BRIDGE_API_TOKEN).
API_TOKEN = "test-api-token"


def post_message(http: httpx.Client, base_url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    """`POST /api/messages` with the API's token, as a client of the message API sends it."""
    return http.post(
        f"{base_url}/api/messages", json=body, headers={"Authorization": f"Bearer {API_TOKEN}", **headers}
    )


def api_message(http: httpx.Client, base_url: str, message_id: str) -> dict[str, Any]:
    """`GET /api/messages/{id}`: the message as its sender sees it (status, ids, error)."""
    response = http.get(
        f"{base_url}/api/messages/{message_id}", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


class RoundTrips:
    """What a Redis client sends, one list of commands per round trip (a pipeline's commands go
    out in one): `client()` gives a client on `url` whose connections record into `sent`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent: list[list[tuple[str, ...]]] = []

    def client(self) -> Any:
        import redis
        from redis.connection import Connection

        record = self.sent

        class Recording(Connection):
            def send_command(self, *args: Any, **kwargs: Any) -> None:
                record.append([_command(args)])
                super().send_command(*args, **kwargs)

            def pack_commands(self, commands: Any) -> list[bytes]:
                commands = list(commands)
                record.append([_command(args) for args in commands])
                packed: list[bytes] = super().pack_commands(commands)
                return packed

        client = redis.Redis.from_url(self.url)
        client.connection_pool.connection_class = Recording
        return client

    def commands(self, name: str, key: str | None = None) -> list[tuple[str, ...]]:
        """Every command `name` sent (on `key`, when given), whatever round trip it went in."""
        return [
            command
            for trip in self.sent
            for command in trip
            if command[0] == name.upper() and (key is None or command[1:2] == (key,))
        ]


def _command(args: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(a.decode(errors="replace") if isinstance(a, bytes) else str(a) for a in args)


# An Intercom contact search answered 200, as the metrics label it.
SEARCHED = {"method": "POST", "endpoint": "/contacts/search", "status": "200"}


class Samples:
    """One scrape, parsed by prometheus-client's own parser: value by sample name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._values = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def __call__(self, name: str, **labels: str) -> float:
        return self._values.get((name, frozenset(labels.items())), 0.0)

    def names(self) -> set[str]:
        return {name for name, _ in self._values}
