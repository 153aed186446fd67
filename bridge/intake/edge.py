"""The web side of a webhook after its signature verified: store it as it arrived, then answer.

The request is stored raw in one script call that also counts it (`bridge_webhooks_total`, by
`webhook_outcome`) and shares its round trip to Redis with the other requests in flight
(`bridge.infra.batching`); a worker reads it afterwards (`bridge.intake.raw`, `workers.webhooks`).
Nothing here parses: an authentic request is never refused for what it says. The answer waits
until the store is as durable as `BRIDGE_ACK_AFTER` asks (`bridge.infra.durability`), in the
same round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import redis
import redis.asyncio
from redis import Redis
from redis.exceptions import NoScriptError

from bridge.core.metrics import WebhookKind, WebhookOutcome
from bridge.core.settings import Settings
from bridge.infra.batching import Batcher, Command
from bridge.infra.claims import Tally, unavailable
from bridge.infra.durability import Durability
from bridge.infra.metrics import webhook_tally as tally_for
from bridge.intake.ledger import RawPayload
from bridge.intake.raw import RawWebhookStore, Stored, with_script
from bridge.providers.base import ProviderAdapter


def webhook_outcome(*, new: bool, verified: bool) -> WebhookOutcome:
    """What a stored request counts as: a redelivery when it was stored before; one whose
    signature failed (stored under BRIDGE_SIGNATURE_MODE=log-only) counts as that first."""
    if not verified:
        return WebhookOutcome.WOULD_BE_FORGED
    return WebhookOutcome.ACCEPTED if new else WebhookOutcome.DUPLICATE


class Intake:
    """What the webhook routes work with: the settings, the providers' adapters, where verified
    webhooks are stored and the round trip their stores share, in one object on the app's state
    (the routes read it there rather than through FastAPI dependencies: `bridge.web.routes.webhooks`).

    Made on the event loop that will use it: its stores go through `async_client`, whose socket
    timeout must outlast `durability`'s wait.
    """

    def __init__(
        self,
        client: Redis,
        async_client: redis.asyncio.Redis,
        settings: Settings,
        adapters: Mapping[str, ProviderAdapter],
        *,
        durability: Durability | None = None,
    ) -> None:
        self.settings = settings
        self.adapters = adapters
        self.webhooks = RawWebhookStore(client, settings)
        self.batcher = Batcher(async_client, durability)

    async def store_raw(
        self, provider: str, raw: RawPayload, *, received_at: datetime, verified: bool, tally: Tally | None
    ) -> None:
        """Store a verified webhook as it arrived, once, for a worker to read (`bridge.intake.raw`);
        `StorageUnavailable` if it could not be stored, so the provider sends it again."""
        command = self.webhooks.store_command(
            provider, raw, received_at=received_at, verified=verified, tally=tally
        )
        [answer] = await self._execute([command], what="the webhook", retry_without_script=True)
        if isinstance(answer, NoScriptError):  # the first webhook since Redis (re)started
            [answer] = await self._execute([with_script(command)], what="the webhook")
        if answer == Stored.NEEDS_READER:
            # Rare under load (a reader is then busy): the first webhook after a quiet spell.
            await self._execute(self.webhooks.reader_commands(), what="the webhook's reader job")

    async def _execute(
        self, commands: list[Command], *, what: str, retry_without_script: bool = False
    ) -> list[Any]:
        """The answers; `StorageUnavailable` for any error but NOSCRIPT when asked to retry that."""
        try:
            answers = await self.batcher.execute(commands)
        except redis.RedisError as exc:
            raise unavailable(what, exc) from exc
        for answer in answers:
            if isinstance(answer, NoScriptError) and retry_without_script:
                continue
            if isinstance(answer, redis.RedisError):
                raise unavailable(what, answer) from answer
        return answers


def webhook_tally(provider: str, kind: WebhookKind, *, verified: bool) -> Tally | None:
    """How the store of a webhook counts it (`webhook_outcome`), whether it was new or a
    redelivery (None when the current recorder does not store into Redis)."""
    return tally_for(
        provider,
        kind,
        if_new=webhook_outcome(new=True, verified=verified),
        if_duplicate=webhook_outcome(new=False, verified=verified),
    )
