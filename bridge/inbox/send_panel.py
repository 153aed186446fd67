"""The inbox app's "Send SMS / WhatsApp" panel: the team writes first, from the conversation.

Steps, each a canvas (`bridge.inbox.send_canvases`; the component ids that lead there):
1. compose (`send_open`, `send_compose`): to whom, Send from (`send_choices.routes`), the
   message; or Use a WhatsApp template (`send_templates`);
2. templates (`send_templates`, `send_templates:<start>` for the next page): the approved
   templates of the chosen WhatsApp number's provider; one (`send_template:<language>:<name>`)
   opens its variables, prefilled from the contact;
3. preview (`send_preview`): exactly the text the customer gets, to whom, from where; Send
   (`send_confirm`) or Edit (`send_edit`);
4. status (after Send; `send_refresh` reads it again); `send_close` goes back to the first canvas.

Sending and reading a message are the web route's to do: `bridge.outreach.accept` loads the job
queue, which this package must never import (import contract). So Send and Refresh answer an
intent (`SendMessage`, `ShowMessage`) that the route carries out with the app's `Outreach`,
handing the result back (`sent`, `refused`, `shown`). A preview stores its request and a nonce
in `stored_data`, and Send derives the idempotency key from them: clicked twice, it sends once.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bridge.conversations.threads import Thread, ThreadStore
from bridge.core.errors import BridgeError
from bridge.core.logs import mask_number
from bridge.core.settings import Settings
from bridge.inbox import send_canvases as canvases
from bridge.inbox.canvas_request import CanvasRequest
from bridge.inbox.send_canvases import (
    HEADER_INPUT,
    HEADER_NAMES,
    ROUTE_INPUT,
    SEND_CONFIRM,
    SEND_EDIT,
    SEND_PREVIEW,
    SEND_REFRESH,
    SEND_TEMPLATES,
    TEMPLATE_PAGE_PREFIX,
    TEMPLATE_PREFIX,
    TEXT_INPUT,
    VARIABLE_PREFIX,
    Draft,
)
from bridge.inbox.send_choices import (
    ContactFacts,
    Route,
    Routes,
    idempotency_key,
    next_step,
    prefill,
    recipient,
    routes,
    variable_names,
)
from bridge.intercom import canvas
from bridge.intercom.models import Contact
from bridge.model.messages import Channel
from bridge.model.outgoing import HeaderKind, render
from bridge.outreach.catalog import TemplateCatalog
from bridge.outreach.requests import MessageRequest, Refusal, address, read_request
from bridge.providers.base import ProviderAdapter, TemplateInfo, TemplateStatus


@dataclass(frozen=True)
class SendMessage:
    """For the route: accept `message` (source "inbox") and hand back its view (`sent`) or the
    refusal (`refused`), with `request`, the canvas request that asked."""

    request: CanvasRequest
    message: MessageRequest


@dataclass(frozen=True)
class ShowMessage:
    """For the route: describe `message_id` and hand the view (None: unknown) to `shown`."""

    request: CanvasRequest
    message_id: str


Answer = dict[str, Any] | SendMessage | ShowMessage


@dataclass(frozen=True)
class _Situation:
    """One request's contact, its conversation's thread, and the routes it may be written over."""

    request: CanvasRequest
    contact: Contact
    thread: Thread | None
    routes: Routes

    @property
    def reachable(self) -> list[Route]:
        """The routes with somebody to write to."""
        return [route for route in self.routes.offered if self.to(route)]

    def to(self, route: Route) -> str | None:
        return recipient(route, self.contact.phone, self.thread)

    def recipient_rows(self, route: Route) -> list[tuple[str, str]]:
        phone = self.contact.phone
        rows = [("To", self.contact.name or "(no name)"), ("Phone", mask_number(phone) if phone else "—")]
        to = self.to(route)
        if to and to != (phone or "").strip():
            rows.append(("WhatsApp", mask_number(to)))
        return rows


class SendPanel:
    def __init__(
        self,
        *,
        settings: Settings,
        adapters: Mapping[str, ProviderAdapter],
        catalog: TemplateCatalog,
        threads: ThreadStore,
    ) -> None:
        self._settings = settings
        self._adapters = adapters
        self._catalog = catalog
        self._threads = threads

    def step(self, request: CanvasRequest) -> Answer:
        """The canvas (or the intent) after the agent clicked one of the panel's components."""
        situation = self._situation(request)
        if situation is None:
            return canvases.nobody()
        component = request.component_id
        if component == SEND_TEMPLATES or component.startswith(TEMPLATE_PAGE_PREFIX):
            start = component.removeprefix(TEMPLATE_PAGE_PREFIX)
            return self._templates(situation, int(start) if _index(start) else 0)
        if component.startswith(TEMPLATE_PREFIX):
            language, _, name = component.removeprefix(TEMPLATE_PREFIX).partition(":")
            route = self._chosen(situation)
            if route is None:
                return self._compose(situation)
            return self._template_form(situation, Draft(route, template=(name, language)), fill=True)
        if component == SEND_PREVIEW:
            return self._preview(situation)
        if component == SEND_EDIT:
            message = _stored_message(request)
            if message is None:
                return self._compose(situation)
            return self._form(situation, self._draft_of(situation, message))
        if component == SEND_CONFIRM:
            return self._confirm(situation)
        if component == SEND_REFRESH and request.kept("message"):
            return ShowMessage(request, request.kept("message"))
        return self._compose(situation)

    # --- what the route hands back ---

    def sent(self, intent: SendMessage, view: Mapping[str, Any]) -> dict[str, Any]:
        return _status(intent.request, view)

    def refused(self, intent: SendMessage, refusal: Refusal) -> dict[str, Any]:
        situation = self._situation(intent.request)
        if situation is None:
            return canvases.nobody()
        notice = _refusal_notice("Nothing was sent", refusal)
        return self._form(situation, self._draft_of(situation, intent.message), notice=notice)

    def shown(self, intent: ShowMessage, view: Mapping[str, Any] | None) -> dict[str, Any]:
        if view is not None:
            return _status(intent.request, view)
        situation = self._situation(intent.request)
        if situation is None:
            return canvases.nobody()
        gone = "This message is no longer on record: the bridge keeps messages for a while only."
        return self._compose(situation, notice=[canvas.error(gone)])

    # --- reading the request ---

    def _situation(self, request: CanvasRequest) -> _Situation | None:
        if request.contact is None:
            return None
        conversation_id = request.conversation_id
        thread = self._threads.by_conversation(conversation_id) if conversation_id else None
        return _Situation(request, request.contact, thread, routes(self._settings, self._adapters, thread))

    def _chosen(self, situation: _Situation) -> Route | None:
        """The route the agent chose (this canvas's dropdown, else the previous canvas's choice),
        else the first: the conversation's own when the bridge carries it."""
        reachable, request = situation.reachable, situation.request
        wanted = request.input(ROUTE_INPUT) or request.kept("route")
        return next((route for route in reachable if route.id == wanted), reachable[0] if reachable else None)

    def _draft_of(self, situation: _Situation, message: MessageRequest) -> Draft:
        """The draft `message` was made from, to show it again."""
        asked = Route(message.channel, message.provider or "", message.sender or "")
        route = next((known for known in situation.reachable if known.same_as(asked)), asked)
        template = message.template
        if template is None:
            return Draft(route, text=message.text)
        header = template.header
        return Draft(
            route,
            template=(template.name, template.language),
            values=template.variables,
            header=(header.url or header.text or "") if header else "",
        )

    # --- canvases ---

    def _form(
        self, situation: _Situation, draft: Draft, *, notice: Sequence[canvas.Component] = ()
    ) -> dict[str, Any]:
        if draft.template is None:
            return self._compose(situation, draft, notice=notice)
        return self._template_form(situation, draft, notice=notice)

    def _compose(
        self, situation: _Situation, draft: Draft | None = None, *, notice: Sequence[canvas.Component] = ()
    ) -> dict[str, Any]:
        reachable = situation.reachable
        if not situation.routes.offered:
            return canvases.closed(
                "No provider is set up to write first: set BRIDGE_DEFAULT_SENDERS (e.g. "
                "twilio=+12025550100,whatsapp=106540352242922) for a configured provider, or open "
                "this panel in a conversation the bridge carries."
            )
        if not reachable:
            return canvases.closed(
                "This contact has no phone number, so there is nowhere to send an SMS or a "
                "WhatsApp message. Add their mobile number, with its country code (+14155550123), "
                "as Phone on the contact's profile in Intercom, then open this panel again."
            )
        if draft is None or draft.route not in reachable:
            chosen = self._chosen(situation)
            assert chosen is not None  # something is reachable
            draft = Draft(chosen, text=draft.text if draft else "")
        return canvases.compose(
            situation.contact.id,
            situation.recipient_rows(draft.route),
            reachable,
            draft,
            unnumbered=situation.routes.unnumbered,
            templates=any(self._lists_templates(route) for route in reachable),
            notice=notice,
        )

    def _lists_templates(self, route: Route) -> bool:
        return route.channel is Channel.WHATSAPP and route.provider in self._catalog.listing_providers()

    def _templates(self, situation: _Situation, start: int) -> dict[str, Any]:
        route = self._chosen(situation)
        if route is None or not self._lists_templates(route):
            why = (
                "Templates are WhatsApp's: choose a WhatsApp number under Send from, "
                "then Use a WhatsApp template."
                if route is None or route.channel is not Channel.WHATSAPP
                else f"The bridge cannot list {route.provider}'s templates: write text, "
                "or choose another number."
            )
            return self._compose(situation, Draft(route) if route else None, notice=[canvas.error(why)])
        listing = self._catalog.approved(route.provider)
        failed = listing.errors.get(route.provider)
        if failed is not None:
            why = f"{route.provider}'s templates could not be listed ({failed}): try again in a moment."
            return self._compose(situation, Draft(route), notice=[canvas.error(why)])
        templates = sorted(
            listing.templates, key=lambda info: ((info.label or info.name).lower(), info.language)
        )
        if not templates:
            why = (
                f"{route.provider} has no approved WhatsApp template: templates are written and approved "
                "in the provider's console (WhatsApp Manager, Twilio's Content Template Builder)."
            )
            return self._compose(situation, Draft(route), notice=[canvas.error(why)])
        return canvases.template_page(situation.contact.id, route, templates, start)

    def _template(self, route: Route, name: str, language: str) -> TemplateInfo | str:
        """The approved template, or why it cannot be used."""
        try:
            found = self._catalog.find(route.provider, name, language)
        except BridgeError as failed:
            return f"{route.provider}'s templates could not be listed ({failed}): try again in a moment."
        approved = [info for info in found if info.status is TemplateStatus.APPROVED]
        if approved:
            return approved[0]
        if found:
            return f"Template “{name}” ({language}) is {found[0].status.value}, not approved: pick another."
        return f"{route.provider} has no template “{name}” in {language} any more: pick another."

    def _template_form(
        self,
        situation: _Situation,
        draft: Draft,
        *,
        fill: bool = False,
        notice: Sequence[canvas.Component] = (),
    ) -> dict[str, Any]:
        """The template's variables: as `draft` has them, or (`fill`) prefilled from the contact."""
        assert draft.template is not None
        if not self._lists_templates(draft.route):
            return self._templates(situation, 0)  # says why not
        info = self._template(draft.route, *draft.template)
        if isinstance(info, str):  # a notice given (a refusal) already says why
            return self._compose(situation, Draft(draft.route), notice=notice or [canvas.error(info)])
        if fill:
            contact = situation.contact
            facts = ContactFacts(contact.name or "", contact.email or "", situation.request.attributes)
            draft = replace(draft, values=tuple(prefill(info, facts)))
        return canvases.template_form(situation.contact.id, info, variable_names(info), draft, notice=notice)

    def _preview(self, situation: _Situation) -> Answer:
        route = self._chosen(situation)
        if route is None:
            return self._compose(situation)
        request = situation.request
        stored_template = request.kept_object("template")
        if stored_template is None:
            text = request.input(TEXT_INPUT).strip()  # what the preview shows is what is sent
            draft = Draft(route, text=text)
            if not text:
                return self._compose(situation, draft, notice=[canvas.error("Type the message first.")])
            return self._previewed(situation, draft, {"text": text}, shown=text)
        name, language = stored_template.text("name") or "", stored_template.text("language") or ""
        info = self._template(route, name, language)
        if isinstance(info, str):
            return self._compose(situation, Draft(route), notice=[canvas.error(info)])
        names = variable_names(info)
        values = tuple(request.input(f"{VARIABLE_PREFIX}{index}").strip() for index in range(len(names)))
        header = request.input(HEADER_INPUT).strip()
        draft = Draft(route, template=(info.name, info.language), values=values, header=header)
        missing = [f"{{{{{name}}}}}" for name, value in zip(names, values, strict=True) if not value]
        if info.header is not None and not header:
            missing.append(HEADER_NAMES[info.header].lower())
        if missing:
            fill = f"Fill in {', '.join(missing)}: WhatsApp refuses a template with an empty one."
            return self._template_form(situation, draft, notice=[canvas.error(fill)])
        template: dict[str, Any] = {"name": info.name, "language": info.language, "variables": list(values)}
        if info.header is not None:
            template["header"] = {
                "type": info.header.value,
                "text" if info.header is HeaderKind.TEXT else "url": header,
            }
        rows = [("Template", f"{info.label or info.name} ({info.language})")]
        if info.header is not None:
            rows.append((HEADER_NAMES[info.header], header))
        return self._previewed(
            situation, draft, {"template": template}, shown=render(info.body, values), rows=rows
        )

    def _previewed(
        self,
        situation: _Situation,
        draft: Draft,
        content: dict[str, Any],
        *,
        shown: str,
        rows: Sequence[tuple[str, str]] = (),
    ) -> dict[str, Any]:
        """The preview of `draft` (its `content`: text or template), or its form again saying
        what is wrong with it."""
        route, contact = draft.route, situation.contact
        body = {
            "to": situation.to(route),
            "channel": route.channel.value,
            "provider": route.provider,
            "from": route.business,
            "intercom_contact_id": contact.id,
            "admin_id": _admin_id(situation.request.admin),
            **content,
        }
        try:
            message = read_request(body)
            address(message, self._settings, self._adapters)
        except Refusal as refusal:
            return self._form(situation, draft, notice=_refusal_notice("This cannot be sent", refusal))
        stored = {
            "from": contact.id,
            "route": route.id,
            "request": message.model_dump(mode="json", by_alias=True, exclude_none=True),
            "nonce": secrets.token_hex(8),
        }
        if canvas.encoded_size(stored) > canvas.MAX_BYTES:
            return self._form(
                situation, draft, notice=[canvas.error("This is too long for the panel: shorten it.")]
            )
        shown_rows = [
            ("To", f"{contact.name or 'the contact'} · {mask_number(message.to)}"),
            ("Send from", route.label),
            *rows,
        ]
        return canvases.preview(shown_rows, shown, route.channel, stored)

    def _confirm(self, situation: _Situation) -> Answer:
        request = situation.request
        message, nonce = _stored_message(request), request.kept("nonce")
        if message is None or not nonce:
            return self._compose(situation, notice=[canvas.error("Preview the message again, then send it.")])
        key = idempotency_key(request.conversation_id, message, nonce)
        return SendMessage(request, message.model_copy(update={"idempotency_key": key}))


def _status(request: CanvasRequest, view: Mapping[str, Any]) -> dict[str, Any]:
    return canvases.status(request.contact.id if request.contact else "", request.conversation_id, view)


def _refusal_notice(lead: str, refusal: Refusal) -> list[canvas.Component]:
    """The refusal's reason, and what the agent can do about it."""
    return [canvas.error(f"{lead}: {refusal.reason}."), canvas.muted(next_step(refusal))]


def _admin_id(admin: Mapping[str, str]) -> str | None:
    """The agent as the message's author; a malformed id falls back to the bridge's default."""
    admin_id = admin.get("id", "")
    return admin_id if _index(admin_id) else None


def _index(text: str) -> bool:
    """ASCII digits, short: what `int` reads without surprise (no `²`, no 5,000-digit number)."""
    return text.isascii() and text.isdigit() and len(text) <= 32


def _stored_message(request: CanvasRequest) -> MessageRequest | None:
    """The request a preview stored (it came back signed, as the bridge wrote it)."""
    stored = request.kept_object("request")
    if stored is None:
        return None
    try:
        return read_request(stored.data)
    except Refusal:
        return None
