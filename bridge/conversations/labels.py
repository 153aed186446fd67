"""Every bridged conversation says where it came from: channel, provider, business number.

Without this a bridged conversation looks like any Messenger conversation, and Intercom's own
assignment rules, views and reports cannot tell an SMS to the sales number from a WhatsApp
message to support. So each conversation the bridge opens (or first continues, for those opened
before it did this) gets three conversation attributes and a channel tag:

- `bridge_channel`: `sms`, `mms` (an SMS that carried media) or `whatsapp`;
- `bridge_provider`: the provider as the bridge names it (`twilio`, `whatsapp` for Meta's Cloud
  API, `vonage`, `messagebird`, `textmagic`, `africastalking`);
- `bridge_business_number`: the number the customer wrote to, as `BRIDGE_ROUTES` writes it
  (`+12025550100`), or the WhatsApp phone number id (`106540352242922`);
- the tag `SMS` or `WhatsApp`.

Cost: two calls per new conversation (`PUT /conversations/{id}` with the attributes, and
`POST /conversations/{id}/tags`: Intercom's API takes neither at creation), none per continued
message, since the thread records that it is done (`Thread.labelled_at`). What the workspace has
is learned once for every process, and kept in Redis (`keys.INTERCOM_DEFINITIONS`): the
attributes defined (conversation attributes have an API of their own,
`/conversations/attributes`; `/data_attributes` only knows contacts and companies in 2.16) and
each tag's id. Someone deleting a tag or an attribute in Intercom is met by defining it again,
once. On a fresh workspace many jobs start at once (a threaded worker runs 50): one of them asks
Intercom, the others wait for its answer in Redis (`Definitions.learned`), so the workspace is
asked once, not once per job in flight.

Intercom refusing a label (a token without the permission, say) never costs the message: it is
logged, and the conversation goes unlabelled. Intercom being unavailable fails the job, which
resumes after the message (the delivery records its progress first) and labels it then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import LockError

from bridge.conversations.routing import Route
from bridge.conversations.threads import Thread, ThreadStore
from bridge.core.addresses import business_key
from bridge.core.errors import IntercomNotFound, IntercomRejected, PermanentError
from bridge.infra import keys
from bridge.intercom.client import IntercomClient
from bridge.model.messages import Channel

log = logging.getLogger(__name__)

CHANNEL_ATTRIBUTE = "bridge_channel"
PROVIDER_ATTRIBUTE = "bridge_provider"
BUSINESS_ATTRIBUTE = "bridge_business_number"
ATTRIBUTES: dict[str, str] = {
    CHANNEL_ATTRIBUTE: "Set by the bridge: the channel the customer wrote on (sms, mms or whatsapp)",
    PROVIDER_ATTRIBUTE: "Set by the bridge: the provider that carries the conversation (twilio, whatsapp, …)",
    BUSINESS_ATTRIBUTE: "Set by the bridge: the business number the customer wrote to, or the WhatsApp "
    "phone number id",
}
CHANNEL_TAGS = {"sms": "SMS", "mms": "SMS", "whatsapp": "WhatsApp"}
# What the definitions hash says once every attribute above is defined: adding an attribute to
# the bridge changes it, and the next conversation defines the new one.
_DEFINED = ",".join(sorted(ATTRIBUTES))
# One job at a time asks Intercom for a definition; the others look for its answer every
# `_LOOK_SECONDS`, for up to `_WAIT_SECONDS` (a call waits for the rate budget's slot, and
# defining the attributes is up to four calls), then ask themselves: the one asking may have died.
_WAIT_SECONDS = 20.0
_LOOK_SECONDS = 0.1


@dataclass(frozen=True)
class Label:
    """What a conversation is labelled with."""

    channel: str  # sms, mms or whatsapp
    provider: str
    business: str

    @classmethod
    def of(cls, *, channel: Channel, provider: str, business_number: str, media: bool) -> Label:
        """The label of a conversation about a message on `channel` to `business_number`; `media`:
        whether that message carries any (an SMS with media is an MMS)."""
        key = business_key(channel.value, business_number)
        kind = "mms" if channel is Channel.SMS and media else channel.value
        return cls(kind, provider, key.partition(":")[2])

    def attributes(self) -> dict[str, str]:
        return {
            CHANNEL_ATTRIBUTE: self.channel,
            PROVIDER_ATTRIBUTE: self.provider,
            BUSINESS_ATTRIBUTE: self.business,
        }

    @property
    def tag(self) -> str:
        return CHANNEL_TAGS[self.channel]


class Definitions:
    """The attributes and tags the workspace is known to have, shared through Redis."""

    def __init__(self, redis_client: Redis, intercom: IntercomClient) -> None:
        self._redis = redis_client
        self._intercom = intercom

    def ensure_attributes(self) -> bool:
        """Define the bridge's conversation attributes unless known to be defined; whether
        Intercom was asked (then a refusal of their values is not an outdated record)."""
        _, asked = self.learned("attributes", self._define_attributes, wanted=_DEFINED)
        return asked

    def _define_attributes(self) -> str:
        names = self._intercom.conversation_attribute_names()
        for name, description in ATTRIBUTES.items():
            if name in names:
                continue
            try:
                self._intercom.create_conversation_attribute(name, description=description)
            except IntercomRejected:
                # Another worker defined it in the meantime: fine. Anything else is a refusal.
                if name not in self._intercom.conversation_attribute_names():
                    raise
        return _DEFINED

    def learned(self, field: str, learn: Callable[[], str], *, wanted: str | None = None) -> tuple[str, bool]:
        """What the definitions hash holds at `field` (it will do: `wanted`, else anything), and
        whether this job asked Intercom for it (`learn`, which answers the value to record).

        Only the job holding the field's claim asks; the others wait for its answer, so that the
        jobs a fresh workspace's first messages start together do not all ask. The claim lapses
        (`_WAIT_SECONDS`), and a waiter past that asks too: the claimant may have died or failed.
        """
        known = self._known(field, wanted)
        if known is not None:
            return known, False
        # redis-py's lock: its release deletes the claim only while it is still this job's.
        claim = self._redis.lock(keys.definition_claim(field), timeout=_WAIT_SECONDS)
        deadline = time.monotonic() + _WAIT_SECONDS
        while not claim.acquire(blocking=False):
            if time.monotonic() >= deadline:
                break
            time.sleep(_LOOK_SECONDS)
            known = self._known(field, wanted)
            if known is not None:
                return known, False
        try:
            # Claimed once the one before us recorded its answer and let go: nothing left to ask.
            known = self._known(field, wanted)
            if known is not None:
                return known, False
            value = learn()
            self._redis.hset(keys.INTERCOM_DEFINITIONS, field, value)
        finally:
            try:
                claim.release()
            except LockError:
                pass  # never claimed (waited out), or it lapsed meanwhile: nothing of ours to let go
        return value, True

    def _known(self, field: str, wanted: str | None) -> str | None:
        value = _text(self._redis.hget(keys.INTERCOM_DEFINITIONS, field))
        return value if value and (wanted is None or value == wanted) else None

    def forget_attributes(self) -> None:
        self._redis.hdel(keys.INTERCOM_DEFINITIONS, "attributes")

    def tag_id(self, name: str) -> tuple[str, bool]:
        """The tag's id, and whether Intercom was asked for it (else it was known)."""
        return self.learned(f"tag:{name}", lambda: self._intercom.tag_id(name))

    def forget_tag(self, name: str) -> None:
        self._redis.hdel(keys.INTERCOM_DEFINITIONS, f"tag:{name}")


class Labeller:
    """Labels and routes conversations, each once; one per job, on its Redis and Intercom client.
    `admin_id` gives the teammate the bridge acts as (tags and assignments name one)."""

    def __init__(
        self,
        redis_client: Redis,
        intercom: IntercomClient,
        *,
        admin_id: Callable[[], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._intercom = intercom
        self._threads = ThreadStore(redis_client)
        self._definitions = Definitions(redis_client, intercom)
        self._admin_id = admin_id
        self._clock = clock

    def label(self, thread: Thread, label: Label) -> Thread:
        """The thread's conversation with `label`'s attributes and tag, unless it has them."""
        if thread.labelled_at:
            return thread
        conversation_id = thread.conversation_id
        for step, what in ((self._set_attributes, "its attributes"), (self._tag, f"the tag {label.tag}")):
            try:
                step(conversation_id, label)
            except PermanentError as refused:
                log.warning("conversation %s: Intercom refused %s: %s", conversation_id, what, refused)
        return self._threads.record_labelled(thread, at=self._clock())

    def route(self, thread: Thread, route: Route | None) -> Thread:
        """Assign the thread's conversation to `route`, unless there is none or it was done."""
        if route is None or thread.routed_to:
            return thread
        try:
            self._intercom.assign_conversation(
                thread.conversation_id,
                admin_id=self._admin_id(),
                assignee_type=route.kind,
                assignee_id=route.id,
            )
        except IntercomRejected as refused:
            # A team or teammate deleted since (`bridge doctor` checks BRIDGE_ROUTES): Intercom's
            # own assignment has the conversation.
            log.warning(
                "conversation %s: Intercom refused to assign it to %s: %s",
                thread.conversation_id,
                route,
                refused,
            )
        return self._threads.record_routed(thread, str(route))

    def _set_attributes(self, conversation_id: str, label: Label) -> None:
        asked = self._definitions.ensure_attributes()
        try:
            self._intercom.update_conversation(conversation_id, custom_attributes=label.attributes())
        except IntercomNotFound:
            raise
        except IntercomRejected:
            if asked:
                raise
            # Defined once, archived or deleted since: define them again, and try once more.
            self._definitions.forget_attributes()
            self._definitions.ensure_attributes()
            self._intercom.update_conversation(conversation_id, custom_attributes=label.attributes())

    def _tag(self, conversation_id: str, label: Label) -> None:
        tag_id, asked = self._definitions.tag_id(label.tag)
        try:
            self._intercom.tag_conversation(conversation_id, tag_id=tag_id, admin_id=self._admin_id())
        except IntercomNotFound:
            if asked:
                raise
            # The tag may have been deleted in Intercom: its id again, and once more if it changed
            # (the same id means the conversation is what was not found).
            self._definitions.forget_tag(label.tag)
            fresh, _ = self._definitions.tag_id(label.tag)
            if fresh == tag_id:
                raise
            self._intercom.tag_conversation(conversation_id, tag_id=fresh, admin_id=self._admin_id())


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
