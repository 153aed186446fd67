"""The interface every provider adapter implements, like an httpx transport: small and closed.

An adapter knows one provider's wire format and nothing else: whether it is configured, how to
prove a webhook is genuine, how to turn it into `InboundMessage`s and `DeliveryStatus`es, what
the provider expects as an answer, and how to fetch the media it announces (which may need the
provider's credentials, and only from the hosts its `media_hosts` names or its configured API
URLs: `bridge.providers.media.fetch`). Replies leave through its `send_api`, the provider's send module,
its `read_api` marks the customer's WhatsApp message read when an agent answers (where the
provider's API can), and `bridge doctor` proves its API credentials through its `credential_check`.
Where its API lists them, `template_api` lists its WhatsApp templates and `sender_api` the
business addresses its account sends from.
Routes call adapters; adapters never touch Redis or Intercom.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import httpx

from bridge.core import metrics
from bridge.core.errors import (
    MalformedPayload,
    PartiallySent,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from bridge.core.metrics import ReadOutcome, SendOutcome
from bridge.core.retrying import RetryPolicy, call_with_retries
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryStatus, InboundMessage, Media
from bridge.model.outgoing import HeaderKind, OutboundMessage, SendLimits
from bridge.model.senders import SenderIdentity
from bridge.providers.media.fetch import FetchedMedia, Sink, download
from bridge.providers.media.urls import MediaHosts, MediaSources
from bridge.providers.refusals import json_answer


@dataclass(frozen=True)
class WebhookRequest:
    """A provider's HTTP request, as the bridge received it.

    `url` is the URL the provider called, rebuilt from `BRIDGE_PUBLIC_URL` when set: behind a
    proxy the URL the app sees differs from the one the provider signed.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    query: str
    body: bytes
    received_at: datetime

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class Acknowledgement:
    """What the provider expects back once its messages are safely stored."""

    status: int = 200
    media_type: str = "application/json"
    body: bytes = b'{"status":"accepted"}'
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookContent:
    """Everything one webhook request carried (Meta batches messages and statuses together)."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[DeliveryStatus, ...] = ()

    def unverified(self) -> WebhookContent:
        """This content from a request whose signature did not verify (let through by
        `BRIDGE_SIGNATURE_MODE=log-only`): its messages are marked so, and their media are never
        fetched (`bridge.conversations.attachments`)."""
        messages = tuple(message.model_copy(update={"verified": False}) for message in self.messages)
        return WebhookContent(messages=messages, statuses=self.statuses)


class SendApi(Protocol):
    """How one provider sends: `ProviderAdapter`'s `send_limits`, `send` and `failure_reason`,
    which forward to it (documented there)."""

    def send_limits(self, message: OutboundMessage) -> SendLimits: ...

    def send(
        self, message: OutboundMessage, settings: Settings, http: httpx.Client, policy: RetryPolicy
    ) -> str: ...

    def failure_reason(self, code: str | None) -> str | None: ...


class ReadApi(Protocol):
    """How one provider marks a customer's WhatsApp message read (`ProviderAdapter.mark_read`)."""

    def __call__(
        self,
        message_id: str,
        business_number: str,
        settings: Settings,
        http: httpx.Client,
        policy: RetryPolicy,
    ) -> None: ...


@dataclass(frozen=True)
class SendFunctions:
    """An `SendApi` made of a send module's three functions."""

    send_limits: Callable[[OutboundMessage], SendLimits]
    send: Callable[[OutboundMessage, Settings, httpx.Client, RetryPolicy], str]
    failure_reason: Callable[[str | None], str | None]


class TemplateStatus(StrEnum):
    """Where a template stands with WhatsApp, in one vocabulary for every provider: only an
    approved one is ever sent."""

    APPROVED = "approved"
    PENDING = "pending"
    REJECTED = "rejected"
    PAUSED = "paused"
    DISABLED = "disabled"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TemplateInfo:
    """A WhatsApp template as a provider lists it.

    `name` is what a `Template` carries to send it (Meta: the template's name; Twilio: the
    Content SID); `label` is what people call it (Twilio's friendly name). `body` keeps its
    placeholders (`bridge.model.outgoing.render` fills them); `variables` counts them."""

    provider: str
    name: str
    language: str
    status: TemplateStatus
    category: str = ""  # marketing, utility, authentication; "" when the provider does not say
    body: str = ""
    variables: int = 0
    header: HeaderKind | None = None
    label: str = ""


class TemplateApi(Protocol):
    """How one provider lists its WhatsApp templates (`ProviderAdapter.list_templates`)."""

    def __call__(self, settings: Settings, http: httpx.Client) -> list[TemplateInfo]: ...


@dataclass(frozen=True)
class BusinessAddress:
    """A business address the provider's account sends from, as its API lists it.

    `address` is written exactly as `ProviderAdapter.outbound_address(...).business_number` gives
    it on each of `channels` (Twilio's `+1415…`, Vonage's digits, Meta's phone-number id), so a
    `from` is checked by comparing strings: no second normalization to drift from the first.
    `channels` are those it can send on (an SMS-capable number: SMS; a voice-only one: none);
    `label` is what people call it (Twilio's friendly name, Meta's verified name), or ""."""

    provider: str
    address: str
    channels: frozenset[Channel]
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON object (a cache keeps the list briefly, as it keeps templates)."""
        return {
            "provider": self.provider,
            "address": self.address,
            "channels": sorted(channel.value for channel in self.channels),
            "label": self.label,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BusinessAddress:
        return cls(
            provider=str(data["provider"]),
            address=str(data["address"]),
            channels=frozenset(Channel(value) for value in data.get("channels") or ()),
            label=str(data.get("label") or ""),
        )


class SenderApi(Protocol):
    """How one provider lists the business addresses its account sends from
    (`ProviderAdapter.list_senders`)."""

    def __call__(self, settings: Settings, http: httpx.Client) -> list[BusinessAddress]: ...


def listed_sender(
    addresses: Iterable[BusinessAddress], business_number: str, channel: Channel
) -> BusinessAddress | None:
    """The listed address a message on `channel` from `business_number` (an
    `OutboundAddress.business_number`) leaves from, or None: the account does not send from it on
    that channel. Meaningful only on a channel the list covers (`ProviderAdapter.sender_channels`)."""
    return next(
        (item for item in addresses if item.address == business_number and channel in item.channels), None
    )


@dataclass(frozen=True)
class OutboundAddress:
    """A customer and a business address as this provider's inbound messages name them, so a
    message the team writes first opens the thread the customer's answer continues."""

    customer: str  # what the provider sends to (`whatsapp:+1415…` on Twilio, digits on Meta)
    business_number: str  # what the provider's webhooks give as the business side


@dataclass(frozen=True)
class CredentialCheck:
    """How one provider proves its API credentials (`ProviderAdapter.check_credentials`): the
    cheapest authenticated read its API offers. `request` names that call for people
    (`GET /balance`); `credentials` and `api_url` are the settings fields it reads, so a report
    can name the variables to fix; `run` makes the call and describes the account in a few words."""

    request: str
    credentials: tuple[str, ...]
    api_url: str
    run: Callable[[Settings, httpx.Client], str]


#: Quick retries for a credential check: one more try after a 5xx or a dropped connection, and
#: no long wait for a rate-limit window (`bridge doctor` runs while someone watches).
CHECK_POLICY = RetryPolicy(max_attempts=2, backoff=0.2, max_wait=2.0)


class ProviderAdapter(ABC):
    """One provider: configuration, verification, parsing, acknowledgement, media, sending."""

    #: The provider's name in routes (`/webhooks/{name}`), the ledger and metrics.
    name: str
    #: HTTP methods the provider calls `/webhooks/{name}` with (some send inbound SMS as GET).
    methods: frozenset[str] = frozenset({"POST"})
    #: HTTP methods it calls `/webhooks/{name}/status` with.
    status_methods: frozenset[str] = frozenset({"POST"})
    #: How replies leave through the provider (its send module's `SEND_API`); None: they cannot yet.
    send_api: ClassVar[SendApi | None] = None
    #: How it marks a customer's WhatsApp message read (the blue ticks); None: its API cannot.
    read_api: ClassVar[ReadApi | None] = None
    #: How its API credentials are proved (`bridge doctor`); None: no check for it yet.
    credential_check: ClassVar[CredentialCheck | None] = None
    #: How it lists its WhatsApp templates; None: it has none to list.
    template_api: ClassVar[TemplateApi | None] = None
    #: How it lists the business addresses its account sends from; None: it cannot tell.
    sender_api: ClassVar[SenderApi | None] = None
    #: The channels that list is complete for. On another channel the provider cannot tell
    #: whether the account owns a `from` (Twilio's WhatsApp senders are not among its numbers).
    sender_channels: ClassVar[frozenset[Channel]] = frozenset()
    #: The error codes by which the provider says the customer opted out (Twilio 21610): they
    #: opt the customer out as their STOP would (`bridge.replies.optouts`).
    opt_out_codes: ClassVar[frozenset[str]] = frozenset()
    #: The keywords the provider answers itself, by channel (Twilio's default opt-out handling
    #: answers STOP, START and HELP on SMS): the bridge does not answer them a second time.
    keyword_answers: ClassVar[Mapping[Channel, frozenset[str]]] = {}
    #: The channels the team can write first on through it (`bridge.outreach`).
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.SMS})
    #: The hosts the provider documents for its media (`bridge.providers.media.urls.MediaHosts`): with its
    #: configured API URLs, the only places its media are fetched from. None by default.
    media_hosts: ClassVar[MediaHosts] = MediaHosts()
    #: The settings fields of its API URLs (`twilio_api_url`): their origins are trusted for
    #: media as the operator configured them (any scheme, any address: a stand-in in tests).
    api_url_settings: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def disabled_reason(self, settings: Settings) -> str | None:
        """Why the provider is off (its verifying secret is unset), or None when it is on."""

    @abstractmethod
    def verify(self, request: WebhookRequest, settings: Settings) -> None:
        """Raise `SignatureInvalid` unless the request provably comes from the provider."""

    @abstractmethod
    def parse(self, request: WebhookRequest, settings: Settings) -> WebhookContent:
        """What a verified request to `/webhooks/{name}` carries; `MalformedPayload` if unreadable."""

    def parse_statuses(self, request: WebhookRequest, settings: Settings) -> list[DeliveryStatus]:
        """The delivery reports in a verified request to `/webhooks/{name}/status`."""
        raise MalformedPayload(f"{self.name} sends no delivery reports to this route")

    def handshake(self, request: WebhookRequest, settings: Settings) -> Acknowledgement | None:
        """Answer a subscription check (Meta's `hub.challenge`), or None for a normal request."""
        return None

    def acknowledge(self) -> Acknowledgement:
        """The answer once everything in the request is stored."""
        return Acknowledgement()

    def send_limits(self, message: OutboundMessage) -> SendLimits:
        """What one message can carry on `message`'s channel with this provider."""
        return self._send_api().send_limits(message)

    def send(
        self, message: OutboundMessage, settings: Settings, http: httpx.Client, policy: RetryPolicy
    ) -> str:
        """Send one message; the id the provider gave it (delivery reports refer to it).

        Raises `ProviderRejected` (permanent, with the provider's code), `PartiallySent` (some
        parts went out, others were refused: never sent again) or, once quick retries ran out,
        `ProviderUnavailable` / `ProviderRateLimited` (the job is retried later). Every outcome is
        counted here, the one door every send goes through: a partial send as sent, since the
        customer got it (what is missing reaches the agent as a note)."""
        recorder = metrics.current()
        template = message.template is not None
        try:
            provider_message_id = self._send_api().send(message, settings, http, policy)
        except PartiallySent:
            recorder.outbound_message(self.name, SendOutcome.SENT, template=template)
            raise
        except ProviderRejected:
            recorder.outbound_message(self.name, SendOutcome.REJECTED, template=template)
            raise
        except Exception:
            recorder.outbound_message(self.name, SendOutcome.FAILED, template=template)
            raise
        recorder.outbound_message(self.name, SendOutcome.SENT, template=template)
        return provider_message_id

    def mark_read(
        self,
        message_id: str,
        business_number: str,
        settings: Settings,
        http: httpx.Client,
        policy: RetryPolicy,
    ) -> None:
        """Mark the customer's WhatsApp message `message_id` (the provider's id for it), which
        reached `business_number`, read: the customer sees the blue ticks, on it and on every
        earlier message of the chat. Raises like a send (`ProviderRejected`, `ProviderUnavailable`,
        `ProviderRateLimited`, `ConfigurationError`); counted here, the one door every read
        receipt goes through. Refused when the provider has no `read_api`."""
        if self.read_api is None:
            raise refused(self.name, "its API cannot mark a customer's message read")
        recorder = metrics.current()
        try:
            self.read_api(message_id, business_number, settings, http, policy)
        except ProviderRejected:
            recorder.read_receipt(self.name, ReadOutcome.REJECTED)
            raise
        except Exception:
            recorder.read_receipt(self.name, ReadOutcome.FAILED)
            raise
        recorder.read_receipt(self.name, ReadOutcome.MARKED)

    def failure_reason(self, code: str | None) -> str | None:
        """A person's explanation of a delivery error code (Twilio 21610: the customer replied
        STOP), for the note agents read; None when the code is not in the provider's table."""
        return self.send_api.failure_reason(code) if self.send_api is not None else None

    def fetch_media(
        self, media: Media, settings: Settings, http: httpx.Client, *, into: Sink
    ) -> FetchedMedia:
        """Download an announced attachment into `into` (`bridge.providers.media.fetch.download`). By
        default a plain GET of its URL, no credentials: adapters whose media need credentials
        override this."""
        if not media.url:
            raise MalformedPayload(f"{self.name} media {media.reference} has no URL")
        return download(http, media.url, media=media, sources=self.media_sources(settings), into=into)

    def media_sources(self, settings: Settings) -> MediaSources:
        """Where this provider's media may be fetched from, with these settings."""
        api_urls = tuple(str(getattr(settings, name)) for name in self.api_url_settings)
        return MediaSources(provider=self.name, hosts=self.media_hosts, api_urls=api_urls)

    def check_credentials(self, settings: Settings, http: httpx.Client) -> str:
        """Prove the API credentials with the cheapest authenticated read the provider's API
        offers; a short description of the account ("account Acme (AC12…)"), never a secret.

        Raises `ConfigurationError` naming the variable when a credential is unset,
        `ProviderRejected` when the provider refuses them, and `ProviderUnavailable` /
        `ProviderRateLimited` when it cannot be asked."""
        if self.credential_check is None:
            raise refused(self.name, "no credential check for this provider")
        return self.credential_check.run(settings, http)

    def list_templates(self, settings: Settings, http: httpx.Client) -> list[TemplateInfo]:
        """Every WhatsApp template the provider's account has, whatever its status (all pages).

        Raises `ConfigurationError` naming the variable when the account is not configured,
        and `ProviderRejected` / `ProviderUnavailable` / `ProviderRateLimited` like a send."""
        if self.template_api is None:
            raise refused(self.name, "it has no WhatsApp templates to list")
        return self.template_api(settings, http)

    def list_senders(self, settings: Settings, http: httpx.Client) -> list[BusinessAddress]:
        """Every business address the provider's account sends from (all pages), each written as
        `outbound_address` names the business, so a message's `from` can be checked before it is
        sent (`listed_sender`); complete only for `sender_channels`.

        Raises `ConfigurationError` naming the variable when the account is not configured,
        and `ProviderRejected` / `ProviderUnavailable` / `ProviderRateLimited` like a send."""
        if self.sender_api is None:
            raise refused(self.name, "it cannot list the numbers its account sends from")
        return self.sender_api(settings, http)

    def outbound_address(self, customer: SenderIdentity, business: str, channel: Channel) -> OutboundAddress:
        """How this provider addresses `customer` from `business` (the `from` of a message the
        team writes first) on `channel`: exactly as its webhooks would name both, so the
        thread key matches the customer's answer. By default both as given (`customer.raw`)."""
        return OutboundAddress(customer=customer.raw, business_number=business)

    def _send_api(self) -> SendApi:
        if self.send_api is None:
            raise refused(self.name, "the bridge cannot send through it yet")
        return self.send_api


def api_call(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    provider: str,
    policy: RetryPolicy,
    error: Callable[[httpx.Response], tuple[str | None, str]],
    **kwargs: Any,
) -> httpx.Response:
    """One call to a provider's API: quick retries on 429/5xx (`bridge.core.retrying`), then any other
    4xx/5xx raised as `ProviderRejected` with the provider's code and message, read by `error`."""
    path = urlsplit(url).path
    response = call_with_retries(
        lambda: http.request(method, url, **kwargs),
        policy=policy,
        service=provider,
        request=f"{method} {path}",
        unavailable=ProviderUnavailable,
        rate_limited=ProviderRateLimited,
        describe=lambda answer: " ".join(part for part in error(answer) if part),
    )
    if response.status_code >= 400:
        code, message = error(response)
        raise ProviderRejected(provider=provider, code=code, message=message, status=response.status_code)
    return response


def post_json(
    http: httpx.Client,
    url: str,
    body: Mapping[str, Any],
    *,
    provider: str,
    policy: RetryPolicy,
    headers: Mapping[str, str],
    error: Callable[[httpx.Response], tuple[str | None, str]],
) -> httpx.Response:
    """POST `body` as JSON through `api_call`; the provider's 2xx answer."""
    return api_call(
        http, "POST", url, provider=provider, policy=policy, error=error, json=body, headers=headers
    )


def read_account(
    http: httpx.Client,
    url: str,
    *,
    provider: str,
    error: Callable[[httpx.Response], tuple[str | None, str]],
    **kwargs: Any,
) -> dict[str, Any]:
    """GET `url` through `api_call` with `CHECK_POLICY` (a credential check); the answer's JSON
    object. A 2xx without one is refused: whatever answered is not the provider's API."""
    response = api_call(http, "GET", url, provider=provider, policy=CHECK_POLICY, error=error, **kwargs)
    data = json_answer(response)
    if not isinstance(data, dict):
        raise refused(provider, "the answer is not a JSON object", status=response.status_code)
    return data


def refused(provider: str, reason: str, *, status: int | None = None) -> ProviderRejected:
    """A refusal with no provider code: a message the bridge will not send as it is (the provider
    never saw it), or a 2xx answer it cannot use (`status`: the answer's)."""
    return ProviderRejected(provider=provider, code=None, message=reason, status=status)
