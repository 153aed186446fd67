"""Vonage's SMS API: the `sig` signature, inbound SMS (with the parts of a long one), delivery receipts.

Wire format (research/providers.md §3): flat parameters (`msisdn`, `to`, `messageId`, `text`) as a
GET query, a form POST or a flat JSON POST (the dashboard's webhook format), signed with a `sig`
parameter: a hash of the sorted parameters and the signature secret (`md5hash`, or an
MD5/SHA-1/SHA-256/SHA-512 HMAC). A long SMS arrives in parts (`concat-*`); each part carries a
`Fragment` and the core joins them. Delivery receipts come to `/webhooks/vonage/status` in the
same flat shape.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping

from bridge.core import signing
from bridge.core.errors import ConfigurationError, MalformedPayload, SignatureInvalid
from bridge.core.json_payloads import timestamp
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryState, DeliveryStatus, Fragment, InboundMessage
from bridge.model.senders import classify_sender, sender_problem
from bridge.providers.base import WebhookRequest
from bridge.providers.payloads import FormData, first, request_fields, required, state_of

SIGNATURE_PARAM = "sig"
# How far the signed `timestamp` may be from now. Vonage documents it as the time it *started*
# pushing the message and resends for 24 hours without a 2xx: a tighter window would refuse the
# retries that follow any outage, and lose the message. Replays inside the window are harmless:
# the ledger dedupes by messageId for BRIDGE_RETENTION_DAYS.
DEFAULT_MAX_SKEW = 26 * 3600.0
# GSM concatenation numbers parts with one octet: at most 255 parts (3GPP TS 23.040 §9.2.3.24.1).
MAX_PARTS = 255

# VONAGE_SIGNATURE_METHOD -> HMAC digest; None is the dashboard's default "MD5 hash",
# md5(base + secret), which is no HMAC (the Python SDK v4 cannot check it; providers.md §3.2).
SIGNATURE_DIGESTS: dict[str, signing.HashFactory | None] = {
    "md5hash": None,
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}

# SMS API `type` -> why the message cannot be delivered as text (None: it can).
SMS_TYPE_PROBLEMS: dict[str, str | None] = {
    "text": None,
    "unicode": None,
    "binary": "binary SMS is not supported",
}

# SMS API delivery receipt `status` -> the bridge's; None: not final enough to report.
SMS_RECEIPT_STATES: dict[str, DeliveryState | None] = {
    "accepted": None,
    "buffered": None,
    "unknown": None,
    "delivered": DeliveryState.DELIVERED,
    "expired": DeliveryState.FAILED,
    "failed": DeliveryState.FAILED,
    "rejected": DeliveryState.FAILED,
}

# SMS API receipt `err-code` meanings (Vonage support article 204014733, "SMS Delivery Error Codes").
SMS_ERROR_CODES: dict[str, str] = {
    "1": "Unknown",
    "2": "Absent Subscriber - Temporary",
    "3": "Absent Subscriber - Permanent",
    "4": "Call Barred by User",
    "5": "Portability Error",
    "6": "Anti-Spam Rejection",
    "7": "Handset Busy",
    "8": "Network Error",
    "9": "Illegal Number",
    "10": "Illegal Message",
    "11": "Unroutable",
    "12": "Destination Unreachable",
    "13": "Subscriber Age Restriction",
    "14": "Number Blocked by Carrier",
}


# --- the `sig` signature ---


def signature_method(name: str) -> str | None:
    """The `SIGNATURE_DIGESTS` key for a method as people write it (`SHA-256 HMAC`, `sha256hmac`,
    `md5`), or None. The Node SDK names HMACs `md5hmac` and so on; the dashboard, `MD5 HMAC`."""
    key = re.sub(r"[\s_-]", "", name.lower())
    if key != "md5hash":
        key = key.replace("hmac", "")
    return key if key in SIGNATURE_DIGESTS else None


def unknown_method_reason(method: str) -> str:
    return f"VONAGE_SIGNATURE_METHOD {method!r} is not one of {', '.join(SIGNATURE_DIGESTS)}"


def sms_signature(params: Mapping[str, str], *, secret: str, method: str) -> str:
    """Vonage's `sig` for `params`, as lower-case hex (Vonage sends HMACs in upper case).

    The base is `&key=value` over the parameters sorted by key, `sig` left out, with `&` and `=`
    in values replaced by `_` (developer.vonage.com "Signing messages", manual steps).
    """
    key = signature_method(method)
    if key is None:
        raise ConfigurationError(unknown_method_reason(method))
    base = "".join(
        f"&{name}={value.replace('&', '_').replace('=', '_')}"
        for name, value in sorted(params.items())
        if name != SIGNATURE_PARAM
    )
    digest = SIGNATURE_DIGESTS[key]
    if digest is None:
        return hashlib.md5((base + secret).encode()).hexdigest()
    return signing.hmac_hex(secret, base.encode(), digest)


def verify_sig(request: WebhookRequest, *, secret: str, method: str, now: float, max_skew: float) -> None:
    """Raise `SignatureInvalid` unless the request's `sig` matches its parameters and its signed
    `timestamp` is within `max_skew` seconds of `now`."""
    params: dict[str, str] = {}
    for key, value in request_fields(request).multi_items():
        # The signature covers one value per key; a second one (say, in the query string of a
        # signed POST) would be read by `parse` without being signed.
        if key in params:
            raise SignatureInvalid(f"the parameter {key!r} appears twice; Vonage signs each once")
        params[key] = value
    given = params.get(SIGNATURE_PARAM, "").strip()
    if not given:
        raise SignatureInvalid("the sig parameter is missing (Vonage support enables signed webhooks)")
    if not signing.equal(given.lower(), sms_signature(params, secret=secret, method=method)):
        raise SignatureInvalid("sig does not match the parameters (check VONAGE_SIGNATURE_METHOD)")
    _check_fresh(params.get("timestamp"), now=now, max_skew=max_skew)


def _check_fresh(value: str | None, *, now: float, max_skew: float) -> None:
    """The signed `timestamp` (unix seconds) stops a captured request from being replayed.

    Vonage documents it as the time it *started* pushing the message and retries for 24 hours:
    if redeliveries keep the first attempt's time, one after an outage longer than `max_skew`
    is refused, so `max_skew` is an argument of the adapter's constructor."""
    if value is None:
        return
    try:
        sent = float(value)
    except ValueError as exc:
        raise SignatureInvalid("timestamp is not a unix time") from exc
    if not math.isfinite(sent) or abs(now - sent) > max_skew:
        raise SignatureInvalid(f"timestamp is more than {max_skew:.0f} seconds away from now")


# --- inbound SMS ---


def inbound(
    fields: FormData, request: WebhookRequest, settings: Settings, *, provider: str
) -> InboundMessage:
    """The SMS (or one part of a long SMS) in an SMS API inbound request."""
    sender_raw = required(fields, "msisdn")
    # msisdn is international digits without "+" (or an alphanumeric id such as "MTN").
    sender = classify_sender(sender_raw, country_code_included=True, default_region=settings.default_region)
    kind = fields.get("type", "").strip().lower() or "text"
    type_problem = SMS_TYPE_PROBLEMS.get(kind, f"SMS type {kind!r} is not supported")
    return InboundMessage(
        provider=provider,
        channel=Channel.SMS,
        provider_message_id=required(fields, "messageId"),
        sender=sender,
        business_number=required(fields, "to"),
        text=fields.get("text", "").replace("\x00", ""),
        received_at=timestamp(first(fields, "message-timestamp", "timestamp"), default=request.received_at),
        account=fields.get("api-key") or None,
        fragment=_fragment(fields, sender_raw),
        problem=type_problem or sender_problem(sender),
    )


def _fragment(fields: FormData, sender_raw: str) -> Fragment | None:
    """One part of a long SMS: parts share `concat-ref` per sender, each has its own messageId."""
    if fields.get("concat", "").strip().lower() != "true" and "concat-ref" not in fields:
        return None
    reference = required(fields, "concat-ref")
    total, part = _integer(fields, "concat-total"), _integer(fields, "concat-part")
    if not 1 <= part <= total <= MAX_PARTS:
        raise MalformedPayload(f"concat-part {part} of concat-total {total} is out of 1..{MAX_PARTS}")
    return Fragment(group=f"{sender_raw}:{reference}", index=part, total=total)


def _integer(fields: FormData, name: str) -> int:
    value = required(fields, name)
    if not value.isdecimal() or len(value) > 6:
        raise MalformedPayload(f"{name} is not a number")
    return int(value)


# --- delivery receipts ---


def receipts(fields: FormData, request: WebhookRequest, *, provider: str) -> list[DeliveryStatus]:
    """The delivery receipt in an SMS API status request; none while it is not final."""
    reported = required(fields, "status").lower()
    state = state_of(reported, SMS_RECEIPT_STATES, provider="Vonage")
    if state is None:
        return []
    failed = state is DeliveryState.FAILED
    error_code = fields.get("err-code", "").strip() or None
    # `scts` (YYMMDDHHMM) is the carrier's time in an undocumented zone; message-timestamp is UTC.
    return [
        DeliveryStatus(
            provider=provider,
            provider_message_id=required(fields, "messageId"),
            state=state,
            occurred_at=timestamp(
                first(fields, "message-timestamp", "timestamp"), default=request.received_at
            ),
            recipient=fields.get("msisdn") or None,
            error_code=error_code if failed else None,
            error_message=SMS_ERROR_CODES.get(error_code or "", reported) if failed else None,
        )
    ]
