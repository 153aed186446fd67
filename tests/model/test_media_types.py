"""A stored attachment's type: reduced to a bare `type/subtype`, and shown inline only when no
browser can run script in it (SVG, HTML and XML never are)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.model.media_types import DEFAULT_TYPE, is_generic, media_type, shown_inline

BARE = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+/[a-z0-9!#$%&'*+.^_`|~-]+")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("image/png", "image/png"),
        ("Image/JPEG", "image/jpeg"),
        ("  audio/ogg; codecs=opus ", "audio/ogg"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("text/html;charset=UTF-8", "text/html"),
    ],
)
def test_a_valid_type_keeps_its_type_and_subtype_in_lower_case_without_parameters(value, expected):
    assert media_type(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "image",  # no subtype
        "image/",
        "/png",
        "image/png/x",
        "image /png",  # a space inside
        "text/html\r\nSet-Cookie: session=stolen",  # a header smuggled into every later answer
        "image/png\nX-Injected: 1",
        "; charset=utf-8",  # a parameter standing alone
        "image/p\u00e9ng",  # not an RFC 9110 token
        "image/" + "a" * 128,  # RFC 6838 caps a subtype at 127 characters
    ],
)
def test_anything_that_is_not_a_bare_type_becomes_octet_stream(value):
    assert media_type(value) == DEFAULT_TYPE


def test_a_subtype_of_127_characters_is_still_a_type():
    assert media_type("image/" + "a" * 127) == "image/" + "a" * 127


@given(st.text())
def test_whatever_arrives_leaves_as_a_bare_lower_case_type_that_normalizes_to_itself(value):
    kind = media_type(value)
    assert BARE.fullmatch(kind)
    assert kind == kind.lower() and not any(c in kind for c in "\r\n ;")
    assert media_type(kind) == kind


@pytest.mark.parametrize("value", ["application/octet-stream", "binary/octet-stream", "application/binary"])
def test_the_types_storage_buckets_answer_say_nothing_about_the_bytes(value):
    assert is_generic(value)


@pytest.mark.parametrize("value", ["image/png", "application/pdf", "text/plain"])
def test_a_specific_type_is_not_generic(value):
    assert not is_generic(value)


@pytest.mark.parametrize(
    "value",
    [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/heic",
        "application/pdf",
        "audio/ogg",
        "audio/amr",
        "video/mp4",
        "Image/PNG; name=photo.png",  # normalized before it is judged
    ],
)
def test_raster_images_sound_video_and_pdf_are_shown_inline(value):
    assert shown_inline(value)


@pytest.mark.parametrize(
    "value",
    [
        "image/svg+xml",
        "text/html",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
        "application/octet-stream",
        "text/plain",
        "image/png\r\nContent-Type: text/html",  # not a type at all: a download
    ],
)
def test_anything_a_browser_could_run_script_in_is_offered_as_a_download(value):
    assert not shown_inline(value)


@given(
    st.sampled_from(["image/svg+xml", "text/html", "application/xhtml+xml"]).flatmap(
        lambda kind: st.tuples(
            st.lists(st.booleans(), min_size=len(kind), max_size=len(kind)).map(
                lambda upper: "".join(c.upper() if u else c for c, u in zip(kind, upper, strict=True))
            ),
            st.sampled_from(["", "; charset=utf-8", ";x=y", "  "]),
        )
    )
)
def test_svg_and_html_are_never_inline_whatever_their_case_or_parameters(spelled):
    kind, parameters = spelled
    assert not shown_inline(kind + parameters)
