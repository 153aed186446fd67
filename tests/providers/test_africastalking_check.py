"""Africa's Talking's credential check (`bridge doctor`): the application data with the apiKey
header and the username, what it reports, refusals, and the stand-in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bridge.core.errors import ConfigurationError, ProviderRejected
from bridge.core.settings import Settings, get_settings
from bridge.providers.africastalking.adapter import AfricasTalkingAdapter
from tests.providers.support import FakeApi, answer

ADAPTER = AfricasTalkingAdapter()
USER, KEY = "acme", "test-at-api-key"
APP_DATA = {"UserData": {"balance": "KES 1785.5000"}}


def settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {
        "africastalking_webhook_secret": "s",
        "africastalking_username": USER,
        "africastalking_api_key": KEY,
    } | fields
    return Settings(_env_file=None, **values)


def check(api: FakeApi, **fields: Any) -> str:
    with httpx.Client(transport=httpx.MockTransport(api)) as http:
        return ADAPTER.check_credentials(settings(**fields), http)


def test_the_app_data_is_read_as_the_sdk_reads_it() -> None:
    api = FakeApi(answer(200, APP_DATA))
    check(api)
    [request] = api.requests
    assert (request.method, str(request.url)) == (
        "GET",
        f"https://api.africastalking.com/version1/user?username={USER}",
    )
    assert (request.headers["apikey"], request.headers["accept"]) == (KEY, "application/json")


def test_the_report_gives_the_app_and_its_balance() -> None:
    assert check(FakeApi(answer(200, APP_DATA))) == f"app {USER}, balance KES 1785.5000"


def test_a_wrong_key_is_refused_with_africas_talkings_words() -> None:
    api = FakeApi(httpx.Response(401, text="The supplied authentication is invalid"))
    with pytest.raises(ProviderRejected) as refused:
        check(api)
    assert (refused.value.status, refused.value.message) == (401, "The supplied authentication is invalid")


def test_an_answer_without_user_data_is_refused() -> None:
    with pytest.raises(ProviderRejected, match="UserData"):
        check(FakeApi(answer(200, {"SMSMessageData": {}})))


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("africastalking_username", "AFRICASTALKING_USERNAME"),
        ("africastalking_api_key", "AFRICASTALKING_API_KEY"),
    ],
)
def test_a_missing_credential_names_the_variable(missing: str, variable: str) -> None:
    api = FakeApi(answer(200, APP_DATA))
    with pytest.raises(ConfigurationError, match=variable):
        check(api, **{missing: None})
    assert api.requests == []


# --- against the stand-in ---


def test_the_standin_answers_the_app_data(providers_at_standin: Any) -> None:
    with httpx.Client(timeout=10.0) as http:
        assert ADAPTER.check_credentials(get_settings(), http).startswith("app test-at-user, balance KES")


def test_the_standin_refuses_a_wrong_username(providers_at_standin: Any) -> None:
    wrong = get_settings().model_copy(update={"africastalking_username": "someone-else"})
    with httpx.Client(timeout=10.0) as http, pytest.raises(ProviderRejected) as refused:
        ADAPTER.check_credentials(wrong, http)
    assert refused.value.status == 401
