"""Credentials `bridge run --sandbox` makes up, so a fresh clone works with no configuration.

They are generated once per data dir (never fixed strings that could end up in production),
stored beside the embedded data with owner-only permissions, and read back by `bridge simulate`
so it signs exactly as the running bridge verifies. Variables set in the environment win.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from bridge.core.files import private_dir, write_private

FILE_NAME = "sandbox-credentials.json"
SANDBOX_ADMIN_ID = "991267101"
SANDBOX_BUSINESS_NUMBER = "+14155550100"
SANDBOX_PHONE_NUMBER_ID = "106540352242922"  # Meta's: what WhatsApp Cloud API webhooks name the number by


def _generate() -> dict[str, str]:
    # URL tokens must be URL-safe: in a query string `+` reads as a space.
    return {
        "INTERCOM_ACCESS_TOKEN": "sandbox-" + secrets.token_hex(16),
        "INTERCOM_CLIENT_SECRET": secrets.token_hex(16),
        "INTERCOM_ADMIN_ID": SANDBOX_ADMIN_ID,
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "WHATSAPP_APP_SECRET": secrets.token_hex(16),
        "WHATSAPP_VERIFY_TOKEN": secrets.token_urlsafe(16),
        "WHATSAPP_ACCESS_TOKEN": "sandbox-" + secrets.token_hex(16),
        # Digits, as Meta's ids are: the account whose templates the stand-in lists.
        "WHATSAPP_BUSINESS_ACCOUNT_ID": "1" + "".join(secrets.choice("0123456789") for _ in range(14)),
        "MESSAGEBIRD_SIGNING_KEY": secrets.token_hex(32),
        "MESSAGEBIRD_ACCESS_KEY": "sandbox-" + secrets.token_hex(12),
        "VONAGE_API_KEY": secrets.token_hex(4),
        "VONAGE_API_SECRET": secrets.token_hex(8),
        "VONAGE_SIGNATURE_SECRET": secrets.token_hex(16),
        "TEXTMAGIC_USERNAME": "sandbox",
        "TEXTMAGIC_API_KEY": secrets.token_hex(16),
        "TEXTMAGIC_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "AFRICASTALKING_USERNAME": "sandbox",
        "AFRICASTALKING_API_KEY": secrets.token_hex(16),
        "AFRICASTALKING_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "BRIDGE_ADMIN_TOKEN": secrets.token_urlsafe(32),  # the ops API (/admin/...), on to try it
        "BRIDGE_API_TOKEN": secrets.token_urlsafe(32),  # the message API (/api/...), on to try it
        # Where messages the team writes first leave from, as `bridge simulate` writes in to them.
        "BRIDGE_DEFAULT_SENDERS": f"twilio={SANDBOX_BUSINESS_NUMBER},whatsapp={SANDBOX_PHONE_NUMBER_ID}",
    }


def sandbox_credentials(data_dir: Path) -> dict[str, str]:
    """The data dir's sandbox credentials, created on first use."""
    path = data_dir / FILE_NAME
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        fresh = _generate()
        if set(fresh) - set(stored):  # a newer bridge knows more providers: add theirs
            stored = fresh | stored
            _write(path, stored)
        return stored
    private_dir(data_dir)
    credentials = _generate()
    _write(path, credentials)
    return credentials


def stored_sandbox_credentials(data_dir: Path) -> dict[str, str]:
    """The credentials a sandbox run left in the data dir, or nothing."""
    path = data_dir / FILE_NAME
    return json.loads(path.read_text()) if path.exists() else {}


def _write(path: Path, credentials: dict[str, str]) -> None:
    write_private(path, json.dumps(credentials, indent=2))
