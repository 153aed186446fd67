"""Logging that never shows a full phone number or a configured secret.

Masking happens twice: call sites pass identities through `mask`, and a filter on the root
handler masks whatever slipped through (an exception message quoting a request, a library's own
log line) and replaces any configured secret with `***`.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# A phone number in international form: +, then 7 to 15 digits, possibly split by spaces or
# dashes. Bare digit runs are left alone: they are Intercom conversation ids and timestamps, and
# the code never logs a number's bare digits (it logs identity keys, which carry the +).
_PHONE = re.compile(r"\+\d(?:[\s-]?\d){6,14}(?!\d)")
_KEEP_HEAD = 6
_KEEP_TAIL = 2


def mask_number(number: str) -> str:
    """`+353881234599` -> `+35388*****99`: enough to recognise, not enough to dial."""
    compact = re.sub(r"[\s-]", "", number)
    if len(compact) <= _KEEP_HEAD + _KEEP_TAIL:
        return "*" * len(compact)
    hidden = len(compact) - _KEEP_HEAD - _KEEP_TAIL
    return compact[:_KEEP_HEAD] + "*" * hidden + compact[-_KEEP_TAIL:]


def mask(text: str) -> str:
    """`text` with every phone-like run masked (identity keys, URLs, messages)."""
    return _PHONE.sub(lambda match: mask_number(match.group(0)), text)


class RedactingFilter(logging.Filter):
    """Masks phone numbers and configured secrets in every record that passes."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = self._clean(message)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        record.msg, record.args = cleaned, None
        return True

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return mask(text)


def configure_logging(*, level: int = logging.INFO, secrets: Iterable[str] = ()) -> None:
    """Root logging to stderr through the redacting filter (idempotent)."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_bridge", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._bridge = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root.addHandler(handler)
    # httpx logs every request at INFO; the bridge logs what matters about its own calls.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def redact_server_logs(secrets: Iterable[str]) -> None:
    """Redact uvicorn's own loggers too: run as `uvicorn bridge.app:app`, its access log would
    print `/webhooks/textmagic?token=<secret>` (TextMagic and Africa's Talking authenticate by a
    token in the URL)."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        for existing in [f for f in logger.filters if isinstance(f, RedactingFilter)]:
            logger.removeFilter(existing)
        logger.addFilter(RedactingFilter(secrets))


def secret_values(settings: object) -> list[str]:
    """Every secret a settings object holds, for the redacting filters."""
    values = []
    for name in type(settings).model_fields:  # type: ignore[attr-defined]
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            values.append(value.get_secret_value())
    return values
