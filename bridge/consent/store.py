"""Who opted out of which business number, since when and why, and every change made.

Consent is per (business address, customer), like the providers' own opt-out: a STOP to one
number does not silence the business's other numbers, and WhatsApp consent is its own channel
(`scope_of`). A record outlives the retention period: an opt-out holds until the customer (or an
operator, on their word) opts back in. Every change is appended to the customer's audit trail
with when, which number, why (a keyword, a provider's code, an operator) and by what (the message,
the report, the command); a repeated STOP changes nothing and adds nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from enum import StrEnum

from redis import Redis
from redis.client import Pipeline

from bridge.core.addresses import business_key
from bridge.infra import keys
from bridge.infra.connection import read_hash
from bridge.model.messages import Channel

AUDIT_LENGTH = 1000  # changes kept per customer, newest last


class Source(StrEnum):
    """Where a change of consent came from."""

    KEYWORD = "keyword"  # the customer's own message (STOP, START)
    PROVIDER = "provider"  # a provider's opt-out signal (Twilio 21610, OptOutType)
    OPERATOR = "operator"  # `bridge consent set` / the ops API, for a customer who asked elsewhere


@dataclass(frozen=True)
class Consent:
    """A customer's consent for one business address: opted out or not, and the change that made it so."""

    scope: str
    customer: str  # the identity key (`phone:+1…`)
    opted_out: bool
    at: float
    source: Source
    reason: str  # "texted STOP", "Twilio error 21610", "asked by phone (ticket 4711)"
    by: str  # the message, report or operator that made the change

    def to_json(self) -> dict[str, object]:
        return asdict(self) | {"source": self.source.value}


def scope_of(channel: Channel | str, business_number: str) -> str:
    """The consent scope of a business address on a channel: `sms:+12025550100` however a provider
    writes the number (`+1202…`, `1202…`, `whatsapp:+1202…`), a short code or sender id as given,
    `whatsapp:106540352242922` for a Meta phone number id."""
    return business_key(Channel(channel).value, business_number)


class ConsentStore:
    def __init__(self, redis_client: Redis) -> None:
        self._redis = redis_client

    def get(self, scope: str, customer: str) -> Consent | None:
        data = read_hash(self._redis, keys.consent(scope, customer))
        if not data:
            return None
        return Consent(
            scope=scope,
            customer=customer,
            opted_out=data.get("opted_out") == "1",
            at=float(data.get("at") or 0.0),
            source=Source(data.get("source") or Source.OPERATOR.value),
            reason=data.get("reason", ""),
            by=data.get("by", ""),
        )

    def opted_out(self, scope: str, customer: str) -> Consent | None:
        """The opt-out in force for the customer on that business address, or None."""
        consent = self.get(scope, customer)
        return consent if consent is not None and consent.opted_out else None

    def change(
        self,
        scope: str,
        customer: str,
        *,
        opted_out: bool,
        source: Source,
        reason: str,
        by: str,
        at: float | None = None,
    ) -> Consent | None:
        """Record the customer's choice; the new consent, or None when it was already so (nothing
        recorded, nothing audited). Atomic per customer and scope (WATCH), so two workers applying
        a STOP and a START at once leave one of them, both audited in order."""
        key = keys.consent(scope, customer)
        changed: Consent | None = None

        def apply(pipe: Pipeline) -> None:
            nonlocal changed
            current = pipe.hget(key, "opted_out")
            was_out = (current.decode() if isinstance(current, bytes) else current) == "1"
            if current is not None and was_out == opted_out:
                changed = None
                return
            if current is None and not opted_out:
                changed = None  # never opted out: opting in changes nothing
                return
            moment = round(at or time.time(), 6)  # as it is stored
            changed = Consent(scope, customer, opted_out, moment, source, reason, by)
            pipe.multi()
            pipe.hset(
                key,
                mapping={
                    "opted_out": "1" if opted_out else "0",
                    "at": f"{changed.at:.6f}",
                    "source": source.value,
                    "reason": reason,
                    "by": by,
                },
            )
            pipe.sadd(keys.consent_scopes(customer), scope)
            pipe.rpush(keys.consent_audit(customer), json.dumps(changed.to_json()))
            pipe.ltrim(keys.consent_audit(customer), -AUDIT_LENGTH, -1)

        self._redis.transaction(apply, key)
        return changed

    def of_customer(self, customer: str) -> list[Consent]:
        """The customer's consent on every business address that ever recorded one."""
        scopes = sorted(
            member.decode() if isinstance(member, bytes) else str(member)
            for member in self._redis.smembers(keys.consent_scopes(customer))
        )
        found = (self.get(scope, customer) for scope in scopes)
        return [consent for consent in found if consent is not None]

    def history(self, customer: str) -> list[dict[str, object]]:
        """Every change of the customer's consent, oldest first."""
        return [json.loads(item) for item in self._redis.lrange(keys.consent_audit(customer), 0, -1)]


def blocked_reason(consent: Consent, business: str, *, opt_in: str) -> str:
    """Why nothing goes to the customer from `business`, in the words the team reads."""
    when = time.strftime("%-d %b %Y", time.gmtime(consent.at))
    return (
        f"the customer opted out of {business} on {when} ({consent.reason}); "
        f"they can text {opt_in} to opt back in"
    )
