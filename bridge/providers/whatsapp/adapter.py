"""The WhatsApp adapter: Meta's subscription handshake, its body signature, the walk over a
batched webhook (entries × changes × messages and statuses), media fetched with the token, and
replies sent through the Cloud API (`send`, `failures`)."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import httpx

from bridge.core import json_payloads, signing
from bridge.core.errors import MalformedPayload, SignatureInvalid
from bridge.core.json_payloads import JsonNode
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryStatus, InboundMessage, Media
from bridge.model.senders import SenderIdentity
from bridge.providers import payloads
from bridge.providers.addressing import check_channel, customer_address
from bridge.providers.base import (
    Acknowledgement,
    OutboundAddress,
    ProviderAdapter,
    WebhookContent,
    WebhookRequest,
    refused,
)
from bridge.providers.media.fetch import FetchedMedia, Sink, download
from bridge.providers.media.transport import until
from bridge.providers.media.urls import MediaHosts
from bridge.providers.whatsapp import check as checking
from bridge.providers.whatsapp import receipts, senders, templates
from bridge.providers.whatsapp import send as sending
from bridge.providers.whatsapp.inbound import read_messages
from bridge.providers.whatsapp.statuses import read_status

SIGNATURE_HEADER = "X-Hub-Signature-256"
OBJECT = "whatsapp_business_account"
MESSAGES_FIELD = "messages"
# Hosts Meta serves media from (`lookaside.fbsbx.com` in webhook `url`s and in the Graph API's
# answer for a media id, research/providers.md §2): with WHATSAPP_API_URL's origin, the only ones
# media are fetched from (over HTTPS), and so the only ones the access token goes to.
MEDIA_HOST_SUFFIXES = ("fbsbx.com", "facebook.com", "fbcdn.net", "whatsapp.net")
MEDIA_HOSTS = MediaHosts(named=MEDIA_HOST_SUFFIXES)


class WhatsAppAdapter(ProviderAdapter):
    name = "whatsapp"
    methods = frozenset({"GET", "POST"})
    status_methods = frozenset({"POST"})
    send_api = sending.SEND_API
    read_api = staticmethod(receipts.mark_read)
    credential_check = checking.CREDENTIAL_CHECK
    template_api = staticmethod(templates.list_templates)
    sender_api = staticmethod(senders.list_senders)
    sender_channels = frozenset({Channel.WHATSAPP})
    channels = frozenset({Channel.WHATSAPP})
    opt_out_codes = frozenset({"131050"})  # the customer stopped the business's marketing messages
    media_hosts = MEDIA_HOSTS
    api_url_settings = ("whatsapp_api_url",)

    def disabled_reason(self, settings: Settings) -> str | None:
        # An empty secret counts as unset: an HMAC keyed by "" is one anybody can compute.
        secret = settings.whatsapp_app_secret
        if secret is None or not secret.get_secret_value():
            return "WhatsApp is not configured: set WHATSAPP_APP_SECRET to verify its webhooks"
        return None

    def handshake(self, request: WebhookRequest, settings: Settings) -> Acknowledgement | None:
        """Meta's subscription check. Every GET is one: a GET that fails it is refused (403)."""
        if request.method != "GET":
            return None
        query = payloads.parse_form(request.query)
        if query.get("hub.mode") != "subscribe":
            raise SignatureInvalid("hub.mode must be subscribe (Meta's verification request)")
        token = settings.whatsapp_verify_token
        if token is None or not token.get_secret_value():
            raise SignatureInvalid("WHATSAPP_VERIFY_TOKEN is not set: the subscription cannot be verified")
        given = query.get("hub.verify_token")
        if not given or not signing.equal(given, token.get_secret_value()):
            raise SignatureInvalid("hub.verify_token does not match WHATSAPP_VERIFY_TOKEN")
        challenge = query.get("hub.challenge")
        if not challenge:
            raise SignatureInvalid("hub.challenge is missing")
        return Acknowledgement(media_type="text/plain", body=challenge.encode())

    def verify(self, request: WebhookRequest, settings: Settings) -> None:
        signing.verify_hmac_header(
            request.headers.get(SIGNATURE_HEADER.lower()),
            header=SIGNATURE_HEADER,
            secret=settings.secret("whatsapp_app_secret"),
            body=request.body,
            digest=hashlib.sha256,
            prefix="sha256=",
        )

    def parse(self, request: WebhookRequest, settings: Settings) -> WebhookContent:
        root = JsonNode.parse(request.body)
        if root.data.get("object") != OBJECT:
            raise MalformedPayload(f'object must be "{OBJECT}"')
        messages: list[InboundMessage] = []
        statuses: list[DeliveryStatus] = []
        for entry in root.objects("entry", required=True):
            for change in entry.objects("changes"):
                if change.required("field") != MESSAGES_FIELD:
                    continue  # account_update, message_template_status_update…: not messages
                value = change.required_object("value")
                messages += read_messages(value, account=entry.text("id"), request=request, settings=settings)
                for status in value.objects("statuses"):
                    report = read_status(status, request)
                    if report is not None:
                        statuses.append(report)
        return WebhookContent(messages=tuple(messages), statuses=tuple(statuses))

    def parse_statuses(self, request: WebhookRequest, settings: Settings) -> list[DeliveryStatus]:
        """Meta posts statuses to the main URL; this route takes the same JSON if pointed at it.
        Messages sent here are refused rather than dropped: only the main URL stores them."""
        content = self.parse(request, settings)
        if content.messages:
            raise MalformedPayload("messages belong to /webhooks/whatsapp, not its status route")
        return list(content.statuses)

    def outbound_address(self, customer: SenderIdentity, business: str, channel: Channel) -> OutboundAddress:
        """As Meta's webhook names both: the customer's `wa_id`, international digits without
        `+` (or their BSUID), and the business by its phone-number id, `metadata.phone_number_id`,
        which is also the path a send is posted to (`inbound`, `send`)."""
        check_channel(self.name, self.channels, channel)
        phone_number_id = business.strip()
        if not phone_number_id.isdigit():
            raise refused(
                self.name,
                "Meta's Cloud API sends from a phone-number id (digits, WhatsApp Manager's API setup), "
                "not from a phone number",
            )
        address = customer_address(self.name, customer, channel, plus=False)
        return OutboundAddress(customer=address, business_number=phone_number_id)

    def fetch_media(
        self, media: Media, settings: Settings, http: httpx.Client, *, into: Sink
    ) -> FetchedMedia:
        """Meta gives a media id: `GET {WHATSAPP_API_URL}/{id}` answers a short-lived URL, which
        needs the same Bearer token (courier's `resolveMediaURL`). The id is preferred over a
        webhook `url`, which may have expired by the time a retried job fetches it."""
        headers = {"Authorization": f"Bearer {settings.secret('whatsapp_access_token')}"}
        if media.provider_id:
            api_url = f"{settings.whatsapp_api_url.rstrip('/')}/{quote(media.provider_id, safe='')}"
            with until(into.deadline):  # the lookup counts toward the download's time
                response = http.get(api_url, headers=headers)
            response.raise_for_status()
            try:
                info = JsonNode(
                    json_payloads.parse_json_object(response.content), f"media {media.provider_id}"
                )
            except MalformedPayload as exc:
                raise MalformedPayload(f"Meta's answer for media {media.provider_id}: {exc.reason}") from exc
            content_type = media.content_type or info.text("mime_type")
            located = media.model_copy(update={"content_type": content_type})
            url = info.required("url")
        elif media.url:
            located, url = media, media.url
        else:
            raise MalformedPayload(f"whatsapp media {media.reference} has neither an id nor a URL")
        sources = self.media_sources(settings)
        return download(http, url, media=located, sources=sources, into=into, headers=headers)
