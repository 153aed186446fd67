"""TextMagic: SMS through TextMagic's REST API v2, and the v1 callbacks older accounts still get.

Wire format (research/providers.md §5): TextMagic POSTs "an exact copy of the reply resource"
(`MessageIn`: `id`, `sender`, `receiver`, `messageTime`, `text`, and the sender's contact
`contactId`, `firstName`, `lastName`) to the account's callback URL for incoming messages
(textmagic.com/docs/api/receive-sms), and a `MessageOut` with its one-letter `status` to the
delivery callback URL. The account chooses the envelope (`format`: `m` multipart/form-data, `u`
x-www-form-urlencoded, `j` JSON; `GetCallbackSettingsResponse` in TextMagic's SDKs), so all three
are read. The v1 API posted `message_id`, `timestamp` (unix), `from` and `text` instead
(apitextmagic "Receiving ... via Callback URLs"). TextMagic signs nothing: the callback URL
carries `?token=<TEXTMAGIC_WEBHOOK_SECRET>` (`tokenauth`). Senders are international digits
without `+` (`447860021130`). TextMagic carries no media. Replies leave through `send`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.core.json_payloads import timestamp
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryState, DeliveryStatus, InboundMessage
from bridge.model.senders import SenderIdentity, classify_sender, sender_problem
from bridge.providers.addressing import check_channel, customer_address, digits_number
from bridge.providers.base import OutboundAddress, WebhookContent, WebhookRequest
from bridge.providers.payloads import FormData, first, required, state_of
from bridge.providers.textmagic import check, send, senders
from bridge.providers.tokenauth import UrlTokenAdapter, callback_fields


@dataclass(frozen=True)
class CallbackFormat:
    """Where one version of TextMagic's callbacks puts each fact."""

    id: str
    sender: str
    time: str
    # The number written to (the recipient, in a delivery callback); v1 callbacks do not say.
    receiver: str | None


V2 = CallbackFormat(id="id", sender="sender", time="messageTime", receiver="receiver")
V1 = CallbackFormat(id="message_id", sender="from", time="timestamp", receiver=None)

# A v1 callback does not name the number the customer wrote to. The empty number keeps all of a
# customer's v1 messages in one thread, and a reply without `from` leaves from the account's
# default sender, which is where v1 replies arrived.
V1_BUSINESS_NUMBER = ""

# TextMagic's one-letter delivery statuses ("SMS Delivery Notification Codes") -> the bridge's;
# None: still at TextMagic, nothing to report. `r`, `a` and `b` mean the operator has it. `u` is
# final but unknown: the message left, delivery was never confirmed, which is what SENT says.
STATUS_MAP: dict[str, DeliveryState | None] = {
    "q": None,  # queued at TextMagic
    "s": None,  # scheduled for later
    "r": DeliveryState.SENT,  # sent to the operator
    "a": DeliveryState.SENT,  # acknowledged by the operator
    "b": DeliveryState.SENT,  # buffered by the operator
    "u": DeliveryState.SENT,  # final, status unknown
    "d": DeliveryState.DELIVERED,
    "f": DeliveryState.FAILED,
    "e": DeliveryState.FAILED,
    "j": DeliveryState.FAILED,
}
# The callback carries no reason for a failure: the letter is all there is.
FAILURE_REASONS: dict[str, str] = {
    "f": "the operator could not deliver the message",
    "e": "TextMagic could not send the message",
    "j": "the operator rejected the message",
}


class TextMagicAdapter(UrlTokenAdapter):
    name = "textmagic"
    title = "TextMagic"
    secret_field = "textmagic_webhook_secret"
    send_api = send.send_api(FAILURE_REASONS)
    credential_check = check.CREDENTIAL_CHECK
    sender_api = staticmethod(senders.list_senders)
    sender_channels = frozenset({Channel.SMS})

    def parse(self, request: WebhookRequest, settings: Settings) -> WebhookContent:
        fields = callback_fields(request)
        version = _version(fields)
        message_id = required(fields, version.id)
        sender_raw = required(fields, version.sender)
        sender = classify_sender(
            sender_raw, country_code_included=True, default_region=settings.default_region
        )
        message = InboundMessage(
            provider=self.name,
            channel=Channel.SMS,
            provider_message_id=message_id,
            sender=sender,
            business_number=required(fields, version.receiver) if version.receiver else V1_BUSINESS_NUMBER,
            text=fields.get("text", "").replace("\x00", ""),
            profile_name=_profile_name(fields),
            received_at=timestamp(fields.get(version.time), default=request.received_at),
            problem=sender_problem(sender),
        )
        return WebhookContent(messages=(message,))

    def outbound_address(self, customer: SenderIdentity, business: str, channel: Channel) -> OutboundAddress:
        """As TextMagic's v2 callback names both (`sender`, `receiver`): international digits
        without `+`, which its send takes too (`phones`, `from`)."""
        check_channel(self.name, self.channels, channel)
        address = customer_address(self.name, customer, channel, plus=False)
        return OutboundAddress(customer=address, business_number=digits_number(business))

    def parse_statuses(self, request: WebhookRequest, settings: Settings) -> list[DeliveryStatus]:
        fields = callback_fields(request)
        version = _version(fields)
        message_id = required(fields, version.id)
        reported = required(fields, "status").lower()
        state = state_of(reported, STATUS_MAP, provider="TextMagic")
        if state is None:
            return []
        return [
            DeliveryStatus(
                provider=self.name,
                provider_message_id=message_id,
                state=state,
                occurred_at=timestamp(fields.get(version.time), default=request.received_at),
                recipient=first(fields, version.receiver) if version.receiver else None,
                error_code=reported if state is DeliveryState.FAILED else None,
                error_message=FAILURE_REASONS.get(reported),
            )
        ]


def _version(fields: FormData) -> CallbackFormat:
    # v2 names the message `id`; a body with neither id is read as v2, so the 400 names `id`.
    return V1 if first(fields, V2.id) is None and first(fields, V1.id) is not None else V2


def _profile_name(fields: FormData) -> str | None:
    # Present when the sender is one of the account's contacts.
    parts = (first(fields, "firstName"), first(fields, "lastName"))
    return " ".join(part for part in parts if part) or None
