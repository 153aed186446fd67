"""`BRIDGE_SIGNATURE_MODE`, the setting: refuse webhooks whose signature fails (enforce), or only log them.

`log-only` exists for the day a provider's signing changes under you (a new proxy rewrites the
URL Twilio signed, a rotated secret not yet deployed everywhere): messages keep flowing while
the logs and `bridge_webhooks_total{outcome="would_be_forged"}` show what enforcing would have
refused. It is a temporary setting: anyone who knows the URL can then post messages as any
sender, which is why `bridge doctor` warns while it is on.

The value is a comma-separated list. A bare mode applies to every provider not named; a
`provider=mode` entry to that provider alone; unnamed providers enforce:

    enforce                          every provider (the default)
    log-only                         every provider
    twilio=log-only                  Twilio logs only, the others enforce
    log-only,whatsapp=enforce        every provider but Meta's WhatsApp logs only

Only a failed signature is let through. A malformed body, a disabled provider or an oversized
request is refused as always.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.core.settings import Settings

VARIABLE = "BRIDGE_SIGNATURE_MODE"
# The providers with webhooks to verify (`bridge.providers.registry.ADAPTERS`; a test keeps them equal).
# Settings cannot import the adapters, which import settings.
PROVIDERS = ("twilio", "whatsapp", "messagebird", "vonage", "textmagic", "africastalking")


class SignatureMode(StrEnum):
    ENFORCE = "enforce"
    LOG_ONLY = "log-only"


def parse_signature_modes(value: object) -> dict[str, SignatureMode]:
    """Every provider's mode from the variable's value (see the module docstring)."""
    if isinstance(value, dict):  # settings copied with `model_dump`, or given in code
        entries = [f"{name}={mode}" for name, mode in value.items()]
    else:
        entries = [part.strip() for part in str(value).split(",") if part.strip()]
    default: SignatureMode | None = None
    named: dict[str, SignatureMode] = {}
    # Messages name no variable: pydantic's error is located at it (`describe_invalid`).
    for entry in entries:
        provider, _, mode_text = entry.rpartition("=")
        mode = _mode(mode_text)
        provider = provider.strip().lower()
        if not provider:
            if default is not None:
                raise ValueError(f"two modes for every provider ({default}, {mode}): name a provider")
            default = mode
        elif provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r} (one of {', '.join(PROVIDERS)})")
        else:
            named[provider] = mode
    return {name: named.get(name, default or SignatureMode.ENFORCE) for name in PROVIDERS}


def _mode(text: str) -> SignatureMode:
    normalized = text.strip().lower().replace("_", "-")
    try:
        return SignatureMode(normalized)
    except ValueError:
        raise ValueError(f"unknown mode {text.strip()!r} (enforce or log-only)") from None


def log_only_providers(settings: Settings) -> list[str]:
    return [name for name, mode in settings.signature_modes.items() if mode is SignatureMode.LOG_ONLY]
