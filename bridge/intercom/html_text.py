"""Readable text from Intercom part bodies.

Since API 2.15, webhook bodies are plain text; older app versions send HTML (`<p>Hi <b>Ada</b></p>`),
and a customer must never receive tags. Paragraphs and line breaks become new lines, links keep
their address (`label (https://…)`), entities are decoded, everything else is dropped.

A body is read as HTML only when it carries one of the tags Intercom's HTML is made of: plain
text keeps what an agent typed between angle brackets ("Reply <YES>", "Support
<help@acme.example>"), where reading it as HTML dropped it. Entities are decoded either way.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCKS = {"p", "div", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}
_INLINE = {"br", "li", "a", "b", "i", "u", "s", "em", "strong", "span", "code", "img", "td", "table"}
_HTML_TAG = re.compile(rf"</?(?:{'|'.join(sorted(_BLOCKS | _INLINE))})\b[^<>]*>", re.IGNORECASE)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS or tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n• ")
        elif tag == "a":
            self._links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self._links:
            href = self._links.pop()
            if href and not href.startswith("mailto:") and href not in "".join(self.parts[-3:]):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(body: str) -> str:
    """`body` as plain text; a body that is not HTML comes back with only its entities decoded (and
    trimmed)."""
    if not _HTML_TAG.search(body):
        return html.unescape(body).strip()
    parser = _Text()
    parser.feed(body)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
