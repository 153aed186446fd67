"""Routing by business number: who a conversation the bridge opens is assigned to.

`BRIDGE_ROUTES` (`+12025550100=team:501,whatsapp:106540352242922=admin:991`) names, per business
address, a team or a teammate: a conversation the bridge opens for a customer's message to that
address is assigned to them at once, as the bridge's admin (`POST /conversations/{id}/parts`,
`message_type: assignment`). Addresses are compared as `bridge.core.addresses.business_key`s, so
`12025550100` from Vonage meets a route written `+12025550100`.

Only conversations the bridge opens: one that continues keeps whoever the team gave it to, and one
the team opened is the team's already. Unrouted addresses are left to Intercom's own assignment
(its rules can read the conversation's channel attributes, `bridge.conversations.labels`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.core.addresses import business_key
from bridge.core.settings import Settings


@dataclass(frozen=True)
class Route:
    """A team or a teammate, by their Intercom id."""

    kind: str  # "team" or "admin": Intercom's assignee `type`
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


def route_for(settings: Settings, channel: str, business_number: str) -> Route | None:
    """Who conversations opened for messages to `business_number` on `channel` go to; None when
    `BRIDGE_ROUTES` leaves the address to Intercom."""
    found = settings.routes.get(business_key(channel, business_number))
    return Route(*found) if found is not None else None
