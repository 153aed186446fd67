"""A message the team asks to send, read and addressed: pure functions over the request.

Everything here runs before anything is stored or sent, and answers a person's mistake with the
field at fault and what is wrong with it (`Refusal`): an unreadable number, a channel no
configured provider serves, a missing business number. What needs Redis or a provider's API
(WhatsApp's window, the template's approval) is checked by `bridge.outreach.accept`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bridge.consent.store import scope_of
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.outgoing import HeaderKind, Template, TemplateHeader
from bridge.model.senders import IdentityKind, SenderIdentity, classify_sender
from bridge.providers.base import OutboundAddress, ProviderAdapter

MAX_TEXT = 10_000  # characters: a long SMS is split by the provider's limits, WhatsApp takes 4,096
MAX_MEDIA = 10
MAX_VARIABLES = 100
WHATSAPP_PREFIX = "whatsapp:"  # how Twilio writes WhatsApp addresses; accepted in `to`


class Refusal(Exception):
    """Why a message is not accepted: an HTTP status, the request field at fault (None: the
    request as a whole), and the reason in words a person acts on."""

    def __init__(self, status: int, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field

    def to_json(self) -> dict[str, Any]:
        """The answer's body: `detail` like every other refusal of the bridge, and the field apart."""
        detail = f"{self.field}: {self.reason}" if self.field else self.reason
        return {"detail": detail, "error": {"field": self.field, "reason": self.reason}}


def _web_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an http or https URL")
    return url


class HeaderRequest(BaseModel):
    """A template's header: media by URL (the provider fetches it), or a text value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: HeaderKind
    url: str | None = Field(None, max_length=2048)
    text: str | None = Field(None, max_length=1024)

    @model_validator(mode="after")
    def _filled(self) -> HeaderRequest:
        if self.type is HeaderKind.TEXT and not self.text:
            raise ValueError("a text header needs `text`")
        if self.type is not HeaderKind.TEXT:
            if not self.url:
                raise ValueError(f"an {self.type.value} header needs `url`")
            _web_url(self.url)
        return self


class TemplateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=512)
    language: str = Field("en_US", min_length=2, max_length=16)
    variables: tuple[str, ...] = Field((), max_length=MAX_VARIABLES)
    header: HeaderRequest | None = None

    @field_validator("variables")
    @classmethod
    def _short(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if any(len(value) > 1024 for value in values):
            raise ValueError("a variable holds at most 1,024 characters")
        return values

    def template(self) -> Template:
        header = self.header
        return Template(
            name=self.name,
            language=self.language,
            variables=self.variables,
            header=TemplateHeader(header.type, url=header.url, text=header.text) if header else None,
        )


class MessageRequest(BaseModel):
    """`POST /api/messages`, the inbox app's send panel and `bridge send` all ask for this."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    to: str = Field(min_length=1, max_length=256)
    channel: Channel = Channel.SMS
    provider: str | None = Field(None, max_length=32)
    sender: str | None = Field(None, alias="from", max_length=256)
    text: str = Field("", max_length=MAX_TEXT)
    media_urls: tuple[str, ...] = Field((), max_length=MAX_MEDIA)
    template: TemplateRequest | None = None
    intercom_contact_id: str | None = Field(None, min_length=1, max_length=64)
    admin_id: str | None = Field(None, min_length=1, max_length=32, pattern=r"^\d+$")
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)

    @field_validator("media_urls")
    @classmethod
    def _urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        for url in urls:
            if len(url) > 2048:
                raise ValueError("a media URL holds at most 2,048 characters")
            _web_url(url)
        return urls

    @model_validator(mode="after")
    def _content(self) -> MessageRequest:
        if self.template is not None and (self.text.strip() or self.media_urls):
            raise ValueError("send `text`/`media_urls` or a `template`, not both")
        if self.template is None and not self.text.strip() and not self.media_urls:
            raise ValueError("nothing to send: give `text`, `media_urls` or a `template`")
        return self

    def fingerprint(self) -> str:
        """What the same idempotency key must come with again: the request without its key."""
        body = self.model_dump(mode="json", by_alias=True, exclude={"idempotency_key"})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def read_request(data: Any, *, idempotency_header: str | None = None) -> MessageRequest:
    """The request from its decoded JSON; `Refusal` (422) naming the first field at fault.
    The `Idempotency-Key` header stands for `idempotency_key` (the body's wins when both agree;
    two different keys are refused)."""
    if not isinstance(data, dict):
        raise Refusal(400, "the body must be a JSON object")
    if idempotency_header is not None:
        given = data.get("idempotency_key")
        if given is not None and given != idempotency_header:
            raise Refusal(422, "differs from the Idempotency-Key header", field="idempotency_key")
        data = {**data, "idempotency_key": idempotency_header}
    try:
        return MessageRequest.model_validate(data)
    except ValidationError as invalid:
        error = invalid.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or None
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise Refusal(422, reason, field=field) from None


@dataclass(frozen=True)
class Addressed:
    """A request with its provider, channel, customer and business address decided."""

    provider: str
    channel: Channel
    customer: SenderIdentity  # who, as an inbound message from them would be classified
    business: str  # the `from` as asked for (or by default)
    address: OutboundAddress  # both as the provider names them

    @property
    def consent_scope(self) -> str:
        """Where the customer's consent for this business address is kept (`bridge.consent`)."""
        return scope_of(self.channel, self.address.business_number)

    @property
    def thread_key(self) -> str:
        """The thread the customer's answer lands in (`bridge.conversations.threads.thread_key`)."""
        return f"{self.provider}:{self.channel.value}:{self.address.business_number}:{self.customer.key}"


def address(
    request: MessageRequest, settings: Settings, adapters: Mapping[str, ProviderAdapter]
) -> Addressed:
    """Decide provider, customer and business address for `request`; `Refusal` when it cannot
    be sent as asked."""
    adapter = choose_provider(request, settings, adapters)
    written = request.to.strip()
    if written.lower().startswith(WHATSAPP_PREFIX):
        if request.channel is not Channel.WHATSAPP:
            raise Refusal(422, "a whatsapp: address with channel sms: say channel whatsapp", field="to")
        written = written[len(WHATSAPP_PREFIX) :]
    customer = classify_sender(written, country_code_included=False, default_region=settings.default_region)
    _check_customer(customer, request.channel)
    business = request.sender or default_sender(settings, adapter.name, request.channel)
    if not business:
        raise Refusal(
            422,
            f"no business number to send from: give `from`, or set BRIDGE_DEFAULT_SENDERS "
            f"(e.g. {adapter.name}=+12025550100)",
            field="from",
        )
    return Addressed(
        provider=adapter.name,
        channel=request.channel,
        customer=customer,
        business=business,
        address=adapter.outbound_address(customer, business, request.channel),
    )


def choose_provider(
    request: MessageRequest, settings: Settings, adapters: Mapping[str, ProviderAdapter]
) -> ProviderAdapter:
    """The provider named, or the one configured provider that serves the channel."""
    channel = request.channel
    if request.provider is not None:
        adapter = adapters.get(request.provider.lower())
        if adapter is None:
            raise Refusal(422, f"unknown provider (one of {', '.join(adapters)})", field="provider")
        off = adapter.disabled_reason(settings)
        if off is not None:
            raise Refusal(422, f"{adapter.name} is not configured: {off}", field="provider")
        if channel not in adapter.channels or adapter.send_api is None:
            raise Refusal(422, f"{adapter.name} does not send {channel.value}", field="provider")
        return adapter
    serving = [
        adapter
        for adapter in adapters.values()
        if channel in adapter.channels
        and adapter.send_api is not None
        and adapter.disabled_reason(settings) is None
    ]
    if len(serving) == 1:
        return serving[0]
    if not serving:
        raise Refusal(422, f"no configured provider sends {channel.value}", field="channel")
    names = ", ".join(adapter.name for adapter in serving)
    raise Refusal(422, f"several providers send {channel.value} ({names}): name one", field="provider")


def default_sender(settings: Settings, provider: str, channel: Channel) -> str | None:
    """`BRIDGE_DEFAULT_SENDERS`'s business address for the provider on the channel."""
    senders = settings.default_senders
    return senders.get(f"{provider}:{channel.value}") or senders.get(provider)


_KIND_NAMES = {
    IdentityKind.SHORT_CODE: "a short code",
    IdentityKind.ALPHANUMERIC: "an alphanumeric sender id",
}


def _check_customer(customer: SenderIdentity, channel: Channel) -> None:
    kind = customer.kind
    if kind is IdentityKind.PHONE:
        return
    if kind is IdentityKind.WHATSAPP_USER:
        if channel is Channel.WHATSAPP:
            return
        raise Refusal(422, "a WhatsApp user id can only be written to on WhatsApp", field="to")
    if kind in (IdentityKind.SHORT_CODE, IdentityKind.ALPHANUMERIC):
        raise Refusal(422, f"{_KIND_NAMES[kind]} takes no messages from a business", field="to")
    raise Refusal(422, "not a phone number (or WhatsApp user id) the bridge can read", field="to")
