"""How long the bridge keeps what it stores: `BRIDGE_RETENTION_DAYS` (default 14), then it goes.

Redis records expire on their own: every ledger (inbound messages with their raw payloads, reply
parts, delivery reports, sent messages, parts of long SMS, notes said once) is written with the
retention as its TTL, and RQ keeps failed jobs as long (`failure_ttl`) and finished ones an hour
(see `bridge.infra.keys` and `bridge.infra.queueing`). The identity map, threads and merge aliases
stay: they are what routes a customer who writes again next year to their contact and
conversation.

Media are files under `BRIDGE_DATA_DIR/media`: those on their way into Intercom (a worker removes
each once Intercom holds it; a message that failed for good leaves its own) and those linked
instead (`bridge.conversations.media`). Files do not expire on their own, so each web process
sweeps the directory when it starts and every hour after.
"""

from __future__ import annotations

import asyncio
import logging

from bridge.conversations.media import MediaStore

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 3600.0


async def sweep_media(store: MediaStore, *, interval: float = SWEEP_INTERVAL_SECONDS) -> None:
    """Remove expired media now and every `interval` seconds, until cancelled. A failed sweep is
    logged and tried again next time: it must never take the web process down."""
    while True:
        try:
            removed = await asyncio.to_thread(store.purge_expired)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("media sweep failed; trying again in %.0f s", interval)
        else:
            if removed:
                log.info("media sweep: removed %d expired item(s)", removed)
        await asyncio.sleep(interval)
