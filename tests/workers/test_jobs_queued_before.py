"""Jobs queued by the previous version, run by this one: a deployment upgraded with work in its
queues must finish it.

RQ stores a job's function as its dotted path and its arguments as JSON, and calls them when a
worker takes the job. So each test lets this version store a record and queue its job, then puts
in that job's place the one the previous version queued for the same record, written out here as
it was stored (dotted path, keyword argument, options, the failure callback's path), and runs an
in-process worker over the queues.
"""

from __future__ import annotations

from datetime import UTC, datetime

from redis import Redis
from rq import Callback, Queue, Retry
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bridge.core.settings import Settings
from bridge.model.messages import DeliveryState, DeliveryStatus
from bridge.replies.reports import StatusLedger
from tests.helpers import conversation_bodies, read_stored_webhooks, signed_twilio

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"

# What the previous version queued, by job id prefix: the job function's dotted path, and the
# keyword argument naming the record it works on (the rest of the id). Frozen on purpose: these
# strings are in the Redis of every deployment that had jobs queued when it was upgraded.
PREVIOUS = {
    "rd-": ("workers.webhooks.read_webhooks", None),
    "wh-": ("workers.webhooks.read_webhook", "webhook_id"),
    "in-": ("workers.inbound.process_inbound", "inbound_id"),
    "out-": ("workers.outbound.send_reply", "part_id"),
    "st-": ("workers.statuses.apply_status", "status_id"),
}
PREVIOUS_QUEUES = ("bridge-inbound", "bridge-outbound", "bridge-status")
PREVIOUS_FAILURE_CALLBACK = "workers.failures.record_failure"


def queued_as_before(redis_client: Redis, settings: Settings) -> dict[str, str]:
    """Replace every queued job by the one the previous version queued for the same record; the
    ids replaced, with the dotted path each now names."""
    replaced = {}
    for name in PREVIOUS_QUEUES:
        queue = Queue(name, connection=redis_client, serializer=JSONSerializer)
        for job_id in queue.get_job_ids():
            prefix = next(prefix for prefix in PREVIOUS if job_id.startswith(prefix))
            function, kwarg = PREVIOUS[prefix]
            queue.remove(job_id)
            Job.fetch(job_id, connection=redis_client, serializer=JSONSerializer).delete()
            queue.enqueue_call(
                function,
                kwargs={kwarg: job_id.removeprefix(prefix)} if kwarg else {},
                job_id=job_id,
                timeout=300,
                result_ttl=3600,
                failure_ttl=settings.retention_days * 86400,
                retry=Retry(max=len(settings.retry_delays), interval=list(settings.retry_delays)),
                on_failure=Callback(PREVIOUS_FAILURE_CALLBACK),
                description=f"queued by the previous version: {function}",
            )
            replaced[job_id] = function
    return replaced


def ran(redis_client: Redis, replaced: dict[str, str]) -> dict[str, tuple[str, JobStatus | None]]:
    """What became of each replaced job: the function it named and where it ended."""
    jobs = Job.fetch_many(list(replaced), connection=redis_client, serializer=JSONSerializer)
    return {job.id: (job.func_name, job.get_status()) for job in jobs if job is not None}


def finished(replaced: dict[str, str]) -> dict[str, tuple[str, JobStatus]]:
    return {job_id: (function, JobStatus.FINISHED) for job_id, function in replaced.items()}


def test_a_reader_queued_before_the_upgrade_reads_the_stored_webhook(
    bridge, settings, sandbox, drain, http, redis_client
):
    message = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="before")
    assert message.send(http).status_code == 200
    replaced = queued_as_before(redis_client, settings)
    assert list(replaced.values()) == ["workers.webhooks.read_webhooks"]

    drain()

    assert ran(redis_client, replaced) == finished(replaced)
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["before"]


def test_delivery_reply_and_report_jobs_queued_before_the_upgrade_are_done(
    bridge, settings, sandbox, providers_at_standin, drain, http, redis_client
):
    sandbox.configure(
        webhook_url=f"{bridge.url}/intercom/webhooks", client_secret=settings.secret("intercom_client_secret")
    )
    message = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="my order?")
    assert message.send(http).status_code == 200
    read_stored_webhooks(redis_client, settings)  # the message is claimed and its job queued
    replaced = queued_as_before(redis_client, settings)
    assert sorted(replaced.values()) == ["workers.inbound.process_inbound", "workers.webhooks.read_webhooks"]
    drain()
    assert ran(redis_client, replaced) == finished(replaced)
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["my order?"]

    assert sandbox.agent_reply(conversation["id"], "It shipped").status_code == 200
    read_stored_webhooks(redis_client, settings)
    replaced = queued_as_before(redis_client, settings)
    assert "workers.outbound.send_reply" in replaced.values()
    drain()
    assert ran(redis_client, replaced) == finished(replaced)
    [sent] = providers_at_standin.state.sends
    assert (sent.provider, sent.text) == ("twilio", "It shipped")

    failed = DeliveryStatus(
        provider="twilio",
        provider_message_id=sent.message_id,
        state=DeliveryState.FAILED,
        occurred_at=datetime.now(UTC),
        error_code="21610",
    )
    StatusLedger(redis_client, settings).accept(failed)
    replaced = queued_as_before(redis_client, settings)
    assert list(replaced.values()) == ["workers.statuses.apply_status"]
    drain()
    assert ran(redis_client, replaced) == finished(replaced)
    parts = sandbox.api("GET", f"/conversations/{conversation['id']}").json()["conversation_parts"]
    [note] = [part["body"] for part in parts["conversation_parts"] if part["part_type"] == "note"]
    assert "21610" in note and "It shipped" in note


def test_a_webhook_job_queued_before_the_upgrade_fails_for_good_with_its_reason(
    bridge, settings, sandbox, drain, http, redis_client
):
    # Authentic but without a `To`: the reader cannot read it and queues it as a webhook job,
    # which fails with the parser's reason through the failure callback the job names.
    unreadable = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient="", text="to whom?")
    assert unreadable.send(http).status_code == 200
    read_stored_webhooks(redis_client, settings)
    replaced = queued_as_before(redis_client, settings)
    [webhook_job] = [job_id for job_id, function in replaced.items() if function.endswith(".read_webhook")]

    drain()

    job = Job.fetch(webhook_job, connection=redis_client, serializer=JSONSerializer)
    assert (job.func_name, job.get_status()) == ("workers.webhooks.read_webhook", JobStatus.FAILED)
    assert job.meta["final"] is True and "To is missing" in job.meta["reason"]
    assert sandbox.conversations() == []
