"""Meta's `errors[]` objects, as inbound messages and failed statuses carry them.

Not to be confused with `bridge.core.errors` (the bridge's own exceptions): these are what Meta
reports, read into text for a message's `problem` or a status's `error_message`.
"""

from __future__ import annotations

from bridge.core.errors import MalformedPayload
from bridge.core.json_payloads import JsonNode


def errors_problem(message: JsonNode) -> str | None:
    """Meta's `errors[]` on an inbound message (e.g. 131051 for an unsupported type)."""
    try:
        reasons = [read_error(error) for error in message.objects("errors")]
    except MalformedPayload as exc:
        return f"WhatsApp reported errors that cannot be read: {exc.reason}"
    return (
        "; ".join(f"WhatsApp error {code or '?'}: {text or 'no details'}" for code, text in reasons) or None
    )


def read_error(error: JsonNode) -> tuple[str | None, str | None]:
    """Meta's error code (a number, read as text), and its title with the details (`message`
    repeats the title)."""
    parts = [error.text("title") or error.text("message"), error.nested("error_data", "details")]
    unique = [part for index, part in enumerate(parts) if part and part not in parts[:index]]
    return error.text("code"), ": ".join(unique) or None
