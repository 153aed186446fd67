"""Subscription types: the workspace's consent records, and each contact's choices.

Intercom 2.16 models consent as attachment (attachSubscriptionTypeToContact): a contact attached to
an opt-out type has opted out of it, one attached to an opt-in type has opted in, and removing the
attachment (detachSubscriptionTypeToContact) returns them to the type's default. `GET
/contacts/{id}/subscriptions` lists the attachments only, never types left in their default.

Like a real workspace with SMS set up, the sandbox starts with a live opt-out type for SMS and one
for email; `sms=False` (the `sms_subscription_type` switch) starts it without the SMS one.

What Intercom does not document, the sandbox decides strictly, to catch a client's mistake rather
than hide it: a `consent_type` other than the type's own is refused with 400 `parameter_invalid`,
and removing an attachment the contact does not have answers 404 `not_found`, as an unknown type does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.dev.sandbox.errors import ApiError

CONSENT_TYPES = ("opt_out", "opt_in")
STATES = ("live", "draft", "archived")
CONTENT_TYPES = ("email", "sms_message")
CONTENT_LABELS = {"sms_message": "SMS", "email": "Email"}
NOT_FOUND = "Resource Not Found"  # the description's example for an unknown subscription type


@dataclass(frozen=True)
class SubscriptionType:
    id: str
    name: str
    consent_type: str = "opt_out"
    content_types: tuple[str, ...] = ("sms_message",)
    state: str = "live"
    description: str = ""

    @property
    def label(self) -> str:
        """How the dashboard names it: by what it covers ("SMS"), as a person thinks of it."""
        return "/".join(CONTENT_LABELS.get(kind, kind) for kind in self.content_types) or self.name

    def choice(self) -> str:
        """What being attached to this type means for the contact."""
        return "opted_out" if self.consent_type == "opt_out" else "opted_in"

    def to_json(self) -> dict[str, Any]:
        translation = {"name": self.name, "description": self.description, "locale": "en"}
        return {
            "type": "subscription",
            "id": self.id,
            "state": self.state,
            "consent_type": self.consent_type,
            "default_translation": translation,
            "translations": [translation],
            "content_types": list(self.content_types),
        }

    @classmethod
    def from_config(cls, fields: dict[str, Any], *, default_id: str) -> SubscriptionType:
        """A type as `PUT /_sandbox/config` describes it; anything Intercom could not hold is refused."""
        kind = cls(
            id=str(fields.get("id") or default_id),
            name=str(fields.get("name") or "Subscription"),
            consent_type=str(fields.get("consent_type") or "opt_out"),
            content_types=tuple(str(c) for c in fields.get("content_types") or ("sms_message",)),
            state=str(fields.get("state") or "live"),
            description=str(fields.get("description") or ""),
        )
        if (
            kind.consent_type not in CONSENT_TYPES
            or kind.state not in STATES
            or not set(kind.content_types) <= set(CONTENT_TYPES)
        ):
            raise ApiError(
                400,
                "parameter_invalid",
                f"a subscription type needs consent_type in {CONSENT_TYPES}, state in {STATES}"
                f" and content_types from {CONTENT_TYPES}",
            )
        return kind


SMS_TYPE = SubscriptionType(
    id="1002",
    name="SMS messages",
    content_types=("sms_message",),
    description="Text messages from our team",
)
EMAIL_TYPE = SubscriptionType(
    id="1001", name="Newsletters", content_types=("email",), description="News and product updates"
)


def default_types(*, sms: bool = True) -> list[SubscriptionType]:
    return [EMAIL_TYPE, SMS_TYPE] if sms else [EMAIL_TYPE]


class Subscriptions:
    """The workspace's subscription types, and which of them each contact is attached to."""

    def __init__(self, types: list[SubscriptionType]) -> None:
        self.types: dict[str, SubscriptionType] = {}
        self.attached: dict[str, list[str]] = {}  # contact id -> type ids, in the order attached
        self.replace(types)

    def replace(self, types: list[SubscriptionType]) -> None:
        """Use `types` from now on; attachments to a type no longer there go with it."""
        if len({kind.id for kind in types}) != len(types):
            raise ApiError(400, "parameter_invalid", "subscription type ids must be unique")
        self.types = {kind.id: kind for kind in types}
        for contact_id, ids in self.attached.items():
            self.attached[contact_id] = [i for i in ids if i in self.types]

    def configure(self, fields: list[Any]) -> None:
        """The types `PUT /_sandbox/config` gives (`subscription_types`); ids default to 1001, 1002…"""
        if not isinstance(fields, list) or not all(isinstance(item, dict) for item in fields):
            raise ApiError(400, "parameter_invalid", "subscription_types must be a list of objects")
        self.replace(
            [SubscriptionType.from_config(item, default_id=str(1001 + n)) for n, item in enumerate(fields)]
        )

    def set_sms(self, enabled: bool) -> None:
        """The `sms_subscription_type` switch: False leaves the workspace without any type covering
        SMS; True gives it the default one unless it has one already."""
        covers_sms = [kind for kind in self.types.values() if "sms_message" in kind.content_types]
        if not enabled:
            self.replace([kind for kind in self.types.values() if kind not in covers_sms])
        elif not covers_sms:
            self.replace([*self.types.values(), SMS_TYPE])

    def list_json(self) -> dict[str, Any]:
        return {"type": "list", "data": [kind.to_json() for kind in self.types.values()]}

    def of(self, contact_id: str) -> list[SubscriptionType]:
        return [self.types[i] for i in self.attached.get(contact_id, []) if i in self.types]

    def contact_json(self, contact_id: str) -> dict[str, Any]:
        """`GET /contacts/{id}/subscriptions`: the types the contact is attached to."""
        return {"type": "list", "data": [kind.to_json() for kind in self.of(contact_id)]}

    def attach(self, contact_id: str, fields: dict[str, Any]) -> SubscriptionType:
        """`POST /contacts/{id}/subscriptions` (`{"id", "consent_type"}`), for a contact that exists."""
        for name in ("id", "consent_type"):
            if fields.get(name) in (None, ""):
                raise ApiError(400, "parameter_not_found", f"{name} is a required parameter", field=name)
        consent = fields["consent_type"]
        if consent not in CONSENT_TYPES:
            raise ApiError(
                400, "parameter_invalid", "consent_type must be opt_out or opt_in", field="consent_type"
            )
        kind = self._type(str(fields["id"]))
        if consent != kind.consent_type:
            raise ApiError(
                400,
                "parameter_invalid",
                f"subscription type {kind.id} is {kind.consent_type}, not {consent}",
                field="consent_type",
            )
        ids = self.attached.setdefault(contact_id, [])
        if kind.id not in ids:
            ids.append(kind.id)
        return kind

    def detach(self, contact_id: str, type_id: str) -> SubscriptionType:
        """`DELETE /contacts/{id}/subscriptions/{type id}`, for a contact that exists."""
        kind = self._type(type_id)
        ids = self.attached.get(contact_id, [])
        if kind.id not in ids:
            raise ApiError(404, "not_found", NOT_FOUND)
        ids.remove(kind.id)
        return kind

    def forget(self, contact_id: str) -> None:
        self.attached.pop(contact_id, None)

    def state_json(self, contact_id: str) -> list[dict[str, Any]]:
        """A contact's choices for `/_sandbox/state`: each attached type and what it means."""
        return [
            {
                "id": kind.id,
                "name": kind.name,
                "content_types": list(kind.content_types),
                "consent_type": kind.consent_type,
                "choice": kind.choice(),
            }
            for kind in self.of(contact_id)
        ]

    def _type(self, type_id: str) -> SubscriptionType:
        kind = self.types.get(type_id)
        if kind is None:
            raise ApiError(404, "not_found", NOT_FOUND)
        return kind
