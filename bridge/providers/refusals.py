"""Reading a provider's refusal: its error code and its text, as the bridge may show them (in
the agent's note, a failed job, a log line), never with the customer's full number.
"""

from __future__ import annotations

from typing import Any

import httpx

from bridge.core.logs import mask, mask_number
from bridge.model.phones import strip_formatting


def json_answer(response: httpx.Response) -> Any:
    """The answer's JSON, or None when its body is not JSON (an HTML error page, nothing)."""
    try:
        return response.json()
    except ValueError:
        return None


def error_code(value: object) -> str | None:
    """A JSON error `code` as text: a number or a string; None for anything else (null, a bool)."""
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None


def without_recipient(text: str, recipient: str) -> str:
    """A provider's refusal as it may be shown (in the agent's note, the failed job, a log line):
    the customer's number masked in whichever form the provider echoed it (as sent, or its digits
    without `+`, which `mask` cannot recognise as a number), and anything else `mask` hides."""
    digits = strip_formatting(recipient).removeprefix("+")
    for form in sorted({recipient.strip(), digits}, key=len, reverse=True):
        if len(form) >= 7:
            text = text.replace(form, mask_number(form))
    return mask(text)


def status_text(response: httpx.Response) -> str:
    """What an answer without a readable error body says: its reason phrase, else its status."""
    return response.reason_phrase or f"HTTP {response.status_code}"
