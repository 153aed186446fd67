"""The Vonage adapter: tells the SMS API from the Messages API per request, fetches media, sends."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx

from bridge.core.errors import MalformedPayload
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryStatus, Media
from bridge.model.senders import SenderIdentity
from bridge.providers.addressing import check_channel, customer_address, digits_number
from bridge.providers.base import OutboundAddress, ProviderAdapter, WebhookContent, WebhookRequest
from bridge.providers.media.fetch import FetchedMedia, Sink, download
from bridge.providers.media.urls import MediaHosts, refusal
from bridge.providers.payloads import request_fields
from bridge.providers.vonage import check as checking
from bridge.providers.vonage import messages_api, receipts, senders, sms_api
from bridge.providers.vonage import send as sending

log = logging.getLogger(__name__)

NAME = "vonage"
# Messages API media are on Vonage's media servers (`https://api-us.nexmo.com/v3/media/<id>`,
# developer.vonage.com/messages/concepts/secure-inbound-media): with VONAGE_API_URL's and
# VONAGE_MESSAGES_API_URL's origins, the only hosts its media are fetched from.
MEDIA_HOSTS = MediaHosts(named=("nexmo.com", "vonage.com"))


class VonageAdapter(ProviderAdapter):
    name = NAME
    # The SMS API calls with GET or POST, as the dashboard's "HTTP method" says; Messages API POSTs.
    methods = frozenset({"GET", "POST"})
    status_methods = frozenset({"GET", "POST"})
    send_api = sending.SEND_API
    read_api = staticmethod(receipts.mark_read)
    credential_check = checking.CREDENTIAL_CHECK
    # Templates are managed through Vonage's WhatsApp Manager API, which takes only an
    # application's JWT (the bridge holds the API key and secret): no listing here.
    # Its numbers send SMS; its WhatsApp numbers are listed nowhere the key can read (`senders`).
    sender_api = staticmethod(senders.list_senders)
    sender_channels = frozenset({Channel.SMS})
    channels = frozenset({Channel.SMS, Channel.WHATSAPP})
    opt_out_codes = frozenset({"1240"})  # the customer opted out (failures.py)
    media_hosts = MEDIA_HOSTS
    api_url_settings = ("vonage_api_url", "vonage_messages_api_url")

    def __init__(
        self, *, clock: Callable[[], float] = time.time, max_skew: float = sms_api.DEFAULT_MAX_SKEW
    ) -> None:
        self._clock = clock
        self._max_skew = max_skew

    def disabled_reason(self, settings: Settings) -> str | None:
        if settings.vonage_signature_secret is None:
            return "Vonage is not configured: set VONAGE_SIGNATURE_SECRET to verify its webhooks"
        method = settings.vonage_signature_method
        if sms_api.signature_method(method) is None:
            return sms_api.unknown_method_reason(method)
        return None

    def verify(self, request: WebhookRequest, settings: Settings) -> None:
        secret = settings.secret("vonage_signature_secret")
        if messages_api.request_body(request) is not None:
            messages_api.verify_bearer(request, secret=secret, now=self._clock(), settings=settings)
        else:
            sms_api.verify_sig(
                request,
                secret=secret,
                method=settings.vonage_signature_method,
                now=self._clock(),
                max_skew=self._max_skew,
            )

    def parse(self, request: WebhookRequest, settings: Settings) -> WebhookContent:
        # A delivery report sent to the inbound URL (a slip in the dashboard) is kept as a status,
        # never mistaken for an empty message from the recipient.
        data = messages_api.request_body(request)
        if data is not None:
            if "status" in data.data and "message_type" not in data.data:
                return WebhookContent(
                    statuses=tuple(messages_api.statuses(data, request, provider=self.name))
                )
            return WebhookContent(
                messages=(messages_api.inbound(data, request, settings, provider=self.name),)
            )
        fields = request_fields(request)
        if "status" in fields and "text" not in fields:
            return WebhookContent(statuses=tuple(sms_api.receipts(fields, request, provider=self.name)))
        return WebhookContent(messages=(sms_api.inbound(fields, request, settings, provider=self.name),))

    def parse_statuses(self, request: WebhookRequest, settings: Settings) -> list[DeliveryStatus]:
        data = messages_api.request_body(request)
        if data is not None:
            return messages_api.statuses(data, request, provider=self.name)
        return sms_api.receipts(request_fields(request), request, provider=self.name)

    def outbound_address(self, customer: SenderIdentity, business: str, channel: Channel) -> OutboundAddress:
        """As both of Vonage's APIs name them inbound (`msisdn`/`from` and `to`): international
        digits without `+`, or a WhatsApp user's BSUID, which is also how its sends take them."""
        check_channel(self.name, self.channels, channel)
        address = customer_address(self.name, customer, channel, plus=False)
        return OutboundAddress(customer=address, business_number=digits_number(business))

    def fetch_media(
        self, media: Media, settings: Settings, http: httpx.Client, *, into: Sink
    ) -> FetchedMedia:
        """Messages API media sit on Vonage's media servers (`https://api-us.nexmo.com/v3/media/<id>`)
        behind a unique URL valid for 48 hours, fetched without credentials. With "Secure Inbound
        Media" switched on, Vonage wants a Bearer JWT signed with the application's private key
        (RS256), which neither the API secret nor the signature secret can make: the bridge sends no
        credentials anywhere, and logs why when a Vonage host refuses
        (developer.vonage.com/messages/concepts/secure-inbound-media)."""
        if not media.url:
            raise MalformedPayload(f"vonage media {media.reference} has no URL")
        try:
            return download(http, media.url, media=media, sources=self.media_sources(settings), into=into)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code in (401, 403) and vonage_host(media.url, settings):
                log.warning(
                    'Vonage refused a media download with HTTP %s: is "Secure Inbound Media" on for the '
                    "Vonage application? The bridge cannot sign application JWTs; switch it off",
                    exc.response.status_code,
                )
            raise


def vonage_host(url: str, settings: Settings) -> bool:
    """Whether `url` is on Vonage's own hosts (nexmo.com, vonage.com over HTTPS, or the origin of
    VONAGE_API_URL or VONAGE_MESSAGES_API_URL): the only places its media are fetched from."""
    return refusal(url, VonageAdapter().media_sources(settings)) is None
