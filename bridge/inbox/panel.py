"""The inbox app, beside the conversation in Intercom's inbox: "Merge with existing user/lead",
and "Send SMS / WhatsApp" (`bridge.inbox.send_panel`, whose component ids all start `send_`).

The merge takes three steps, each a canvas: the conversation's contact with the other contacts its
number matched (one button each) and a field for any contact (Intercom id, user_id or email); a
preview that says exactly what will happen and that it cannot be undone, with Confirm and Cancel;
the outcome. What the agent chose travels in the canvas's `stored_data`. Refusals say what to do instead, and
overriding Intercom's "they share no email or phone" check takes its own confirmation.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping
from typing import Any

from redis import Redis

from bridge.conversations.threads import ThreadStore
from bridge.core.errors import BridgeError
from bridge.core.logs import mask_number
from bridge.core.settings import Settings
from bridge.inbox.canvas_request import TARGET_INPUT, CanvasRequest
from bridge.inbox.merges import MergeOutcome, Merger, MergeResult, label
from bridge.inbox.send_canvases import SEND_CLOSE, SEND_OPEN, SEND_PREFIX
from bridge.inbox.send_panel import Answer, SendMessage, SendPanel, ShowMessage
from bridge.intercom import canvas
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import Contact
from bridge.outreach.catalog import TemplateCatalog
from bridge.outreach.requests import Refusal
from bridge.providers.base import ProviderAdapter

log = logging.getLogger(__name__)

FIND, CONFIRM, OVERRIDE, CANCEL = "find", "confirm", "merge_anyway", "cancel"
CANDIDATE_PREFIX = "candidate:"


class InboxApp:
    def __init__(
        self,
        *,
        redis_client: Redis,
        intercom: IntercomClient,
        settings: Settings,
        adapters: Mapping[str, ProviderAdapter],
        catalog: TemplateCatalog,
    ) -> None:
        self._threads = ThreadStore(redis_client)
        self._merger = Merger(redis_client, intercom, default_region=settings.default_region)
        self._send = SendPanel(settings=settings, adapters=adapters, catalog=catalog, threads=self._threads)

    def initialize(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The first canvas, for the conversation an agent opened."""
        request = CanvasRequest.parse(payload)
        return self._guarded(lambda: self._start(request))

    def submit(self, payload: dict[str, Any]) -> Answer:
        """The next canvas after the agent clicked `component_id`, or what the send panel asks
        the caller to do first (`SendMessage`, `ShowMessage`: this package never sends)."""
        request = CanvasRequest.parse(payload)
        if request.component_id == SEND_CLOSE:
            return self._guarded(lambda: self._start(request))
        if request.component_id.startswith(SEND_PREFIX):
            return self._send.step(request)
        return self._guarded(lambda: self._step(request))

    def sent(self, intent: SendMessage, view: Mapping[str, Any]) -> dict[str, Any]:
        """The canvas once `intent`'s message was accepted: its status (`view`, as the message
        API shows it)."""
        return self._send.sent(intent, view)

    def refused(self, intent: SendMessage, refusal: Refusal) -> dict[str, Any]:
        """The canvas when `intent`'s message was refused: what the agent wrote, and why not."""
        return self._send.refused(intent, refusal)

    def shown(self, intent: ShowMessage, view: Mapping[str, Any] | None) -> dict[str, Any]:
        return self._send.shown(intent, view)

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
            canvas.divider(),
            canvas.button(SEND_OPEN, "Send SMS / WhatsApp", style="secondary"),
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

    def _guarded(self, step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
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


def _candidate_label(candidate: dict[str, Any]) -> str:
    updated = candidate.get("updated_at")
    when = (
        datetime.datetime.fromtimestamp(int(updated), datetime.UTC).strftime("%Y-%m-%d") if updated else "?"
    )
    return f"{candidate.get('name') or candidate.get('id')} ({candidate.get('role')}, updated {when})"
