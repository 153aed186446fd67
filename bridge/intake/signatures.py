"""Verifying a webhook under `BRIDGE_SIGNATURE_MODE` (`bridge.core.signature_modes`): a failed
signature refuses the request (enforce), or is logged and let through (log-only)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bridge.core.errors import SignatureInvalid
from bridge.core.logs import mask
from bridge.core.signature_modes import VARIABLE, SignatureMode

if TYPE_CHECKING:
    from bridge.core.settings import Settings
    from bridge.providers.base import ProviderAdapter, WebhookRequest

log = logging.getLogger(__name__)


def verify_signature(adapter: ProviderAdapter, request: WebhookRequest, settings: Settings) -> bool:
    """True when the request's signature verifies. When it does not: `SignatureInvalid` (403)
    under `enforce`; under `log-only`, a warning and False, and the caller goes on."""
    try:
        adapter.verify(request, settings)
    except SignatureInvalid as refused:
        if settings.signature_modes.get(adapter.name, SignatureMode.ENFORCE) is SignatureMode.ENFORCE:
            raise
        # The reason names a header or a setting, never a value; masked all the same.
        log.warning(
            "%s webhook signature does not verify (%s); processed anyway because %s is log-only for %s",
            adapter.name,
            mask(refused.reason),
            VARIABLE,
            adapter.name,
        )
        return False
    return True
