"""Africa's Talking: SMS to a short code or long number, across Africa.

Wire format (research/providers.md §6): incoming messages are a form POST with `from` (E.164 with
`+`), `to` (the short code or number written to), `text`, `date`, `id` and, for premium on-demand
services, `linkId` (docs.africastalking.com/sms/callback; courier's africastalking handler). Delivery
reports are a form POST with `id` (`ATXid_...`), `status`, `phoneNumber`, `networkCode`,
`failureReason` and `retryCount` (docs.africastalking.com/sms/notifications). Africa's Talking
signs nothing: the callback URL carries `?token=<AFRICASTALKING_WEBHOOK_SECRET>` (`tokenauth`).

`linkId` must be echoed by a premium reply to that message: it is kept as the message's
`reply_reference`. `networkCode` (the operator) and `retryCount` are not needed to deliver a
message or a report and are not read. Sending is `send`.
"""

from __future__ import annotations

from bridge.core.errors import MalformedPayload
from bridge.core.json_payloads import timestamp
from bridge.core.settings import Settings
from bridge.model.messages import Channel, DeliveryState, DeliveryStatus, InboundMessage
from bridge.model.senders import SenderIdentity, classify_sender, sender_problem
from bridge.providers.addressing import check_channel, compact_number, customer_address
from bridge.providers.africastalking import check, send
from bridge.providers.base import OutboundAddress, WebhookContent, WebhookRequest
from bridge.providers.payloads import first, required
from bridge.providers.tokenauth import UrlTokenAdapter, callback_fields

# Delivery report `status` (lower-cased) -> the bridge's. Sent (left Africa's Talking), Submitted
# (handed to the operator) and Buffered (queued by the operator) all mean the message is out of
# Africa's Talking's hands and not yet confirmed: SENT, as courier maps Sent and Buffered; the
# status ledger stores one SENT per message however many arrive. Rejected, Failed and Expired are
# final failures (Expired: courier's map, not in the documented list).
STATUS_MAP: dict[str, DeliveryState] = {
    "sent": DeliveryState.SENT,
    "submitted": DeliveryState.SENT,
    "buffered": DeliveryState.SENT,
    "success": DeliveryState.DELIVERED,
    "rejected": DeliveryState.FAILED,
    "failed": DeliveryState.FAILED,
    "expired": DeliveryState.FAILED,
}


class AfricasTalkingAdapter(UrlTokenAdapter):
    name = "africastalking"
    title = "Africa's Talking"
    secret_field = "africastalking_webhook_secret"
    send_api = send.SEND_API
    credential_check = check.CREDENTIAL_CHECK
    # Africa's Talking documents no API listing an account's short codes or sender ids (they are
    # requested and assigned in its dashboard): no sender list.

    def parse(self, request: WebhookRequest, settings: Settings) -> WebhookContent:
        fields = callback_fields(request)
        message_id = required(fields, "id")
        sender_raw = required(fields, "from")
        # `from` is E.164 with `+`; the default region only ever applies to a national number.
        sender = classify_sender(
            sender_raw, country_code_included=False, default_region=settings.default_region
        )
        message = InboundMessage(
            provider=self.name,
            channel=Channel.SMS,
            provider_message_id=message_id,
            sender=sender,
            business_number=required(fields, "to"),
            text=fields.get("text", "").replace("\x00", ""),
            # `2017-05-03T06:04:45Z`, or `2017-05-03 06:04:45` read as UTC as courier does.
            received_at=timestamp(fields.get("date"), default=request.received_at),
            reply_reference=first(fields, "linkId"),
            problem=sender_problem(sender),
        )
        return WebhookContent(messages=(message,))

    def outbound_address(self, customer: SenderIdentity, business: str, channel: Channel) -> OutboundAddress:
        """As Africa's Talking's callback names both: the customer's `from` in E.164 with `+`, the
        business as the `to` written to (a short code, or a number as it was registered),
        which its send takes too (`to`, `from`)."""
        check_channel(self.name, self.channels, channel)
        address = customer_address(self.name, customer, channel, plus=True)
        return OutboundAddress(customer=address, business_number=compact_number(business))

    def parse_statuses(self, request: WebhookRequest, settings: Settings) -> list[DeliveryStatus]:
        fields = callback_fields(request)
        message_id = required(fields, "id")
        reported = required(fields, "status")
        state = STATUS_MAP.get(reported.lower())
        if state is None:
            raise MalformedPayload(f"status {reported!r} is not one Africa's Talking documents")
        # failureReason (`InsufficientCredit`, `UserInBlackList`...) comes only with Rejected or
        # Failed, and not from every operator.
        reason = first(fields, "failureReason") if state is DeliveryState.FAILED else None
        return [
            DeliveryStatus(
                provider=self.name,
                provider_message_id=message_id,
                state=state,
                occurred_at=request.received_at,
                recipient=first(fields, "phoneNumber"),
                error_code=reason,
                error_message=(reason or reported) if state is DeliveryState.FAILED else None,
            )
        ]
