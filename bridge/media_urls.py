"""Which media links the bridge may fetch, decided before any request is made.

A media field in a payload is only a string. It may be `file:///etc/passwd`, `ftp://…`, `http://`
with no host, a few words, a link with spaces or control characters, or one no server accepts
(nginx and Apache refuse a request line past 8 KB). No retry can make such a link work, so it is
refused before anything is requested: the message goes to Intercom on its first attempt, with
a line saying the attachment was withheld and why. Failures that may pass later (a 5xx or a
timeout from a real media host) are not decided here; they stay retryable (`bridge.attachments`).

`refusal` is the one answer to "may this link be fetched?" (`download` asks it before every
media GET). Checks on where a link points, such as loopback and private addresses or a
provider's own hosts, belong beside the ones here.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from bridge.errors import MediaRefused

FETCHED_SCHEMES = frozenset({"http", "https"})
# Longer than the request line nginx (8 KB) and Apache (8190 bytes) accept by default; signed
# storage links (S3, GCS, Meta's lookaside) are one or two KB.
MAX_URL_LENGTH = 8192
# A scheme longer than this is not echoed to agents: it is noise, not a scheme anyone uses.
_MAX_SCHEME_SHOWN = 20
# A DNS label (RFC 1035, with the underscores real hosts use), after IDNA encoding.
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# Control, format (zero-width, bidi overrides) and separator characters: never in a real link.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


@dataclass(frozen=True)
class Refusal:
    """Why a link is never fetched, in words for an agent.

    `origin` is at most `scheme://host`, never the path or query: a query can carry an access
    signature, and the note and the logs are read by people who must not be handed one."""

    reason: str
    origin: str | None = None

    def describe(self) -> str:
        return f"{self.reason} ({self.origin})" if self.origin else self.reason


def refusal(url: str) -> Refusal | None:
    """Why `url` may never be fetched, or None when it may be."""
    if not url:
        return Refusal("the link is empty")
    if len(url) > MAX_URL_LENGTH:
        return Refusal(f"the link is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # `http://[::1`: brackets that close no address
        return Refusal("the link is not a valid URL")
    if not parts.scheme:
        return Refusal("the link is not a URL")
    # After the scheme: `urlsplit` silently drops tabs and line breaks, so the raw text is read.
    if any(unicodedata.category(character) in _FORBIDDEN_CATEGORIES for character in url):
        # The host is shown only when it was read as written: `urlsplit` dropped nothing from it.
        clean = url.lower().startswith(f"{parts.scheme}://{parts.netloc.lower()}")
        return Refusal("the link contains spaces or control characters", _origin(parts) if clean else None)
    if parts.scheme not in FETCHED_SCHEMES:
        scheme = f"{parts.scheme}:" if len(parts.scheme) <= _MAX_SCHEME_SHOWN else "an unknown scheme"
        return Refusal(f"only http and https links are fetched, not {scheme}", _origin(parts))
    if not parts.hostname:
        return Refusal("the link names no host")
    origin = _origin(parts)
    if origin is None:
        return Refusal("the link's host name is not valid")
    try:
        parts.port  # noqa: B018 - reading it is the check: out of range or not a number raises
    except ValueError:
        return Refusal("the link's port is not valid", origin)
    return None


def ensure_fetchable(url: str) -> None:
    """Raise `MediaRefused` (permanent) unless `url` may be fetched."""
    refused = refusal(url)
    if refused is not None:
        raise MediaRefused(refused.describe())


def _origin(parts: SplitResult) -> str | None:
    """`scheme://host` when the host is a valid name or address, else None (nothing to show)."""
    host = _valid_host(parts)
    return f"{parts.scheme}://{host}" if host and len(parts.scheme) <= _MAX_SCHEME_SHOWN else None


def _valid_host(parts: SplitResult) -> str | None:
    """The link's host as it would be looked up (IDNA, lower case), or None when it is not a DNS
    name or an IP address: nothing a resolver could be asked for."""
    host = parts.hostname
    if not host:
        return None
    if "[" in parts.netloc:
        try:
            return f"[{ipaddress.IPv6Address(host)}]"
        except ValueError:
            return None
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:  # an empty label, or one longer than 63 characters
        return None
    labels = name.removesuffix(".").split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    return name
