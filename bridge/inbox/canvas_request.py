"""What the inbox app reads from an initialize or submit request (research/intercom-api.md §5.3).

Read once, up front, with `JsonNode`: a field of the wrong JSON type is a 400 that names it
(`contact.phone must be a string`), never an exception deep in a step. The inputs and the
canvas's `stored_data` stay nodes, so each step reads what it needs with the same guarantee.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.core.json_payloads import JsonNode
from bridge.intercom.models import Contact

TARGET_INPUT = "target"


@dataclass(frozen=True)
class CanvasRequest:
    contact: Contact | None  # the conversation's contact; None outside a conversation
    conversation_id: str | None
    admin: dict[str, str]  # the agent: id, name, email
    component_id: str = ""  # what the agent clicked (submit)
    target: str = ""  # the "merge into" field (submit)
    stored_from: str = ""  # the canvas's stored_data (submit)
    stored_into: str = ""
    inputs: JsonNode | None = None  # every input's value (submit)
    stored: JsonNode | None = None  # the whole stored_data (submit)
    # The contact's custom attributes that hold a text or a number, as text (template variables
    # named after one are prefilled with it).
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> CanvasRequest:
        root = JsonNode(data)
        context, conversation = root.object("context"), root.object("conversation")
        admin = root.object("admin")
        canvas_node = root.object("current_canvas")
        stored = canvas_node.object("stored_data") if canvas_node else None
        inputs = root.object("input_values")
        contact = root.object("contact")
        return cls(
            contact=_contact(contact),
            conversation_id=(context.text("conversation_id") if context else None)
            or (conversation.text("id") if conversation else None),
            admin={key: (admin.text(key) if admin else None) or "" for key in ("id", "name", "email")},
            component_id=root.text("component_id") or "",
            target=(inputs.text(TARGET_INPUT) if inputs else None) or "",
            stored_from=(stored.text("from") if stored else None) or "",
            stored_into=(stored.text("into") if stored else None) or "",
            inputs=inputs,
            stored=stored,
            attributes=_attributes(contact.object("custom_attributes") if contact else None),
        )

    def input(self, key: str) -> str:
        """An input's value as the agent left it; "" when absent."""
        return (self.inputs.text(key) if self.inputs else None) or ""

    def kept(self, key: str) -> str:
        """A text the previous canvas stored; "" when absent."""
        return (self.stored.text(key) if self.stored else None) or ""

    def kept_object(self, key: str) -> JsonNode | None:
        return self.stored.object(key) if self.stored else None


def _contact(data: JsonNode | None) -> Contact | None:
    """The request's contact, as much of it as the app shows (no times: it never reads them)."""
    contact_id = data.text("id") if data else None
    if data is None or not contact_id:
        return None
    return Contact(
        id=contact_id,
        role=data.text("role") or "lead",
        updated_at=0,
        created_at=0,
        phone=data.text("phone") or None,
        name=data.text("name") or None,
        email=data.text("email") or None,
        external_id=data.text("external_id") or None,
    )


def _attributes(node: JsonNode | None) -> Mapping[str, str]:
    if node is None:
        return {}
    return {
        str(name): str(value)
        for name, value in node.data.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip()
    }
