"""Intercom's inbox, as the inbox app's tests drive it: signed Canvas Kit requests, every canvas
the bridge answers validated against Intercom's Canvas Kit schemas (../shared/intercom-openapi),
and what a canvas says, read for assertions."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from openapi_schema_validator import OAS30Validator

CLIENT_SECRET = "test-intercom-client-secret"
ADMIN = {"type": "admin", "id": "991267101", "name": "Sandbox Admin", "email": "admin@sandbox.test"}
LEAD_NUMBER, BUSINESS = "+14155550123", "+14155550100"
# The send panel's business numbers (`outreach_env`): Twilio's for SMS and WhatsApp, Meta's phone
# number id, and the routes (`bridge.inbox.send_choices.Route.id`) they make.
META_PHONE_NUMBER_ID, META_BUSINESS_ACCOUNT = "106540352242922", "102290129340398"
SMS_TWILIO = f"sms|twilio|{BUSINESS}"
WHATSAPP_TWILIO = f"whatsapp|twilio|{BUSINESS}"
WHATSAPP_META = f"whatsapp|whatsapp|{META_PHONE_NUMBER_ID}"


def valid_canvas(schema: dict[str, Any], response: dict[str, Any], kind: str) -> dict[str, Any]:
    validator = OAS30Validator({**schema, "$ref": f"#/components/schemas/{kind}_response"})
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response)]
    assert errors == [], errors
    return response


def texts(response: dict[str, Any]) -> str:
    """Everything a canvas says, for assertions."""
    parts = []
    for component in response["canvas"]["content"]["components"]:
        parts += [component.get("text", ""), component.get("label", "")]
        parts += [
            f"{item['field']}: {item['value']}" for item in component.get("items", []) if "field" in item
        ]
    return "\n".join(part for part in parts if part)


def buttons(response: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["label"] for c in response["canvas"]["content"]["components"] if c["type"] == "button"}


def component(response: dict[str, Any], component_id: str) -> dict[str, Any]:
    """The canvas's component with that id (an input, a dropdown, a button)."""
    return next(c for c in response["canvas"]["content"]["components"] if c.get("id") == component_id)


class InboxApp:
    """Intercom's inbox, for one conversation: sends signed initialize/submit requests."""

    def __init__(self, http, bridge, sandbox, schema, conversation: dict[str, Any], contact: dict[str, Any]):
        self.http, self.url, self.schema = http, bridge.url, schema
        self.conversation, self.contact = conversation, contact
        self.canvas: dict[str, Any] = {}

    def _payload(self, **extra: Any) -> dict[str, Any]:
        return {
            "workspace_id": "sandbox",
            "workspace_region": "us",
            "admin": ADMIN,
            "card_creation_options": {},
            "context": {
                "conversation_id": int(self.conversation["id"]),
                "location": "conversation",
                "locale": "en",
            },
            "conversation": self.conversation,
            "contact": self.contact,
            **extra,
        }

    def post(self, path: str, payload: dict[str, Any], *, secret: str | None = CLIENT_SECRET):
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Body-Signature"] = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return self.http.post(f"{self.url}/intercom/inbox-app/{path}", content=body, headers=headers)

    def open(self) -> dict[str, Any]:
        response = self.post("initialize", self._payload())
        assert response.status_code == 200, response.text
        self.canvas = valid_canvas(self.schema, response.json(), "initialize")
        return self.canvas

    def click(self, component_id: str, **inputs: str) -> dict[str, Any]:
        payload = self._payload(
            component_id=component_id,
            input_values=inputs,
            user=self.contact,
            current_canvas=self.canvas["canvas"],
        )
        response = self.post("submit", payload)
        assert response.status_code == 200, response.text
        self.canvas = valid_canvas(self.schema, response.json(), "submit")
        return self.canvas
