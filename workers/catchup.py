"""The reply catch-up's place in `bridge worker` (`bridge.replies.catchup`): a thread beside RQ's loop.

Every worker runs one, each trying every `BRIDGE_REPLY_CATCHUP_SECONDS`; the catch-up's lease
and mark let one look per interval across the deployment. A thread, not a job: a job would wait
behind the queue it is meant to fill after an outage, and not a process: nothing to start, stop
or restart beside the worker. It shares the worker's Redis client, as RQ's own command listener
does; the forking worker's job processes never run it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from redis import Redis

from bridge.core import metrics
from bridge.core.context import job_context, new_request_id
from bridge.core.logs import mask
from bridge.core.settings import Settings
from bridge.infra.metrics import redis_metrics
from bridge.intercom.client import IntercomClient
from bridge.replies.catchup import CatchupRun, ReplyCatchup

log = logging.getLogger(__name__)

# How long a stopping worker waits for a look in progress (the thread dies with the process).
STOP_WAIT_SECONDS = 5.0


def catch_up_once(
    connection: Redis, settings: Settings, *, clock: Callable[[], float] = time.time
) -> CatchupRun:
    """One look, if due and no other worker is looking, recorded in the bridge's metrics; the
    parts it queues carry one request id, which their jobs' log lines repeat."""
    with (
        job_context(job_id="reply-catchup", request_id=new_request_id()),
        metrics.scoped(redis_metrics(connection)),
        IntercomClient.from_settings(settings, redis_client=connection) as intercom,
    ):
        run = ReplyCatchup(redis_client=connection, intercom=intercom, settings=settings, clock=clock).run()
    if run.queued:
        log.info("reply catch-up: %d reply parts no webhook had brought, queued", len(run.queued))
    return run


class CatchupLoop:
    """`catch_up_once` now and then every interval, in a daemon thread, until `stop`."""

    def __init__(self, connection: Redis, settings: Settings) -> None:
        self._connection = connection
        self._settings = settings
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reply-catchup", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(STOP_WAIT_SECONDS)

    def _loop(self) -> None:
        interval = self._settings.reply_catchup
        while not self._stopping.is_set():
            try:
                catch_up_once(self._connection, self._settings)
            except Exception as exc:  # noqa: BLE001 - the next look covers what this one missed
                log.warning(
                    "reply catch-up failed, the next look covers it: %s", mask(f"{type(exc).__name__}: {exc}")
                )
            self._stopping.wait(interval)
