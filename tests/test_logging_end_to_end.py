"""A whole `bridge run --sandbox`'s logs, read as a log store would read them.

Real processes throughout: the supervisor, uvicorn serving the bridge, two forking workers, the
Intercom sandbox and the providers' stand-ins, all writing to one stderr. Customers of every
provider write in, an agent replies, a delivery report fails, and Intercom fails one message
until its retries run out. A picture arrives and is handed to Intercom as a file; another,
behind a pre-signed URL, cannot be downloaded. Then every line must be JSON with the fields, the
web side's request id must be the one on its job's lines, and no full phone number, configured
secret, URL query (a signature) or media token (a capability) may appear.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import redis

from bridge.core.logs import secret_values
from bridge.core.settings import get_settings
from bridge.dev.sandbox.credentials import stored_sandbox_credentials
from bridge.dev.simulators import SIMULATORS, SimulatedMessage, SimulatedRequest
from bridge.infra import keys
from bridge.infra.queueing import inbound_job_id
from bridge.intake.ledger import Status
from bridge.replies.reports import StatusLedger
from bridge.runtime.serving import free_port
from tests.helpers import SandboxControl

pytestmark = pytest.mark.slow

BUSINESS = "+14155550111"
# (provider, WhatsApp?, customer): a number of its own for each, so a leak names its path.
CUSTOMERS = [
    ("twilio", False, "+14155550177"),
    ("twilio", True, "+31612345678"),
    ("whatsapp", False, "+447700900123"),
    ("messagebird", False, "+4915112345678"),
    ("vonage", False, "+353871234567"),
    ("textmagic", False, "+12125550143"),
    ("africastalking", False, "+254712345678"),
]
VONAGE_BY_GET = "+61412345678"  # Vonage's SMS webhook may call with GET: the number in the URL
FAILING = "+14155550188"
PICTURE = "+14155550166"  # sends a picture, which the bridge hands to Intercom as a file
SIGNED_PICTURE = "+14155550155"  # sends a picture behind a pre-signed URL that cannot be downloaded
NUMBERS = [BUSINESS, VONAGE_BY_GET, FAILING, PICTURE, SIGNED_PICTURE, *(n for _, _, n in CUSTOMERS)]
SIGNATURE = "9b2e4d6f8a1c3e5b7d9f0a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f5a7c9e2b"
FIELDS = {"ts", "level", "logger", "message"}
DEADLINE_SECONDS = 90.0


@dataclasses.dataclass
class Run:
    """A `bridge run --sandbox` in its own process group, its stderr going to a file."""

    process: subprocess.Popen[bytes]
    url: str
    sandbox_url: str
    standins_url: str
    stderr: Path

    def stop(self) -> list[str]:
        """Stop it as Ctrl-C does, and return every line it logged."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(120)
        return [line for line in self.stderr.read_text().splitlines() if line.strip()]


@pytest.fixture
def run(bridge_env: dict[str, str], tmp_path: Path, redis_client: redis.Redis) -> Iterator[Run]:
    ports = [free_port() for _ in range(3)]
    stderr = tmp_path / "stderr.log"
    env = os.environ | {"BRIDGE_LOG_FORMAT": "json"}
    command = [sys.executable, "-m", "bridge", "run", "--sandbox", "--workers", "2"]
    command += ["--port", str(ports[0]), "--sandbox-port", str(ports[1]), "--standins-port", str(ports[2])]
    with stderr.open("ab") as sink:  # appending: the processes share it, no write lands on another
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=sink)
    running = Run(
        process, f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}",
        f"http://127.0.0.1:{ports[2]}", stderr,
    )  # fmt: skip
    try:
        wait_for(lambda: _answers(f"{running.url}/readyz"), "the bridge to start", process)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_full_run_logs_json_lines_joined_by_request_id_with_no_number_and_no_secret(
    run, redis_client, tmp_path
):
    settings = get_settings()
    credentials = stored_sandbox_credentials(settings.data_dir)
    sandbox = SandboxControl(run.sandbox_url, token=credentials["INTERCOM_ACCESS_TOKEN"])
    http = httpx.Client(timeout=30.0)

    # Every provider's customer writes in; one request brings its own X-Request-ID.
    request_ids = []
    for index, (provider, whatsapp, number) in enumerate(CUSTOMERS):
        message = SimulatedMessage(sender=number, recipient=BUSINESS, text="Hello", whatsapp=whatsapp)
        request = SIMULATORS[provider](message, run.url, settings)
        if index == 0:
            request = dataclasses.replace(request, headers={**request.headers, "X-Request-ID": "proxy-id-1"})
        request_ids.append(_sent(request, http))
    assert request_ids[0] == "proxy-id-1"
    vonage_get = SIMULATORS["vonage"](SimulatedMessage(VONAGE_BY_GET, BUSINESS, "Hi"), run.url, settings)
    response = http.get(f"{vonage_get.url}?{vonage_get.body.decode()}")
    assert response.status_code == 200, response.text
    request_ids.append(response.headers["X-Request-ID"])
    wait_for(lambda: len(sandbox.conversations()) == len(request_ids), "every message in Intercom")

    # An agent replies to the first customer; the provider reports the SMS undeliverable.
    conversation = _conversation_of(sandbox, CUSTOMERS[0][2])
    reply = sandbox.api(
        "POST",
        f"/conversations/{conversation['id']}/reply",
        json={"type": "admin", "admin_id": "991267101", "message_type": "comment", "body": "On it!"},
    )
    assert reply.status_code == 200, reply.text
    wait_for(lambda: len(http.get(f"{run.standins_url}/_standin/sends").json()) == 1, "the reply sent")
    [sent] = http.get(f"{run.standins_url}/_standin/sends").json()
    status_request_id = _sent(_twilio_status(run.url, sent["message_id"], settings), http)
    wait_for(lambda: "21610" in json.dumps(sandbox.conversations()), "the failure note")

    # A picture reaches Intercom as a file Intercom holds. The token it had in the worker's store
    # opens nothing on the bridge (never linked, and gone once handed over), and is never logged.
    twilio_media = f"{run.standins_url}/2010-04-01/Accounts/{settings.twilio_account_sid}/Messages/MM1/Media"
    seed = {"content_base64": base64.b64encode(b"GIF89a").decode(), "content_type": "image/gif"}
    http.post(f"{run.standins_url}/_standin/media/ME1", json=seed).raise_for_status()
    picture = SimulatedMessage(PICTURE, BUSINESS, "look", media=(f"{twilio_media}/ME1",))
    picture_entry = _entry_of(redis_client, _sent(SIMULATORS["twilio"](picture, run.url, settings), http))
    wait_for(lambda: _attachments(sandbox, PICTURE), "the picture in Intercom")
    [media_url] = _attachments(sandbox, PICTURE)
    assert http.get(media_url).content == b"GIF89a"
    [held] = json.loads(redis_client.hget(keys.inbound(picture_entry), "attachments"))["files"]
    token = held["token"]
    fetched = http.get(f"{run.url}/media/{token}")
    assert fetched.status_code == 404

    # Another, behind a pre-signed URL (as S3 and Meta's lookaside hand them out), fails to download
    # until the message's retries run out: httpx names the URL in the traceback RQ logs.
    http.post(f"{run.standins_url}/_standin/media/ME2", json={**seed, "status": 503}).raise_for_status()
    signed_url = f"{twilio_media}/ME2?X-Amz-Expires=300&X-Amz-Signature={SIGNATURE}#page-7f3e"
    signed = SimulatedMessage(SIGNED_PICTURE, BUSINESS, "look too", media=(signed_url,))
    signed_entry = _entry_of(redis_client, _sent(SIMULATORS["twilio"](signed, run.url, settings), http))
    wait_for(
        lambda: redis_client.hget(keys.inbound(signed_entry), "status") == Status.FAILED.value.encode(),
        "the signed picture's message to fail for good",
    )

    # Intercom fails one more message until its retries run out.
    sandbox.fault(500, times=None)
    failing = SIMULATORS["twilio"](SimulatedMessage(FAILING, BUSINESS, "Anyone?"), run.url, settings)
    failing_request_id = _sent(failing, http)
    failing_entry = _entry_of(redis_client, failing_request_id)
    wait_for(
        lambda: redis_client.hget(keys.inbound(failing_entry), "status") == Status.FAILED.value.encode(),
        "the message to fail for good",
    )
    sandbox.clear_faults()

    lines = run.stop()
    sandbox.close()
    http.close()
    text = "\n".join(lines)

    # Nothing that identifies a customer or opens an account.
    for number in NUMBERS:
        assert number not in text, f"{number} is logged in full"
        assert number.removeprefix("+") not in text, f"{number} is logged in full (bare digits)"
    secrets = [
        *secret_values(settings),
        credentials["INTERCOM_ACCESS_TOKEN"],
        credentials["INTERCOM_CLIENT_SECRET"],
    ]
    for secret in secrets:
        assert secret not in text, "a configured secret is logged"
    # Nothing that opens a customer's media: no URL's query, no media token.
    for capability in (SIGNATURE, "X-Amz-", "page-7f3e", token):
        assert capability not in text, f"{capability} is logged"

    # One JSON object per line, each with the fields.
    records = [json.loads(line) for line in lines]
    for record in records:
        assert FIELDS <= set(record), record
        assert datetime.fromisoformat(record["ts"]).utcoffset() is not None

    # uvicorn's own lines are among them, as JSON, the access lines with their request ids.
    assert any(r["logger"] == "uvicorn.error" and "Started server process" in r["message"] for r in records)
    access = {r["request_id"]: r["message"] for r in records if r["logger"] == "uvicorn.access"}
    for request_id in [*request_ids, status_request_id, failing_request_id]:
        assert "/webhooks/" in access[request_id]
    assert "token=***" in "".join(access.values())  # TextMagic's and Africa's Talking's URL secret
    assert 'GET /media/… HTTP/1.1" 404' in access[fetched.headers["X-Request-ID"]]
    # The failed download still says what failed: scheme, host and path.
    signed_lines = _lines_of(records, inbound_job_id(signed_entry))
    assert any(f"{twilio_media}/ME2?…" in r["message"] for r in signed_lines if r["level"] == "ERROR")

    # The web side's request id is on every line its message's job logged.
    for request_id in request_ids:
        job_lines = _lines_of(records, inbound_job_id(_entry_of(redis_client, request_id)))
        assert job_lines and {r.get("request_id") for r in job_lines} == {request_id}
    [reply_key] = redis_client.keys(keys.reply("*"))
    reply_request_id = redis_client.hget(reply_key, "request_id").decode()
    assert "/intercom/webhooks" in access[reply_request_id]  # Intercom's notification of the reply
    reply_lines = _lines_of(records, f"out-{reply_key.decode().removeprefix(keys.reply(''))}")
    assert reply_lines and {r.get("request_id") for r in reply_lines} == {reply_request_id}
    [status_key] = redis_client.keys(keys.status("*"))
    status_id = status_key.decode().removeprefix(keys.status(""))
    assert StatusLedger(redis_client, settings).get(status_id).request_id == status_request_id

    # The failure: its reason, and RQ's traceback, on lines that name the job and the request.
    failed_lines = _lines_of(records, inbound_job_id(failing_entry))
    assert {r.get("request_id") for r in failed_lines} == {failing_request_id}
    assert any(
        "failed (final)" in r["message"] and "Intercom answered 500" in r["message"] for r in failed_lines
    )
    assert any(r["level"] == "ERROR" and "Traceback" in r["message"] for r in failed_lines)


def wait_for(
    condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll `condition` until it holds; a deadline only so a broken run fails instead of hanging."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"`bridge run` exited with {process.returncode} before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {DEADLINE_SECONDS:.0f}s for {what}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def _sent(request: SimulatedRequest, http: httpx.Client) -> str:
    response = request.send(http)
    assert response.status_code == 200, response.text
    return response.headers["X-Request-ID"]


def _entry_of(redis_client: redis.Redis, request_id: str) -> str:
    """The inbound ledger entry the request's webhook became (found by the request id stored with
    it), once the reader has read the stored webhook."""

    def entries() -> list[str]:
        return [
            key.decode().removeprefix(keys.inbound(""))
            for key in redis_client.keys(keys.inbound("*"))
            if redis_client.type(key) == b"hash"
            and redis_client.hget(key, "request_id") == request_id.encode()
        ]

    wait_for(lambda: bool(entries()), f"the reader to read the webhook of request {request_id}")
    [entry] = entries()
    return entry


def _lines_of(records: list[dict[str, Any]], job_id: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("job_id") == job_id]


def _attachments(sandbox: SandboxControl, number: str) -> list[str]:
    """The attachment URLs in the conversation `number` opened (none while there is none: the
    lead exists a moment before its conversation does, and the conversation before its files)."""
    found = _conversations_of(sandbox, number)
    parts = [found[0]["source"], *found[0]["conversation_parts"]["conversation_parts"]] if found else []
    return [attachment["url"] for part in parts for attachment in part["attachments"]]


def _conversation_of(sandbox: SandboxControl, number: str) -> dict[str, Any]:
    [conversation] = _conversations_of(sandbox, number)
    return conversation


def _conversations_of(sandbox: SandboxControl, number: str) -> list[dict[str, Any]]:
    contacts = [c["id"] for c in sandbox.contacts() if c.get("phone") == number]
    assert len(contacts) <= 1, f"{len(contacts)} contacts for one number"
    return [c for c in sandbox.conversations() if c["contacts"]["contacts"][0]["id"] in contacts]


def _twilio_status(base_url: str, sid: str, settings: Any) -> SimulatedRequest:
    """Twilio's signed report that the message could not be delivered (21610: the customer
    replied STOP)."""
    from twilio.request_validator import RequestValidator

    url = f"{base_url}/webhooks/twilio/status"
    params = {
        "MessageSid": sid,
        "MessageStatus": "failed",
        "ErrorCode": "21610",
        "To": CUSTOMERS[0][2],
        "From": BUSINESS,
        "AccountSid": settings.twilio_account_sid,
    }
    signature = RequestValidator(settings.secret("twilio_auth_token")).compute_signature(url, params)
    return SimulatedRequest(
        url=url,
        body=urlencode(params).encode(),
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
    )
