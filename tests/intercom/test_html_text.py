"""Readable text from Intercom part bodies: a customer never receives a tag, links keep their
address, entities are decoded, and plain text passes through."""

from __future__ import annotations

import html
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.intercom.html_text import html_to_text


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("<p>Hi <b>Ada</b></p>", "Hi Ada"),
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<p>One</p>\n<p>Two</p>", "One\n\nTwo"),
        ("<p>Line one<br>Line two</p>", "Line one\nLine two"),
        ("<p>a</p><p></p><p></p><p>b</p>", "a\n\nb"),  # empty paragraphs: one blank line at most
        ("<ul><li>milk</li><li>eggs</li></ul>", "• milk\n• eggs"),
        ("<h1>Order</h1><div>shipped</div>", "Order\n\nshipped"),
        ("<p>Hi   </p><p>there</p>", "Hi\n\nthere"),  # no trailing spaces before a line break
    ],
)
def test_markup_becomes_lines_and_the_tags_are_gone(body, text):
    assert html_to_text(body) == text


def test_a_link_keeps_its_address_after_its_label():
    body = 'See <a href="https://shop.test/o?id=1&amp;x=2">your order</a>.'
    assert html_to_text(body) == "See your order (https://shop.test/o?id=1&x=2)."


def test_a_link_whose_label_is_its_address_is_not_said_twice():
    assert html_to_text('<a href="https://shop.test">https://shop.test</a>') == "https://shop.test"


def test_a_mail_link_keeps_only_its_label():
    assert html_to_text('Write to <a href="mailto:help@shop.test">help@shop.test</a>') == (
        "Write to help@shop.test"
    )


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("a &lt;b&gt; c", "a <b> c"),  # an escaped tag is text the agent wrote
        ("caf&eacute; &#8364;5", "café €5"),
        ("Fish & chips", "Fish & chips"),  # a bare ampersand is text
        ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
    ],
)
def test_entities_are_decoded_and_lone_brackets_kept(body, text):
    assert html_to_text(body) == text


@pytest.mark.parametrize(
    "body",
    ["Reply <YES> to confirm", "Write to Support <support@acme.example> today", "Use <name> as the key"],
)
def test_angle_brackets_in_plain_text_are_what_the_agent_typed(body):
    # API 2.15+ sends plain text: read as HTML, "<YES>" was an unknown tag and vanished.
    assert html_to_text(body) == body


def test_plain_text_comes_back_unchanged_but_trimmed():
    assert html_to_text("  Your order shipped.\nThanks!\n") == "Your order shipped.\nThanks!"


PLAIN = st.text(alphabet=string.ascii_letters + string.digits + " .,!?'\"-:;()@/#%+=\n")


@given(PLAIN.filter(lambda s: "<" not in s and "&" not in s))
def test_any_text_without_markup_passes_through_trimmed(text):
    assert html_to_text(text) == text.strip()


ONE_LINE = st.text(alphabet=string.printable.translate({ord(c): None for c in "\n\r\x0b\x0c"}))


@given(ONE_LINE)
def test_a_paragraph_of_escaped_text_reads_as_that_text(text):
    """Whatever an agent typed (brackets and ampersands included) reaches the customer as typed."""
    assert html_to_text(f"<p>{html.escape(text)}</p>") == text.strip()
