"""The MessageBird adapter: one route for three payload generations, two signatures.

Classic forwards and Conversations API events are signed with `MessageBird-Signature-JWT`, a JWT
(HS256/384/512, the account's signing key) whose claims bind it to the URL as called (`url_hash`,
query order included) and to the raw body (`payload_hash`); it is valid 60 seconds (python SDK
`RequestValidator` and its 44 vectors). Bird's Channels API signs with `messagebird-signature`
instead (see `channels`). The adapter takes the time from an injected clock so tests can freeze it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from bridge.core import signing
from bridge.core.errors import MalformedPayload
from bridge.core.json_payloads import JsonNode
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryStatus, Media
from bridge.model.senders import SenderIdentity
from bridge.providers.addressing import check_channel, customer_address, digits_number
from bridge.providers.base import (
    Acknowledgement,
    OutboundAddress,
    ProviderAdapter,
    WebhookContent,
    WebhookRequest,
    refused,
)
from bridge.providers.media.fetch import FetchedMedia, Sink, download
from bridge.providers.media.urls import MediaHosts
from bridge.providers.messagebird import channels, classic, conversations
from bridge.providers.messagebird import check as checking
from bridge.providers.messagebird import send as sending
from bridge.providers.messagebird.common import NAME

JWT_HEADER = "MessageBird-Signature-JWT"
JWT_ALGORITHMS = ("HS256", "HS384", "HS512")
JWT_ISSUER = "MessageBird"
JWT_CLAIMS = ("iss", "nbf", "exp", "jti")
# courier answers MessageBird's forwards with a plain `OK`, which MessageBird expects.
ACKNOWLEDGEMENT = b"OK"
# MessageBird's and Bird's own hosts (`media.messagebird.com`, `media.api.bird.com`): the only
# ones, with the configured API URLs, their media are fetched from.
TRUSTED_DOMAINS = ("messagebird.com", "bird.com")
MEDIA_HOSTS = MediaHosts(named=TRUSTED_DOMAINS)


class MessageBirdAdapter(ProviderAdapter):
    name = NAME
    # Number forwards may come as GET with the fields in the query; status reports usually do.
    methods = frozenset({"GET", "POST"})
    status_methods = frozenset({"GET", "POST"})
    send_api = sending.SEND_API
    credential_check = checking.CREDENTIAL_CHECK
    # MessageBird lists templates only through its Integrations API (another host and API the
    # bridge has no setting for): no listing here. Its numbers, likewise, only on the Numbers API,
    # `GET https://numbers.messagebird.com/v1/phone-numbers` (python SDK `NUMBER_API_ROOT`,
    # go-rest-api `number.apiRoot`), with no setting to point it at a stand-in; and a WhatsApp
    # `from` is a Conversations channel id, which no list the bridge reads names. No sender list.
    channels = frozenset({Channel.SMS, Channel.WHATSAPP})
    opt_out_codes = frozenset({"103"})  # "Contact has sent 'stop'" (failures.py)
    media_hosts = MEDIA_HOSTS
    api_url_settings = ("messagebird_api_url", "messagebird_conversations_api_url")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def disabled_reason(self, settings: Settings) -> str | None:
        if settings.messagebird_signing_key is None:
            return "MessageBird is not configured: set MESSAGEBIRD_SIGNING_KEY to verify its webhooks"
        return None

    def verify(self, request: WebhookRequest, settings: Settings) -> None:
        secret = settings.secret("messagebird_signing_key")
        token = request.headers.get(JWT_HEADER.lower())
        if token is None and request.headers.get(channels.SIGNATURE_HEADER):
            channels.verify_signature(request, secret, now=self._clock(), settings=settings)
            return
        signing.verify_jwt(
            token,
            header=JWT_HEADER,
            secret=secret,
            body=request.body,
            algorithms=JWT_ALGORITHMS,
            issuer=JWT_ISSUER,
            required_claims=JWT_CLAIMS,
            url=request.url,
            payload_hash_required=True,
            now=self._clock(),
        )

    def parse(self, request: WebhookRequest, settings: Settings) -> WebhookContent:
        if _is_json(request):
            return _json_event(request, settings)
        return WebhookContent(messages=(classic.forwarded_message(request, settings),))

    def parse_statuses(self, request: WebhookRequest, settings: Settings) -> list[DeliveryStatus]:
        if _is_json(request):
            content = _json_event(request, settings)
            if content.messages:
                raise MalformedPayload(
                    f"inbound messages belong on /webhooks/{self.name}, not its status URL"
                )
            return list(content.statuses)
        return classic.status_reports(request)

    def acknowledge(self) -> Acknowledgement:
        return Acknowledgement(media_type="text/plain", body=ACKNOWLEDGEMENT)

    def outbound_address(self, customer: SenderIdentity, business: str, channel: Channel) -> OutboundAddress:
        """As MessageBird's events name both: the customer's international digits without `+`
        (a forward's `originator`, a Conversations message's `from`), and the business as the
        number a forward names (`recipient`, digits) or the Conversations channel id
        (`message.channelId`), which also picks the API a send takes (`send.api_for`). WhatsApp
        leaves only through a Conversations channel; a Bird channel cannot be sent through."""
        check_channel(self.name, self.channels, channel)
        sender = business.strip()
        api = sending.api_for_sender(sender)
        if api is sending.Api.BIRD:
            raise refused(self.name, "a Bird channel (Bird's Channels API) cannot be sent through")
        if channel is Channel.WHATSAPP and api is not sending.Api.CONVERSATIONS:
            raise refused(
                self.name, "WhatsApp leaves through a Conversations channel: give its channel id as `from`"
            )
        address = customer_address(self.name, customer, channel, plus=False)
        number = sender if api is sending.Api.CONVERSATIONS else digits_number(sender)
        return OutboundAddress(customer=address, business_number=number)

    def fetch_media(
        self, media: Media, settings: Settings, http: httpx.Client, *, into: Sink
    ) -> FetchedMedia:
        """MessageBird and Bird media may need `Authorization: AccessKey`. Only links on their
        own hosts over HTTPS (or on MESSAGEBIRD_API_URL's) are fetched at all, and the key goes
        to that server only, never to wherever a redirect leads."""
        if not media.url:
            raise MalformedPayload(f"{self.name} media {media.reference} has no URL")
        headers = {}
        if settings.messagebird_access_key is not None:
            headers["Authorization"] = f"AccessKey {settings.secret('messagebird_access_key')}"
        sources = self.media_sources(settings)
        return download(http, media.url, media=media, sources=sources, into=into, headers=headers)


def _is_json(request: WebhookRequest) -> bool:
    content_type = request.content_type
    return content_type == "application/json" or (not content_type and request.body.lstrip()[:1] == b"{")


def _json_event(request: WebhookRequest, settings: Settings) -> WebhookContent:
    """A JSON body: a Bird Channels event, or else a Conversations API event."""
    data = JsonNode.parse(request.body)
    if data.data.get("service") == "channels" or "payload" in data.data:
        return channels.event(data, request, settings)
    return conversations.event(data, request, settings)
