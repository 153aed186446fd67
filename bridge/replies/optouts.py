"""A provider saying the customer opted out: it counts as the customer's own STOP.

Twilio refuses a send to a customer who texted STOP with error 21610 (and reports it on a status
callback), MessageBird with 103, Vonage with 1240, Meta refuses marketing templates to a customer
who stopped them with 131050 (`ProviderAdapter.opt_out_codes`). Whichever way the code arrives (a
reply's send, a message the team wrote first, a delivery report), the thread's customer is opted
out of that business address, audited as the provider's word, exactly as a keyword would.
"""

from __future__ import annotations

from bridge.consent.keeper import ConsentKeeper
from bridge.consent.store import Consent, Source, scope_of
from bridge.conversations.threads import Thread
from bridge.providers.base import ProviderAdapter


def provider_opt_out(
    keeper: ConsentKeeper, adapter: ProviderAdapter | None, code: str | None, thread: Thread, *, by: str
) -> Consent | None:
    """Opt `thread`'s customer out when `code` is `adapter`'s opt-out code; the change, or None."""
    if adapter is None or code is None or code not in adapter.opt_out_codes:
        return None
    return keeper.change(
        scope_of(thread.channel, thread.business_number),
        thread.customer_key,
        opted_out=True,
        source=Source.PROVIDER,
        reason=f"{adapter.name} error {code}",
        by=by,
        contact_id=thread.contact_id,
    )
