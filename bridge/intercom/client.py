"""Intercom's REST API, the calls the bridge makes, on an injected `httpx.Client`.

Every request carries the Bearer token and a pinned `Intercom-Version` (2.16): without it the
app's Developer Hub version applies and response shapes drift (research/intercom-api.md §1).

Quick retries (`bridge.core.retrying`) happen inside one job attempt: 429 waits until
`X-RateLimit-Reset` (Intercom counts in 10-second windows), 5xx, 408 and transport errors back off.
When those run out the call raises a `RetryableError` and RQ retries the job later
(`BRIDGE_RETRY_DELAYS`). Any other 4xx is permanent and keeps Intercom's own code and message.

Every attempt first books a slot of the call budget all the bridge's processes share
(`bridge.infra.rate_budget`), so together they stay under Intercom's limit; a 429 that comes anyway
pauses them all until its `X-RateLimit-Reset`.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from redis import Redis

from bridge.core import metrics
from bridge.core.cookies import NoCookies
from bridge.core.errors import (
    ConversationPending,
    IntercomConflict,
    IntercomGone,
    IntercomNotFound,
    IntercomOutcomeUnknown,
    IntercomRateLimited,
    IntercomRejected,
    IntercomUnavailable,
    PermanentError,
)
from bridge.core.retrying import RetryPolicy, back_off, call_with_retries
from bridge.core.settings import Settings
from bridge.core.tls import tls_context
from bridge.infra.rate_budget import DEFAULT_MAX_WAIT, CallBudget
from bridge.intercom.files import AttachmentFile, FileBody
from bridge.intercom.models import (
    OPT_IN,
    OPT_OUT,
    SMS_CONTENT,
    AdminMessage,
    Contact,
    ContactRef,
    SubscriptionType,
)
from bridge.intercom.parts import SentReply, body_digest, find_reply

log = logging.getLogger(__name__)

API_VERSION = "2.16"
SEARCH_PAGE_SIZE = 50
# A phone number held by more contacts than this is a data problem, not a match to make.
SEARCH_MAX_PAGES = 20
# `GET /contacts` serves at most 150 contacts a page (research/intercom-api.md §2.4, pagination).
LIST_MAX_PER_PAGE = 150
# A request carrying files takes as long to send as the files take, and Intercom stores them
# before it answers: each network step may take longer than an ordinary call's.
FILES_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Conversation search serves at most 150 a page (research/intercom-api.md §3.4).
CONVERSATION_SEARCH_PAGE_SIZE = 150
# How much earlier than asked a search on `updated_at` starts: Intercom truncates a searched
# timestamp to its calendar day in the workspace's timezone and `>` matches from the start of the
# next day (2.16, "Searching for Timestamp Fields"), so one day back is the day itself, and the
# second covers a 25-hour day when the clocks change.
UPDATED_SEARCH_MARGIN = 2 * 86400

# Intercom's resource and action names are lowercase words; its ids carry digits (hex or numeric).
_PATH_WORD = re.compile(r"[a-z_]+")
_EXISTING_ID = re.compile(r"id=([A-Za-z0-9]+)")
_CANONICAL_LINK = re.compile(r"</contacts/([^>]+)>\s*;\s*rel=\"?canonical\"?")


@dataclass(frozen=True)
class ContactPage:
    """One page of `GET /contacts`: the contacts as Intercom sent them (custom attributes
    included), the cursor of the next page (None on the last) and the total when Intercom gives it."""

    items: tuple[dict[str, Any], ...]
    next_cursor: str | None
    total_count: int | None


@dataclass(frozen=True)
class ConversationStamp:
    """A conversation as a search lists it: its id, and when it last changed (Intercom's clock)."""

    id: str
    updated_at: float


def intercom_http(
    settings: Settings, *, transport: httpx.BaseTransport | None = None, pool_size: int | None = None
) -> httpx.Client:
    """The HTTP client for the configured workspace's API. `pool_size` keeps that many
    connections open, for a process whose concurrent jobs share the client; otherwise httpx's
    own limits (100 connections, 20 kept alive)."""
    limits = (
        httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        if pool_size is not None
        else httpx.Limits(max_connections=100, max_keepalive_connections=20)
    )
    return httpx.Client(
        base_url=settings.intercom_api_url.rstrip("/"),
        headers={
            "Authorization": f"Bearer {settings.secret('intercom_access_token')}",
            "Intercom-Version": API_VERSION,
            "Accept": "application/json",
            "User-Agent": "bridge (+https://github.com/bridge)",
        },
        timeout=httpx.Timeout(15.0, connect=5.0),
        transport=transport,
        verify=tls_context(),
        limits=limits,
        cookies=NoCookies(),
    )


class IntercomClient:
    def __init__(
        self, http: httpx.Client, *, policy: RetryPolicy | None = None, budget: CallBudget | None = None
    ) -> None:
        self._http = http
        self._policy = policy or RetryPolicy()
        self._budget = budget
        self._known_attributes: set[str] = set()
        self._owns_http = True

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        redis_client: Redis | None = None,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        budget_wait: float = DEFAULT_MAX_WAIT,
        http: httpx.Client | None = None,
    ) -> IntercomClient:
        """A client for the configured workspace. With `redis_client`, every attempt books a slot
        of the budget shared through that Redis (`BRIDGE_INTERCOM_CALLS_PER_MINUTE`): the bridge's
        processes all pass theirs. Without, none: a one-off check, or tests of the client alone.
        `budget_wait` caps the wait for a slot: someone waiting on an answer (the inbox app)
        prefers "try again" to a long silence. `http` is a client from `intercom_http` that
        outlives this one (a threaded worker's, shared by its jobs): closing this one then leaves
        it open."""
        if http is None:
            http = intercom_http(settings, transport=transport)
            owned = True
        else:
            owned = False
        budget = (
            CallBudget.from_settings(settings, redis_client, max_wait=budget_wait)
            if redis_client is not None
            else None
        )
        client = cls(http, policy=policy or RetryPolicy(backoff=settings.http_backoff), budget=budget)
        client._owns_http = owned
        return client

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> IntercomClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- the calls the bridge makes ---

    def me(self) -> dict[str, Any]:
        return self.request("GET", "/me")

    def ensure_data_attribute(self, name: str, *, description: str) -> None:
        """Create the contact custom attribute `name` (string) unless it exists: Intercom refuses
        values for attributes nobody defined. Checked once per client."""
        if name in self._known_attributes:
            return
        listed = self.request("GET", "/data_attributes", params={"model": "contact"})
        names = {str(item.get("name")) for item in listed.get("data", []) if isinstance(item, dict)}
        if name not in names:
            self.request(
                "POST",
                "/data_attributes",
                json={"name": name, "model": "contact", "data_type": "string", "description": description},
            )
        self._known_attributes.add(name)

    def has_data_attribute(self, name: str) -> bool:
        """Whether the contact custom attribute `name` is defined (a read; creates nothing)."""
        listed = self.request("GET", "/data_attributes", params={"model": "contact"})
        return any(isinstance(item, dict) and item.get("name") == name for item in listed.get("data", []))

    def list_contacts(
        self, *, per_page: int = LIST_MAX_PER_PAGE, starting_after: str | None = None
    ) -> ContactPage:
        """One page of every contact in the workspace (merged-away ones excluded). Unlike search,
        the list's cursor goes in the query string: `starting_after` from `pages.next`."""
        params = {"per_page": str(min(per_page, LIST_MAX_PER_PAGE))}
        if starting_after:
            params["starting_after"] = starting_after
        page = self.request("GET", "/contacts", params=params)
        cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
        total = page.get("total_count")
        return ContactPage(
            items=tuple(item for item in page.get("data", []) if isinstance(item, dict)),
            next_cursor=str(cursor) if cursor else None,
            total_count=total if isinstance(total, int) else None,
        )

    def get_contact(self, contact_id: str) -> Contact:
        return Contact.from_json(self.request("GET", f"/contacts/{_segment(contact_id)}"))

    def search_contacts(self, query: dict[str, Any]) -> list[Contact]:
        """Every contact matching `query`, across pages (the cursor goes in the body, not the URL)."""
        contacts: list[Contact] = []
        pagination: dict[str, Any] = {"per_page": SEARCH_PAGE_SIZE}
        for _ in range(SEARCH_MAX_PAGES):
            page = self.request(
                "POST",
                "/contacts/search",
                json={
                    "query": query,
                    "pagination": pagination,
                    "sort": {"field": "updated_at", "order": "descending"},
                },
            )
            contacts.extend(Contact.from_json(item) for item in page.get("data", []))
            cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
            if not cursor:
                break
            pagination = {"per_page": SEARCH_PAGE_SIZE, "starting_after": cursor}
        return contacts

    def create_contact(self, fields: dict[str, Any]) -> Contact:
        return Contact.from_json(self.request("POST", "/contacts", json=fields))

    def create_conversation(
        self,
        *,
        contact: ContactRef,
        body: str,
        attachment_urls: Sequence[str],
        created_at: int | None = None,
    ) -> str:
        """Open a conversation from the contact; Intercom answers with a Message, not the conversation.
        `created_at` (unix seconds): when the customer wrote it, so a late message sits where it
        belongs in the inbox (Intercom uses the current time without it)."""
        payload: dict[str, Any] = {"from": {"type": contact.role, "id": contact.id}, "body": body}
        if attachment_urls:
            payload["attachment_urls"] = list(attachment_urls)
        if created_at is not None:
            payload["created_at"] = created_at
        message = self.request("POST", "/conversations", json=payload)
        return str(message["conversation_id"])

    def reply_as_contact(
        self,
        conversation_id: str,
        *,
        contact_id: str,
        body: str,
        attachment_urls: Sequence[str],
        attachment_files: Sequence[AttachmentFile] = (),
        created_at: int | None = None,
    ) -> dict[str, Any]:
        """Add the customer's message to a conversation (this reopens it when closed), with
        `attachment_files` read from disk as the request goes (`bridge.intercom.files`), at
        `created_at` (unix seconds) when given: the customer's own time, not Intercom's. The
        conversation as Intercom answers.

        Posted twice, the message would show twice, so an attempt whose outcome is unknown (no
        answer, a 5xx, a 408) is not simply repeated: the conversation is read first, and when
        the reply is there its answer stands for the lost one (`bridge.intercom.parts`). When
        attempts run out, `IntercomOutcomeUnknown`: the job's retry looks again the same way."""
        payload: dict[str, Any] = {
            "message_type": "comment",
            "type": "user",
            "intercom_user_id": contact_id,
            "body": body,
        }
        if attachment_urls:
            payload["attachment_urls"] = list(attachment_urls)
        if created_at is not None:
            payload["created_at"] = created_at
        path = f"/conversations/{_segment(conversation_id)}/reply"
        sent = SentReply(contact_id, body_digest(body), created_at, since=time.time())
        for attempt in range(1, self._policy.max_attempts + 1):
            try:
                return self.request("POST", path, json=payload, files=attachment_files, repeatable=False)
            except IntercomOutcomeUnknown:
                found = self.conversation_with_reply(conversation_id, sent)
                if found is not None:
                    return found
                if attempt == self._policy.max_attempts:
                    raise
                back_off(self._policy, "Intercom", attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def conversation_with_reply(self, conversation_id: str, sent: SentReply) -> dict[str, Any] | None:
        """The conversation, when the customer's reply `sent` is in it (one read); else None."""
        conversation = self.get_conversation(conversation_id)
        part_id = find_reply(conversation, sent)
        if part_id is None:
            return None
        log.info(
            "conversation %s already holds the reply (part %s): not posting it again",
            conversation_id,
            part_id,
        )
        return conversation

    def create_admin_message(self, *, contact: ContactRef, admin_id: str, body: str) -> AdminMessage:
        """Write to the contact first, as the admin, in a conversation Intercom opens at once
        (`create_conversation_without_contact_reply`): the customer's answer and the agents' replies
        then continue it. Intercom warns that a message may have no conversation until the contact
        answers; an answer without one is looked up by the message's id, and while search does not
        show it either, `ConversationPending` names the message so a retry looks again instead of
        writing to the customer a second time."""
        payload: dict[str, Any] = {
            "message_type": "in_app",
            # The description types this id as an integer, unlike every other admin id (strings).
            "from": {"type": "admin", "id": _admin_number(admin_id)},
            "to": {"type": contact.role, "id": contact.id},
            "body": body,
            "create_conversation_without_contact_reply": True,
        }
        message = self.request("POST", "/messages", json=payload)
        message_id = message.get("id")
        if not message_id:
            # Nothing to look the conversation up by, and a retry would write to the customer again.
            raise PermanentError("Intercom took the admin's message but its answer carries no message id")
        conversation_id = message.get("conversation_id") or self.conversation_for_message(str(message_id))
        if not conversation_id:
            raise ConversationPending(
                f"Intercom created message {message_id} but shows no conversation for it yet",
                message_id=str(message_id),
            )
        return AdminMessage(message_id=str(message_id), conversation_id=str(conversation_id))

    def conversation_for_message(self, message_id: str) -> str | None:
        """The conversation an admin's message opened (its `source.id` is the message's id), or None
        while Intercom's search does not show it: search lags behind writes
        (research/intercom-api.md §3.4).

        Each hit's source is checked too, so a filter Intercom ignored can never hand back somebody
        else's conversation."""
        found = self.request(
            "POST",
            "/conversations/search",
            json={"query": {"field": "source.id", "operator": "=", "value": message_id}},
        )
        for item in found.get("conversations") or []:
            if isinstance(item, dict) and str((item.get("source") or {}).get("id")) == message_id:
                return str(item["id"])
        return None

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        """The conversation with its parts (the 500 newest), as Intercom answers it."""
        return self.request("GET", f"/conversations/{_segment(conversation_id)}")

    def updated_conversations(self, since: float) -> Iterator[ConversationStamp]:
        """Every conversation of the workspace whose `updated_at` is `since` (unix seconds) or
        later, newest first, page after page as the iteration goes on.

        A search on `updated_at > since` would miss everything changed since midnight (Intercom
        matches searched timestamps by day, `UPDATED_SEARCH_MARGIN`), so the search starts two
        days earlier, sorted by the full `updated_at`, and the iteration ends at the first
        conversation older than `since`: a page further is asked only while they are all newer."""
        query = {"field": "updated_at", "operator": ">", "value": math.floor(since) - UPDATED_SEARCH_MARGIN}
        pagination: dict[str, Any] = {"per_page": CONVERSATION_SEARCH_PAGE_SIZE}
        while True:
            page = self.request(
                "POST",
                "/conversations/search",
                json={
                    "query": query,
                    "pagination": pagination,
                    "sort": {"field": "updated_at", "order": "descending"},
                },
            )
            for item in page.get("conversations") or []:
                if not isinstance(item, dict) or not item.get("id"):
                    continue
                updated_at = _unix_time(item.get("updated_at"))
                if updated_at is not None and updated_at < since:
                    return
                # One with no readable time is listed all the same: the caller looks, rather than miss it.
                yield ConversationStamp(str(item["id"]), since if updated_at is None else updated_at)
            cursor = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
            if not cursor:
                return
            pagination = {"per_page": CONVERSATION_SEARCH_PAGE_SIZE, "starting_after": cursor}

    def reply_as_admin(
        self, conversation_id: str, *, admin_id: str, body: str, attachment_urls: Sequence[str] = ()
    ) -> str:
        """Reply in a conversation as the admin; the id of the part it created.

        Intercom announces this part as `conversation.admin.replied`, as it does an agent's reply:
        the id is how the bridge recognizes its own part when that webhook brings it back."""
        payload: dict[str, Any] = {
            "message_type": "comment",
            "type": "admin",
            "admin_id": admin_id,
            "body": body,
        }
        if attachment_urls:
            payload["attachment_urls"] = list(attachment_urls)
        path = f"/conversations/{_segment(conversation_id)}/reply"
        part_id = _last_part_by_admin(self.request("POST", path, json=payload), admin_id)
        if part_id is None:
            # The reply was made: retrying would post it twice.
            raise PermanentError(
                f"Intercom took the reply in conversation {conversation_id} but its answer shows no part"
                f" by admin {admin_id}"
            )
        return part_id

    def merge_contacts(
        self, from_id: str, into_id: str, *, skip_duplicate_validation: bool = False
    ) -> Contact:
        """Merge lead `from_id` into user `into_id` (irreversible); the surviving contact.

        API 2.16 refuses contacts that share no email or phone (`invalid_merge`) unless
        `skip_duplicate_validation` is set, which the inbox app asks an agent to confirm first."""
        payload: dict[str, Any] = {"from": from_id, "into": into_id}
        if skip_duplicate_validation:
            payload["skip_duplicate_validation"] = True
        return Contact.from_json(self.request("POST", "/contacts/merge", json=payload))

    def add_note(self, conversation_id: str, *, admin_id: str, body: str) -> dict[str, Any]:
        """An internal note in the conversation, authored by `admin_id` (never sent to the customer)."""
        payload = {"message_type": "note", "type": "admin", "admin_id": admin_id, "body": body}
        return self.request("POST", f"/conversations/{_segment(conversation_id)}/reply", json=payload)

    # --- a conversation's context: its attributes, tags and assignee ---

    def conversation_attribute_names(self) -> set[str]:
        """The names of the workspace's conversation attributes (live ones). Conversation
        attributes have an API of their own in 2.16: `/data_attributes` lists and creates only
        contact and company attributes."""
        listed = self.request("GET", "/conversations/attributes")
        return {str(item.get("name")) for item in listed.get("data", []) if isinstance(item, dict)}

    def create_conversation_attribute(self, name: str, *, description: str) -> None:
        """Define the conversation attribute `name` (a string): Intercom refuses values for
        attributes nobody defined."""
        self.request(
            "POST",
            "/conversations/attributes",
            json={"name": name, "data_type": "string", "description": description},
        )

    def update_conversation(self, conversation_id: str, *, custom_attributes: Mapping[str, str]) -> None:
        """Set conversation attributes (each defined beforehand)."""
        path = f"/conversations/{_segment(conversation_id)}"
        self.request("PUT", path, json={"custom_attributes": dict(custom_attributes)})

    def tag_id(self, name: str) -> str:
        """The id of the tag `name`, created if the workspace has none by that name (Intercom
        matches names regardless of case): one call either way."""
        tag = self.request("POST", "/tags", json={"name": name})
        if not tag.get("id"):
            raise PermanentError(f"Intercom answered POST /tags for {name!r} without the tag's id")
        return str(tag["id"])

    def tag_conversation(self, conversation_id: str, *, tag_id: str, admin_id: str) -> None:
        """Tag the conversation, as `admin_id` (Intercom records who applied a tag)."""
        path = f"/conversations/{_segment(conversation_id)}/tags"
        self.request("POST", path, json={"id": tag_id, "admin_id": admin_id})

    def assign_conversation(
        self, conversation_id: str, *, admin_id: str, assignee_type: str, assignee_id: str
    ) -> None:
        """Assign the conversation to a team or a teammate (`assignee_type` `team` or `admin`),
        the assignment made by `admin_id`."""
        payload = {
            "message_type": "assignment",
            "type": assignee_type,
            "admin_id": admin_id,
            "assignee_id": assignee_id,
        }
        self.request("POST", f"/conversations/{_segment(conversation_id)}/parts", json=payload)

    def teams(self) -> list[dict[str, Any]]:
        """Every team of the workspace (`GET /teams`, one call, no paging)."""
        listed = self.request("GET", "/teams")
        return [item for item in listed.get("teams") or [] if isinstance(item, dict)]

    def admins(self) -> list[dict[str, Any]]:
        """Every teammate of the workspace (`GET /admins`, one call, no paging)."""
        listed = self.request("GET", "/admins")
        return [item for item in listed.get("admins") or [] if isinstance(item, dict)]

    # --- subscription types: Intercom's own record of a contact's consent ---

    def subscription_types(self) -> list[SubscriptionType]:
        """Every subscription type of the workspace, in Intercom's order (one call, no paging)."""
        listed = self.request("GET", "/subscription_types")
        return [SubscriptionType.from_json(item) for item in listed.get("data", []) if isinstance(item, dict)]

    def sms_subscription_type(self) -> SubscriptionType | None:
        """The live subscription type covering SMS, which Intercom's own SMS tools check; None when
        the workspace has none (then there is nothing in Intercom to mirror a customer's STOP to).
        Of several, the first Intercom lists."""
        return next(
            (kind for kind in self.subscription_types() if kind.live and SMS_CONTENT in kind.content_types),
            None,
        )

    def contact_subscriptions(self, contact_id: str) -> list[SubscriptionType]:
        """The subscription types the contact is attached to: opt-out types they opted out of and
        opt-in types they opted in to. Types left in their default state are not listed."""
        listed = self.request("GET", f"/contacts/{_segment(contact_id)}/subscriptions")
        return [SubscriptionType.from_json(item) for item in listed.get("data", []) if isinstance(item, dict)]

    def set_subscription(
        self, contact_id: str, subscription_type: SubscriptionType, *, opted_in: bool
    ) -> None:
        """Record in Intercom whether the contact receives messages of `subscription_type`.

        Intercom models consent as attachment (2.16, attachSubscriptionTypeToContact): attaching a
        contact to an opt-out type opts them out, attaching to an opt-in type opts them in, and
        removing the attachment (`DELETE /contacts/{id}/subscriptions/{type id}`) returns them to
        the type's default. So opting back in to an opt-out type is a DELETE, not a POST with
        `opt_in`. `consent_type` in the POST is the type's own. Both directions are idempotent:
        a removal looks first, so a contact never attached is left as they are."""
        if subscription_type.consent_type not in (OPT_OUT, OPT_IN):
            raise ValueError(
                f"subscription type {subscription_type.id} has consent type"
                f" {subscription_type.consent_type!r}, neither {OPT_OUT} nor {OPT_IN}"
            )
        path = f"/contacts/{_segment(contact_id)}/subscriptions"
        if opted_in == (subscription_type.consent_type == OPT_IN):
            payload = {"id": subscription_type.id, "consent_type": subscription_type.consent_type}
            self.request("POST", path, json=payload)
            return
        if any(attached.id == subscription_type.id for attached in self.contact_subscriptions(contact_id)):
            self.request("DELETE", f"{path}/{_segment(subscription_type.id)}")

    # --- transport ---

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        files: Sequence[AttachmentFile] = (),
        repeatable: bool = True,
    ) -> dict[str, Any]:
        """One API call with quick retries; the decoded JSON body on success. `files` go in the
        body as `attachment_files`, streamed from disk on every attempt. A call not `repeatable`
        raises `IntercomOutcomeUnknown` instead of repeating an attempt that may have been
        applied (only a 429 is retried)."""
        response = call_with_retries(
            lambda: self._attempt(method, path, json=json, params=params, files=files),
            policy=self._policy,
            service="Intercom",
            request=f"{method} {path}",
            unavailable=IntercomUnavailable,
            rate_limited=IntercomRateLimited,
            describe=_error_text,
            outcome_unknown=None if repeatable else IntercomOutcomeUnknown,
        )
        if response.status_code >= 400:
            raise _rejection(method, path, response)
        return _json_object(response)

    def _attempt(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: dict[str, str] | None,
        files: Sequence[AttachmentFile] = (),
    ) -> httpx.Response:
        """One HTTP attempt, measured by endpoint template and answer (`transport_error`: none),
        in a slot of the shared budget; a 429 pauses every process sharing it."""
        if self._budget is not None:
            self._budget.acquire()
        started = time.perf_counter()

        def record(status: str) -> None:
            seconds = time.perf_counter() - started
            metrics.current().intercom_request(method, endpoint_template(path), status, seconds)

        try:
            if files:
                body = FileBody(json, files)
                headers = {"Content-Type": "application/json", "Content-Length": str(body.length)}
                response = self._http.request(
                    method, path, content=body.chunks(), headers=headers, params=params, timeout=FILES_TIMEOUT
                )
            else:
                response = self._http.request(method, path, json=json, params=params)
        except httpx.TransportError:
            record("transport_error")
            raise
        record(str(response.status_code))
        if response.status_code == 429 and self._budget is not None:
            self._budget.pause(self._policy.rate_limit_wait(response, attempt=1))
        return response


def _segment(identifier: str) -> str:
    """An id as one path segment: whatever it holds (it may come from an agent's input or a
    stored record) it cannot reach another endpoint (`../admins`) or break the request line."""
    return quote(str(identifier), safe="")


def _unix_time(value: Any) -> float | None:
    """A timestamp Intercom answered (unix seconds, a number), or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _admin_number(admin_id: str) -> int:
    """An admin id as `POST /messages` takes it. Intercom's admin ids are numbers written as strings."""
    try:
        return int(admin_id)
    except ValueError:
        raise ValueError(f"{admin_id!r} is not an Intercom admin id (a number)") from None


def _last_part_by_admin(conversation: dict[str, Any], admin_id: str) -> str | None:
    """The newest part of `conversation` that `admin_id` wrote (a reply's answer is the whole
    conversation, oldest part first)."""
    parts = (conversation.get("conversation_parts") or {}).get("conversation_parts") or []
    for part in reversed(parts):
        if not isinstance(part, dict):
            continue
        author = part.get("author") or {}
        if author.get("type") == "admin" and str(author.get("id")) == str(admin_id) and part.get("id"):
            return str(part["id"])
    return None


def endpoint_template(path: str) -> str:
    """`/conversations/123/reply` -> `/conversations/{id}/reply`: a metric label, so ids never
    become one (a series per contact would grow without bound)."""
    segments = path.split("?", 1)[0].strip("/").split("/")
    return "/" + "/".join(part if _PATH_WORD.fullmatch(part) else "{id}" for part in segments)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise IntercomUnavailable(
            f"Intercom answered {response.status_code} with a body that is not JSON"
        ) from exc
    if not isinstance(data, dict):
        raise IntercomUnavailable(f"Intercom answered {response.status_code} with JSON that is not an object")
    return data


def _error_parts(response: httpx.Response) -> tuple[str, str]:
    """Intercom's `error.list` envelope -> (code, message); falls back to the HTTP reason."""
    try:
        errors = response.json().get("errors") or []
        first = errors[0]
        return str(first.get("code") or "error"), str(first.get("message") or "")
    except (ValueError, AttributeError, IndexError, TypeError):
        return response.reason_phrase.lower().replace(" ", "_") or "error", ""


def _error_text(response: httpx.Response) -> str:
    code, message = _error_parts(response)
    return f"{code} {message}".strip()


def _rejection(method: str, path: str, response: httpx.Response) -> IntercomRejected:
    code, message = _error_parts(response)
    details = {
        "method": method,
        "path": path,
        "status": response.status_code,
        "code": code,
        "message": message,
    }
    if response.status_code == 404:
        return IntercomNotFound(**details)  # type: ignore[arg-type]
    if response.status_code == 410:
        link = _CANONICAL_LINK.search(response.headers.get("Link", ""))
        return IntercomGone(canonical_id=link.group(1) if link else None, **details)
    if response.status_code == 409:
        existing = _EXISTING_ID.search(message)
        return IntercomConflict(existing_id=existing.group(1) if existing else None, **details)
    return IntercomRejected(**details)  # type: ignore[arg-type]
