"""Vonage's credential check (`bridge doctor`): the Account API's balance with the API key and
secret, what it reports, refusals, and the stand-in."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridge.core.errors import ConfigurationError, ProviderRejected
from bridge.core.settings import Settings, get_settings
from bridge.providers.vonage import VonageAdapter
from tests.providers.support import FakeApi, answer

ADAPTER = VonageAdapter()
KEY, SECRET = "abcd1234", "test-vonage-api-secret"
# Nexmo/api-specification definitions/account.yml, getAccountBalance's example and its 401.
BALANCE = {"value": 10.171275, "autoReload": False}
BAD_CREDENTIALS = {"error-code": "401", "error-code-label": "authentication failed"}


def settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {
        "vonage_signature_secret": "s",
        "vonage_api_key": KEY,
        "vonage_api_secret": SECRET,
    } | fields
    return Settings(_env_file=None, **values)


def check(api: FakeApi, **fields: Any) -> str:
    with httpx.Client(transport=httpx.MockTransport(api)) as http:
        return ADAPTER.check_credentials(settings(**fields), http)


def test_the_balance_is_read_with_the_key_and_secret_as_query_parameters() -> None:
    api = FakeApi(answer(200, BALANCE))
    check(api)
    [request] = api.requests
    url = urlsplit(str(request.url))
    assert (request.method, url.scheme, url.netloc, url.path) == (
        "GET",
        "https",
        "rest.nexmo.com",
        "/account/get-balance",
    )
    assert parse_qs(url.query) == {"api_key": [KEY], "api_secret": [SECRET]}


def test_the_report_gives_the_balance_and_only_the_start_of_the_key() -> None:
    described = check(FakeApi(answer(200, BALANCE)))
    assert described == "balance €10.17, auto-reload off (key abcd…)"
    assert SECRET not in described


def test_bad_credentials_are_refused_with_vonages_code() -> None:
    with pytest.raises(ProviderRejected) as refused:
        check(FakeApi(answer(401, BAD_CREDENTIALS)))
    assert (refused.value.code, refused.value.status, refused.value.message) == (
        "401",
        401,
        "authentication failed",
    )


def test_a_refusal_that_names_no_secret_keeps_it_out_of_the_error() -> None:
    with pytest.raises(ProviderRejected) as refused:
        check(FakeApi(httpx.Response(403, text="Forbidden")))
    assert SECRET not in str(refused.value)


@pytest.mark.parametrize(
    ("missing", "variable"),
    [("vonage_api_key", "VONAGE_API_KEY"), ("vonage_api_secret", "VONAGE_API_SECRET")],
)
def test_a_missing_credential_names_the_variable(missing: str, variable: str) -> None:
    api = FakeApi(answer(200, BALANCE))
    with pytest.raises(ConfigurationError, match=variable):
        check(api, **{missing: None})
    assert api.requests == []


# --- against the stand-in ---


def test_the_standin_answers_the_balance(providers_at_standin: Any) -> None:
    with httpx.Client(timeout=10.0) as http:
        assert ADAPTER.check_credentials(get_settings(), http).startswith("balance €10.17")


def test_the_standin_refuses_a_wrong_secret(providers_at_standin: Any) -> None:
    wrong = get_settings().model_copy(update={"vonage_api_secret": "wrong"})
    with httpx.Client(timeout=10.0) as http, pytest.raises(ProviderRejected) as refused:
        ADAPTER.check_credentials(wrong, http)
    assert (refused.value.code, refused.value.status) == ("401", 401)
