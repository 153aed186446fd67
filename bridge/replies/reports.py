"""Delivery reports from providers: stored and queued exactly once, like inbound messages.

A report is identified by (provider, outbound message id, state): providers repeat reports, and
report the same message several times as it moves (sent, delivered, read). Each distinct one is
stored, numbered and handed to a worker; a repeat is acknowledged and creates nothing.

A report is stored as the `DeliveryStatus` JSON, plus the `request_id` of the webhook that
brought it: a key the model ignores when reading, which the job's log lines carry.

Applying one (the status job, `ReportApplier`) records it on the sent message it is about, unless
a later state is recorded there already, and when it says the message failed, tells the agent in
that message's conversation, once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from redis import Redis
from redis.client import Pipeline

from bridge.consent.keeper import ConsentKeeper
from bridge.conversations.notes import Notes
from bridge.conversations.threads import ThreadStore
from bridge.core import freshness
from bridge.core.context import request_id_fields
from bridge.core.errors import LedgerRecordMissing
from bridge.core.settings import Settings
from bridge.infra import claims, keys
from bridge.infra.claims import Outcome
from bridge.infra.entries import request_id_of
from bridge.infra.queueing import enqueue_status, status_queue
from bridge.intercom.client import IntercomClient
from bridge.model.messages import DeliveryState, DeliveryStatus
from bridge.providers.base import ProviderAdapter
from bridge.replies.agent import say_undelivered
from bridge.replies.optouts import provider_opt_out
from bridge.replies.sent import OutboundStore, SentMessage


def status_id(status: DeliveryStatus) -> str:
    digest = hashlib.sha256(
        f"{status.provider}\0{status.provider_message_id}\0{status.state.value}".encode()
    ).hexdigest()[:32]
    return f"{status.provider}-{digest}"


@dataclass(frozen=True)
class ReportEntry:
    """A delivery report in the ledger, as its job and ops read it."""

    status_id: str
    report: DeliveryStatus
    request_id: str | None  # of the webhook that brought it


class StatusLedger:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._redis = redis_client
        self._settings = settings
        self._ttl = freshness.retention_seconds(settings)
        self._queue = status_queue(redis_client)

    def accept(self, status: DeliveryStatus) -> Outcome:
        """Store and queue `status` exactly once; a repeat is a duplicate."""
        return claims.claim(self._redis, self.claim(status))

    def claim(self, status: DeliveryStatus) -> claims.Claim:
        """`accept`'s claim, to send with others (`claims.run_batched`)."""
        entry_id = status_id(status)
        key = keys.status(entry_id)

        def write(pipe: Pipeline) -> None:
            pipe.set(key, _stored(status), ex=self._ttl)
            enqueue_status(self._queue, entry_id, settings=self._settings, pipeline=pipe)

        return claims.prepare(self._redis, key, write, what="the delivery report")

    def get(self, entry_id: str) -> ReportEntry | None:
        raw = self._redis.get(keys.status(entry_id))
        if not raw:
            return None
        stored = json.loads(raw)
        return ReportEntry(entry_id, DeliveryStatus.model_validate(stored), request_id_of(stored))


def _stored(status: DeliveryStatus) -> str:
    extra = request_id_fields()
    return json.dumps(status.model_dump(mode="json") | extra) if extra else status.model_dump_json()


@dataclass(frozen=True)
class AppliedReport:
    state: DeliveryState
    recorded: bool  # False: the sent message had this state or a later one already
    noted: bool  # a note told the agent the message failed


class ReportApplier:
    """Applies stored delivery reports; one per job. `intercom` opens that job's client, asked
    for only when a failure is to be told: most reports need no call to Intercom."""

    def __init__(
        self,
        redis_client: Redis,
        settings: Settings,
        adapters: Mapping[str, ProviderAdapter],
        intercom: Callable[[], IntercomClient],
    ) -> None:
        self._redis = redis_client
        self._settings = settings
        self._adapters = adapters
        self._intercom = intercom

    def apply(self, status_id: str) -> AppliedReport:
        """Record report `status_id` on its sent message; a failure becomes one note in its conversation."""
        entry = StatusLedger(self._redis, self._settings).get(status_id)
        if entry is None:
            raise LedgerRecordMissing(f"delivery report {status_id} is not stored (expired or never stored)")
        status = entry.report
        outbound = OutboundStore(self._redis, self._settings)
        recorded = outbound.record_status(status)
        sent = outbound.get(status.provider, status.provider_message_id)
        conversation_id = told_in(status, sent)
        noted = False
        if conversation_id is not None:
            thread = ThreadStore(self._redis).by_conversation(conversation_id)
            if thread is not None:
                keeper = ConsentKeeper(self._redis, self._intercom())
                adapter = self._adapters.get(status.provider)
                provider_opt_out(keeper, adapter, status.error_code, thread, by=f"report {status_id}")
            noted = say_undelivered(
                Notes(self._redis, self._intercom(), self._settings),
                self._adapters.get(status.provider),
                status.provider,
                status.provider_message_id,
                conversation_id,
                code=status.error_code,
                message=status.error_message,
                text=sent.text if sent is not None else "",
            )
        return AppliedReport(status.state, recorded, noted)


def told_in(status: DeliveryStatus, sent: SentMessage | None) -> str | None:
    """The conversation where applying `status` to sent message `sent` tells the agent it failed;
    None when it tells nothing: not a failure, or the send not recorded yet (its conversation
    unknown: the sender tells it when it records the send)."""
    if status.state is DeliveryState.FAILED and sent is not None:
        return sent.conversation_id
    return None
