"""Long SMS delivered in parts (Vonage's `concat-*`), put back together.

Each part is accepted and stored on its own (each has its own provider id, so redeliveries
dedupe as usual) and indexed under its group in the same transaction. Delivery waits until every
part is there, or until the first part has waited `FRAGMENT_WAIT_SECONDS`; then it delivers what
arrived as one message, with a marker where a part is missing. A part that arrives after its group
was delivered is delivered on its own, marked as the rest of the earlier message: late, never lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redis import Redis

from bridge.infra import keys
from bridge.infra.connection import read_hash
from bridge.model.messages import InboundMessage

FRAGMENT_WAIT_SECONDS = 30.0
_DELIVERED = "delivered"
_CONVERSATION = "conversation_id"


@dataclass(frozen=True)
class FragmentGroup:
    key: str
    parts: dict[int, str]  # part number -> inbound id
    delivered: frozenset[int] = field(default_factory=frozenset)
    conversation_id: str | None = None

    def pending(self) -> dict[int, str]:
        return {index: entry for index, entry in sorted(self.parts.items()) if index not in self.delivered}


class FragmentStore:
    def __init__(self, redis_client: Redis) -> None:
        self._redis = redis_client

    def get(self, group: str) -> FragmentGroup:
        data = read_hash(self._redis, keys.fragments(group))
        parts = {int(name): value for name, value in data.items() if name.isdigit()}
        delivered = frozenset(int(i) for i in data.get(_DELIVERED, "").split(",") if i)
        return FragmentGroup(
            key=group, parts=parts, delivered=delivered, conversation_id=data.get(_CONVERSATION)
        )

    def mark_delivered(self, group: FragmentGroup, indexes: set[int], conversation_id: str) -> None:
        delivered = ",".join(str(i) for i in sorted(group.delivered | indexes))
        self._redis.hset(
            keys.fragments(group.key), mapping={_DELIVERED: delivered, _CONVERSATION: conversation_id}
        )


def assemble(
    parts: dict[int, InboundMessage], *, total: int, delivered_before: frozenset[int]
) -> InboundMessage:
    """One message from the parts that arrived (by part number), in order, gaps marked.

    The first present part lends its sender, addresses and id; texts are joined as they were cut
    (a long SMS is split mid-text, so no separator is added).
    """
    first = parts[min(parts)]
    pieces = []
    for index in range(1, total + 1):
        if index in parts:
            pieces.append(parts[index].text)
        elif index not in delivered_before:
            pieces.append(f" [part {index} of {total} did not arrive] ")
    text = "".join(pieces).strip()
    if delivered_before:
        numbers = ", ".join(str(i) for i in sorted(parts))
        text = f"[rest of an earlier message, part {numbers} of {total}] {text}"
    media = tuple(media for index in sorted(parts) for media in parts[index].media)
    return first.model_copy(update={"text": text, "media": media, "fragment": None})
