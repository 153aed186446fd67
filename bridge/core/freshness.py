"""How old a signed request may be: never older than what the ledgers remember.

The bridge knows a redelivery by its ledger entry (`bridge.infra.claims`), and ledger entries expire
after `BRIDGE_RETENTION_DAYS`. A captured request replayed after that would look new and be acted
on again: measured, an Intercom `conversation.admin.replied` webhook replayed after 14 days sent
the agent's reply to the customer a second time. So where the provider signs a time (Vonage's
Messages API JWT `iat`, Bird Channels' `messagebird-request-timestamp`) or the signed body carries
one (an Intercom conversation part's `created_at`), a request whose time is outside the
acceptance window is not acted on.

The invariant, for every ledger whose TTL is the retention (`retention_seconds`), counted from
when the bridge first stored the entry: a copy is accepted only while its time is at most
`acceptance_window` old, and the first copy reached the bridge no earlier than
`CLOCK_SKEW_SECONDS` before that time (a time further ahead is refused). So the entry the first
copy made lives at least `retention - CLOCK_SKEW_SECONDS` past the signed time, longer than the
window by `LEDGER_GRACE_SECONDS - CLOCK_SKEW_SECONDS`: any copy still accepted meets its entry
and is a duplicate, and a copy whose entry may have expired is refused by its time. Both numbers
derive from the one setting, so they cannot drift apart.

Twilio signs no time: nothing but its auth token bounds a replay of its webhooks. Meta's signed
body carries each message's `timestamp`, not checked here yet (docs/operations.md, Retention).
"""

from __future__ import annotations

import math

from bridge.core.errors import SignatureInvalid, SignatureOutOfWindow
from bridge.core.settings import Settings

# A signed time is the provider's clock, the bridge compares it with its own. Hosts kept by NTP
# agree within well under a second; 5 minutes allows a host whose clock has drifted (the
# allowance Kerberos and most signed-request schemes default to) without letting a time meant
# for later pass. Only the future side needs it: the past side is the whole window.
CLOCK_SKEW_SECONDS = 300
# How much sooner than the ledgers forget, signed times stop being accepted. It must exceed
# `CLOCK_SKEW_SECONDS` (see the module docstring; a test holds it); the rest of the hour absorbs
# a Redis whose clock differs from the web process's (a TTL ends by Redis' clock) and the time
# between reading the clock and storing the entry.
LEDGER_GRACE_SECONDS = 3600


def retention_seconds(settings: Settings) -> int:
    """How long a ledger keeps an entry: `BRIDGE_RETENTION_DAYS`."""
    return settings.retention_days * 86400


def acceptance_window(settings: Settings) -> int:
    """How old a signed time may be: a little less than the retention (module docstring)."""
    return retention_seconds(settings) - LEDGER_GRACE_SECONDS


def out_of_window(signed_at: float, *, now: float, window: float) -> str | None:
    """Why a request signed at `signed_at` (unix seconds) is not accepted at `now`; None if it is.
    The words complete a sentence that names the time ("iat …")."""
    if not math.isfinite(signed_at):
        return "is not a time"
    ahead = signed_at - now
    if ahead > CLOCK_SKEW_SECONDS:
        return f"is {ahead:.0f} seconds ahead of the bridge's clock (at most {CLOCK_SKEW_SECONDS} allowed)"
    age = now - signed_at
    if age > window:
        return (
            f"is {age / 86400:.1f} days old, past the acceptance window (BRIDGE_RETENTION_DAYS less "
            "an hour): a replay of something the ledgers may have forgotten"
        )
    return None


def check_signed_time(signed_at: float, *, now: float, settings: Settings, what: str) -> None:
    """Raise `SignatureOutOfWindow` (403) unless `signed_at` is within the acceptance window;
    `what` names the signed time (a header or a claim) for the message."""
    problem = out_of_window(signed_at, now=now, window=acceptance_window(settings))
    if problem is not None:
        raise SignatureOutOfWindow(f"{what} {problem}")


def signed_time(value: object, *, what: str) -> float:
    """A signed time given as unix seconds (a number, or its text); `SignatureInvalid` if it is
    not one: a time that cannot be checked cannot be accepted."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SignatureInvalid(f"{what} is not a unix time")
    try:
        seconds = float(value)
    except (ValueError, OverflowError):
        raise SignatureInvalid(f"{what} is not a unix time") from None
    if not math.isfinite(seconds):
        raise SignatureInvalid(f"{what} is not a unix time")
    return seconds
