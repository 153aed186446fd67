"""What happens when a job fails: permanent errors stop retrying, and ops can read why.

RQ runs this callback after every failed attempt, before deciding whether to retry, on the same
job object: zeroing `retries_left` turns the failure into a final one. Unknown exceptions stay
retryable (a bug fixed by a deploy, a blip), so nothing is given up on for a reason we did not
anticipate. It must never raise: RQ would record the callback's error instead of the job's.
Which record a failure is noted on follows the job-kind table (`bridge.infra.queueing`).
"""

from __future__ import annotations

import logging
import time
from types import TracebackType

from redis import Redis
from rq.job import Job

from bridge.conversations.lanes import SenderLane
from bridge.core.errors import ConfigurationError, PermanentError
from bridge.core.logs import mask
from bridge.core.settings import get_settings
from bridge.infra.queueing import JobKind, hand_off_inbound, inbound_queue, record_of
from bridge.intake.ledger import InboundLedger, Status
from bridge.outreach.store import OutreachStatus, OutreachStore
from bridge.replies.ledger import ReplyLedger

log = logging.getLogger(__name__)


def describe(exc: BaseException | None) -> str:
    """A readable reason: the error's own message, typed, masked."""
    if exc is None:
        return "the worker stopped while running the job"
    text = str(exc) or exc.__class__.__name__
    return mask(f"{exc.__class__.__name__}: {text}")


def record_failure(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    try:
        if isinstance(exc_value, PermanentError | ConfigurationError):
            job.retries_left = 0
        final = not job.should_retry
        reason = describe(exc_value)
        attempts = int(job.meta.get("attempts", 0)) + 1
        job.meta.update({"reason": reason, "failed_at": time.time(), "final": final, "attempts": attempts})
        job.save_meta()  # type: ignore[no-untyped-call]
        kind, record_id = record_of(job) or (None, "")
        if kind is JobKind.INBOUND:
            _record_on_ledger(connection, record_id, reason=reason, final=final)
        elif kind is JobKind.OUTBOUND and final:
            ReplyLedger(connection, get_settings()).fail(record_id, reason=reason, at=time.time())
        elif kind is JobKind.OUTREACH and final:
            _record_on_outreach(connection, record_id, reason=reason)
        log.warning("job %s failed (%s): %s", job.id, "final" if final else "will retry", reason)
    except Exception:  # noqa: BLE001 - see the module docstring
        log.exception("could not record the failure of job %s", job.id)


def _record_on_outreach(connection: Redis, message_id: str, *, reason: str) -> None:
    """A message that failed for good, and why (a provider's refusal already said so, with its
    code: kept)."""
    store = OutreachStore(connection, get_settings())
    entry = store.get(message_id)
    if entry is not None and entry.status is not OutreachStatus.FAILED:
        store.finish(message_id, OutreachStatus.FAILED, reason=reason)


def _record_on_ledger(connection: Redis, inbound_id: str, *, reason: str, final: bool) -> None:
    settings = get_settings()
    ledger = InboundLedger(connection, settings)
    entry = ledger.get(inbound_id)
    if entry is None:
        return
    status = Status.FAILED if final else Status.RETRYING
    lane = SenderLane(connection, entry.message.sender.lane_key)
    # Nothing is recorded when a later job of the sender delivered the message meanwhile.
    if ledger.record_failure(inbound_id, status=status, reason=reason) and final:
        # Out of the lane, so the sender's later messages are not held behind it; a replay
        # delivers it on its own.
        lane.leave(inbound_id)
    # The messages behind it in the lane have no job of their own (only the first in line gets
    # one): the next gets one now, rather than wait for this one's retries (it tries this one
    # first, as an earlier message, and goes on without it if it still fails).
    following = [queued for queued in lane.queued() if queued != inbound_id]
    if following:
        hand_off_inbound(inbound_queue(connection), following[0], settings=settings)
