"""What a customer's STOP, START or HELP does, once their message is in Intercom.

The message itself reaches the agent like any other. Then, when its whole text is a keyword
(`bridge.consent.keywords`), or the provider read it as one (Twilio's `OptOutType`):

- STOP and the other opt-out keywords opt the customer out of that business address (only that
  one, and on that channel), START opts them back in (`bridge.consent.keeper`, which also mirrors
  it on the contact's SMS subscription in Intercom);
- the conversation gets one note saying so, so the agent knows why replies will not go;
- on SMS the customer gets the one confirmation the carriers' rules ask for, or the HELP answer,
  unless the provider answers that keyword itself (Twilio's default handling): sent as a message
  the team writes first (`bridge.outreach`), so it shows in the conversation, goes out once
  however often the job runs, and goes whatever the customer just chose.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import httpx
from redis import Redis

from bridge.consent.keeper import ConsentKeeper
from bridge.consent.keywords import Keyword, keyword_of, opt_in_word
from bridge.consent.store import Source, scope_of
from bridge.conversations.notes import Notes
from bridge.core.logs import mask
from bridge.core.settings import Settings
from bridge.intake.ledger import InboundEntry
from bridge.intercom.client import IntercomClient
from bridge.model.messages import Channel, InboundMessage
from bridge.outreach.accept import Outreach
from bridge.outreach.requests import MessageRequest, Refusal
from bridge.outreach.store import CONFIRMATION_SOURCE
from bridge.providers.base import ProviderAdapter

log = logging.getLogger(__name__)


def keyword_in(message: InboundMessage, settings: Settings) -> Keyword | None:
    """The consent keyword a message is: the provider's reading first, else its whole text."""
    if message.consent_keyword:
        read = keyword_of(message.consent_keyword, settings) or _PROVIDER_WORDS.get(
            message.consent_keyword.lower()
        )
        if read is not None:
            return read
    return keyword_of(message.text, settings)


# Twilio's OptOutType values, whatever keywords the team configured.
_PROVIDER_WORDS = {"stop": Keyword.OPT_OUT, "start": Keyword.OPT_IN, "help": Keyword.HELP}


class OptOuts:
    """Applies the keyword of a delivered message; one per job."""

    def __init__(
        self,
        *,
        redis_client: Redis,
        intercom: IntercomClient,
        adapters: Mapping[str, ProviderAdapter],
        settings: Settings,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keeper = ConsentKeeper(redis_client, intercom)
        self._notes = Notes(redis_client, intercom, settings)
        self._outreach = Outreach(redis_client, settings, adapters, http, clock=clock)
        self._adapters = adapters
        self._settings = settings

    def after_delivery(self, entry: InboundEntry) -> Keyword | None:
        """Apply what `entry`'s message says about consent, if anything; the keyword it was."""
        message = entry.message
        keyword = keyword_in(message, self._settings)
        if keyword is None or not entry.conversation_id:
            return keyword
        if keyword is not Keyword.HELP:
            self._change(entry, message, opted_out=keyword is Keyword.OPT_OUT)
        self._answer(entry, message, keyword)
        return keyword

    def _change(self, entry: InboundEntry, message: InboundMessage, *, opted_out: bool) -> None:
        said = (message.consent_keyword or message.text).strip().upper()
        source = Source.PROVIDER if message.consent_keyword else Source.KEYWORD
        self._keeper.change(
            scope_of(message.channel, message.business_number),
            message.sender.key,
            opted_out=opted_out,
            source=source,
            reason=f"texted {said}",
            by=entry.inbound_id,
            contact_id=entry.contact.id if entry.contact else None,
        )
        if opted_out:
            note = (
                f"The customer texted {said}: they are opted out of {message.business_number}. Nothing more "
                f"is sent to them from this number (replies, messages the team writes first) until they text "
                f"{opt_in_word(self._settings)}."
            )
        else:
            business = message.business_number
            note = f"The customer texted {said}: they are opted back in to messages from {business}."
        assert entry.conversation_id is not None
        self._notes.post_once(entry.conversation_id, note, once=f"consent:{entry.inbound_id}")

    def _answer(self, entry: InboundEntry, message: InboundMessage, keyword: Keyword) -> None:
        """The confirmation (or HELP answer) the rules ask for, on SMS, unless the provider sends it."""
        adapter = self._adapters.get(message.provider)
        if message.channel is not Channel.SMS or adapter is None:
            return
        said = (message.consent_keyword or message.text).strip().casefold()
        if said in adapter.keyword_answers.get(message.channel, frozenset()):
            return  # the provider answered it already
        text = {
            Keyword.OPT_OUT: self._settings.opt_out_reply,
            Keyword.OPT_IN: self._settings.opt_in_reply,
            Keyword.HELP: self._settings.help_reply,
        }[keyword]
        request = MessageRequest.model_validate(
            {
                "to": message.sender.raw,
                "provider": message.provider,
                "from": message.business_number,
                "text": text,
                "intercom_contact_id": entry.contact.id if entry.contact else None,
                "idempotency_key": f"consent:{entry.inbound_id}",
            }
        )
        try:
            self._outreach.accept(request, source=CONFIRMATION_SOURCE)
        except Refusal as refused:
            log.warning(
                "no %s answer to %s: %s", keyword.value, mask(message.sender.key), mask(refused.reason)
            )
