"""The parts of Intercom's objects the bridge reads, as small typed values."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ConversationState(StrEnum):
    """A conversation's state in Intercom's inbox, as its webhooks report it."""

    OPEN = "open"
    SNOOZED = "snoozed"
    CLOSED = "closed"


@dataclass(frozen=True)
class ContactRef:
    """Enough of a contact to talk as it: Intercom needs the role to open a conversation from it."""

    id: str
    role: str


@dataclass(frozen=True)
class AdminMessage:
    """A message an admin wrote first (`POST /messages`) and the conversation it opened.

    Intercom names them apart: `message_id` is the conversation's `source.id`, the key to find the
    conversation again when an answer leaves it out."""

    message_id: str
    conversation_id: str


@dataclass(frozen=True)
class Contact:
    id: str
    role: str
    updated_at: int
    created_at: int
    phone: str | None = None
    name: str | None = None
    email: str | None = None
    external_id: str | None = None

    @property
    def ref(self) -> ContactRef:
        return ContactRef(id=self.id, role=self.role)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Contact:
        return cls(
            id=str(data["id"]),
            role=str(data.get("role") or "lead"),
            updated_at=int(data.get("updated_at") or 0),
            created_at=int(data.get("created_at") or 0),
            phone=data.get("phone") or None,
            name=data.get("name") or None,
            email=data.get("email") or None,
            external_id=data.get("external_id") or None,
        )

    def summary(self) -> dict[str, Any]:
        """What the ledger keeps about a candidate (for ops and the inbox app), no phone number."""
        return {"id": self.id, "role": self.role, "name": self.name, "updated_at": self.updated_at}


# A subscription type's `consent_type` (2.16 `subscription_type`): with `opt_out` every contact
# receives its messages until opted out; with `opt_in` none does until opted in.
OPT_OUT = "opt_out"
OPT_IN = "opt_in"
# The `content_types` entry of a subscription type covering SMS (the other is `email`).
SMS_CONTENT = "sms_message"


@dataclass(frozen=True)
class SubscriptionType:
    """A workspace's subscription type (`GET /subscription_types`): what Intercom's own tools check
    before they send a message of one of its `content_types`. `name` is the default translation's."""

    id: str
    state: str  # live, draft or archived
    consent_type: str  # OPT_OUT or OPT_IN
    content_types: tuple[str, ...]
    name: str | None = None

    @property
    def live(self) -> bool:
        return self.state == "live"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SubscriptionType:
        translation = data.get("default_translation") or {}
        return cls(
            id=str(data["id"]),
            state=str(data.get("state") or ""),
            consent_type=str(data.get("consent_type") or ""),
            content_types=tuple(str(kind) for kind in data.get("content_types") or ()),
            name=(translation.get("name") or None) if isinstance(translation, dict) else None,
        )
