"""What a stored attachment's type may be, and which types a browser may show inline.

A type comes from a payload or a media host: a customer's phone, a provider's announcement, a
server answering `application/octet-stream` while the payload says `image/svg+xml`. Whatever it
is, the bridge serves the bytes from its own origin, so the type is data, never markup: it is
reduced to a bare `type/subtype` (lower case, parameters dropped; anything else is
`application/octet-stream`, which also keeps CR/LF out of every later answer's headers), and
only types a browser cannot run script in are shown inline (`bridge.web.routes.media` offers every
other one as a download, under a sandboxing Content-Security-Policy).
"""

from __future__ import annotations

import re

DEFAULT_TYPE = "application/octet-stream"
# RFC 9110 §8.3.1: `type "/" subtype`, each an RFC 9110 token; RFC 6838 §4.2 caps each at 127.
_TOKEN = r"[a-z0-9!#$%&'*+.^_`|~-]{1,127}"
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}")
# Types that say nothing about the bytes: storage buckets behind redirects answer with these.
GENERIC_TYPES = frozenset({DEFAULT_TYPE, "binary/octet-stream", "application/binary"})

# Shown inline: raster images, sound, video and PDF, which browsers render without running the
# document's script. SVG (an image that runs script), HTML, XML and everything else are offered
# as a download.
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/avif",
        "image/bmp",
        "application/pdf",
    }
)
INLINE_PREFIXES = ("audio/", "video/")


def media_type(value: str | None) -> str:
    """`value` as a bare, valid `type/subtype` in lower case; `application/octet-stream` when it
    is not one (empty, CR/LF, no subtype, a space, a parameter standing alone)."""
    if not value:
        return DEFAULT_TYPE
    bare = value.split(";", 1)[0].strip().lower()
    return bare if _MEDIA_TYPE.fullmatch(bare) else DEFAULT_TYPE


def is_generic(value: str) -> bool:
    """Whether a (normalized) type tells nothing about the bytes beyond "some bytes"."""
    return value in GENERIC_TYPES


def shown_inline(value: str) -> bool:
    """Whether a browser may render a stored attachment of type `value` in place."""
    kind = media_type(value)
    return kind in INLINE_TYPES or kind.startswith(INLINE_PREFIXES)
