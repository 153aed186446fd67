"""The sandbox's in-memory Intercom workspace and its switches (search lag, faults, latency,
rate limit).

Objects are rendered in Intercom 2.16's shapes (checked against the official OpenAPI description
by the tests). Behaviour follows what Intercom documents and what the bridge must survive:
search does not see contacts or conversations created less than `search_lag` seconds ago;
creating a contact whose email or external_id is taken answers 409 naming it; merging works only
lead -> user, needs a shared email or phone unless told to skip that check, moves the lead's
conversations and leaves the lead answering 410 with a `Link` to the survivor.
"""

from __future__ import annotations

import itertools
import math
import random
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from bridge.dev.sandbox.errors import ApiError
from bridge.dev.sandbox.labels import Labels
from bridge.dev.sandbox.subscriptions import Subscriptions, default_types
from bridge.dev.sandbox.uploads import DEFAULT_MAX_BYTES, FileField, Upload, upload_url

WORKSPACE_ID = "sandbox"
RATE_WINDOW_SECONDS = 10
# Intercom's default: 10,000 calls a minute per app, enforced in 10-second windows.
DEFAULT_RATE_LIMIT = 10_000 // 6
RATE_TALLIES_KEPT = 8_640  # a day of 10-second windows


def _formatted_phone(phone: str | None) -> str | None:
    """Intercom's E.164 `formatted_phone`: only numbers written with a country code normalize."""
    if not phone or not phone.strip().startswith("+"):
        return None
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(phone, None), phonenumbers.PhoneNumberFormat.E164
        )
    except phonenumbers.NumberParseException:
        return None


def _list_stub(url: str) -> dict[str, Any]:
    return {"type": "list", "data": [], "url": url, "total_count": 0, "has_more": False}


@dataclass
class Contact:
    id: str
    role: str
    created_at: int
    updated_at: int
    visible_at: float  # when search starts to see it
    phone: str | None = None
    name: str | None = None
    email: str | None = None
    external_id: str | None = None
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    merged_into: str | None = None

    def search_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "name": self.name,
            "email": self.email,
            "email_domain": (self.email or "").partition("@")[2] or None,
            "phone": self.phone,
            "formatted_phone": _formatted_phone(self.phone),
            "external_id": self.external_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "custom_attributes": self.custom_attributes,
        }

    def to_json(self) -> dict[str, Any]:
        email = self.email or ""
        return {
            "type": "contact",
            "id": self.id,
            "workspace_id": WORKSPACE_ID,
            "external_id": self.external_id,
            "role": self.role,
            "email": email,
            "email_domain": email.partition("@")[2],
            "phone": self.phone,
            "name": self.name,
            "avatar": None,
            "owner_id": None,
            "social_profiles": {"type": "list", "data": []},
            "has_hard_bounced": False,
            "marked_email_as_spam": False,
            "unsubscribed_from_emails": False,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "signed_up_at": self.created_at if self.role == "user" else None,
            "last_seen_at": None,
            "last_replied_at": None,
            "last_contacted_at": None,
            "last_email_opened_at": None,
            "last_email_clicked_at": None,
            "language_override": None,
            "browser": None,
            "browser_version": None,
            "browser_language": None,
            "os": None,
            "custom_attributes": dict(self.custom_attributes),
            "tags": _list_stub(f"/contacts/{self.id}/tags"),
            "notes": _list_stub(f"/contacts/{self.id}/notes"),
            "companies": _list_stub(f"/contacts/{self.id}/companies"),
            "location": {"type": "location", "country": None, "region": None, "city": None},
        }

    def author(self) -> dict[str, Any]:
        author: dict[str, Any] = {"type": self.role, "id": self.id, "name": self.name}
        if self.email:
            author["email"] = self.email
        return author


@dataclass
class Part:
    id: str
    part_type: str
    body: str
    created_at: int
    author: dict[str, Any]
    attachment_urls: list[str] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)  # `attachment_files`, kept (they win over URLs)
    assigned_to: dict[str, Any] | None = None  # an assignment part's assignee: {type, id}

    def to_json(self) -> dict[str, Any]:
        attachments = (
            [upload.to_json() for upload in self.uploads]
            if self.uploads
            else [_attachment(url) for url in self.attachment_urls]
        )
        extra = {"assigned_to": self.assigned_to} if self.assigned_to is not None else {}
        return extra | {
            "type": "conversation_part",
            "id": self.id,
            "part_type": self.part_type,
            "body": self.body,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "notified_at": self.created_at,
            "author": self.author,
            "attachments": attachments,
            "external_id": None,
            "redacted": False,
            "app_package_code": "bridge" if self.author.get("type") in ("user", "lead") else None,
        }


def _attachment(url: str) -> dict[str, Any]:
    return {"type": "upload", "name": url.rsplit("/", 1)[-1] or "attachment", "url": url, "content_type": ""}


@dataclass
class Conversation:
    id: str
    source_id: str
    created_at: int
    updated_at: int
    contact_ids: list[str]
    source_author: dict[str, Any]
    source_body: str
    source_attachment_urls: list[str]
    state: str = "open"
    parts: list[Part] = field(default_factory=list)
    # `customer_initiated` when the contact wrote first, `admin_initiated` for an admin's message.
    delivered_as: str = "customer_initiated"
    visible_at: float = 0.0  # when search starts to see it
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[dict[str, Any]] = field(default_factory=list)  # as applied: with applied_at, applied_by
    admin_assignee_id: int = 0  # 0: nobody
    team_assignee_id: int = 0

    def search_record(self) -> dict[str, Any]:
        """The fields `POST /conversations/search` filters on (`search.CONVERSATION_FIELDS`)."""
        author = self.source_author
        return {
            "id": self.id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "source.type": "conversation",
            "source.id": self.source_id,
            "source.delivered_as": self.delivered_as,
            "source.author.id": author.get("id"),
            "source.author.type": author.get("type"),
            "source.author.name": author.get("name"),
            "source.author.email": author.get("email"),
            "contact_ids": list(self.contact_ids),
            "admin_assignee_id": self.admin_assignee_id,
            "team_assignee_id": self.team_assignee_id,
            "tag_ids": [tag["id"] for tag in self.tags],
            "open": self.state == "open",
            "read": False,
            "state": self.state,
            "priority": "none",
            "custom_attributes": dict(self.custom_attributes),
        }

    def list_item(self, contacts: dict[str, Contact]) -> dict[str, Any]:
        """The conversation as a list or search answers it: without its parts."""
        item = self.to_json(contacts)
        del item["conversation_parts"]
        return item

    def to_json(self, contacts: dict[str, Contact]) -> dict[str, Any]:
        return {
            "type": "conversation",
            "id": self.id,
            "title": None,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "waiting_since": None,
            "snoozed_until": None,
            "open": self.state == "open",
            "state": self.state,
            "read": False,
            "priority": "none",
            "admin_assignee_id": self.admin_assignee_id,
            "team_assignee_id": self.team_assignee_id,
            "tags": {"type": "tag.list", "tags": [dict(tag) for tag in self.tags]},
            "source": {
                "type": "conversation",
                "id": self.source_id,
                "delivered_as": self.delivered_as,
                "subject": "",
                "body": self.source_body,
                "author": self.source_author,
                "attachments": [_attachment(url) for url in self.source_attachment_urls],
                "url": None,
                "redacted": False,
            },
            "contacts": {
                "type": "contact.list",
                "contacts": [
                    {
                        "type": "contact",
                        "id": cid,
                        "external_id": contacts[cid].external_id if cid in contacts else None,
                    }
                    for cid in self.contact_ids
                ],
            },
            "teammates": {"type": "admin.list", "teammates": []},
            "custom_attributes": dict(self.custom_attributes),
            "conversation_parts": {
                "type": "conversation_part.list",
                "conversation_parts": [part.to_json() for part in self.parts],
                "total_count": len(self.parts),
            },
        }


@dataclass
class Fault:
    """Answer `status` instead of serving, `times` times (None: until cleared), for paths under
    `path_prefix`, to a `rate` share of matching requests (1.0: all of them). `after`: serve the
    request (it is applied) and then answer `status` instead of its answer."""

    status: int
    times: int | None = 1
    path_prefix: str = "/"
    rate: float = 1.0
    reset_in: float = 1.0  # for 429: seconds until X-RateLimit-Reset
    after: bool = False


@dataclass
class WindowTally:
    """One rate-limit window's calls (answered or not) and how many of them got its 429."""

    start: float  # unix seconds
    calls: int = 0
    limited: int = 0


@dataclass(frozen=True)
class RateWindow:
    limit: int
    remaining: int
    reset: int  # unix seconds when the window ends
    exceeded: bool
    seconds: float = RATE_WINDOW_SECONDS

    def exceeded_message(self) -> str:
        """Intercom's wording: `Exceeded rate limit of 167 in 10_seconds`."""
        return f"Exceeded rate limit of {self.limit} in {self.seconds:g}_seconds"

    def headers(self, *, remaining: int | None = None) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining if remaining is None else remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


@dataclass
class Exchange:
    """One request the sandbox served, for tests that check the wire format."""

    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: Any
    status: int
    response_headers: dict[str, str]
    response_body: Any
    at: float = 0.0  # unix time it was answered: benchmarks time messages by it


class Workspace:
    """Everything the sandbox holds. Mutated only from the event loop, so no locks are needed."""

    def __init__(
        self,
        *,
        token: str | None = None,
        webhook_url: str | None = None,
        client_secret: str | None = None,
        sms_subscription_type: bool = True,
    ) -> None:
        self.token = token
        self.webhook_url = webhook_url  # where notifications go (the bridge's /intercom/webhooks)
        self.client_secret = client_secret  # signs them
        # False: a workspace without an SMS subscription type, from the start and after each reset.
        self.sms_subscription_type = sms_subscription_type
        self.reset()

    def reset(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.conversations: dict[str, Conversation] = {}
        self.data_attributes: dict[str, dict[str, Any]] = {}
        self.labels = Labels()  # conversation attributes and tags (`bridge.dev.sandbox.labels`)
        self.uploads: dict[str, Upload] = {}  # files replies carried, by id (`sandbox.uploads`)
        self.attachment_max_bytes = DEFAULT_MAX_BYTES  # the largest file a reply may carry
        self.subscriptions = Subscriptions(default_types(sms=self.sms_subscription_type))
        self.admins = [
            {"type": "admin", "id": "991267101", "name": "Sandbox Admin", "email": "admin@sandbox.test"}
        ]
        # Conversations can be assigned to these (`PUT /_sandbox/config` with `teams` replaces them).
        self.teams: list[dict[str, Any]] = [_team("991267301", "Sandbox Team", [991267101])]
        self.search_lag = 0.0
        self.latency = 0.0
        # Intercom's docs warn that a message may come back without its conversation: this leaves
        # `conversation_id` out of every `POST /messages` answer (the conversation is still opened).
        self.messages_without_conversation_id = False
        # The app's webhook subscription: the topics notified (None: every topic the sandbox fires).
        self.topics: frozenset[str] | None = None
        # True: notifications are kept, not sent, until released (`POST /_sandbox/webhooks/release`):
        # a bridge that was down or slow when Intercom fired, then Intercom's retry, late.
        self.hold_webhooks = False
        self.held: list[Any] = []  # notifications kept (sandbox.notifications.Held), oldest first
        self.faults: list[Fault] = []
        self.rate_limit = DEFAULT_RATE_LIMIT  # calls a window; 0: no limit (calls still counted)
        self.rate_window_seconds = float(RATE_WINDOW_SECONDS)
        self.rate_tallies: deque[WindowTally] = deque(maxlen=RATE_TALLIES_KEPT)
        self.exchanges: deque[Exchange] = deque(maxlen=20_000)
        self.deliveries: list[Any] = []  # webhook notifications sent (sandbox.notifications.Delivery)
        self._ids = itertools.count(1)
        self._rng = random.Random(7)

    # --- switches ---

    def take_fault(self, path: str, *, after: bool = False) -> Fault | None:
        """The fault to inject into a request to `path`, of those applied `after` serving it or
        before; counted as used."""
        for fault in self.faults:
            if fault.after != after or not path.startswith(fault.path_prefix) or fault.times == 0:
                continue
            if fault.rate < 1.0 and self._rng.random() >= fault.rate:
                continue
            if fault.times is not None:
                fault.times -= 1
            return fault
        return None

    def set_rate_limit(self, per_window: int, window_seconds: float) -> None:
        """Limit calls to `per_window` in fixed windows of `window_seconds` (0: count only),
        counted afresh from now."""
        if per_window < 0 or not window_seconds > 0:
            raise ApiError(400, "parameter_invalid", "per_window must be >= 0 and window_seconds > 0")
        self.rate_limit = per_window
        self.rate_window_seconds = float(window_seconds)
        self.rate_tallies.clear()

    def count_call(self, now: float) -> RateWindow:
        """Count one call in the current window (windows start at multiples of its length)."""
        seconds = self.rate_window_seconds
        start = math.floor(now / seconds) * seconds
        if not self.rate_tallies or self.rate_tallies[-1].start != start:
            self.rate_tallies.append(WindowTally(start))
        tally = self.rate_tallies[-1]
        tally.calls += 1
        exceeded = self.rate_limit > 0 and tally.calls > self.rate_limit
        tally.limited += int(exceeded)
        return RateWindow(
            limit=self.rate_limit,
            remaining=max(self.rate_limit - tally.calls, 0),
            reset=math.ceil(start + seconds),
            exceeded=exceeded,
            seconds=seconds,
        )

    def rate_report(self) -> dict[str, Any]:
        """The limit, and each window's calls and 429s (windows without calls are left out)."""
        return {
            "per_window": self.rate_limit,
            "window_seconds": self.rate_window_seconds,
            "calls": sum(tally.calls for tally in self.rate_tallies),
            "limited": sum(tally.limited for tally in self.rate_tallies),
            "windows": [tally.__dict__ for tally in self.rate_tallies],
        }

    # --- ids ---

    def _contact_id(self) -> str:
        return secrets.token_hex(12)

    def _number_id(self) -> str:
        return str(100_000_000 + next(self._ids))

    def message_id(self) -> str:
        """The id of an admin's message that opened no conversation (numbers, as parts' ids)."""
        return self._number_id()

    # --- data attributes (custom contact attributes must be defined before use) ---

    def create_data_attribute(self, fields: dict[str, Any]) -> dict[str, Any]:
        name = str(fields.get("name") or "")
        if fields.get("model") != "contact" or not name:
            raise ApiError(400, "parameter_invalid", "name and model (contact) are required")
        if name in self.data_attributes:
            raise ApiError(400, "parameter_invalid", f"You already have '{name}' in your workspace.")
        now = int(time.time())
        attribute = {
            "type": "data_attribute",
            "id": len(self.data_attributes) + 1,
            "model": "contact",
            "name": name,
            "full_name": f"custom_attributes.{name}",
            "label": name,
            "description": str(fields.get("description") or ""),
            "data_type": str(fields.get("data_type") or "string"),
            "api_writable": True,
            "ui_writable": True,
            "messenger_writable": bool(fields.get("messenger_writable", False)),
            "custom": True,
            "archived": False,
            "created_at": now,
            "updated_at": now,
        }
        self.data_attributes[name] = attribute
        return attribute

    def check_custom_attributes(self, names: Any) -> None:
        for name in names or ():
            if name not in self.data_attributes:
                raise ApiError(400, "parameter_invalid", f"Custom attribute '{name}' does not exist")

    # --- contacts ---

    def create_contact(
        self, fields: dict[str, Any], *, now: float | None = None, searchable: bool = False
    ) -> Contact:
        now = time.time() if now is None else now
        role = fields.get("role") or ("user" if fields.get("external_id") or fields.get("email") else "lead")
        self.check_custom_attributes(fields.get("custom_attributes"))
        if role not in ("user", "lead"):
            raise ApiError(400, "parameter_invalid", "role must be one of user, lead")
        for unique in ("email", "external_id"):
            value = fields.get(unique)
            if value:
                for other in self.live_contacts():
                    if getattr(other, unique) == value:
                        raise ApiError(
                            409,
                            "conflict",
                            f"A contact matching those details already exists with id={other.id}",
                        )
        created = int(fields.get("created_at") or now)
        contact = Contact(
            id=self._contact_id(),
            role=role,
            created_at=created,
            updated_at=int(fields.get("updated_at") or now),
            visible_at=0.0 if searchable else now + self.search_lag,
            phone=fields.get("phone"),
            name=fields.get("name"),
            email=fields.get("email"),
            external_id=fields.get("external_id"),
            custom_attributes=dict(fields.get("custom_attributes") or {}),
        )
        self.contacts[contact.id] = contact
        return contact

    def live_contacts(self) -> list[Contact]:
        return [contact for contact in self.contacts.values() if contact.merged_into is None]

    def contact(self, contact_id: str) -> Contact:
        """A live contact; 410 with a `Link` to the survivor for a merged one, 404 otherwise."""
        contact = self.contacts.get(contact_id)
        if contact is None:
            raise ApiError(404, "not_found", "User Not Found")
        hops = 0
        survivor = contact
        while survivor.merged_into is not None and hops < 3:
            survivor = self.contacts[survivor.merged_into]
            hops += 1
        if survivor is not contact:
            raise ApiError(
                410,
                "contact_merged",
                "This contact has been merged. See the 'Link' header for the canonical contact.",
                headers={"Link": f'</contacts/{survivor.id}>; rel="canonical"'},
            )
        return contact

    def delete_contact(self, contact_id: str) -> Contact:
        """Delete a contact outright, and the conversations that were only theirs: afterwards both
        answer 404, as in a workspace where someone deleted the person (a GDPR erasure)."""
        contact = self.contact(contact_id)
        del self.contacts[contact.id]
        self.subscriptions.forget(contact.id)
        for conversation_id, conversation in list(self.conversations.items()):
            if conversation.contact_ids == [contact.id]:
                del self.conversations[conversation_id]
        return contact

    def update_contact(self, contact_id: str, fields: dict[str, Any]) -> Contact:
        contact = self.contact(contact_id)
        for name in ("role", "phone", "name", "email", "external_id"):
            if name in fields:
                setattr(contact, name, fields[name])
        if "custom_attributes" in fields:
            self.check_custom_attributes(fields["custom_attributes"])
            contact.custom_attributes.update(fields["custom_attributes"] or {})
        contact.updated_at = int(time.time())
        return contact

    def searchable(self, now: float) -> list[Contact]:
        return [contact for contact in self.live_contacts() if contact.visible_at <= now]

    def merge(self, from_id: str, into_id: str, *, skip_duplicate_validation: bool) -> Contact:
        source, target = self.contact(from_id), self.contact(into_id)
        if source.id == target.id:
            raise ApiError(400, "invalid_merge", "A contact cannot be merged into itself")
        if source.role != "lead" or target.role != "user":
            raise ApiError(400, "invalid_merge", "Merging can only be performed on a lead into a user")
        shared = (source.email and source.email == target.email) or (
            _formatted_phone(source.phone)
            and _formatted_phone(source.phone) == _formatted_phone(target.phone)
        )
        if not shared and not skip_duplicate_validation:
            raise ApiError(
                400,
                "invalid_merge",
                "Contacts can only be merged when they are duplicates (matching email or phone). "
                "Pass skip_duplicate_validation=true to override this check.",
            )
        for name in ("phone", "name", "email"):
            if not getattr(target, name) and getattr(source, name):
                setattr(target, name, getattr(source, name))
        for conversation in self.conversations.values():
            if source.id in conversation.contact_ids:
                conversation.contact_ids = [
                    target.id if c == source.id else c for c in conversation.contact_ids
                ]
        source.merged_into = target.id
        target.updated_at = int(time.time())
        return target

    # --- conversations ---

    def create_conversation(
        self, *, contact: Contact, body: str, attachment_urls: list[str], created_at: int | None = None
    ) -> Conversation:
        """`created_at`: the time the conversation says it began (a migration, a late message)."""
        now = int(time.time())
        conversation = Conversation(
            id=self._number_id(),
            source_id=self._number_id(),
            created_at=now if created_at is None else created_at,
            updated_at=now,
            contact_ids=[contact.id],
            source_author=contact.author(),
            source_body=body,
            source_attachment_urls=attachment_urls,
            visible_at=now + self.search_lag,
        )
        self.conversations[conversation.id] = conversation
        return conversation

    def open_admin_conversation(self, *, contact: Contact, admin: dict[str, Any], body: str) -> Conversation:
        """The conversation an admin's message opens (`POST /messages` with
        `create_conversation_without_contact_reply`): the message is its source, authored by the admin,
        and the source's id is the message's."""
        now = int(time.time())
        conversation = Conversation(
            id=self._number_id(),
            source_id=self._number_id(),
            created_at=now,
            updated_at=now,
            contact_ids=[contact.id],
            source_author={
                "type": "admin",
                "id": admin["id"],
                "name": admin["name"],
                "email": admin["email"],
            },
            source_body=body,
            source_attachment_urls=[],
            delivered_as="admin_initiated",
            visible_at=now + self.search_lag,
        )
        self.conversations[conversation.id] = conversation
        return conversation

    def searchable_conversations(self, now: float) -> list[Conversation]:
        return [
            conversation for conversation in self.conversations.values() if conversation.visible_at <= now
        ]

    def conversation(self, conversation_id: str) -> Conversation:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            raise ApiError(404, "not_found", "Resource Not Found")
        return conversation

    def add_part(
        self,
        conversation: Conversation,
        *,
        part_type: str,
        body: str,
        author: dict[str, Any],
        attachment_urls: list[str],
        uploads: list[Upload] | None = None,
        created_at: int | None = None,
        assigned_to: dict[str, Any] | None = None,
    ) -> Part:
        """A part; `created_at`: the time it says it was written (else now)."""
        now = int(time.time())
        part = Part(
            id=self._number_id(),
            part_type=part_type,
            body=body,
            created_at=now if created_at is None else created_at,
            author=author,
            attachment_urls=attachment_urls,
            uploads=uploads or [],
            assigned_to=assigned_to,
        )
        conversation.parts.append(part)
        conversation.updated_at = now
        return part

    def keep_files(self, files: list[FileField], *, base_url: str) -> list[Upload]:
        """Keep the files a reply carried, each served at its own URL under `base_url`."""
        uploads = []
        for file in files:
            upload_id = self._number_id()
            url = upload_url(base_url, upload_id, file.name)
            upload = Upload(upload_id, file.name, file.content_type, file.data, url)
            self.uploads[upload_id] = upload
            uploads.append(upload)
        return uploads

    def set_state(self, conversation: Conversation, state: str) -> None:
        conversation.state = state
        conversation.updated_at = int(time.time())

    def admin(self, admin_id: str) -> dict[str, Any]:
        for admin in self.admins:
            if admin["id"] == str(admin_id):
                return admin
        raise ApiError(404, "admin_not_found", "Admin not found")

    def team(self, team_id: str) -> dict[str, Any]:
        for team in self.teams:
            if team["id"] == str(team_id):
                return team
        raise ApiError(404, "team_not_found", "Team not found")

    def set_teams(self, teams: Any) -> None:
        """`[{"id": "501", "name": "Sales"}, …]`: the workspace's teams from now on."""
        if not isinstance(teams, list) or not all(isinstance(t, dict) and t.get("id") for t in teams):
            raise ApiError(400, "parameter_invalid", "teams must be a list of {id, name}")
        self.teams = [
            _team(str(t["id"]), str(t.get("name") or t["id"]), t.get("admin_ids") or []) for t in teams
        ]

    # --- a conversation's context: attributes, tags, assignee ---

    def tag_conversation(
        self, conversation: Conversation, tag_id: str, admin: dict[str, Any]
    ) -> dict[str, Any]:
        """Tag it (again: nothing changes); the tag as applied."""
        tag = self.labels.tag(tag_id)
        for applied in conversation.tags:
            if applied["id"] == tag["id"]:
                return applied
        applied = tag | {"applied_at": int(time.time()), "applied_by": {"type": "admin", "id": admin["id"]}}
        conversation.tags.append(applied)
        conversation.updated_at = int(time.time())
        return applied

    def untag_everywhere(self, tag_id: str) -> None:
        for conversation in self.conversations.values():
            conversation.tags = [tag for tag in conversation.tags if tag["id"] != str(tag_id)]

    def assign(self, conversation: Conversation, kind: str, assignee_id: str, admin: dict[str, Any]) -> Part:
        """Assign to a team or an admin (`assignee_id` "0": unassign), as `admin`; the
        assignment part, as Intercom adds one."""
        if kind not in ("admin", "team"):
            raise ApiError(400, "parameter_invalid", "type must be admin or team")
        if str(assignee_id) != "0":
            (self.team if kind == "team" else self.admin)(str(assignee_id))
        number = _number(assignee_id, "assignee_id")
        if kind == "team":
            conversation.team_assignee_id = number
        else:
            conversation.admin_assignee_id = number
        author = {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}
        return self.add_part(
            conversation,
            part_type="assignment",
            body="",
            author=author,
            attachment_urls=[],
            assigned_to={"type": kind, "id": str(assignee_id)} if number else None,
        )


def _team(team_id: str, name: str, admin_ids: list[Any]) -> dict[str, Any]:
    return {"type": "team", "id": team_id, "name": name, "admin_ids": [int(a) for a in admin_ids]}


def _number(value: Any, name: str) -> int:
    """An id Intercom answers as an integer (`team_assignee_id`), from the string it was given."""
    try:
        return int(str(value))
    except ValueError:
        raise ApiError(400, "parameter_invalid", f"{name} must be an id") from None
