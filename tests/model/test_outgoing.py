"""How a reply becomes messages: the media kind of an attachment URL, and `plan` within a channel's
limits, captions included (one planned message is one API call), with `check_planned`, the
adapters' guard, agreeing with it."""

from __future__ import annotations

import pytest

from bridge.model.messages import Channel
from bridge.model.outgoing import (
    Draft,
    MediaKind,
    OutboundMessage,
    SendLimits,
    attachment_name,
    check_planned,
    media_kind,
    plan,
)
from bridge.providers.vonage import send as vonage_send

BASE = OutboundMessage(channel=Channel.WHATSAPP, to="16505551234", sender="106540352242922")
IMAGE = "https://files.example.com/i/photo.jpg?expires=1"
VIDEO = "https://files.example.com/i/clip.mp4"
AUDIO = "https://files.example.com/i/note.mp3"
PDF = "https://files.example.com/i/Invoice%20May.pdf"

# WhatsApp: one attachment, a 1024-character caption, none on audio (the default `captioned`).
WHATSAPP = SendLimits(max_text=4096, media=True, max_media=1, max_caption=1024)
# MMS: body and media in one message, no caption limit.
MMS = SendLimits(max_text=1600, media=True, max_media=10)
# Vonage MMS, as its send route declares them: captions of 3000 on image, video and audio, but a
# message holds 1000 characters.
VONAGE_MMS = vonage_send.MMS.limits
SMS = SendLimits(max_text=160, media=False)


# --- media_kind ---


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://x.io/photo.jpg", MediaKind.IMAGE),
        ("https://x.io/photo.JPEG", MediaKind.IMAGE),  # case-insensitive
        ("https://x.io/screen.png?expires=1&signature=x", MediaKind.IMAGE),  # the query is not the path
        ("https://x.io/a/b.png/", MediaKind.IMAGE),
        ("https://x.io/clip.mp4", MediaKind.VIDEO),
        ("https://x.io/clip.3gp", MediaKind.VIDEO),
        ("https://x.io/clip.3gpp", MediaKind.VIDEO),
        ("https://x.io/note.mp3", MediaKind.AUDIO),
        ("https://x.io/voice.ogg", MediaKind.AUDIO),
        ("https://x.io/voice.opus", MediaKind.AUDIO),
        ("https://x.io/song.m4a", MediaKind.AUDIO),
        ("https://x.io/song.aac", MediaKind.AUDIO),
        ("https://x.io/call.AMR", MediaKind.AUDIO),
        ("https://x.io/manual.pdf", MediaKind.DOCUMENT),
        ("https://x.io/sheet.xlsx", MediaKind.DOCUMENT),
        ("https://x.io/animation.gif", MediaKind.DOCUMENT),  # WhatsApp images are JPEG or PNG only
        ("https://x.io/sticker.webp", MediaKind.DOCUMENT),
        ("https://x.io/card.vcf", MediaKind.DOCUMENT),
        ("https://x.io/attachment", MediaKind.DOCUMENT),  # no extension
        ("https://x.io/download?name=photo.jpg", MediaKind.DOCUMENT),  # an extension in the query only
        ("https://x.io/photo.jpg.pdf", MediaKind.DOCUMENT),  # the last extension counts
        ("http://[::1/photo.jpg", MediaKind.DOCUMENT),  # a URL urlsplit refuses
    ],
)
def test_media_kind_follows_the_url_paths_extension(url: str, kind: MediaKind) -> None:
    assert media_kind(url) is kind


@pytest.mark.parametrize(
    ("url", "name"),
    [(PDF, "Invoice May.pdf"), (IMAGE, "photo.jpg"), ("https://x.io/", ""), ("http://[::1/a", "")],
)
def test_attachment_name_is_the_paths_last_segment_unquoted(url: str, name: str) -> None:
    assert attachment_name(url) == name


# --- plan ---

LONG = " ".join(["word"] * 300)  # 1499 characters: a text, not a WhatsApp caption


@pytest.mark.parametrize(
    ("limits", "draft", "expected"),
    [
        pytest.param(WHATSAPP, Draft("See this", (IMAGE,)), [("See this", (IMAGE,))], id="fits-the-caption"),
        pytest.param(WHATSAPP, Draft("x" * 1024, (IMAGE,)), [("x" * 1024, (IMAGE,))], id="exactly-1024"),
        pytest.param(
            WHATSAPP, Draft("Your invoice", (PDF,)), [("Your invoice", (PDF,))], id="document-caption"
        ),
        pytest.param(
            WHATSAPP,
            Draft("x" * 1025, (IMAGE,)),
            [("x" * 1025, ()), ("", (IMAGE,))],
            id="too-long-text-first",
        ),
        pytest.param(WHATSAPP, Draft(LONG, (VIDEO,)), [(LONG, ()), ("", (VIDEO,))], id="too-long-video"),
        pytest.param(
            WHATSAPP, Draft("Listen", (AUDIO,)), [("Listen", ()), ("", (AUDIO,))], id="audio-text-first"
        ),
        pytest.param(
            WHATSAPP,
            Draft("Both", (IMAGE, VIDEO)),
            [("Both", (IMAGE,)), ("", (VIDEO,))],
            id="several-media-only-the-first-carries-text",
        ),
        pytest.param(
            WHATSAPP,
            Draft("Hi", (AUDIO, IMAGE)),
            [("Hi", ()), ("", (AUDIO,)), ("", (IMAGE,))],
            id="the-first-media-decides",
        ),
        pytest.param(
            MMS, Draft(LONG, (IMAGE, AUDIO)), [(LONG, (IMAGE, AUDIO))], id="no-caption-limit-together"
        ),
        pytest.param(MMS, Draft("Hi", (AUDIO,)), [("Hi", (AUDIO,))], id="no-caption-limit-audio-too"),
        pytest.param(
            VONAGE_MMS,
            Draft("Listen", (AUDIO,)),
            [("Listen", (AUDIO,))],
            id="a-channel-whose-audio-has-captions",
        ),
        pytest.param(
            VONAGE_MMS, Draft("My card", (PDF,)), [("My card", ()), ("", (PDF,))], id="not-captioned-there"
        ),
        pytest.param(WHATSAPP, Draft("   ", (IMAGE,)), [("", (IMAGE,))], id="blank-text-media-alone"),
        pytest.param(WHATSAPP, Draft("", (IMAGE, AUDIO)), [("", (IMAGE,)), ("", (AUDIO,))], id="media-alone"),
        pytest.param(WHATSAPP, Draft(" Hello "), [("Hello", ())], id="text-alone"),
        pytest.param(
            SMS, Draft("See", (IMAGE,)), [(f"See\n{IMAGE}", ())], id="no-media-channel-links-in-the-text"
        ),
    ],
)
def test_plan(limits: SendLimits, draft: Draft, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert [(message.text, message.media_urls) for message in plan(draft, limits, BASE)] == expected


def test_text_longer_than_a_message_goes_first_split_even_without_a_caption_limit() -> None:
    text = " ".join(f"word{n}" for n in range(400))  # over MMS's 1600
    messages = plan(Draft(text, (IMAGE,)), MMS, BASE)
    assert [message.media_urls for message in messages] == [(), (), (IMAGE,)]
    assert all(len(message.text) <= MMS.max_text for message in messages)
    assert " ".join(message.text for message in messages[:-1]) == text
    assert messages[-1].text == ""


def test_text_within_a_caption_but_over_a_message_goes_first_split() -> None:
    text = " ".join(["word"] * 300)  # 1499: within Vonage MMS captions (3000), over a message (1000)
    messages = plan(Draft(text, (IMAGE,)), VONAGE_MMS, BASE)
    assert [message.media_urls for message in messages] == [(), (), (IMAGE,)]
    assert " ".join(message.text for message in messages[:2]) == text


def test_a_long_whatsapp_text_is_split_at_4096_before_its_attachment() -> None:
    text = "paragraph " * 500  # 5000 characters
    messages = plan(Draft(text, (IMAGE,)), WHATSAPP, BASE)
    assert [(len(message.text) <= 4096, message.media_urls) for message in messages] == [
        (True, ()),
        (True, ()),
        (True, (IMAGE,)),
    ]
    assert " ".join(message.text for message in messages).split() == text.split()


def test_planned_messages_keep_the_address() -> None:
    for message in plan(Draft("Listen", (AUDIO,)), WHATSAPP, BASE):
        assert (message.channel, message.to, message.sender) == (BASE.channel, BASE.to, BASE.sender)


# --- check_planned: what adapters refuse, and that `plan` never makes it ---


@pytest.mark.parametrize(
    ("limits", "text", "media", "refusal"),
    [
        (WHATSAPP, "See this", (IMAGE,), None),
        (WHATSAPP, "x" * 1025, (IMAGE,), "1025-character text cannot ride with its image attachment"),
        (WHATSAPP, "Listen", (AUDIO,), "audio takes no caption here"),
        (WHATSAPP, "", (AUDIO,), None),
        (WHATSAPP, "  ", (AUDIO,), None),
        (WHATSAPP, "Both", (IMAGE, VIDEO), "2 attachments in one message, where the channel takes 1"),
        (MMS, LONG, (AUDIO,), None),
        (MMS, "x" * 1601, (IMAGE,), "a message holds 1600"),
        (VONAGE_MMS, "Listen", (AUDIO,), None),
        (VONAGE_MMS, "My card", (PDF,), "document takes no caption here"),
        (WHATSAPP, "x" * 5000, (), None),  # text alone: the adapter's own length check decides
    ],
)
def test_check_planned(limits: SendLimits, text: str, media: tuple[str, ...], refusal: str | None) -> None:
    message = OutboundMessage(
        channel=Channel.WHATSAPP, to=BASE.to, sender=BASE.sender, text=text, media_urls=media
    )
    if refusal is None:
        check_planned(message, limits)
    else:
        with pytest.raises(ValueError, match=refusal):
            check_planned(message, limits)


@pytest.mark.parametrize("limits", [WHATSAPP, MMS, VONAGE_MMS])
@pytest.mark.parametrize("text", ["", "Hi", "x" * 1024, "x" * 1025, LONG, "word " * 1500])
@pytest.mark.parametrize("media", [(), (IMAGE,), (AUDIO,), (PDF, IMAGE), (AUDIO, VIDEO, IMAGE)])
def test_every_planned_message_passes_check_planned(
    limits: SendLimits, text: str, media: tuple[str, ...]
) -> None:
    for message in plan(Draft(text, media), limits, BASE):
        check_planned(message, limits)
