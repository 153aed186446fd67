"""The inbox app's fixtures: Intercom's Canvas Kit schemas, and the app opened on a conversation."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bridge.core.settings import reset_settings_cache
from tests.helpers import conversation_bodies, shared_file, signed_twilio
from tests.inbox.support import (
    BUSINESS,
    CLIENT_SECRET,
    LEAD_NUMBER,
    META_BUSINESS_ACCOUNT,
    META_PHONE_NUMBER_ID,
    InboxApp,
)


@pytest.fixture(scope="session")
def canvas_schema() -> dict[str, Any]:
    document = yaml.safe_load(
        shared_file("intercom-openapi", "canvas-kit-schemas-from-2.11.yaml").read_text()
    )
    return {"components": document.get("components", {"schemas": document})}


@pytest.fixture
def inbox(http, bridge, sandbox, canvas_schema, settings, drain, providers_at_standin):
    """Open the app on the conversation a new number's first SMS creates (a lead)."""
    sandbox.configure(webhook_url=f"{bridge.url}/intercom/webhooks", client_secret=CLIENT_SECRET)

    def open_for(sender: str = LEAD_NUMBER, text: str = "Hi, it's Ada from my new phone") -> InboxApp:
        assert signed_twilio(bridge.url, settings, sender=sender, recipient=BUSINESS, text=text).send(http)
        drain()
        conversation = next(c for c in sandbox.conversations() if text in conversation_bodies(c))
        contact_id = conversation["contacts"]["contacts"][0]["id"]
        contact = sandbox.api("GET", f"/contacts/{contact_id}").json()
        app = InboxApp(http, bridge, sandbox, canvas_schema, conversation, contact)
        app.open()
        return app

    return open_for


@pytest.fixture
def outreach_env(bridge_env, providers_at_standin, monkeypatch):
    """What the send panel offers: default business numbers for Twilio (SMS and WhatsApp) and
    Meta, Meta's template account, every provider's API at the stand-in. Set before the bridge's
    settings are read: ask for it before `inbox`, `bridge` or `settings`."""
    monkeypatch.setenv("BRIDGE_DEFAULT_SENDERS", f"twilio={BUSINESS},whatsapp={META_PHONE_NUMBER_ID}")
    monkeypatch.setenv("WHATSAPP_BUSINESS_ACCOUNT_ID", META_BUSINESS_ACCOUNT)
    reset_settings_cache()
    return providers_at_standin
