"""What Meta's delivery error codes mean for the agent who sent the reply.

Codes reach the bridge two ways: in a refused send (Graph's `error.code`) and in a `failed`
status webhook (`errors[].code`); both are read as text. Sources: Meta's error-code reference
(developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes, the
template codes 132000-132016 among them, and 360dialog's and YCloud's copies of its table, which
add the HTTP statuses: 368 and 131031 come as 403), Meta's "Experiments" page (130472),
dualhook.com's BSUID notes (131062), and research §2.5 (131047 replaced the On-Premises API's 470).
"""

from __future__ import annotations

from collections.abc import Mapping

_OUTSIDE_WINDOW = (
    "More than 24 hours have passed since the customer's last message, so WhatsApp only allows an "
    "approved template: send a template (WHATSAPP_TEMPLATE), or wait for the customer to write again."
)

FAILURE_REASONS: Mapping[str, str] = {
    "131047": _OUTSIDE_WINDOW,
    "470": _OUTSIDE_WINDOW,
    "131026": (
        "WhatsApp could not deliver the message: the number may not be on WhatsApp, or the customer "
        "uses an old WhatsApp version or has not accepted WhatsApp's latest terms. Ask them through "
        "another channel to update WhatsApp and write to you."
    ),
    "131051": (
        "WhatsApp does not support this kind of message. Send text, a JPEG/PNG image, an MP4 video, "
        "an audio file or a document instead."
    ),
    "131030": (
        "The customer's number is not on this business number's allowed list (test numbers only reach "
        "listed recipients). Add it in the Meta app dashboard or reply from a production number."
    ),
    "131056": (
        "Too many messages went to this customer in a short time. Wait a minute before sending again."
    ),
    "130472": (
        "The customer is in Meta's marketing-message experiment and receives no marketing templates. "
        "Wait for them to write (then reply normally) or reach them another way."
    ),
    "131049": (
        "Meta chose not to deliver this marketing template to keep the customer's engagement healthy. "
        "Do not resend it right away: wait for the customer to write, or reach them another way."
    ),
    "131048": (
        "This business number is limited because too many of its messages were blocked or reported as "
        "spam. Check its quality rating in WhatsApp Manager and try again later."
    ),
    "131053": (
        "WhatsApp could not fetch or process the attachment (unsupported type, too large, or not "
        "publicly reachable). Send a JPEG/PNG image, MP4 video or PDF, or put a link in the text."
    ),
    "131000": (
        "WhatsApp failed to send the message for an unknown reason. Try again; if it keeps failing, "
        "contact Meta support."
    ),
    "368": (
        "The WhatsApp Business Account is temporarily blocked for violating a Meta policy. An admin "
        "must resolve it in WhatsApp Manager before messages can be sent."
    ),
    "131031": (
        "The WhatsApp Business Account is locked (a policy violation or failed verification). An admin "
        "must resolve it in WhatsApp Manager before messages can be sent."
    ),
    "132000": (
        "The number of variables given does not match the approved template's. Give one value for "
        "each of its placeholders, in order (see `bridge templates list`)."
    ),
    "132001": (
        "The template does not exist in that language or is not approved. Check its name and language "
        "(WHATSAPP_TEMPLATE is name:language) against WhatsApp Manager."
    ),
    "132012": (
        "A variable or the header does not match the approved template's format (e.g. an image header "
        "the template needs is missing, or a video given where it has an image). Send it as approved."
    ),
    "132015": (
        "Meta paused this template for low quality. Edit it in WhatsApp Manager, or send another "
        "approved template."
    ),
    "132016": (
        "Meta disabled this template for good after pausing it too often. Create a new template, or "
        "send another approved one."
    ),
    "131062": (
        "The customer is known only by their WhatsApp username id, and this kind of message cannot be "
        "sent to it. Reply with a normal message while the customer's 24-hour window is open."
    ),
    "131042": (
        "The WhatsApp Business Account has a billing problem (no valid payment method or credit limit "
        "reached). An admin must fix its payment settings in WhatsApp Manager."
    ),
    "190": "The WhatsApp access token expired or was revoked. An admin must set a new WHATSAPP_ACCESS_TOKEN.",
    "100": (
        "WhatsApp refused the request as invalid, often because the recipient is not a valid WhatsApp "
        "number. Check the customer's number."
    ),
    "130429": "The business number reached Meta's sending throughput. Send again in a moment.",
    "80007": "The WhatsApp Business Account reached Meta's rate limit. Send again later.",
    "4": "The Meta app reached its API call limit. Send again later.",
}


def failure_reason(code: str | None) -> str | None:
    """The agent's explanation of Meta error `code`, or None for a code not in the table."""
    return FAILURE_REASONS.get(code.strip()) if code else None
