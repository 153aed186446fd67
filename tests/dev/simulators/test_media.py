"""A file given to a simulated provider reaches Intercom as that file: uploaded to the provider's
stand-in and named in the webhook as the provider names it, then fetched by the bridge from there."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest

from bridge.core.errors import ConfigurationError
from bridge.core.settings import get_settings, reset_settings_cache
from bridge.dev.simulators import SIMULATORS, SimulatedMessage
from bridge.dev.simulators.media import hold_media
from bridge.dev.simulators.samples import sample_pdf, sample_png
from bridge.runtime.serving import free_port
from tests.conftest import TEST_ACCOUNT_SID
from tests.helpers import held_files

CUSTOMER = "+14155550123"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass(frozen=True)
class Case:
    provider: str
    recipient: str
    whatsapp: bool
    # Where the bridge fetched the file from on the stand-in: what the webhook named, as the
    # provider names its media.
    fetched: tuple[str, ...]


CASES = {
    "twilio": Case(
        "twilio",
        "+14155550100",
        False,
        (rf"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages/MM[0-9a-f]{{32}}/Media/ME[0-9a-f]{{32}}",),
    ),
    "twilio-whatsapp": Case(
        "twilio",
        "+14155550100",
        True,
        (rf"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages/MM[0-9a-f]{{32}}/Media/ME[0-9a-f]{{32}}",),
    ),
    "whatsapp": Case("whatsapp", "106540352242922", False, (r"/v23\.0/\d{16}", r"/lookaside/\d{16}")),
    "messagebird": Case("messagebird", "+14155550100", False, (rf"/media/{UUID}",)),
    "messagebird-whatsapp": Case("messagebird", "+14155550100", True, (rf"/media/{UUID}",)),
    "vonage": Case("vonage", "+14155550100", False, (rf"/media/{UUID}",)),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_sample_file_reaches_intercom_as_a_file_intercom_holds_with_the_same_bytes(
    case, providers_at_standin, bridge, sandbox, drain, http
):
    settings = get_settings()
    media = hold_media(case.provider, ("sample:image",), settings, http)
    message = SimulatedMessage(
        sender=CUSTOMER, recipient=case.recipient, text="look", media=media, whatsapp=case.whatsapp
    )
    response = SIMULATORS[case.provider](message, bridge.url, settings).send(http)
    assert response.status_code == 200, response.text
    drain()

    [conversation] = sandbox.conversations()
    [(_, content_type, content)] = held_files(conversation, http)
    assert (content_type, content) == ("image/png", sample_png())
    fetched = [r["path"] for r in providers_at_standin.state.requests if r["method"] == "GET"]
    assert len(fetched) == len(case.fetched)
    for path, pattern in zip(fetched, case.fetched, strict=True):
        assert re.fullmatch(pattern, path), path


def test_a_whatsapp_document_goes_as_meta_names_it_and_keeps_its_file_name(
    providers_at_standin, bridge, sandbox, drain, http, tmp_path
):
    (tmp_path / "menu.pdf").write_bytes(sample_pdf("Menu of the day"))
    settings = get_settings()
    media = hold_media("whatsapp", (str(tmp_path / "menu.pdf"),), settings, http)
    message = SimulatedMessage(sender=CUSTOMER, recipient="106540352242922", text="the menu", media=media)
    request = SIMULATORS["whatsapp"](message, bridge.url, settings)
    assert request.send(http).status_code == 200
    drain()

    [item] = json.loads(request.body)["entry"][0]["changes"][0]["value"]["messages"]
    assert item["type"] == "document"
    assert item["document"]["filename"] == "menu.pdf"
    assert item["document"]["caption"] == "the menu"
    [conversation] = sandbox.conversations()
    assert held_files(conversation, http) == [("menu.pdf", "application/pdf", sample_pdf("Menu of the day"))]


def test_links_are_named_as_given_and_nothing_is_uploaded(providers_at_standin, http):
    links = ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",)
    assert hold_media("twilio", links, get_settings(), http) == links
    assert providers_at_standin.state.media == {}


def test_a_file_for_a_provider_that_carries_no_media_is_refused_before_anything_is_read(
    providers_at_standin, http, tmp_path
):
    with pytest.raises(ConfigurationError, match="textmagic carries SMS only"):
        hold_media("textmagic", ("sample:image", str(tmp_path / "absent.jpg")), get_settings(), http)
    assert providers_at_standin.state.media == {}


def test_an_unknown_sample_names_the_samples_there_are(providers_at_standin, http):
    with pytest.raises(ConfigurationError, match="no such sample .*sample:image, sample:document"):
        hold_media("twilio", ("sample:cat",), get_settings(), http)


def test_a_file_that_cannot_be_read_says_so_and_nothing_is_uploaded(providers_at_standin, http, tmp_path):
    missing = str(tmp_path / "cat.jpg")
    with pytest.raises(ConfigurationError, match=f"--media {re.escape(missing)}: cannot read it"):
        hold_media("twilio", ("sample:image", missing), get_settings(), http)
    assert providers_at_standin.state.media == {}


def test_a_file_with_no_standins_answering_says_to_start_the_sandbox_or_pass_a_link(
    bridge_env, monkeypatch, http
):
    monkeypatch.setenv("TWILIO_API_URL", f"http://127.0.0.1:{free_port()}")
    reset_settings_cache()
    with pytest.raises(ConfigurationError) as raised:
        hold_media("twilio", ("sample:image",), get_settings(), http)
    assert "none answer at http://127.0.0.1:" in str(raised.value)
    assert str(raised.value).endswith(
        "Start `bridge run --sandbox` first, or pass a URL on twilio's media hosts (twilio.com)"
    )


def test_an_api_url_that_is_not_a_standin_is_not_taken_for_one(bridge_env, sandbox, monkeypatch, http):
    monkeypatch.setenv("TWILIO_API_URL", sandbox.url)  # answers, but holds no media
    reset_settings_cache()
    with pytest.raises(ConfigurationError, match="is not a provider stand-in"):
        hold_media("twilio", ("sample:image",), get_settings(), http)
