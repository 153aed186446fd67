"""Accepting a message the team writes first: checked, stored and queued, or refused with the reason.

What is checked here is what a person can fix before anything is sent: the request itself
(`bridge.outreach.requests`), WhatsApp's rule that free text goes only to a customer who wrote in
the last 24 hours, and the template (approved, the right number of variables, the header its
kind needs). What only sending can tell (the provider refusing the number, the business number
not being the account's) fails the message afterwards, with the provider's code and reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from redis import Redis

from bridge.consent.keywords import opt_in_word
from bridge.consent.store import ConsentStore, blocked_reason
from bridge.conversations.threads import ThreadStore
from bridge.core.errors import ConfigurationError, ProviderRateLimited, ProviderRejected, ProviderUnavailable
from bridge.core.logs import mask_number
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryState
from bridge.model.outgoing import placeholders, render
from bridge.outreach.catalog import TemplateCatalog
from bridge.outreach.requests import Addressed, MessageRequest, Refusal, address
from bridge.outreach.store import CONFIRMATION_SOURCE, OutreachEntry, OutreachStatus, OutreachStore, Stored
from bridge.providers.base import ProviderAdapter, TemplateInfo, TemplateStatus, listed_sender
from bridge.replies.agent import WHATSAPP_WINDOW_SECONDS
from bridge.replies.sent import OutboundStore

log = logging.getLogger(__name__)

_REPORTED_ORDER = (DeliveryState.SENT, DeliveryState.DELIVERED, DeliveryState.READ)


@dataclass(frozen=True)
class Content:
    """What a message will show in Intercom, and the name its template is sent by."""

    rendered: str
    template_name: str | None = None
    parameter_names: tuple[str, ...] = ()  # a named template's placeholders, in order


def _is_number(business: str) -> bool:
    """Whether a `from` is a number (an alphanumeric sender id is no listed number)."""
    digits = business.strip().removeprefix("whatsapp:").removeprefix("+")
    return digits.replace(" ", "").replace("-", "").isdigit()


def closed_window(last_inbound_at: float, *, now: float) -> str | None:
    """Why WhatsApp free text cannot go to a customer whose last message was at
    `last_inbound_at` (0: never), or None while their 24-hour window is open."""
    if now - last_inbound_at <= WHATSAPP_WINDOW_SECONDS:
        return None
    when = (
        f"their last message was {(now - last_inbound_at) / 3600:.0f} hours ago"
        if last_inbound_at
        else "they have not written to this number"
    )
    return (
        f"WhatsApp allows free text only within 24 hours of the customer's last message, and {when}: "
        "send an approved template instead"
    )


class Outreach:
    """The door every message the team writes first comes through (API, inbox app, CLI)."""

    def __init__(
        self,
        redis_client: Redis,
        settings: Settings,
        adapters: Mapping[str, ProviderAdapter],
        http: httpx.Client,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._adapters = adapters
        self._threads = ThreadStore(redis_client)
        self._store = OutreachStore(redis_client, settings)
        self._sent = OutboundStore(redis_client, settings)
        self._consent = ConsentStore(redis_client)
        self.catalog = TemplateCatalog(redis_client, settings, adapters, http)
        self._clock = clock

    def accept(self, request: MessageRequest, *, source: str) -> Stored:
        """Store and queue `request`, or `Refusal` saying why not. The same idempotency key
        with the same request gives the message it made; with another request, 409."""
        addressed = address(request, self._settings, self._adapters)
        opted_out = self._consent.opted_out(addressed.consent_scope, addressed.customer.key)
        if opted_out is not None and source != CONFIRMATION_SOURCE:
            why = blocked_reason(opted_out, addressed.business, opt_in=opt_in_word(self._settings))
            raise Refusal(409, why, field="to")
        self._check_sender(addressed)
        content = self._content(request, addressed)
        stored = self._store.store(
            request,
            addressed,
            rendered=content.rendered,
            template_name=content.template_name,
            parameter_names=content.parameter_names,
            source=source,
        )
        if not stored.new and stored.entry.fingerprint != request.fingerprint():
            raise Refusal(
                409, "this idempotency key was used for a different message", field="idempotency_key"
            )
        return stored

    def describe(self, message_id: str) -> dict[str, Any] | None:
        """The message as the API shows it, its delivery reports applied; None when unknown."""
        entry = self._store.get(message_id)
        return None if entry is None else self.view(entry)

    def view(self, entry: OutreachEntry) -> dict[str, Any]:
        status, code, reason = entry.status, entry.error_code, entry.error
        ids = entry.sent_ids()
        if status is OutreachStatus.SENT:
            status, code, reason = self._reported(entry.provider, ids) or (status, code, reason)
        return {
            "id": entry.message_id,
            "status": status.value,
            "channel": entry.channel.value,
            "provider": entry.provider,
            "from": entry.business,
            "to": mask_number(entry.customer.e164 or entry.customer.bare),
            "provider_message_id": ids[0] if ids else None,
            "provider_message_ids": list(ids),
            "contact_id": entry.contact_id,
            "conversation_id": entry.conversation_id,
            "error": {"code": code, "reason": reason} if code or reason else None,
            "created_at": entry.created_at,
            "source": entry.source,
        }

    def _reported(self, provider: str, ids: Sequence[str]) -> tuple[OutreachStatus, str | None, str] | None:
        """What the providers' delivery reports say of the messages sent: failed when any one
        failed, else the least advanced state among them (read only once all are read)."""
        reports = [self._sent.get(provider, provider_id) for provider_id in ids]
        failed = next((r for r in reports if r is not None and r.state is DeliveryState.FAILED), None)
        if failed is not None:
            adapter = self._adapters.get(provider)
            reason = (adapter.failure_reason(failed.error_code) if adapter else None) or failed.error_message
            return OutreachStatus.FAILED, failed.error_code, reason or "the provider reports it failed"
        states = [report.state for report in reports if report is not None and report.state is not None]
        if not states or len(states) < len(ids):
            return None  # not every message reported yet: sent is all that is known
        least = min(states, key=_REPORTED_ORDER.index)
        return OutreachStatus(least.value), None, ""

    def _content(self, request: MessageRequest, addressed: Addressed) -> Content:
        if request.template is None:
            if addressed.channel is Channel.WHATSAPP:
                self._check_window(addressed)
            return Content("\n".join(part for part in (request.text.strip(), *request.media_urls) if part))
        if addressed.channel is not Channel.WHATSAPP:
            raise Refusal(422, "templates are WhatsApp's: an SMS is sent as text", field="template")
        return self._template_content(request, addressed)

    def _check_sender(self, addressed: Addressed) -> None:
        """Refuse a `from` the provider's account does not send from, where its list can tell
        (`ProviderAdapter.sender_channels`); a list that cannot be had lets the message through,
        and the provider refuses it if it must."""
        adapter = self._adapters[addressed.provider]
        if addressed.channel not in adapter.sender_channels or not _is_number(addressed.business):
            return
        try:
            listed = self.catalog.senders(addressed.provider)
        except (ConfigurationError, ProviderRejected, ProviderUnavailable, ProviderRateLimited) as failed:
            log.warning("cannot check the sender with %s: %s", addressed.provider, failed)
            return
        business_number = addressed.address.business_number
        if listed_sender(listed, business_number, addressed.channel) is None:
            owned = [item.address for item in listed if addressed.channel in item.channels]
            raise Refusal(
                422,
                f"{addressed.business} is not a {addressed.channel.value} number of the {addressed.provider} "
                f"account (it sends from: {', '.join(owned[:10]) or 'none'})",
                field="from",
            )

    def _check_window(self, addressed: Addressed) -> None:
        thread = self._threads.get(addressed.thread_key)
        closed = closed_window(thread.last_inbound_at if thread is not None else 0.0, now=self._clock())
        if closed is not None:
            raise Refusal(422, closed, field="text")

    def _template_content(self, request: MessageRequest, addressed: Addressed) -> Content:
        asked = request.template
        assert asked is not None
        adapter = self._adapters[addressed.provider]
        if adapter.template_api is None:
            # Nothing to check against: the provider refuses what it has not approved.
            shown = f"WhatsApp template “{asked.name}” ({asked.language})"
            values = ", ".join(asked.variables)
            return Content(f"{shown}: {values}" if values else shown, asked.name)
        info = self._approved(addressed.provider, asked.name, asked.language)
        if len(asked.variables) != info.variables:
            raise Refusal(
                422,
                f"template “{asked.name}” takes {info.variables} variables, {len(asked.variables)} given",
                field="template.variables",
            )
        header = asked.header
        if info.header is not None and header is None:
            raise Refusal(
                422, f"template “{asked.name}” needs a header ({info.header.value})", field="template.header"
            )
        if header is not None and info.header is None:
            raise Refusal(422, f"template “{asked.name}” takes no header", field="template.header")
        if header is not None and info.header is not None and header.type is not info.header:
            raise Refusal(
                422,
                f"template “{asked.name}” has a {info.header.value} header, not {header.type.value}",
                field="template.header.type",
            )
        lines = [render(info.body, asked.variables) or f"WhatsApp template “{asked.name}”"]
        if header is not None and header.url:
            lines.append(header.url)
        names = placeholders(info.body)
        named = () if all(name.isdigit() for name in names) else tuple(names)
        return Content("\n".join(lines), info.name, named)

    def _approved(self, provider: str, name: str, language: str) -> TemplateInfo:
        try:
            found = self.catalog.find(provider, name, language)
        except ConfigurationError as missing:
            raise Refusal(
                422, f"{provider}'s templates cannot be listed: {missing}", field="template"
            ) from None
        except (ProviderRejected, ProviderUnavailable, ProviderRateLimited) as failed:
            raise Refusal(502, f"{provider} did not list its templates: {failed}", field="template") from None
        if not found:
            raise Refusal(422, f"{provider} has no template “{name}” in {language}", field="template.name")
        approved = [info for info in found if info.status is TemplateStatus.APPROVED]
        if not approved:
            status = found[0].status.value
            raise Refusal(
                422, f"template “{name}” ({language}) is {status}, not approved", field="template.name"
            )
        return approved[0]
