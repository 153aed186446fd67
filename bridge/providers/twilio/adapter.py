"""Twilio Programmable Messaging: SMS, MMS and WhatsApp through Twilio.

Wire format (research/providers.md §1): a form-encoded POST signed with `X-Twilio-Signature`, an
HMAC-SHA1 of the URL Twilio called plus the sorted form parameters, keyed by the Auth Token.
Verification is twilio's own `RequestValidator` (it also tries the URL with and without the
default port, since Twilio's signing is inconsistent about it). Twilio expects TwiML back; an
empty `<Response/>` means "no automatic reply". Sending is `send`: Twilio's SDK over the
bridge's HTTP client.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    add_port,
    get_signature_algorithm,
    remove_port,
)

from bridge.core.errors import MalformedPayload, SignatureInvalid
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryState, DeliveryStatus, InboundMessage, Media
from bridge.model.senders import SenderIdentity, classify_sender, sender_problem
from bridge.providers.addressing import check_channel, customer_address, e164_number
from bridge.providers.base import (
    Acknowledgement,
    OutboundAddress,
    ProviderAdapter,
    WebhookContent,
    WebhookRequest,
)
from bridge.providers.media.fetch import FetchedMedia, Sink, download
from bridge.providers.media.urls import MediaHosts
from bridge.providers.payloads import FormData, decode_form_body, required, state_of
from bridge.providers.twilio import check, receipts, send, senders, templates

SIGNATURE_HEADER = "x-twilio-signature"
WHATSAPP_PREFIX = "whatsapp:"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
# Twilio attaches at most 10 media to one message.
MAX_MEDIA = 10
# `MediaUrl{N}` is on api.twilio.com (research/providers.md §1), which answers with a redirect to
# a short-lived link on Twilio's media CDN (mms.twiliocdn.com, media.twiliocdn.com) or, for
# older media, its S3 bucket behind s3-external-1.amazonaws.com.
MEDIA_HOSTS = MediaHosts(named=("twilio.com",), redirected=("twiliocdn.com", "s3-external-1.amazonaws.com"))

# Twilio's MessageStatus (its OpenAPI `message_enum_status`) -> the bridge's; None: not final
# enough to report. courier maps the same way (research/providers.md §1.5).
STATUS_MAP: dict[str, DeliveryState | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "receiving": None,
    "received": None,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "partially_delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ,
    "undelivered": DeliveryState.FAILED,
    "failed": DeliveryState.FAILED,
    "canceled": DeliveryState.FAILED,
}


# The keywords Twilio's default opt-out handling answers on SMS, case-folded.
TWILIO_KEYWORDS = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "optout",
        "revoke",
        "start",
        "yes",
        "unstop",
        "help",
        "info",
    }
)


class TwilioAdapter(ProviderAdapter):
    name = "twilio"
    send_api = send.SEND_API
    read_api = staticmethod(receipts.mark_read)
    credential_check = check.CREDENTIAL_CHECK
    template_api = staticmethod(templates.list_templates)
    sender_api = staticmethod(senders.list_senders)
    # WhatsApp senders live in Twilio's Senders API, which the bridge does not read (`senders`).
    sender_channels = frozenset({Channel.SMS})
    channels = frozenset({Channel.SMS, Channel.WHATSAPP})
    opt_out_codes = frozenset({"21610"})
    # Twilio's default opt-out handling answers these on SMS itself (support.twilio.com, "Twilio
    # support for opt-out keywords (SMS STOP filtering)"); the bridge answers any other.
    keyword_answers = {Channel.SMS: TWILIO_KEYWORDS}
    media_hosts = MEDIA_HOSTS
    api_url_settings = ("twilio_api_url",)

    def disabled_reason(self, settings: Settings) -> str | None:
        if settings.twilio_auth_token is None:
            return "Twilio is not configured: set TWILIO_AUTH_TOKEN to verify its webhooks"
        return None

    def verify(self, request: WebhookRequest, settings: Settings) -> None:
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise SignatureInvalid("X-Twilio-Signature is missing")
        # `RequestValidator` asks `getlist` once per name: `FormData` answers each in one lookup.
        params = decode_form_body(request.body) if request.method == "POST" else FormData()
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER.lower()))
        validator = RequestValidator(settings.secret("twilio_auth_token"))
        if not _signed(validator, request.url, params, signature, algorithm):
            raise SignatureInvalid("X-Twilio-Signature does not match the request")

    def parse(self, request: WebhookRequest, settings: Settings) -> WebhookContent:
        form = decode_form_body(request.body)
        sender_raw = required(form, "From")
        channel = Channel.WHATSAPP if sender_raw.startswith(WHATSAPP_PREFIX) else Channel.SMS
        sender = _sender(form, sender_raw, channel, settings.default_region)
        text = form.get("Body", "").replace("\x00", "")
        message = InboundMessage(
            provider=self.name,
            channel=channel,
            provider_message_id=_message_sid(form),
            sender=sender,
            business_number=required(form, "To"),
            text=text,
            media=_media(form),
            profile_name=form.get("ProfileName") or None,
            received_at=request.received_at,
            account=form.get("AccountSid") or None,
            # Advanced Opt-Out read the message as STOP, START or HELP (Twilio's own keywords).
            consent_keyword=form.get("OptOutType") or None,
            problem=sender_problem(sender),
        )
        return WebhookContent(messages=(message,))

    def parse_statuses(self, request: WebhookRequest, settings: Settings) -> list[DeliveryStatus]:
        form = decode_form_body(request.body)
        reported = required(form, "MessageStatus").lower()
        state = state_of(reported, STATUS_MAP, provider="Twilio", field="MessageStatus")
        if state is None:
            return []
        error_code = form.get("ErrorCode") or None
        return [
            DeliveryStatus(
                provider=self.name,
                provider_message_id=_message_sid(form),
                state=state,
                occurred_at=request.received_at,
                recipient=form.get("To") or None,
                error_code=error_code,
                error_message=form.get("ErrorMessage")
                or (reported if state is DeliveryState.FAILED else None),
            )
        ]

    def acknowledge(self) -> Acknowledgement:
        return Acknowledgement(media_type="text/xml", body=EMPTY_TWIML)

    def outbound_address(self, customer: SenderIdentity, business: str, channel: Channel) -> OutboundAddress:
        """As Twilio's webhook names both: `From`/`To` in E.164 (`+14155550100`) for SMS, each with
        `whatsapp:` on WhatsApp (a BSUID customer too: `whatsapp:US.1349…`), which is also how
        Twilio's send takes them (`parse`, `send`)."""
        check_channel(self.name, self.channels, channel)
        address = customer_address(self.name, customer, channel, plus=True)
        number = e164_number(_without_prefix(business))
        if channel is Channel.WHATSAPP:
            address, number = WHATSAPP_PREFIX + address, WHATSAPP_PREFIX + number
        return OutboundAddress(customer=address, business_number=number)

    def fetch_media(
        self, media: Media, settings: Settings, http: httpx.Client, *, into: Sink
    ) -> FetchedMedia:
        """Twilio media may require the account's credentials (HTTP Basic). Only links on
        Twilio's hosts or TWILIO_API_URL's are fetched at all, and the credentials go to that
        server only, never to its CDN nor anywhere else a redirect leads."""
        if not media.url:
            raise MalformedPayload(f"twilio media {media.reference} has no URL")
        auth = None
        if settings.twilio_account_sid and settings.twilio_auth_token:
            auth = (settings.twilio_account_sid, settings.secret("twilio_auth_token"))
        return download(
            http, media.url, media=media, sources=self.media_sources(settings), into=into, auth=auth
        )


def _without_prefix(address: str) -> str:
    """`whatsapp:+1202…` (any case) -> `+1202…`: a business number given as Twilio writes it."""
    text = address.strip()
    return text[len(WHATSAPP_PREFIX) :] if text.lower().startswith(WHATSAPP_PREFIX) else text


def _message_sid(form: FormData) -> str:
    # SmsSid and SmsMessageSid are deprecated duplicates of MessageSid, kept by older accounts.
    for name in ("MessageSid", "SmsMessageSid", "SmsSid"):
        if form.get(name):
            return form[name]
    raise MalformedPayload("MessageSid is missing")


def _sender(form: FormData, raw: str, channel: Channel, default_region: str) -> SenderIdentity:
    if channel is Channel.WHATSAPP:
        address = raw.removeprefix(WHATSAPP_PREFIX)
        # WaId is the WhatsApp id in international digits: more trustworthy than a reformatted From.
        wa_id = form.get("WaId", "").strip()
        if wa_id and not address.startswith("+") and wa_id.isdigit():
            address = wa_id
        return classify_sender(
            raw, address=address, country_code_included=True, default_region=default_region
        )
    return classify_sender(raw, country_code_included=False, default_region=default_region)


def _media(form: FormData) -> tuple[Media, ...]:
    try:
        count = int(form.get("NumMedia", "0") or "0")
    except ValueError as exc:
        raise MalformedPayload("NumMedia is not a number") from exc
    if count < 0 or count > MAX_MEDIA:
        raise MalformedPayload(f"NumMedia must be between 0 and {MAX_MEDIA}")
    media = []
    for index in range(count):
        url = form.get(f"MediaUrl{index}")
        if not url:
            raise MalformedPayload(f"MediaUrl{index} is missing (NumMedia={count})")
        media.append(Media(url=url, content_type=form.get(f"MediaContentType{index}") or None))
    return tuple(media)


def _signed(
    validator: RequestValidator,
    url: str,
    params: FormData,
    signature: str,
    algorithm: str,
) -> bool:
    """Whether Twilio signed this URL and form, as `RequestValidator.validate` decides it: Twilio
    signs the URL it called with or without the default port, so both are tried. `validate`
    computes both HMACs every time; here the URL as called comes first and the other form only
    when it does not match, which halves the signature work of every genuine request."""
    given = signature.encode("utf-8", "surrogatepass")
    for candidate in _signed_urls(url):
        try:
            computed = validator.compute_signature(candidate, params, algorithm)
        except ValueError:  # an algorithm this SDK does not know: nothing it signed verifies
            return False
        if hmac.compare_digest(computed.encode(), given):
            return True
    return False


def _signed_urls(url: str) -> Iterator[str]:
    """The URL as called, then the forms Twilio may have signed instead, each once. Lazily: the
    other two cost more to build than the HMAC, and a genuine request seldom needs them."""
    yield url
    parsed = urlparse(url)
    tried = {url}
    for other in (remove_port(parsed), add_port(parsed)):
        if other not in tried:
            tried.add(other)
            yield other
