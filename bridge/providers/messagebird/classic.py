"""MessageBird's classic number forwarding (SMS and MMS) and its SMS status reports.

Both come as a form POST or as a GET with the same fields in the query. Field names are matched
case-insensitively, as courier's form decoder does: its own sample spells `CreatedDatetime` and
`mediaURLs`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.core.errors import MalformedPayload
from bridge.core.json_payloads import timestamp
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryState, DeliveryStatus, InboundMessage, Media
from bridge.model.senders import sender_problem
from bridge.providers.base import WebhookRequest
from bridge.providers.messagebird.common import NAME, sender
from bridge.providers.payloads import FormData, request_fields, required, state_of

# The short-code flow's `receive_datetime` (courier parses it with this layout, as UTC).
SHORT_CODE_TIME = "%Y%m%d%H%M%S"

# Classic SMS status reports (research §4.2, courier's statusMapping) -> the bridge's; None: not
# final enough to report.
SMS_STATUS_MAP: dict[str, DeliveryState | None] = {
    "scheduled": None,
    "buffered": None,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "expired": DeliveryState.FAILED,
    "delivery_failed": DeliveryState.FAILED,
}

# Classic forwarding fields, by what they hold; the first present wins. A number's forward names
# the text `body` and the id `id` (`message_id` for MMS); the short-code flow says `message` and
# `mid` (courier handlers/messagebird).
NUMBER_FIELDS = {"text": ("body", "message"), "id": ("id", "message_id", "mid")}
SHORT_CODE_FIELDS = {"text": ("message", "body"), "id": ("mid", "id", "message_id")}
MEDIA_FIELDS = ("mediaurls", "mediaurls[]")


def forwarded_message(request: WebhookRequest, settings: Settings) -> InboundMessage:
    """The SMS or MMS a number (or a short code) forwards."""
    form = _fields(request)
    short_code = form.get("shortcode", "").strip()
    names = SHORT_CODE_FIELDS if short_code else NUMBER_FIELDS
    customer = sender(required(form, "originator"), settings)
    return InboundMessage(
        provider=NAME,
        channel=Channel.SMS,
        provider_message_id=_first_required(form, names["id"]),
        sender=customer,
        # The short-code flow names no recipient: the customer wrote to the short code.
        business_number=short_code or _first_required(form, ("recipient", "receiver")),
        text=_raw_first(form, names["text"]).replace("\x00", ""),
        media=tuple(Media(url=url) for url in _media_urls(form)),
        received_at=_forwarded_time(form, request.received_at),
        problem=sender_problem(customer),
    )


def status_reports(request: WebhookRequest) -> list[DeliveryStatus]:
    """An SMS status report: one status, or none while the message is not final."""
    form = _fields(request)
    reported = required(form, "status").lower()
    state = state_of(reported, SMS_STATUS_MAP, provider="MessageBird")
    if state is None:
        return []
    failed = state is DeliveryState.FAILED
    return [
        DeliveryStatus(
            provider=NAME,
            provider_message_id=required(form, "id"),
            state=state,
            occurred_at=timestamp(form.get("statusdatetime"), default=request.received_at),
            recipient=form.get("recipient") or None,
            # statusErrorCode 103 means the recipient sent STOP (courier).
            error_code=(form.get("statuserrorcode") or None) if failed else None,
            error_message=(form.get("statusreason") or reported) if failed else None,
        )
    ]


def _fields(request: WebhookRequest) -> FormData:
    """The request's fields with lower-case names, one value each: the last, as courier's decoder
    (gorilla/schema) keeps it. courier's sample repeats `body` and `id` on purpose and expects the
    text `Test 3`, the later value. Media URLs keep every value (see `_media_urls`)."""
    items = request_fields(request).multi_items()
    last = {name.lower(): value for name, value in items}
    media = [(name.lower(), value) for name, value in items if name.lower() in MEDIA_FIELDS]
    return FormData([*((name, value) for name, value in last.items() if name not in MEDIA_FIELDS), *media])


def _media_urls(form: FormData) -> list[str]:
    return [url.strip() for name in MEDIA_FIELDS for url in form.getlist(name) if url.strip()]


def _raw_first(form: FormData, names: tuple[str, ...]) -> str:
    """The first of `names` with a value, unstripped: a message's spacing is the customer's."""
    return next((form[name] for name in names if form.get(name, "").strip()), "")


def _first_required(form: FormData, names: tuple[str, ...]) -> str:
    value = _raw_first(form, names).strip()
    if not value:
        raise MalformedPayload(f"{names[0]} is missing (nor is {' or '.join(names[1:])} set)")
    return value


def _forwarded_time(form: FormData, default: datetime) -> datetime:
    if form.get("createddatetime"):
        return timestamp(form["createddatetime"], default=default)
    if form.get("receive_datetime"):
        try:
            return datetime.strptime(form["receive_datetime"], SHORT_CODE_TIME).replace(tzinfo=UTC)
        except ValueError:
            return timestamp(form["receive_datetime"], default=default)
    return timestamp(form.get("date_utc"), default=default)
