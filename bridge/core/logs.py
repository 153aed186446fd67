"""Logging that never shows a full phone number or a configured secret, in JSON or text.

Masking happens twice: call sites pass identities through `mask`, and a filter on the root
handler masks whatever slipped through (an exception message quoting a request, a library's own
log line, RQ's traceback of a failed job, uvicorn's access line) and replaces any configured
secret with `***`. Masked is what identifies a customer or opens something: phone numbers and
every other sender id (`mask_number`), URLs' queries (a pre-signed media URL's signature) and
the tokens of the bridge's media URLs. The same handler stamps each record with the request and
job it belongs to (`bridge.core.context`).

`BRIDGE_LOG_FORMAT`: `json` writes one object per line, what log stores ingest; `text` is for
people; `auto` (the default) picks JSON unless stderr is a terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal, TextIO
from urllib.parse import parse_qsl, quote_plus, urlsplit

from bridge.core.context import ContextFilter

LogFormat = Literal["auto", "json", "text"]

# A phone number in international form: +, then at least 7 digits, possibly split by spaces,
# dashes, dots or parentheses (`+1 (415) 555-0795`). No upper bound: a 5,000-digit "number" in a
# message is masked too (`mask_number` bounds what it prints). Bare digit runs are left alone: they
# are Intercom conversation ids and timestamps, and the code never logs a number's bare digits (it
# logs identity keys, which carry the +).
_PHONE = re.compile(r"\+[\s(]{0,2}\d(?:[\s().-]{0,2}\d){6,}")
# A party's kind or channel, kept in front of its mask (`whatsapp:`, `unknown:`): letters only,
# so no digit of the party can ride along in it.
_KIND = re.compile(r"[a-z_]{1,24}:")
_KEEP_HEAD = 6
_KEEP_TAIL = 2
# E.164 numbers have at most 15 digits, so at most 8 hidden: a longer "number" is junk, and
# printing a star for each of its digits would only flood the line.
_MAX_HIDDEN = 8
# A URL's query and fragment: where pre-signed URLs (S3's `X-Amz-Signature`, Meta's lookaside
# `hash`) carry the access they grant. Scheme, host and path stay, to say what failed.
_URL_QUERY = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://[^\s?#'\"<>]*)[?#][^\s'\"<>]*")
# The bridge's own media URLs: the token is the capability (`bridge.conversations.media`).
_MEDIA_TOKEN = re.compile(r"/media/[A-Za-z0-9_-]+")


def mask_number(party: str) -> str:
    """Any party, as ops and logs may show it: `+353881234599` -> `+35388*****99`,
    `whatsapp:+1 (415) 555-0795` -> `whatsapp:+14155****95`, `alphanumeric:INFO` -> `alphanumeric:****`.

    Total, since a payload chooses the sender: whatever the kind, separators, control
    characters or length, only the kind, the `+`, the first digits (country and area: enough
    to recognise) and the last two remain, in at most 41 characters; everything else is a star.
    """
    kind = _KIND.match(party)
    prefix = kind.group(0) if kind else ""
    rest = party[len(prefix) :]
    first = next((index for index, ch in enumerate(rest) if ch.isdecimal()), None)
    if first is None:
        return prefix + "*" * min(len(rest), _MAX_HIDDEN)
    sign = "+" if "+" in rest[:first] else ""
    compact = sign + "".join(str(int(ch)) for ch in rest if ch.isdecimal())  # Arabic-Indic digits too
    if len(compact) <= _KEEP_HEAD + _KEEP_TAIL:
        return prefix + "*" * len(compact)
    hidden = min(len(compact) - _KEEP_HEAD - _KEEP_TAIL, _MAX_HIDDEN)
    return prefix + compact[:_KEEP_HEAD] + "*" * hidden + compact[-_KEEP_TAIL:]


def mask(text: str) -> str:
    """`text` as it may be logged or shown: every phone-like run masked, every URL without its
    query and fragment, every bridge media token hidden (`/media/…`)."""
    # Each pattern only where its anchor occurs: every log line passes here (uvicorn's access
    # line for every webhook), and most carry none of them.
    if "://" in text:
        text = _URL_QUERY.sub(r"\1?…", text)
    if "/media/" in text:
        text = _MEDIA_TOKEN.sub("/media/…", text)
    if "+" in text:
        text = _PHONE.sub(lambda match: mask_number(match.group(0)), text)
    return text


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
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        record.msg, record.args = cleaned, None
        return True

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return mask(text)


_CONTEXT_FIELDS = ("request_id", "job_id")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `ts`, `level`, `logger`, `message`, and when known
    `request_id`, `job_id` and `exc` (the traceback).

    Only these fields, never a record's `extra`: the redacting filter cleans the message and the
    traceback, and an extra (RQ passes a job's arguments) would bypass it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _timestamp(self, created: float) -> str:
        """ISO 8601 UTC to the millisecond. The part up to the second is formatted once a
        second: every access line makes a record, and `isoformat` was a tenth of one."""
        second = int(created)
        if second != self._second:
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value:
                entry[name] = str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [request_id=… job_id=…]`, for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        ids = [f"{name}={value}" for name in _CONTEXT_FIELDS if (value := getattr(record, name, None))]
        return f"{line} [{' '.join(ids)}]" if ids else line


def wants_json(log_format: LogFormat, stream: TextIO) -> bool:
    """`auto` means JSON where nobody reads along (a container, a service manager, a pipe)."""
    if log_format == "auto":
        isatty = getattr(stream, "isatty", None)
        return not (isatty is not None and isatty())
    return log_format == "json"


def configure_logging(
    *,
    level: int = logging.INFO,
    secrets: Iterable[str] = (),
    log_format: LogFormat = "auto",
    stream: TextIO | None = None,
) -> logging.Handler:
    """Root logging to `stream` (stderr) through context and redacting filters (idempotent)."""
    stream = stream if stream is not None else sys.stderr
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if is_bridge_handler(handler):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler._bridge = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if wants_json(log_format, stream) else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter(secrets))
    root.addHandler(handler)
    # Neither format shows threads or processes: records need not look them up (the logging
    # HOWTO's "Optimization"). Every access line makes a record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Nor where a call was made: without this every record walks the stack to find it.
    logging._srcfile = None
    # httpx logs every request at INFO; the bridge logs what matters about its own calls.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler


def is_bridge_handler(handler: logging.Handler) -> bool:
    return bool(getattr(handler, "_bridge", False))


class HideQueryValues(logging.Filter):
    """Uvicorn's access line with the query's values hidden: providers that call with GET put
    the customer's number (`msisdn=353871234567`, no `+` to recognise it by) and text there."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            path, _, query = args[2].partition("?")
            names = [name for name, _ in parse_qsl(query, keep_blank_values=True)]
            hidden = "&".join(f"{quote_plus(name)}=***" for name in names)
            record.args = (*args[:2], f"{path}?{hidden}", *args[3:])
        return True


_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def route_server_logs(secrets: Iterable[str]) -> None:
    """Uvicorn's own lines through the bridge's format and filters (idempotent).

    Run as `uvicorn bridge.app:app`, uvicorn has given its loggers handlers of their own; once
    the bridge has configured logging, they hand their records to the root handler instead, so
    "Started server process" and the access lines come out as JSON too. A logger uvicorn
    silenced (`--no-access-log`: no handler, no propagation) stays silent. When someone else
    configured logging, their handlers stay, and the loggers' records are at least redacted: the
    access line of `/webhooks/textmagic?token=<secret>` would otherwise print the secret.
    """
    routed = any(is_bridge_handler(handler) for handler in logging.getLogger().handlers)
    for name in _SERVER_LOGGERS:
        logger = logging.getLogger(name)
        for existing in [f for f in logger.filters if isinstance(f, RedactingFilter | HideQueryValues)]:
            logger.removeFilter(existing)
        if name == "uvicorn.access":
            logger.addFilter(HideQueryValues())
        if routed and logger.handlers:
            logger.handlers.clear()
            logger.propagate = True
        elif not routed:
            logger.addFilter(RedactingFilter(secrets))


def secret_values(settings: object) -> list[str]:
    """Every secret a settings object holds, for the redacting filters."""
    values = []
    for name in type(settings).model_fields:  # type: ignore[attr-defined]
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            values.append(value.get_secret_value())
    redis_password = urlsplit(str(getattr(settings, "redis_url", None) or "")).password
    return [*values, redis_password] if redis_password else values
