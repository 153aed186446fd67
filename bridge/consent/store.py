"""Who opted out of which business number, since when and why, and every change made.

Consent is per (business address, customer), like the providers' own opt-out: a STOP to one
number does not silence the business's other numbers, and WhatsApp consent is its own channel
(`scope_of`). A record outlives the retention period: an opt-out holds until the customer (or an
operator, on their word) opts back in. Every change is appended to the customer's audit trail
with when, which number, why (a keyword, a provider's code, an operator) and by what (the message,
the report, the command); a repeated STOP changes nothing and adds nothing.

A customer the bridge was asked to forget (`bridge.ops.forget`) keeps only their opt-outs, each
under a keyed hash of their identity key instead of the key itself (`bridge.core.pseudonyms`),
without the audit trail: a later message to the number hashes to the same record and is blocked
as before, and a later START from them opts them back in, under their number again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum

from redis import Redis
from redis.client import Pipeline

from bridge.core.addresses import business_key
from bridge.core.errors import ConfigurationError
from bridge.core.pseudonyms import Pseudonyms
from bridge.core.settings import get_settings
from bridge.infra import keys
from bridge.model.messages import Channel
from bridge.model.traces import mentions

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
    def __init__(
        self, redis_client: Redis, *, pseudonyms: Callable[[], Pseudonyms | None] | None = None
    ) -> None:
        self._redis = redis_client
        # Every store, in every process, must read a forgotten customer's hashed opt-out, whoever
        # built it: the key is the deployment's (`BRIDGE_FORGET_SECRET` or the data dir's), looked
        # up only once Redis says someone was forgotten.
        self._key_source = pseudonyms or (lambda: Pseudonyms.configured(get_settings()))
        self._key: Pseudonyms | None = None

    def get(self, scope: str, customer: str) -> Consent | None:
        """The customer's consent for `scope`: as recorded under their identity key, else the
        opt-out kept hashed when they were forgotten."""
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.consent(scope, customer))
            pipe.get(keys.FORGET_KEY_ID)
            data, key_id = pipe.execute()
        if not data and key_id is not None:
            data = self._redis.hgetall(keys.consent(scope, self._hashed(customer, key_id)))
        return _consent(scope, customer, _texts(data)) if data else None

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
            hashed = None
            if current is None:  # forgotten before? their hashed opt-out is what holds
                key_id = pipe.get(keys.FORGET_KEY_ID)
                if key_id is not None:
                    hashed = keys.consent(scope, self._hashed(customer, key_id))
                    pipe.watch(hashed)  # type: ignore[no-untyped-call]
                    current = pipe.hget(hashed, "opted_out")
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
            if hashed is not None:  # the customer is back: their choice is theirs again, by number
                pipe.delete(hashed)

        self._redis.transaction(apply, key)
        return changed

    def of_customer(self, customer: str) -> list[Consent]:
        """The customer's consent on every business address that ever recorded one, the opt-outs
        kept hashed after they were forgotten included."""
        scopes = {
            member.decode() if isinstance(member, bytes) else str(member)
            for member in self._redis.smembers(keys.consent_scopes(customer))
        }
        key_id = self._redis.get(keys.FORGET_KEY_ID)
        if key_id is not None:
            hashed = self._hashed(customer, key_id)
            suffix = f":{hashed}"
            for found in self._redis.scan_iter(match=keys.consent("*", hashed), count=1000):
                name = found.decode() if isinstance(found, bytes) else str(found)
                scopes.add(name.removeprefix(keys.consent("", "")[:-1]).removesuffix(suffix))
        consents = (self.get(scope, customer) for scope in sorted(scopes))
        return [consent for consent in consents if consent is not None]

    def history(self, customer: str) -> list[dict[str, object]]:
        """Every change of the customer's consent, oldest first."""
        return [json.loads(item) for item in self._redis.lrange(keys.consent_audit(customer), 0, -1)]

    def forget(self, customer: str, pseudonyms: Pseudonyms, *, forms: Collection[str]) -> ConsentForgotten:
        """Remove every consent record of `customer` but their opt-outs, each kept under the
        keyed hash instead, with only what honouring it needs: since when, and how they asked (an
        operator's words dropped if they write the number `forms` are of). The audit trail goes."""
        self._claim_key(pseudonyms)
        hashed = pseudonyms.of(customer)
        scopes = self._scopes(customer)
        records = [keys.consent(scope, customer) for scope in scopes]
        with self._redis.pipeline(transaction=False) as pipe:
            for record in records:
                pipe.hgetall(record)
            found = [_texts(data) for data in pipe.execute()]
        kept = [scope for scope, data in zip(scopes, found, strict=True) if data.get("opted_out") == "1"]
        with self._redis.pipeline() as pipe:
            for scope, data in zip(scopes, found, strict=True):
                if scope not in kept:
                    continue
                reason = data.get("reason", "")
                pipe.hset(
                    keys.consent(scope, hashed),
                    mapping={
                        "opted_out": "1",
                        "at": data.get("at", ""),
                        "source": data.get("source", Source.OPERATOR.value),
                        "reason": "asked an operator" if mentions(reason, forms) else reason,
                        "by": "kept hashed when the customer was forgotten",
                    },
                )
            pipe.llen(keys.consent_audit(customer))
            pipe.delete(*records, keys.consent_scopes(customer), keys.consent_audit(customer))
            *_, audited, _ = pipe.execute()
        present = sum(1 for data in found if data)
        return ConsentForgotten(records=present, audit_entries=int(audited), kept_hashed=tuple(kept))

    def _scopes(self, customer: str) -> list[str]:
        """Every scope the customer has a record in: the scopes set, and any record it missed."""
        scopes = {
            member.decode() if isinstance(member, bytes) else str(member)
            for member in self._redis.smembers(keys.consent_scopes(customer))
        }
        ignored = {keys.consent_scopes(customer), keys.consent_audit(customer)}
        prefix, suffix = keys.consent("", "")[:-1], f":{customer}"
        for found in self._redis.scan_iter(match=keys.consent("*", _glob_escaped(customer)), count=1000):
            name = found.decode() if isinstance(found, bytes) else str(found)
            if name not in ignored and name.endswith(suffix):
                scopes.add(name.removeprefix(prefix).removesuffix(suffix))
        return sorted(scopes)

    def _claim_key(self, pseudonyms: Pseudonyms) -> None:
        """Record which key hashes are made with; refuse a key other than the one already used
        (its hashes would be unreadable to every process holding the first)."""
        self._redis.set(keys.FORGET_KEY_ID, pseudonyms.key_id, nx=True)
        recorded = self._redis.get(keys.FORGET_KEY_ID)
        if _text(recorded) != pseudonyms.key_id:
            raise _other_key()

    def _hashed(self, customer: str, key_id: bytes | str) -> str:
        """`customer`'s pseudonym under the deployment's key, which must be the one Redis names."""
        if self._key is None:
            self._key = self._key_source()
        if self._key is None or self._key.key_id != _text(key_id):
            raise _other_key()
        return self._key.of(customer)


@dataclass(frozen=True)
class ConsentForgotten:
    """What forgetting a customer's consent did: records (one per business address) and audit
    entries removed, the scopes whose opt-out stays (hashed)."""

    records: int
    audit_entries: int
    kept_hashed: tuple[str, ...]


def _other_key() -> ConfigurationError:
    return ConfigurationError(
        "opt-outs of forgotten customers are hashed with a key this process does not have: set "
        "BRIDGE_FORGET_SECRET to the same value on every machine (or share BRIDGE_DATA_DIR/forget.key)"
    )


def _consent(scope: str, customer: str, data: Mapping[str, str]) -> Consent:
    return Consent(
        scope=scope,
        customer=customer,
        opted_out=data.get("opted_out") == "1",
        at=float(data.get("at") or 0.0),
        source=Source(data.get("source") or Source.OPERATOR.value),
        reason=data.get("reason", ""),
        by=data.get("by", ""),
    )


def _texts(data: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(name): _text(value) for name, value in data.items()}


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _glob_escaped(text: str) -> str:
    """`text` matched literally by SCAN's MATCH."""
    return "".join(f"\\{ch}" if ch in "\\*?[]" else ch for ch in text)


def blocked_reason(consent: Consent, business: str, *, opt_in: str) -> str:
    """Why nothing goes to the customer from `business`, in the words the team reads."""
    when = time.strftime("%-d %b %Y", time.gmtime(consent.at))
    return (
        f"the customer opted out of {business} on {when} ({consent.reason}); "
        f"they can text {opt_in} to opt back in"
    )
