"""Changing a customer's consent: recorded, audited, and mirrored to Intercom's SMS subscription.

Every signal goes through `ConsentKeeper.change`: the customer's keyword, a provider's opt-out
code on a send or a report, an operator's command. When the workspace has an SMS subscription type
(`GET /subscription_types`, content type `sms_message`), the contact is opted out of it and back
in, so Intercom's own tools (series, outbound messages) respect the choice too. The mirror is
asked for again on every signal, not only on a change: a job that recorded the change and died
before telling Intercom tells it on its retry.
"""

from __future__ import annotations

import logging

from redis import Redis

from bridge.consent.store import Consent, ConsentStore, Source
from bridge.core.errors import IntercomRejected
from bridge.core.logs import mask
from bridge.intercom.client import IntercomClient

log = logging.getLogger(__name__)


class ConsentKeeper:
    def __init__(self, redis_client: Redis, intercom: IntercomClient | None) -> None:
        self.store = ConsentStore(redis_client)
        self._intercom = intercom

    def change(
        self,
        scope: str,
        customer: str,
        *,
        opted_out: bool,
        source: Source,
        reason: str,
        by: str,
        contact_id: str | None = None,
    ) -> Consent | None:
        """Record the customer's choice for `scope` (None: it was already so) and mirror it on
        their Intercom contact's SMS subscription (SMS scopes only)."""
        changed = self.store.change(scope, customer, opted_out=opted_out, source=source, reason=reason, by=by)
        if changed is not None:
            log.info(
                "consent of %s for %s: %s (%s)",
                mask(customer),
                scope,
                "opted out" if opted_out else "opted in",
                reason,
            )
        if contact_id and scope.startswith("sms:"):
            self._mirror(contact_id, opted_in=not opted_out)
        return changed

    def _mirror(self, contact_id: str, *, opted_in: bool) -> None:
        """The contact's SMS subscription in Intercom, as the customer chose. A workspace without
        one, or a refusal (the contact deleted, a plan without subscriptions), changes nothing
        here: the bridge's own record is what it obeys. Intercom unavailable: the job retries."""
        if self._intercom is None:
            return
        try:
            subscription = self._intercom.sms_subscription_type()
            if subscription is not None:
                self._intercom.set_subscription(contact_id, subscription, opted_in=opted_in)
        except IntercomRejected as failed:
            log.warning(
                "could not mirror consent on contact %s in Intercom: %s", contact_id, mask(str(failed))
            )
