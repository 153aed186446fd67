"""A message's media as Intercom gets them: the text always arrives, whatever its media do."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.conversations.attachments import (
    MEDIA_BUDGET_SECONDS,
    AttachmentResolver,
    attachment_client,
    file_name,
)
from bridge.conversations.media import media_store
from bridge.core.settings import Settings
from bridge.infra.worker_timings import JOB_TIMEOUT_SECONDS
from bridge.model.messages import InboundMessage, Media
from bridge.providers.registry import ADAPTERS
from tests.helpers import inbound_sms


@pytest.fixture
def proxying(settings, media_host) -> Settings:
    """Settings that proxy media, with Twilio's API at the media host."""
    return settings.model_copy(
        update={"public_url": "https://bridge.example", "twilio_api_url": media_host.url}
    )


def mms(*urls: str, verified: bool = True) -> InboundMessage:
    return inbound_sms(
        provider_message_id="MM1",
        text="look",
        media=tuple(Media(url=url, content_type="image/png") for url in urls),
        received_at=datetime.now(UTC),
        verified=verified,
    )


def test_the_media_of_a_message_share_a_budget_well_inside_the_job_timeout(proxying, media_host):
    """Each download may take BRIDGE_MEDIA_DEADLINE; however many there are, together they end in
    time for the text to reach Intercom before the job is killed."""
    ticks = iter([0.0, 1.0, MEDIA_BUDGET_SECONDS + 1])  # the budget is gone after the first download
    with attachment_client(proxying, ADAPTERS) as http:
        resolver = AttachmentResolver(
            settings=proxying,
            store=media_store(proxying.data_dir, 1),
            adapters=ADAPTERS,
            http=http,
            clock=lambda: next(ticks),
        )
        attachments = resolver.resolve(mms(f"{media_host.url}/file?size=3", f"{media_host.url}/file?size=4"))
    assert len(attachments.files) == 1
    assert attachments.notes == [
        "(an attachment was withheld, not fetched: the message's other attachments took all the time"
        " the bridge gives them; image/png)"
    ]
    assert len(media_host.state.requests) == 1
    assert MEDIA_BUDGET_SECONDS + 60 <= JOB_TIMEOUT_SECONDS


def test_the_media_of_a_message_whose_signature_failed_are_never_fetched(proxying, media_host):
    with attachment_client(proxying, ADAPTERS) as http:
        resolver = AttachmentResolver(
            settings=proxying, store=media_store(proxying.data_dir, 1), adapters=ADAPTERS, http=http
        )
        attachments = resolver.resolve(mms(f"{media_host.url}/file", verified=False))
    assert attachments.files == []
    assert attachments.notes == [
        "(an attachment was withheld, not fetched: its webhook's signature did not verify"
        " (BRIDGE_SIGNATURE_MODE is log-only); image/png)"
    ]
    assert media_host.state.requests == []


@pytest.mark.parametrize(
    ("given", "content_type", "expected"),
    [
        pytest.param("invoice.pdf", "application/pdf", "invoice.pdf", id="as-given"),
        pytest.param(None, "image/jpeg", "attachment-3.jpg", id="none-from-type"),
        pytest.param(None, "application/x-unknown-kind", "attachment-3", id="unknown-type"),
        pytest.param("../../etc/passwd", "text/plain", "passwd", id="no-path"),
        pytest.param("C:\\Users\\ada\\scan.png", "image/png", "scan.png", id="no-windows-path"),
        pytest.param("bill\u202egnp.exe", "image/png", "billgnp.exe", id="no-bidi-override"),
        pytest.param("a\r\nb.png", "image/png", "ab.png", id="no-line-break"),
        pytest.param("  ", "image/png", "attachment-3.png", id="blank"),
        pytest.param("x" * 200 + ".png", "image/png", "x" * 116 + ".png", id="cut-keeping-the-end"),
    ],
)
def test_the_name_intercom_shows_is_the_files_own_without_paths_or_hidden_characters(
    given, content_type, expected
):
    assert file_name(given, content_type, 2) == expected
