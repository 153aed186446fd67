"""`bridge simulate … --media FILE` as the README has a newcomer try it: in another terminal beside
`bridge run --sandbox`, the file reaches the sandbox's conversation as a file Intercom holds."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from bridge.dev.sandbox.credentials import sandbox_credentials
from bridge.dev.simulators.samples import sample_pdf, sample_png
from bridge.runtime.supervisor import RunOptions, record_sandbox_run
from tests.cli.test_cli import bridge_cli
from tests.helpers import held_files

CUSTOMER = "+14155550123"


@pytest.fixture
def sandbox_run(providers_at_standin, bridge, sandbox, settings):
    """This test's bridge, sandbox and provider stand-ins, left in the data dir as the last
    `bridge run --sandbox` leaves its ports, for commands run in another terminal to find."""
    options = RunOptions(
        port=port_of(bridge.url),
        sandbox_port=port_of(sandbox.url),
        standins_port=port_of(providers_at_standin.url),
    )
    record_sandbox_run(settings.data_dir, options)
    sandbox_credentials(settings.data_dir)
    return providers_at_standin


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    """`bridge ARGS` in this test's environment and directory, as a second terminal runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_mms_with_a_local_file_reaches_the_sandbox_as_that_file(
    sandbox_run, sandbox, drain, http, tmp_path
):
    picture = sample_png(size=24)
    (tmp_path / "cat.png").write_bytes(picture)
    result = simulate(
        "simulate",
        "twilio",
        "--from",
        CUSTOMER,
        "--to",
        "+14155550100",
        "--text",
        "Hello!",
        "--media",
        "./cat.png",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("200 ")
    drain()

    [conversation] = sandbox.conversations()
    assert conversation["source"]["body"] == "Hello!"
    assert held_files(conversation, http) == [("attachment-1.png", "image/png", picture)]
    [fetch] = [r for r in sandbox_run.state.requests if r["method"] == "GET"]
    assert fetch["path"].startswith(f"/2010-04-01/Accounts/{os.environ['TWILIO_ACCOUNT_SID']}/Messages/MM")
    assert fetch["headers"]["authorization"].startswith("Basic ")


def test_a_whatsapp_message_with_the_sample_image_and_a_document_reaches_the_sandbox(
    sandbox_run, sandbox, drain, http, tmp_path
):
    """The `bridge --sandbox simulate` form; WhatsApp carries one file a message, so two messages."""
    (tmp_path / "menu.pdf").write_bytes(sample_pdf("Menu"))
    result = simulate(
        "--sandbox",
        "simulate",
        "whatsapp",
        "--from",
        CUSTOMER,
        "--to",
        "106540352242922",
        "--text",
        "look",
        "--media",
        "sample:image",
        "--media",
        "menu.pdf",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    drain()

    [conversation] = sandbox.conversations()
    assert conversation["source"]["body"] == "look"
    assert held_files(conversation, http) == [
        ("attachment-1.png", "image/png", sample_png()),
        ("menu.pdf", "application/pdf", sample_pdf("Menu")),
    ]
    media_ids = [
        r["path"].rsplit("/", 1)[1] for r in sandbox_run.state.requests if r["path"].startswith("/v23.0/")
    ]
    assert len(media_ids) == 2 and all(media_id.isdigit() for media_id in media_ids)


def test_a_file_without_a_sandbox_run_says_to_start_one_or_pass_a_link(tmp_path):
    (tmp_path / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    result = bridge_cli(
        tmp_path, "simulate", "twilio", "--from", CUSTOMER, "--to", "+14155550100", "--media", "cat.jpg"
    )
    assert result.returncode == 2
    assert "--media cat.jpg: a file goes to the provider stand-ins of `bridge run --sandbox`" in result.stderr
    assert (
        "Start `bridge run --sandbox` first, or pass a URL on twilio's media hosts (twilio.com)"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_a_file_for_a_provider_that_carries_no_media_says_so(tmp_path):
    result = bridge_cli(
        tmp_path,
        "simulate",
        "textmagic",
        "--from",
        CUSTOMER,
        "--to",
        "+14155550100",
        "--media",
        "sample:image",
    )
    assert result.returncode == 2
    assert "textmagic carries SMS only: no media" in result.stderr
