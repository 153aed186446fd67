"""Failed jobs for operators, end to end: `bridge jobs failed|show|replay` and the admin API,
on the real web app, Redis, workers and the Intercom sandbox.

The story the issue asks for: Intercom fails every call, ten signed messages end as ten failed
jobs with their reasons; once Intercom is back, one replay delivers each exactly once, a second
delivers nothing, and a dry run changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result
from rq.registry import FailedJobRegistry

from bridge.cli.main import main
from bridge.core.logs import mask_number
from bridge.core.settings import reset_settings_cache
from bridge.infra import keys
from bridge.infra.queueing import inbound_job_id, inbound_queue, outbound_queue
from bridge.intake.ledger import InboundLedger, inbound_id
from bridge.ops.jobs import parse_since
from bridge.outreach.store import OutreachStore
from tests.helpers import api_message, conversation_bodies, post_message, signed_twilio

BUSINESS = "+14155550100"
CUSTOMERS = ("+14155550101", "+14155550102", "+14155550103")
ADMIN = {"Authorization": "Bearer test-admin-token"}


def cli(*args: str) -> Result:
    reset_settings_cache()
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def send_ten(bridge, settings, http) -> dict[str, list[str]]:
    """Ten signed messages from three customers; what each customer wrote, in order."""
    written: dict[str, list[str]] = {customer: [] for customer in CUSTOMERS}
    for number in range(10):
        customer = CUSTOMERS[number % len(CUSTOMERS)]
        text = f"message {number}"
        request = signed_twilio(bridge.url, settings, sender=customer, recipient=BUSINESS, text=text)
        assert request.send(http).status_code == 200
        written[customer].append(text)
    return written


def bodies_by_customer(sandbox) -> dict[str, list[str]]:
    phones = {contact["id"]: contact["phone"] for contact in sandbox.contacts()}
    return {
        phones[conversation["contacts"]["contacts"][0]["id"]]: conversation_bodies(conversation)
        for conversation in sandbox.conversations()
    }


def writes(sandbox) -> list[dict[str, Any]]:
    """The sandbox requests that could change the workspace (a search reads)."""
    return [r for r in sandbox.requests() if r["method"] != "GET" and not r["path"].endswith("/search")]


def failed_ids(redis_client) -> list[str]:
    return FailedJobRegistry(queue=inbound_queue(redis_client)).get_job_ids()


def test_ten_failed_messages_are_listed_with_reasons_and_one_replay_delivers_each_once(
    bridge, settings, sandbox, drain, http, redis_client
):
    sandbox.fault(500, times=None)
    written = send_ten(bridge, settings, http)
    drain()

    listed = cli("jobs", "failed", "--json")
    jobs = json.loads(listed.output)["jobs"]
    assert len(jobs) == 10
    for job in jobs:
        assert job["kind"] == "inbound" and job["provider"] == "twilio"
        assert "Intercom answered 500" in job["reason"]
        assert job["attempts"] == 3  # BRIDGE_RETRY_DELAYS=0,0: the first try and two retries
        assert job["party"] in {mask_number(customer) for customer in CUSTOMERS}
    table = cli("jobs", "failed").output
    assert len([line for line in table.splitlines() if line.startswith("in-twilio-")]) == 10
    assert not any(customer in table for customer in CUSTOMERS)  # masked: +14155****01

    shown = json.loads(cli("jobs", "show", jobs[0]["id"]).output)
    assert shown["record"]["message"]["text"] == "message 0"
    assert shown["record"]["status"] == "failed" and "500" in shown["record"]["error"]
    assert CUSTOMERS[0] not in json.dumps(shown)
    revealed = json.loads(cli("jobs", "show", jobs[0]["id"], "--reveal").output)
    assert revealed["record"]["message"]["sender"]["e164"] == CUSTOMERS[0]
    assert "From=" in revealed["record"]["raw"]["body"]

    sandbox.clear_faults()
    writes_before = len(writes(sandbox))
    dry = cli("jobs", "replay", "--all", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.count(": planned:") == 10
    assert "a new lead would be created" in dry.output
    assert "calls: POST /contacts/search, POST /contacts (a new lead), POST /conversations" in dry.output
    assert "dry run, nothing changed" in dry.output
    assert len(writes(sandbox)) == writes_before
    assert sandbox.contacts() == [] and sandbox.conversations() == []
    assert sorted(failed_ids(redis_client)) == sorted(job["id"] for job in jobs)

    replay = cli("jobs", "replay", "--all", "--no-wait")
    assert replay.exit_code == 0, replay.output
    assert replay.output.count(": queued:") == 10
    assert failed_ids(redis_client) == []
    drain()
    assert bodies_by_customer(sandbox) == written
    assert len(sandbox.contacts()) == 3

    again = cli("jobs", "replay", "--all")
    assert "No failed jobs to replay." in again.output
    by_id = cli("jobs", "replay", jobs[0]["id"], "--no-wait")
    assert ": not_failed:" in by_id.output
    drain()
    assert bodies_by_customer(sandbox) == written  # still each once


def test_a_message_delivered_by_the_job_ahead_of_it_is_found_by_its_jobs_id(
    bridge, settings, sandbox, drain, http
):
    # Only the first in a sender's lane is queued; `jobs show` of the second still answers.
    for sid, text in (("SMahead", "ahead"), ("SMbehind", "behind")):
        request = signed_twilio(
            bridge.url, settings, sender=CUSTOMERS[0], recipient=BUSINESS, text=text, message_id=sid
        )
        assert request.send(http).status_code == 200
    drain()

    shown = cli("jobs", "show", inbound_job_id(inbound_id("twilio", "SMbehind")))
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.output)
    assert detail["state"] == "delivered" and detail["job"].startswith("none of its own")
    assert detail["record"]["message"]["text"] == "behind"
    assert CUSTOMERS[0] not in shown.output
    assert cli("jobs", "show", inbound_job_id(inbound_id("twilio", "SMnever"))).exit_code == 1


def test_the_admin_api_answers_what_the_cli_prints(bridge, settings, sandbox, drain, http, redis_client):
    sandbox.fault(500, times=None)
    written = send_ten(bridge, settings, http)
    drain()

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-admin-token"}):
        assert http.get(f"{bridge.url}/admin/jobs/failed", headers=headers).status_code == 401
        assert (
            http.post(f"{bridge.url}/admin/jobs/replay", json={"all": True}, headers=headers).status_code
            == 401
        )

    api_jobs = http.get(f"{bridge.url}/admin/jobs/failed", headers=ADMIN).json()["jobs"]
    cli_jobs = json.loads(cli("jobs", "failed", "--json").output)["jobs"]
    assert api_jobs == cli_jobs and len(api_jobs) == 10
    one = api_jobs[0]["id"]
    shown = http.get(f"{bridge.url}/admin/jobs/{one}", headers=ADMIN).json()
    assert shown == json.loads(cli("jobs", "show", one).output)
    assert http.get(f"{bridge.url}/admin/jobs/in-nothing", headers=ADMIN).status_code == 404

    sandbox.clear_faults()
    dry = http.post(f"{bridge.url}/admin/jobs/replay", json={"all": True, "dry_run": True}, headers=ADMIN)
    assert dry.status_code == 200
    assert [r["outcome"] for r in dry.json()["replays"]] == ["planned"] * 10
    assert all(r["plan"] for r in dry.json()["replays"])
    single_dry = http.post(f"{bridge.url}/admin/jobs/{one}/replay?dry_run=true", headers=ADMIN).json()
    assert single_dry["replays"][0]["outcome"] == "planned"
    assert sandbox.conversations() == [] and len(failed_ids(redis_client)) == 10

    single = http.post(f"{bridge.url}/admin/jobs/{one}/replay", headers=ADMIN).json()
    assert single["replays"][0]["outcome"] == "queued"
    rest = http.post(f"{bridge.url}/admin/jobs/replay", json={"all": True}, headers=ADMIN).json()
    assert [r["outcome"] for r in rest["replays"]] == ["queued"] * 9
    drain()
    assert bodies_by_customer(sandbox) == written

    again = http.post(f"{bridge.url}/admin/jobs/replay", json={"all": True}, headers=ADMIN).json()
    assert again["replays"] == []
    by_id = http.post(f"{bridge.url}/admin/jobs/replay", json={"ids": [one]}, headers=ADMIN).json()
    assert by_id["replays"][0]["outcome"] == "not_failed"
    bad = http.post(f"{bridge.url}/admin/jobs/replay", json={"all": True, "ids": [one]}, headers=ADMIN)
    assert bad.status_code == 400
    assert http.get(f"{bridge.url}/admin/jobs/failed?since=yesterday", headers=ADMIN).status_code == 400


def test_a_replay_from_an_operators_request_keeps_the_jobs_reason_and_the_messages_request_id(
    bridge, settings, sandbox, drain, http, redis_client
):
    # The job's log lines join its message's (`workers.context.request_id_of`), not the replay's.
    sandbox.fault(500, times=None)
    request = signed_twilio(bridge.url, settings, sender=CUSTOMERS[0], recipient=BUSINESS, text="again")
    request = replace(request, headers={**request.headers, "X-Request-ID": "req-message"})
    assert request.send(http).status_code == 200
    drain()
    [job_id] = failed_ids(redis_client)

    replayed = http.post(
        f"{bridge.url}/admin/jobs/{job_id}/replay", headers={**ADMIN, "X-Request-ID": "req-operator"}
    )
    assert replayed.json()["replays"][0]["outcome"] == "queued"
    meta = inbound_queue(redis_client).fetch_job(job_id).meta
    assert meta["request_id"] == "req-message" and "Intercom answered 500" in meta["reason"]


def test_a_message_delivered_before_its_job_is_replayed_is_not_delivered_again(
    bridge, settings, sandbox, drain, http, redis_client
):
    sandbox.fault(500, times=None)
    request = signed_twilio(bridge.url, settings, sender=CUSTOMERS[0], recipient=BUSINESS, text="once")
    request.send(http)
    drain()
    [job_id] = failed_ids(redis_client)
    sandbox.clear_faults()
    # Meanwhile it got through some other way (an operator re-ran it by hand, say).
    from rq.job import Job
    from rq.serializers import JSONSerializer

    inbound_id = Job.fetch(job_id, connection=redis_client, serializer=JSONSerializer).kwargs["inbound_id"]
    InboundLedger(redis_client, settings).mark_delivered(inbound_id, "123", at=0.0)

    replay = cli("jobs", "replay", job_id, "--no-wait")
    assert f"{job_id}: already_done: already in conversation 123" in replay.output
    drain()
    assert sandbox.conversations() == []
    assert failed_ids(redis_client) == []  # settled: off the failed list


def test_an_unreadable_sender_is_kept_listed_and_delivered_after_the_region_is_fixed(
    bridge, settings, sandbox, drain, http, redis_client, monkeypatch
):
    national = "07700900123"  # a UK mobile written nationally; the bridge assumes BRIDGE_DEFAULT_REGION=US
    request = signed_twilio(
        bridge.url, settings, sender=national, recipient=BUSINESS, text="hello from the UK"
    )
    assert request.send(http).status_code == 200  # accepted: never a silent drop
    drain()
    [job] = json.loads(cli("jobs", "failed", "--json").output)["jobs"]
    assert "UnprocessableMessage" in job["reason"] and "sender id" in job["reason"]
    assert job["attempts"] == 1  # permanent: not retried

    still = cli("jobs", "replay", job["id"], "--no-wait")
    assert ": still_unprocessable:" in still.output
    assert failed_ids(redis_client) == [job["id"]]

    monkeypatch.setenv("BRIDGE_DEFAULT_REGION", "GB")
    dry = cli("jobs", "replay", job["id"], "--dry-run")
    assert ": planned:" in dry.output and "+44770*****23" in dry.output
    fixed = cli("jobs", "replay", job["id"], "--no-wait")
    assert ": queued:" in fixed.output, fixed.output
    drain()
    [lead] = sandbox.contacts()
    assert lead["phone"] == "+447700900123"
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["hello from the UK"]


@pytest.fixture
def loop(providers_at_standin, bridge, sandbox):
    sandbox.configure(
        webhook_url=f"{bridge.url}/intercom/webhooks", client_secret="test-intercom-client-secret"
    )
    return providers_at_standin


def test_a_reply_the_provider_refused_is_listed_and_sent_once_on_replay(
    loop, bridge, settings, sandbox, drain, http
):
    signed_twilio(bridge.url, settings, sender=CUSTOMERS[0], recipient=BUSINESS, text="hi").send(http)
    drain()
    [conversation] = sandbox.conversations()
    # A refusal an operator can fix (21408: the customer's country is not enabled), then replay;
    # 21610 (the customer opted out) would block every later send instead.
    http.post(
        f"{loop.url}/_standin/faults/twilio", json={"statuses": [400], "codes": [21408]}
    ).raise_for_status()
    assert sandbox.agent_reply(conversation["id"], "On it").status_code == 200
    drain()
    assert loop.state.sends == []

    [job] = json.loads(cli("jobs", "failed", "--json").output)["jobs"]
    assert job["kind"] == "outbound" and job["provider"] == "twilio"
    assert job["party"] == mask_number(CUSTOMERS[0])
    assert "21408" in job["reason"]
    dry = cli("jobs", "replay", "--all", "--dry-run")
    assert "sent: 1 message(s), 0 already sent (not again), 1 to send" in dry.output
    assert "calls: twilio send" in dry.output

    assert ": queued:" in cli("jobs", "replay", "--all", "--no-wait").output
    drain()
    [sent] = loop.state.sends
    assert sent.text == "On it"
    assert "No failed jobs to replay." in cli("jobs", "replay", "--all").output
    drain()
    assert len(loop.state.sends) == 1


def test_replay_needs_ids_or_all_and_since_reads_durations_and_dates(bridge_env):
    assert cli("jobs", "replay").exit_code == 2
    assert cli("jobs", "replay", "x", "--all").exit_code == 2
    assert cli("jobs", "replay", "x", "--provider", "twilio").exit_code == 2
    assert "not a duration or a date" in cli("jobs", "failed", "--since", "soon").output
    assert parse_since("2h", now=10_000.0) == 10_000.0 - 7200
    assert parse_since("2026-11-23T10:00:00Z") == parse_since("2026-11-23T10:00:00+00:00")
    assert parse_since("2026-11-23T10:00:00") == parse_since("2026-11-23T10:00:00Z")  # UTC unless it says


def test_replay_waits_for_the_workers_and_reports_what_they_did(
    bridge, settings, sandbox, drain, http, redis_client
):
    import os
    import subprocess
    import sys
    import time

    from rq import Worker

    sandbox.fault(500, times=None)
    written = send_ten(bridge, settings, http)
    drain()
    sandbox.clear_faults()

    worker = subprocess.Popen([sys.executable, "-m", "bridge", "worker"], env=os.environ.copy())
    try:
        for _ in range(300):  # until the worker has registered itself
            if Worker.all(connection=redis_client):
                break
            time.sleep(0.1)
        result = cli("jobs", "replay", "--all", "--timeout", "120")
    finally:
        worker.terminate()
        worker.wait(30)
    assert result.exit_code == 0, result.output
    assert "10 done, 0 failed again, 0 not finished." in result.output
    assert bodies_by_customer(sandbox) == written


def test_replay_without_a_running_worker_queues_and_says_so(bridge, settings, sandbox, drain, http):
    sandbox.fault(500, times=None)
    signed_twilio(bridge.url, settings, sender=CUSTOMERS[0], recipient=BUSINESS, text="later").send(http)
    drain()
    sandbox.clear_faults()
    result = cli("jobs", "replay", "--all")
    assert result.exit_code == 0
    assert "No worker is running: the jobs are queued" in result.output
    drain()
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["later"]


@pytest.mark.parametrize("job_id", ["in-twilio-1.2", "in twilio", "in-twilio-é"])
def test_an_id_rq_would_refuse_names_no_job_rather_than_a_500(bridge, http, job_id):
    """Found by fuzzing: RQ raises ValueError for an id outside [A-Za-z0-9_-] instead of looking it up."""
    path = quote(job_id, safe="")
    assert http.get(f"{bridge.url}/admin/jobs/{path}", headers=ADMIN).status_code == 404
    [replay] = http.post(f"{bridge.url}/admin/jobs/{path}/replay", headers=ADMIN).json()["replays"]
    assert replay["outcome"] == "not_failed"
    many = http.post(f"{bridge.url}/admin/jobs/replay", json={"ids": [job_id]}, headers=ADMIN)
    assert [r["outcome"] for r in many.json()["replays"]] == ["not_failed"]


def test_a_json_body_with_infinity_is_refused_naming_the_field_not_echoing_it(bridge, http):
    """Found by fuzzing: FastAPI's 422 repeats the invalid value, and Infinity (which Python's JSON
    parser takes) cannot be written back as JSON: it was a 500."""
    for body in (b'{"ids": Infinity}', b'{"all": true, "since": NaN}'):
        response = http.post(
            f"{bridge.url}/admin/jobs/replay",
            content=body,
            headers={**ADMIN, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"][0] == "body" and error["msg"] and "input" not in error


# Senders as hostile as a payload can make them: a NUL inside a number, a 5,000-digit "number"
# (both of unknown kind), and numbers written with separators (the raw form replies go back to).
# None shares eight digits in a row with BUSINESS, which the views show in full (it is ours).
NUL_SENDER = "+1917555\x000795"
LONG_SENDER = "+" + "1234567890" * 500
SPACED_CUSTOMER = "+1 (917) 555-0795"
DASHED_CUSTOMER = "+1-917-555-0796"


def leaked(output: str, party: str) -> list[str]:
    """The forms of `party` found in `output`: as written, as JSON writes it, as bare digits,
    or any run of more than seven of its digits."""
    digits = "".join(ch for ch in party if ch.isdigit())
    forms = {party, json.dumps(party)[1:-1], digits, *(digits[i : i + 8] for i in range(len(digits) - 7))}
    return sorted(form for form in forms if form and form in output)


def ops_views(bridge, http) -> tuple[list[dict[str, Any]], list[str]]:
    """The failed jobs, and every view ops have of them without `reveal`: the CLI's table and
    JSON, the API's list, and each job shown by both."""
    listed = cli("jobs", "failed", "--json").output
    jobs = json.loads(listed)["jobs"]
    outputs = [
        cli("jobs", "failed").output,
        listed,
        http.get(f"{bridge.url}/admin/jobs/failed", headers=ADMIN).text,
    ]
    outputs += [cli("jobs", "show", job["id"]).output for job in jobs]
    outputs += [http.get(f"{bridge.url}/admin/jobs/{job['id']}", headers=ADMIN).text for job in jobs]
    return jobs, outputs


def revealed_views(bridge, http, jobs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Each job shown with `reveal`, by the CLI and by the API (one list each)."""
    return [
        [json.loads(cli("jobs", "show", job["id"], "--reveal").output) for job in jobs],
        [http.get(f"{bridge.url}/admin/jobs/{job['id']}?reveal=true", headers=ADMIN).json() for job in jobs],
    ]


def test_senders_of_unknown_kind_are_masked_in_every_ops_view_unless_revealed(
    bridge, settings, sandbox, drain, http
):
    for sender in (NUL_SENDER, LONG_SENDER):
        request = signed_twilio(bridge.url, settings, sender=sender, recipient=BUSINESS, text="hi")
        assert request.send(http).status_code == 200
    drain()

    jobs, outputs = ops_views(bridge, http)
    assert len(jobs) == 2 and all(job["party"].startswith("unknown:") for job in jobs)
    assert all(len(job["party"]) <= 40 for job in jobs)  # a 5,000-digit sender prints no 5,000 digits
    for output in outputs:
        for sender in (NUL_SENDER, LONG_SENDER):
            assert leaked(output, sender) == [], output
    for detail in revealed_views(bridge, http, jobs):
        assert {d["record"]["message"]["sender"]["raw"] for d in detail} == {NUL_SENDER, LONG_SENDER}


def test_customers_written_with_separators_are_masked_in_every_ops_view_unless_revealed(
    loop, bridge, settings, sandbox, drain, http
):
    for customer in (SPACED_CUSTOMER, DASHED_CUSTOMER):
        signed_twilio(bridge.url, settings, sender=customer, recipient=BUSINESS, text="hi").send(http)
    drain()
    http.post(f"{loop.url}/_standin/faults/twilio", json={"statuses": [400, 400]}).raise_for_status()
    for conversation in sandbox.conversations():
        assert sandbox.agent_reply(conversation["id"], "On it").status_code == 200
    drain()

    jobs, outputs = ops_views(bridge, http)
    assert sorted(job["party"] for job in jobs) == ["+19175****95", "+19175****96"]
    for output in outputs:
        for customer in (SPACED_CUSTOMER, DASHED_CUSTOMER):
            assert leaked(output, customer) == [], output
    for detail in revealed_views(bridge, http, jobs):
        assert {d["record"]["route"]["to"] for d in detail} == {SPACED_CUSTOMER, DASHED_CUSTOMER}


def test_the_form_of_the_number_a_contact_matched_by_is_masked_unless_revealed(
    bridge, settings, sandbox, drain, http, redis_client
):
    sandbox.seed_contact(role="user", phone="+55 11 8765-4321", name="Stored")  # without the 9th digit
    sandbox.fault(500, times=None, path_prefix="/conversations")
    sender, variant = "+5511987654321", "+551187654321"
    signed_twilio(bridge.url, settings, sender=sender, recipient=BUSINESS, text="oi").send(http)
    drain()
    sandbox.clear_faults()

    [job] = json.loads(cli("jobs", "failed", "--json").output)["jobs"]
    shown = cli("jobs", "show", job["id"]).output
    assert json.loads(shown)["record"]["match"]["variant"] == "+55118*****21"
    assert variant not in shown and sender not in shown
    revealed = json.loads(cli("jobs", "show", job["id"], "--reveal").output)
    assert revealed["record"]["match"]["variant"] == variant

    # Without what that attempt recorded (the contact, the identity map), a dry run searches again.
    InboundLedger(redis_client, settings).forget_contact(revealed["record"]["inbound_id"])
    redis_client.delete(*redis_client.keys(keys.identity("*")))
    dry = cli("jobs", "replay", job["id"], "--dry-run").output
    assert "through the variant +55118*****21" in dry and variant not in dry and sender not in dry


# The access a pre-signed media URL (S3, Meta's lookaside) carries in its query.
SIGNATURE = "4f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a10"


def test_a_media_urls_signature_is_neither_stored_nor_shown_with_its_failed_job(
    providers_at_standin, bridge, settings, sandbox, drain, http, redis_client, monkeypatch
):
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from bridge.dev.standins import StoredMedia

    monkeypatch.setenv("BRIDGE_PUBLIC_URL", bridge.url)  # so the worker fetches the media itself
    reset_settings_cache()
    providers_at_standin.state.media["ME9"] = StoredMedia(b"GIF89a", "image/gif", status=503)
    media_path = "/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME9"
    signed_url = f"{providers_at_standin.url}{media_path}?X-Amz-Signature={SIGNATURE}#page-7f3e"
    request = signed_twilio(
        bridge.url, settings, sender=CUSTOMERS[0], recipient=BUSINESS, text="pic", media=(signed_url,)
    )
    assert request.send(http).status_code == 200
    drain()

    [job] = json.loads(cli("jobs", "failed", "--json").output)["jobs"]
    assert job["attempts"] == 3 and "503" in job["reason"]
    shown = json.loads(cli("jobs", "show", job["id"]).output)
    api_shown = http.get(f"{bridge.url}/admin/jobs/{job['id']}", headers=ADMIN).json()
    stored = Job.fetch(job["id"], connection=redis_client, serializer=JSONSerializer).latest_result()
    for traceback in (shown["traceback"], api_shown["traceback"], stored.exc_string):
        assert f"{media_path}?…" in traceback  # what failed, still said: scheme, host and path
        assert SIGNATURE not in traceback and "page-7f3e" not in traceback
    assert SIGNATURE not in json.dumps(shown) and SIGNATURE not in json.dumps(api_shown)
    revealed = json.loads(cli("jobs", "show", job["id"], "--reveal").output)
    assert [media["url"] for media in revealed["record"]["message"]["media"]] == [signed_url]


# --- messages the team wrote first ---

LONG_TEXT = "word " * 400  # 2,000 characters: two SMS, sent and recorded one by one


def refused_message(loop, bridge, http, drain, text: str = "Your order shipped") -> str:
    """A message the team wrote first, through the message API, to a customer written with
    separators, whose first send Twilio refuses (21408: the customer's country is not enabled, which
    the operator fixes before a replay); its id."""
    http.post(
        f"{loop.url}/_standin/faults/twilio", json={"statuses": [400], "codes": [21408]}
    ).raise_for_status()
    body = {"to": SPACED_CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": text}
    answer = post_message(http, bridge.url, body)
    assert answer.status_code == 202, answer.text
    drain()
    return str(answer.json()["id"])


def test_a_message_the_provider_refused_is_listed_with_its_code_and_sent_once_on_replay(
    loop, bridge, sandbox, drain, http, redis_client
):
    message_id = refused_message(loop, bridge, http, drain)
    assert loop.state.sends == []
    refused = api_message(http, bridge.url, message_id)
    assert refused["status"] == "failed" and refused["error"]["code"] == "21408"

    jobs, outputs = ops_views(bridge, http)
    [job] = jobs
    assert (job["id"], job["kind"], job["provider"]) == (f"msg-{message_id}", "outreach", "twilio")
    assert job["party"] == "+19175****95" and job["attempts"] == 1  # a refusal is not retried
    assert job["reason"] == f"twilio refused it (error 21408): {refused['error']['reason']}"
    assert "geographic permissions" in job["reason"]  # a person's reason, from the table reply notes use
    assert http.get(f"{bridge.url}/admin/jobs/failed", headers=ADMIN).json()["jobs"] == jobs
    for output in outputs:
        assert leaked(output, SPACED_CUSTOMER) == [], output
    table = cli("jobs", "failed").output
    assert f"msg-{message_id}"[:44] in table and " outreach " in table

    [lead] = sandbox.contacts()
    [conversation] = sandbox.conversations()
    shown = json.loads(cli("jobs", "show", job["id"]).output)["record"]
    assert (shown["status"], shown["sent"], shown["error"]["code"]) == ("failed", [], "21408")
    assert shown["contact"] == {"id": lead["id"], "role": "lead"}
    assert shown["conversation_id"] == conversation["id"]
    assert (shown["request"]["to"], shown["to"]) == ("+19175****95", "+19175****95")
    assert shown["request"]["text"] == "Your order shipped"
    revealed = json.loads(cli("jobs", "show", job["id"], "--reveal").output)["record"]
    assert (revealed["request"]["to"], revealed["to"]) == (SPACED_CUSTOMER, "+19175550795")

    dry = cli("jobs", "replay", "--all", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"msg-{message_id}: planned:" in dry.output
    assert f"contact {lead['id']} already found" in dry.output
    assert f"conversation {conversation['id']} already shows it" in dry.output
    assert "message 0 will be sent" in dry.output and "calls: twilio send" in dry.output
    assert loop.state.sends == []
    assert FailedJobRegistry(queue=outbound_queue(redis_client)).get_job_ids() == [job["id"]]

    replay = cli("jobs", "replay", "--all", "--no-wait")
    assert f"msg-{message_id}: queued:" in replay.output
    drain()
    [sent] = loop.state.sends
    assert (sent.text, sent.to, sent.sender) == ("Your order shipped", "+19175550795", BUSINESS)
    shown = api_message(http, bridge.url, message_id)
    assert (shown["status"], shown["provider_message_id"], shown["error"]) == ("sent", sent.message_id, None)
    assert len(sandbox.contacts()) == 1 and len(sandbox.conversations()) == 1  # filed once

    assert "No failed jobs to replay." in cli("jobs", "replay", "--all").output
    assert ": not_failed:" in cli("jobs", "replay", job["id"], "--no-wait").output
    drain()
    assert len(loop.state.sends) == 1


@pytest.mark.parametrize(
    "recorded",
    [("SMpart0",), ("SMpart0", "SMpart1")],
    ids=["part 0 taken, part 1 refused", "both taken, the worker stopped before finishing"],
)
def test_a_replay_never_sends_again_a_message_whose_send_was_recorded(
    loop, bridge, settings, drain, http, redis_client, recorded
):
    """The ledger is what a replay trusts: each part's id recorded before the next is sent. The
    stand-in's fault answers the next call (part 0), so the ids of the parts the provider took are
    written as the job writes them."""
    message_id = refused_message(loop, bridge, http, drain, text=LONG_TEXT)
    store = OutreachStore(redis_client, settings)
    for index, provider_id in enumerate(recorded):
        store.record_sent(message_id, index, provider_id)
    job_id = f"msg-{message_id}"

    dry = cli("jobs", "replay", job_id, "--dry-run").output
    for index, provider_id in enumerate(recorded):
        assert f"message {index} already sent as {provider_id}: not sent again" in dry
    assert ("message 1 will be sent" in dry) == (len(recorded) == 1)
    assert ("calls: twilio send" in dry) == (len(recorded) == 1)
    assert ("calls: none" in dry) == (len(recorded) == 2)

    assert ": queued:" in cli("jobs", "replay", job_id, "--no-wait").output
    drain()
    shown = api_message(http, bridge.url, message_id)
    assert shown["status"] == "sent"
    sends = loop.state.sends
    assert shown["provider_message_ids"] == [*recorded, *(sent.message_id for sent in sends)]
    assert len(sends) == 2 - len(recorded)
    if sends:  # part 1 only: the text's end
        [part1] = sends
        assert LONG_TEXT.strip().endswith(part1.text) and len(part1.text) < len(LONG_TEXT) / 2
