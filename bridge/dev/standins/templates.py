"""The WhatsApp templates the stand-ins' accounts hold, as each provider's API lists them.

Meta's are `message_templates` entries (name, language, status, category, components, the
positional `parameter_format`), Twilio's `ContentAndApprovals` contents (sid, friendly name,
language, default variables, types, the WhatsApp approval). Each account has approved templates
with body variables and a media header, one paused, one rejected, and the plain ones the bridge's
tests and demos send by name (`order_update`, `we_are_here`). The state copies them
(`StandInState.reset` restores them), so a test may add or change one.
"""

from __future__ import annotations

import copy
import zlib
from typing import Any

WE_ARE_HERE = "We are here to help: reply to this message and an agent will answer."


def _meta(
    name: str,
    status: str,
    category: str,
    body: str,
    *,
    header: dict[str, Any] | None = None,
    parameter_format: str = "POSITIONAL",
) -> dict[str, Any]:
    components = [header] if header else []
    return {
        "name": name,
        "language": "en_US",
        "status": status,
        "category": category,
        "parameter_format": parameter_format,
        "components": [*components, {"type": "BODY", "text": body}],
        "id": f"1{zlib.crc32(name.encode()):014d}",  # Graph ids are digits; stable per name
    }


_IMAGE_HEADER = {
    "type": "HEADER",
    "format": "IMAGE",
    "example": {"header_handle": ["https://scontent.whatsapp.net/v/t61.29466-34/order.jpg"]},
}
_DOCUMENT_HEADER = {
    "type": "HEADER",
    "format": "DOCUMENT",
    "example": {"header_handle": ["https://scontent.whatsapp.net/v/t61.29466-34/invoice.pdf"]},
}
_TEXT_HEADER = {
    "type": "HEADER",
    "format": "TEXT",
    "text": "Reminder for {{1}}",
    "example": {"header_text": ["Ada"]},
}

META_TEMPLATES: tuple[dict[str, Any], ...] = (
    _meta(
        "hello_world",
        "APPROVED",
        "UTILITY",
        "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp "
        "message notification from the Cloud API.",
        header={"type": "HEADER", "format": "TEXT", "text": "Hello World"},
    ),
    _meta("order_update", "APPROVED", "UTILITY", "Your order has been updated: open the app to see it."),
    _meta("we_are_here", "APPROVED", "UTILITY", WE_ARE_HERE),
    _meta(
        "delivery_window",
        "APPROVED",
        "UTILITY",
        "Hi {{first_name}}, your delivery arrives {{window}}.",
        parameter_format="NAMED",
    ),
    _meta(
        "order_shipped",
        "APPROVED",
        "UTILITY",
        "Hi {{1}}, your order {{2}} has shipped.",
        header=_IMAGE_HEADER,
    ),
    _meta(
        "invoice_ready",
        "APPROVED",
        "UTILITY",
        "Your invoice {{1}} is attached.",
        header=_DOCUMENT_HEADER,
    ),
    _meta(
        "appointment_reminder",
        "APPROVED",
        "UTILITY",
        "Your appointment is on {{1}} at {{2}}.",
        header=_TEXT_HEADER,
    ),
    _meta("spring_sale", "PAUSED", "MARKETING", "Spring sale: {{1}} off everything until Sunday."),
    _meta("win_a_prize", "REJECTED", "MARKETING", "You won {{1}}! Click to claim your prize."),
)


def _twilio(
    sid_digit: str,
    friendly_name: str,
    status: str,
    category: str,
    kind: str,
    content: dict[str, Any],
    defaults: dict[str, str],
) -> dict[str, Any]:
    created = "2025-01-13T23:33:46Z"
    return {
        "sid": "HX" + sid_digit * 32,
        "account_sid": "",  # the stand-in's account, filled in when listed
        "friendly_name": friendly_name,
        "language": "en",
        "variables": defaults,
        "types": {kind: content},
        "approval_requests": {
            "name": friendly_name,
            "category": category,
            "content_type": kind,
            "status": status,
            "rejection_reason": "" if status != "rejected" else "INVALID_FORMAT",
            "allow_category_change": True,
        },
        "date_created": created,
        "date_updated": created,
    }


TWILIO_CONTENTS: tuple[dict[str, Any], ...] = (
    _twilio("d", "we_are_here", "approved", "UTILITY", "twilio/text", {"body": WE_ARE_HERE}, {}),
    _twilio(
        "a",
        "order_shipped",
        "approved",
        "UTILITY",
        "twilio/media",
        {
            "body": "Hi {{1}}, your order {{2}} has shipped.",
            "media": ["https://media.example.com/orders/{{3}}"],
        },
        {"1": "Customer_Name", "2": "ORDER_NUMBER", "3": "shipped.jpg"},
    ),
    _twilio(
        "b",
        "order_status",
        "approved",
        "UTILITY",
        "twilio/text",
        {"body": "Your order {{1}} is {{2}}."},
        {"1": "ORDER_NUMBER", "2": "STATUS"},
    ),
    _twilio(
        "c",
        "spring_sale",
        "paused",
        "MARKETING",
        "twilio/text",
        {"body": "Spring sale: {{1}} off everything until Sunday."},
        {"1": "DISCOUNT"},
    ),
    _twilio(
        "e",
        "win_a_prize",
        "rejected",
        "MARKETING",
        "twilio/text",
        {"body": "You won {{1}}! Click to claim your prize."},
        {"1": "PRIZE"},
    ),
    _twilio(
        "f", "in_session_only", "unsubmitted", "", "twilio/text", {"body": "Thanks, {{1}}!"}, {"1": "NAME"}
    ),
)


def meta_templates() -> list[dict[str, Any]]:
    """A fresh copy of Meta's templates, for one state."""
    return copy.deepcopy(list(META_TEMPLATES))


def twilio_contents() -> list[dict[str, Any]]:
    """A fresh copy of Twilio's contents, for one state."""
    return copy.deepcopy(list(TWILIO_CONTENTS))
