"""The inbox app: "Merge with existing user/lead", beside the conversation in Intercom's inbox.

Three steps, each a canvas: the conversation's contact with the other contacts its number matched
(one button each) and a field for any contact (Intercom id, user_id or email); a preview that says
exactly what will happen and that it cannot be undone, with Confirm and Cancel; the outcome. What
the agent chose travels in the canvas's `stored_data`. Refusals say what to do instead, and
overriding Intercom's "they share no email or phone" check takes its own confirmation.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from redis import Redis

from bridge.conversations.threads import ThreadStore
from bridge.core.errors import BridgeError
from bridge.core.json_payloads import JsonNode
from bridge.core.logs import mask_number
from bridge.core.settings import Settings
from bridge.inbox.merges import MergeOutcome, Merger, MergeResult, label
from bridge.intercom import canvas
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import Contact

log = logging.getLogger(__name__)

TARGET_INPUT = "target"
FIND, CONFIRM, OVERRIDE, CANCEL = "find", "confirm", "merge_anyway", "cancel"
CANDIDATE_PREFIX = "candidate:"


@dataclass(frozen=True)
class CanvasRequest:
    """What the app reads from an initialize or submit request (research/intercom-api.md §5.3).

    Read once, up front, with `JsonNode`: a field of the wrong JSON type is a 400 that names it
    (`contact.phone must be a string`), never an exception deep in a step."""

    contact: Contact | None  # the conversation's contact; None outside a conversation
    conversation_id: str | None
    admin: dict[str, str]  # the agent: id, name, email
    component_id: str = ""  # what the agent clicked (submit)
    target: str = ""  # the "merge into" field (submit)
    stored_from: str = ""  # the canvas's stored_data (submit)
    stored_into: str = ""

    @classmethod
    def parse(cls, data: dict[str, Any]) -> CanvasRequest:
        root = JsonNode(data)
        context, conversation = root.object("context"), root.object("conversation")
        admin = root.object("admin")
        canvas_node = root.object("current_canvas")
        stored = canvas_node.object("stored_data") if canvas_node else None
        inputs = root.object("input_values")
        return cls(
            contact=_contact(root.object("contact")),
            conversation_id=(context.text("conversation_id") if context else None)
            or (conversation.text("id") if conversation else None),
            admin={key: (admin.text(key) if admin else None) or "" for key in ("id", "name", "email")},
            component_id=root.text("component_id") or "",
            target=(inputs.text(TARGET_INPUT) if inputs else None) or "",
            stored_from=(stored.text("from") if stored else None) or "",
            stored_into=(stored.text("into") if stored else None) or "",
        )


class InboxApp:
    def __init__(self, *, redis_client: Redis, intercom: IntercomClient, settings: Settings) -> None:
        self._threads = ThreadStore(redis_client)
        self._merger = Merger(redis_client, intercom, default_region=settings.default_region)

    def initialize(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The first canvas, for the conversation an agent opened."""
        request = CanvasRequest.parse(payload)
        return self._guarded(lambda: self._start(request))

    def submit(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The next canvas, after the agent clicked `component_id`."""
        request = CanvasRequest.parse(payload)
        return self._guarded(lambda: self._step(request))

    # --- steps ---

    def _start(
        self, request: CanvasRequest, *, notice: list[canvas.Component] | None = None
    ) -> dict[str, Any]:
        contact = request.contact
        if contact is None:
            return canvas.canvas(
                [
                    canvas.header("Merge with existing user/lead"),
                    canvas.muted("Open a conversation with a customer to merge their contact."),
                ]
            )
        conversation_id = request.conversation_id
        thread = self._threads.by_conversation(conversation_id) if conversation_id else None
        rows = [
            ("Name", contact.name or "(no name)"),
            ("Role", contact.role),
            ("Phone", mask_number(contact.phone) if contact.phone else "—"),
        ]
        if thread is not None:
            rows.append(("Channel", f"{thread.channel} via {thread.provider}"))
        components: list[canvas.Component] = [
            canvas.header("Merge with existing user/lead"),
            *(notice or []),
            canvas.table(rows),
        ]
        candidates = [c for c in (thread.candidates if thread else []) if c.get("id") != contact.id]
        if candidates:
            components += [canvas.text("Other contacts with this number when it was matched:")]
            components += [
                canvas.button(f"{CANDIDATE_PREFIX}{c['id']}", _candidate_label(c), style="secondary")
                for c in candidates
            ]
        components += [
            canvas.divider(),
            canvas.text_input(
                TARGET_INPUT,
                "Merge into (Intercom contact id, user_id or email)",
                placeholder="5f1a…, ada@example.com, or your user_id",
            ),
            canvas.button(FIND, "Find contact"),
        ]
        return canvas.canvas(components, stored_data={"from": contact.id})

    def _step(self, request: CanvasRequest) -> dict[str, Any]:
        component, admin, contact = request.component_id, request.admin, request.contact
        source_id = request.stored_from or (contact.id if contact else "")
        if component == CANCEL or not source_id:
            return self._start(request)
        if component in (CONFIRM, OVERRIDE):
            result = self._merger.merge(
                from_id=source_id,
                into_id=request.stored_into,
                admin=admin,
                override=component == OVERRIDE,
            )
            return self._outcome(request, result)
        if component.startswith(CANDIDATE_PREFIX):
            query = component.removeprefix(CANDIDATE_PREFIX)
        else:
            query = request.target
        target = self._merger.find(query)
        if target is None:
            message = (
                (
                    f"No contact found for “{query}”. Use the Intercom id from the contact's profile URL, "
                    "its user_id, or its email."
                )
                if query.strip()
                else "Enter the contact to merge into."
            )
            self._merger.record_refusal(
                from_id=source_id, into_id=query, admin=admin, outcome=MergeOutcome.NOT_FOUND, message=message
            )
            return self._start(request, notice=[canvas.error(message)])
        source = self._merger.contact(source_id)
        if source is None:
            return self._start(request, notice=[canvas.error("This contact no longer exists in Intercom.")])
        refusal = self._merger.preview(source, target)
        if refusal is not None:
            self._merger.record_refusal(
                from_id=source.id, into_id=target.id, admin=admin, outcome=refusal[0], message=refusal[1]
            )
            return self._start(request, notice=[canvas.error(refusal[1])])
        return self._preview(source, target)

    def _preview(self, source: Contact, target: Contact) -> dict[str, Any]:
        components = [
            canvas.header("Merge contacts?"),
            canvas.text(
                f"Merge {label(source)} into {label(target)}: {source.name or 'the lead'}'s conversations "
                f"move to {target.name or 'the user'} and the lead is deleted. This cannot be undone."
            ),
            canvas.table(
                [
                    ("Lead", f"{source.name or '(no name)'} · {source.id}"),
                    ("User", f"{target.name or target.email or '(no name)'} · {target.id}"),
                ]
            ),
        ]
        if not self._merger.shares_identity(source, target):
            components.append(
                canvas.muted(
                    "They share no email or phone number: Intercom may refuse, and you "
                    "will be asked to confirm again."
                )
            )
        components += [
            canvas.button(CONFIRM, "Confirm merge"),
            canvas.button(CANCEL, "Cancel", style="secondary"),
        ]
        return canvas.canvas(components, stored_data={"from": source.id, "into": target.id})

    def _outcome(self, request: CanvasRequest, result: MergeResult) -> dict[str, Any]:
        if result.merged:
            return canvas.canvas([canvas.header("Merged"), canvas.text(result.message)], completed=True)
        if result.outcome is MergeOutcome.NOT_DUPLICATES and result.source and result.target:
            return canvas.canvas(
                [
                    canvas.header("Intercom refused the merge"),
                    canvas.error(result.message),
                    canvas.button(OVERRIDE, "Merge anyway (I am sure they are the same person)"),
                    canvas.button(CANCEL, "Cancel", style="secondary"),
                ],
                stored_data={"from": result.source.id, "into": result.target.id},
            )
        return self._start(request, notice=[canvas.error(result.message)])

    def _guarded(self, step: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = step()
        except BridgeError as exc:
            log.warning("inbox app: %s", exc)
            return canvas.canvas(
                [
                    canvas.header("Merge with existing user/lead"),
                    canvas.error("Intercom could not be reached just now; try again in a moment."),
                ]
            )
        return result


def _contact(data: JsonNode | None) -> Contact | None:
    """The request's contact, as much of it as the app shows (no times: it never reads them)."""
    contact_id = data.text("id") if data else None
    if data is None or not contact_id:
        return None
    return Contact(
        id=contact_id,
        role=data.text("role") or "lead",
        updated_at=0,
        created_at=0,
        phone=data.text("phone") or None,
        name=data.text("name") or None,
        email=data.text("email") or None,
        external_id=data.text("external_id") or None,
    )


def _candidate_label(candidate: dict[str, Any]) -> str:
    updated = candidate.get("updated_at")
    when = (
        datetime.datetime.fromtimestamp(int(updated), datetime.UTC).strftime("%Y-%m-%d") if updated else "?"
    )
    return f"{candidate.get('name') or candidate.get('id')} ({candidate.get('role')}, updated {when})"
