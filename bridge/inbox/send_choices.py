"""What the inbox app's send panel offers and decides, as pure functions: the numbers an agent
may write from, who the message goes to, template variables prefilled from the contact, the
idempotency key of a preview, and what to do after a refusal.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bridge.conversations.threads import Thread
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.outgoing import placeholders
from bridge.outreach.requests import MessageRequest, Refusal, default_sender
from bridge.providers.base import ProviderAdapter, TemplateInfo

CHANNEL_NAMES = {Channel.SMS: "SMS", Channel.WHATSAPP: "WhatsApp"}
_WHATSAPP_PREFIX = "whatsapp:"


@dataclass(frozen=True)
class Route:
    """A channel, a provider and the business number a message leaves from."""

    channel: Channel
    provider: str
    business: str
    conversation: bool = False  # the conversation's own thread: the customer wrote in this way

    @property
    def id(self) -> str:
        return f"{self.channel.value}|{self.provider}|{self.business}"

    @property
    def label(self) -> str:
        shown = f"{CHANNEL_NAMES[self.channel]} · {self.provider} · {self.business}"
        return f"{shown} (this conversation)" if self.conversation else shown

    def same_as(self, other: Route) -> bool:
        return (self.channel, self.provider, _bare(self.business)) == (
            other.channel,
            other.provider,
            _bare(other.business),
        )


@dataclass(frozen=True)
class Routes:
    offered: list[Route]  # the conversation's own first: preselected
    unnumbered: list[str]  # "WhatsApp via vonage": configured, but no default number to write from


def routes(settings: Settings, adapters: Mapping[str, ProviderAdapter], thread: Thread | None) -> Routes:
    """Every way the agent may write: each configured provider on each channel it sends, from its
    default number (`BRIDGE_DEFAULT_SENDERS`), and the conversation's own thread when the bridge
    carries it (its provider and business number, whatever the defaults say)."""
    serving = {
        name: adapter
        for name, adapter in sorted(adapters.items())
        if adapter.send_api is not None and adapter.disabled_reason(settings) is None
    }
    offered: list[Route] = []
    if thread is not None and thread.channel in set(Channel) and thread.provider in serving:
        channel = Channel(thread.channel)
        if channel in serving[thread.provider].channels:
            offered.append(Route(channel, thread.provider, thread.business_number, conversation=True))
    unnumbered: list[str] = []
    for channel in Channel:
        for name, adapter in serving.items():
            if channel not in adapter.channels:
                continue
            business = default_sender(settings, name, channel)
            if business is None:
                unnumbered.append(f"{CHANNEL_NAMES[channel]} via {name}")
                continue
            route = Route(channel, name, business)
            if not any(route.same_as(known) for known in offered):
                offered.append(route)
    return Routes(offered, unnumbered)


def recipient(route: Route, phone: str | None, thread: Thread | None) -> str | None:
    """Whom `route` writes to: on WhatsApp through the provider of the conversation's WhatsApp
    thread, the address the customer wrote from (it may be a WhatsApp user id, with no number on
    the contact); otherwise the contact's phone. None when there is nobody to write to."""
    if (
        route.channel is Channel.WHATSAPP
        and thread is not None
        and thread.channel == Channel.WHATSAPP.value
        and thread.provider == route.provider
        and thread.customer_address
    ):
        return _whatsapp_user(thread.customer_address)
    return phone.strip() if phone and phone.strip() else None


def _whatsapp_user(address: str) -> str:
    """A thread's customer address as `to` takes it: WhatsApp ids are international numbers
    written without `+` by most providers (Meta's `wa_id`), and Twilio prefixes `whatsapp:`."""
    bare = _bare(address)
    return f"+{bare}" if bare.isdigit() else bare


def _bare(address: str) -> str:
    text = address.strip()
    return text[len(_WHATSAPP_PREFIX) :] if text.lower().startswith(_WHATSAPP_PREFIX) else text


# --- template variables ---


def variable_names(info: TemplateInfo) -> list[str]:
    """What each of the template's variables is called, in sending order: a named placeholder
    (Meta's `{{first_name}}`) by its name, a positional one by its number. A Twilio content
    counts variables outside its body too (a media URL's), so the count wins over the body."""
    names = placeholders(info.body)
    if names and not all(name.isdigit() for name in names):
        return names + [str(index) for index in range(len(names) + 1, info.variables + 1)]
    return [str(index) for index in range(1, max(info.variables, len(names)) + 1)]


@dataclass(frozen=True)
class ContactFacts:
    """What a variable can be prefilled from."""

    name: str = ""
    email: str = ""
    attributes: Mapping[str, str] | None = None


# Variable names (normalized) that mean one of the contact's own fields.
_FIRST, _LAST, _FULL, _EMAIL = "first", "last", "full", "email"
_CONTACT_FIELDS: Mapping[str, str] = {
    **dict.fromkeys(("first_name", "firstname", "given_name", "customer_first_name"), _FIRST),
    **dict.fromkeys(("last_name", "lastname", "family_name", "surname"), _LAST),
    **dict.fromkeys(("name", "full_name", "customer_name", "contact_name", "customer"), _FULL),
    **dict.fromkeys(("email", "email_address"), _EMAIL),
}
# `{{1}}` right after a greeting is the customer's name ("Hi {{1}}, your order…"); anywhere else a
# positional variable could be anything (an order number, an authentication code), so it is left
# for the agent to fill.
_GREETING = re.compile(
    r"(?:^|[\s,.;!¡¿])(?:hi|hello|hey|dear|hola|bonjour|hallo|hej|ciao|ol[aá]|salut|namaste)[\s,]*$",
    re.IGNORECASE,
)


def prefill(info: TemplateInfo, facts: ContactFacts) -> list[str]:
    """A value for each variable when the contact holds it, else "": a variable named after a
    contact field (`first_name`, `email`…) or a custom attribute (`order_number` for the
    attribute "Order number"), and `{{1}}` after a greeting, with the first name."""
    attributes = {_normalized(name): value for name, value in (facts.attributes or {}).items()}
    values = []
    for name in variable_names(info):
        key = _normalized(name)
        field = _CONTACT_FIELDS.get(key)
        if field is not None:
            values.append(_contact_field(facts, field))
        elif key in attributes:
            values.append(attributes[key])
        elif name == "1" and info.category != "authentication" and _greets(info.body):
            values.append(_contact_field(facts, _FIRST))
        else:
            values.append("")
    return values


def _greets(body: str) -> bool:
    """Whether `{{1}}` first appears right after a greeting."""
    first = re.search(r"\{\{\s*1\s*\}\}", body)
    return first is not None and _GREETING.search(body[: first.start()]) is not None


def _contact_field(facts: ContactFacts, field: str) -> str:
    words = facts.name.split()
    if field == _FIRST:
        return words[0] if words else ""
    if field == _LAST:
        return " ".join(words[1:])
    if field == _EMAIL:
        return facts.email
    return facts.name.strip()


def _normalized(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# --- sending ---


def idempotency_key(conversation_id: str | None, request: MessageRequest, nonce: str) -> str:
    """One message per preview: Send clicked twice (or Intercom retrying the request) sends once,
    while the same text previewed again is a new message, as the agent meant it to be."""
    basis = "\n".join((conversation_id or "", request.fingerprint(), nonce))
    return f"inbox:{hashlib.sha256(basis.encode()).hexdigest()[:40]}"


# What an agent can do about a refusal, by status and the request field at fault (a prefix);
# the first that matches.
_NEXT_STEPS: Sequence[tuple[int | None, str | None, str]] = (
    (409, "idempotency_key", "Preview the message again, then send it."),
    (409, None, "The customer opted out of messages from this number: only they can opt in again."),
    (422, "text", "Send an approved template instead: Use a WhatsApp template."),
    (422, "template", "Pick another template, or check its variables and header."),
    (422, "to", "Correct the phone number on the contact's profile in Intercom, then open this panel again."),
    (
        None,
        "from",
        "Choose another number under Send from, or ask an admin to check BRIDGE_DEFAULT_SENDERS.",
    ),
    (None, "provider", "Choose another number under Send from."),
    (None, "channel", "Choose another number under Send from."),
    (502, None, "The provider could not be reached: try again in a moment."),
)


def next_step(refusal: Refusal) -> str:
    """What the agent can do, after "Nothing was sent": a person's next step for the refusal."""
    for status, field, advice in _NEXT_STEPS:
        if status not in (None, refusal.status):
            continue
        if field is None or (refusal.field or "").startswith(field):
            return advice
    return "Change the message and preview it again."
