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
from typing import Any

from redis import Redis

from bridge import canvas
from bridge.errors import BridgeError
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import Contact
from bridge.logs import mask_number
from bridge.merges import MergeOutcome, Merger, MergeResult, label
from bridge.settings import Settings
from bridge.threads import ThreadStore

log = logging.getLogger(__name__)

TARGET_INPUT = "target"
FIND, CONFIRM, OVERRIDE, CANCEL = "find", "confirm", "merge_anyway", "cancel"
CANDIDATE_PREFIX = "candidate:"


class InboxApp:
    def __init__(self, *, redis_client: Redis, intercom: IntercomClient, settings: Settings) -> None:
        self._threads = ThreadStore(redis_client)
        self._merger = Merger(redis_client, intercom, default_region=settings.default_region)

    def initialize(self, request: dict[str, Any]) -> dict[str, Any]:
        """The first canvas, for the conversation an agent opened."""
        return self._guarded(lambda: self._start(request))

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        """The next canvas, after the agent clicked `component_id`."""
        return self._guarded(lambda: self._step(request))

    # --- steps ---

    def _start(
        self, request: dict[str, Any], *, notice: list[canvas.Component] | None = None
    ) -> dict[str, Any]:
        contact = _contact(request)
        if contact is None:
            return canvas.canvas(
                [
                    canvas.header("Merge with existing user/lead"),
                    canvas.muted("Open a conversation with a customer to merge their contact."),
                ]
            )
        conversation_id = _conversation_id(request)
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

    def _step(self, request: dict[str, Any]) -> dict[str, Any]:
        component = str(request.get("component_id") or "")
        stored = ((request.get("current_canvas") or {}).get("stored_data")) or {}
        admin = _admin(request)
        contact = _contact(request)
        source_id = str(stored.get("from") or (contact.id if contact else ""))
        if component == CANCEL or not source_id:
            return self._start(request)
        if component in (CONFIRM, OVERRIDE):
            result = self._merger.merge(
                from_id=source_id,
                into_id=str(stored.get("into") or ""),
                admin=admin,
                override=component == OVERRIDE,
            )
            return self._outcome(request, result)
        if component.startswith(CANDIDATE_PREFIX):
            query = component.removeprefix(CANDIDATE_PREFIX)
        else:
            query = str((request.get("input_values") or {}).get(TARGET_INPUT) or "")
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

    def _outcome(self, request: dict[str, Any], result: MergeResult) -> dict[str, Any]:
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


def _contact(request: dict[str, Any]) -> Contact | None:
    data = request.get("contact")
    if not isinstance(data, dict) or not data.get("id"):
        return None
    return Contact.from_json(data)


def _conversation_id(request: dict[str, Any]) -> str | None:
    context = request.get("context") or {}
    conversation = request.get("conversation") or {}
    value = context.get("conversation_id") or conversation.get("id")
    return str(value) if value else None


def _admin(request: dict[str, Any]) -> dict[str, str]:
    admin = request.get("admin") or {}
    return {key: str(admin.get(key) or "") for key in ("id", "name", "email")}


def _candidate_label(candidate: dict[str, Any]) -> str:
    updated = candidate.get("updated_at")
    when = (
        datetime.datetime.fromtimestamp(int(updated), datetime.UTC).strftime("%Y-%m-%d") if updated else "?"
    )
    return f"{candidate.get('name') or candidate.get('id')} ({candidate.get('role')}, updated {when})"
