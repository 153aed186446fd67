"""Listing WhatsApp templates: Meta's `message_templates` and Twilio's `ContentAndApprovals`.

Against the stand-ins over HTTP, each account's templates come back whole, across pages, with
their status, category, body, variable count and the header a send must give; against scripted
answers, a missing setting is named before any request, a provider's refusal is read in its own
code, a next page is followed on the configured API only, and a list whose pages never end is
given up on after `MAX_PAGES`. Providers without a template list say so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bridge.core.errors import ConfigurationError, ProviderRejected
from bridge.core.settings import Settings, get_settings, reset_settings_cache
from bridge.dev.standins.templates import META_TEMPLATES, TWILIO_CONTENTS
from bridge.model.outgoing import HeaderKind
from bridge.providers.base import TemplateInfo, TemplateStatus
from bridge.providers.listing import MAX_PAGES
from bridge.providers.registry import ADAPTERS
from bridge.providers.twilio import templates as twilio_templates
from bridge.providers.whatsapp import templates as meta_templates
from tests.providers.support import answer, graph_error, twilio_error

WABA = "102290129340398"
SID = "AC" + "a" * 32


@dataclass(frozen=True)
class Lister:
    """One provider's template list: its settings, and its pages as its API answers them."""

    provider: str
    settings: Mapping[str, object]
    credentials: Mapping[str, str]  # the settings a list needs, with their variables
    path: str  # of the list, below the API URL
    api_url: str  # the setting naming that API
    page: Callable[[list[dict[str, Any]], str | None], dict[str, Any]]  # items, next URL -> page
    item: dict[str, Any]  # one documented template
    refusal: Callable[[], httpx.Response]  # the API refusing the credentials …
    refused: str  # … and its code, as read


def meta_page(items: list[dict[str, Any]], following: str | None) -> dict[str, Any]:
    paging: dict[str, Any] = {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}
    return {"data": items, "paging": paging | ({"next": following} if following else {})}


def twilio_page(items: list[dict[str, Any]], following: str | None) -> dict[str, Any]:
    return {"contents": items, "meta": {"key": "contents", "page": 0, "next_page_url": following}}


META = Lister(
    provider="whatsapp",
    settings={"whatsapp_access_token": "test-access-token", "whatsapp_business_account_id": WABA},
    credentials={
        "whatsapp_business_account_id": "WHATSAPP_BUSINESS_ACCOUNT_ID",
        "whatsapp_access_token": "WHATSAPP_ACCESS_TOKEN",
    },
    path=f"/{WABA}/message_templates",
    api_url="whatsapp_api_url",
    page=meta_page,
    item=META_TEMPLATES[3],  # order_shipped: an image header, two body variables
    refusal=lambda: graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token"),
    refused="190",
)
TWILIO = Lister(
    provider="twilio",
    settings={"twilio_account_sid": SID, "twilio_auth_token": "twilio-token-0123456789"},
    credentials={"twilio_account_sid": "TWILIO_ACCOUNT_SID", "twilio_auth_token": "TWILIO_AUTH_TOKEN"},
    path="/v1/ContentAndApprovals",
    api_url="twilio_content_api_url",
    page=twilio_page,
    item=TWILIO_CONTENTS[1],  # order_shipped: a media template, three variables
    refusal=lambda: twilio_error(401, 20003, "Authenticate"),
    refused="20003",
)
LISTERS = [META, TWILIO]
every_lister = pytest.mark.parametrize("lister", LISTERS, ids=lambda lister: lister.provider)


class Pages:
    """A MockTransport handler answering `answers` in turn (the last to every later request)."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers[min(len(self.requests), len(self.answers)) - 1]


def listed(lister: Lister, handler: Pages, **fields: object) -> list[TemplateInfo]:
    settings = Settings(_env_file=None, **{**lister.settings, **fields})
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        return ADAPTERS[lister.provider].list_templates(settings, http)


# --- against scripted answers ---


@every_lister
def test_every_page_is_read_following_next_on_the_configured_api_only(lister: Lister) -> None:
    foreign = f"https://elsewhere.example.com/v9/{lister.path.strip('/')}?PageToken=PT2&after=QVFI"
    pages = Pages(
        answer(200, lister.page([lister.item], foreign)), answer(200, lister.page([lister.item], None))
    )
    found = listed(lister, pages, **{lister.api_url: "https://api.example.com/base/"})
    assert len(found) == 2
    first, second = (request.url for request in pages.requests)
    assert (
        (first.host, first.path) == (second.host, second.path) == ("api.example.com", "/base" + lister.path)
    )
    assert second.query == b"PageToken=PT2&after=QVFI"


@every_lister
def test_a_list_whose_pages_never_end_is_given_up_on(lister: Lister) -> None:
    pages = Pages(
        answer(200, lister.page([lister.item], f"https://api.example.com{lister.path}?after=again"))
    )
    with pytest.raises(ProviderRejected, match=f"past {MAX_PAGES} pages"):
        listed(lister, pages)
    assert len(pages.requests) == MAX_PAGES


@every_lister
def test_a_refusal_is_read_in_the_providers_own_code(lister: Lister) -> None:
    with pytest.raises(ProviderRejected) as refused:
        listed(lister, Pages(lister.refusal()))
    assert (refused.value.code, refused.value.status) == (lister.refused, 401)


@pytest.mark.parametrize(
    ("lister", "field", "variable"),
    [pytest.param(lister, f, v, id=v) for lister in LISTERS for f, v in lister.credentials.items()],
)
def test_a_missing_setting_is_named_before_any_request(
    lister: Lister, field: str, variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(variable, raising=False)
    pages = Pages(answer(200, lister.page([], None)))
    with pytest.raises(ConfigurationError, match=variable):
        listed(lister, pages, **{field: None})
    assert pages.requests == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("APPROVED", TemplateStatus.APPROVED),
        ("PENDING", TemplateStatus.PENDING),
        ("IN_APPEAL", TemplateStatus.PENDING),
        ("REJECTED", TemplateStatus.REJECTED),
        ("PAUSED", TemplateStatus.PAUSED),
        ("DISABLED", TemplateStatus.DISABLED),
        ("PENDING_DELETION", TemplateStatus.DISABLED),
        ("SOMETHING_NEW", TemplateStatus.UNKNOWN),
    ],
)
def test_metas_statuses_map_to_the_bridges(status: str, expected: TemplateStatus) -> None:
    info = meta_templates.template_info(META.item | {"status": status})
    assert info is not None and info.status is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("approved", TemplateStatus.APPROVED),
        ("received", TemplateStatus.PENDING),
        ("pending", TemplateStatus.PENDING),
        ("rejected", TemplateStatus.REJECTED),
        ("paused", TemplateStatus.PAUSED),
        ("disabled", TemplateStatus.DISABLED),
        ("unsubmitted", TemplateStatus.UNKNOWN),  # never sent to WhatsApp for approval
    ],
)
def test_twilios_statuses_map_to_the_bridges(status: str, expected: TemplateStatus) -> None:
    approval = TWILIO.item["approval_requests"] | {"status": status}
    info = twilio_templates.content_info(TWILIO.item | {"approval_requests": approval})
    assert info is not None and info.status is expected


def test_twilios_approval_nested_under_whatsapp_is_read_too() -> None:
    # Twilio's August 2024 changelog shows the approval as {"whatsapp": {...}}.
    nested = TWILIO.item | {"approval_requests": {"whatsapp": TWILIO.item["approval_requests"]}}
    info = twilio_templates.content_info(nested)
    assert info is not None and (info.status, info.category) == (TemplateStatus.APPROVED, "utility")


@pytest.mark.parametrize("provider", ["vonage", "messagebird", "textmagic", "africastalking"])
def test_a_provider_without_a_template_list_says_so(provider: str) -> None:
    with httpx.Client() as http, pytest.raises(ProviderRejected, match="no WhatsApp templates to list"):
        ADAPTERS[provider].list_templates(Settings(_env_file=None), http)


# --- against the stand-ins, over HTTP ---


@pytest.fixture
def listing_settings(providers_at_standin: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The stand-ins' settings, with the WhatsApp Business Account whose templates Meta lists."""
    monkeypatch.setenv("WHATSAPP_BUSINESS_ACCOUNT_ID", WABA)
    reset_settings_cache()
    return get_settings()


def standin_list(provider: str, settings: Settings) -> dict[str, TemplateInfo]:
    with httpx.Client(timeout=10.0) as http:
        return {info.label: info for info in ADAPTERS[provider].list_templates(settings, http)}


def list_requests(standin: Any, path_end: str) -> int:
    return len([request for request in standin.state.requests if request["path"].endswith(path_end)])


def test_meta_lists_every_template_across_pages(
    listing_settings: Settings, providers_at_standin: Any
) -> None:
    found = standin_list("whatsapp", listing_settings)
    assert list(found) == [template["name"] for template in META_TEMPLATES]
    assert list_requests(providers_at_standin, "/message_templates") == 3  # 8 templates, 3 a page
    shipped = found["order_shipped"]
    assert (shipped.name, shipped.language, shipped.status, shipped.category) == (
        "order_shipped",
        "en_US",
        TemplateStatus.APPROVED,
        "utility",
    )
    assert (shipped.body, shipped.variables, shipped.header) == (
        "Hi {{1}}, your order {{2}} has shipped.",
        2,
        HeaderKind.IMAGE,
    )
    assert found["invoice_ready"].header is HeaderKind.DOCUMENT
    assert found["appointment_reminder"].header is HeaderKind.TEXT  # "Reminder for {{1}}"
    assert found["hello_world"].header is None  # a text header without a placeholder needs nothing
    assert (found["spring_sale"].status, found["win_a_prize"].status) == (
        TemplateStatus.PAUSED,
        TemplateStatus.REJECTED,
    )


def test_twilio_lists_every_content_across_pages(
    listing_settings: Settings, providers_at_standin: Any
) -> None:
    found = standin_list("twilio", listing_settings)
    assert list(found) == [content["friendly_name"] for content in TWILIO_CONTENTS]
    assert list_requests(providers_at_standin, "/v1/ContentAndApprovals") == 2  # 6 contents, 3 a page
    shipped = found["order_shipped"]
    assert (shipped.name, shipped.language, shipped.status, shipped.category) == (
        "HX" + "a" * 32,
        "en",
        TemplateStatus.APPROVED,
        "utility",
    )
    # Its media URL's variable part is its third variable: no header to give.
    assert (shipped.body, shipped.variables, shipped.header) == (
        "Hi {{1}}, your order {{2}} has shipped.",
        3,
        None,
    )
    assert [found[name].status for name in ("spring_sale", "win_a_prize", "in_session_only")] == [
        TemplateStatus.PAUSED,
        TemplateStatus.REJECTED,
        TemplateStatus.UNKNOWN,
    ]


def test_metas_standin_refuses_another_business_account(
    listing_settings: Settings, providers_at_standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(providers_at_standin.state, "whatsapp_business_account_id", "999999999999999")
    with pytest.raises(ProviderRejected) as refused:
        standin_list("whatsapp", listing_settings)
    assert (refused.value.code, refused.value.status) == ("100", 400)
