"""Meta's credential check (`bridge doctor`): `/me` with the access token, what it reports,
refusals in Graph's envelope, and the stand-in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bridge.core.errors import ConfigurationError, ProviderRejected
from bridge.core.settings import Settings, get_settings
from bridge.providers.whatsapp import WhatsAppAdapter
from tests.providers.support import FakeApi, answer

ADAPTER = WhatsAppAdapter()
TOKEN = "EAAG-test-token"
ME = {"name": "Bridge System User", "id": "122100000000000001"}
# Graph's answer to an expired or invalid token (…/whatsapp/support/error-codes: 190).
EXPIRED = {
    "error": {
        "message": "Error validating access token: Session has expired",
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 463,
        "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
    }
}


def settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {"whatsapp_app_secret": "s", "whatsapp_access_token": TOKEN} | fields
    return Settings(_env_file=None, **values)


def check(api: FakeApi, **fields: Any) -> str:
    with httpx.Client(transport=httpx.MockTransport(api)) as http:
        return ADAPTER.check_credentials(settings(**fields), http)


def test_me_is_read_with_the_bearer_token() -> None:
    api = FakeApi(answer(200, ME))
    check(api)
    [request] = api.requests
    assert (request.method, str(request.url)) == ("GET", "https://graph.facebook.com/v23.0/me")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_the_report_names_whose_token_it_is() -> None:
    assert check(FakeApi(answer(200, ME))) == "token of Bridge System User (122100…)"


def test_the_configured_api_url_is_used() -> None:
    api = FakeApi(answer(200, ME))
    check(api, whatsapp_api_url="http://127.0.0.1:9/v21.0/")
    assert str(api.requests[0].url) == "http://127.0.0.1:9/v21.0/me"


def test_an_expired_token_is_refused_with_graphs_code() -> None:
    with pytest.raises(ProviderRejected) as refused:
        check(FakeApi(answer(401, EXPIRED)))
    assert (refused.value.code, refused.value.status) == ("190", 401)
    assert "Session has expired" in refused.value.message


@pytest.mark.parametrize(("token", "problem"), [(None, "is not set"), ("  ", "is empty")])
def test_a_missing_token_names_the_variable(token: str | None, problem: str) -> None:
    api = FakeApi(answer(200, ME))
    with pytest.raises(ConfigurationError, match=f"WHATSAPP_ACCESS_TOKEN {problem}"):
        check(api, whatsapp_access_token=token)
    assert api.requests == []


# --- against the stand-in ---


def test_the_standin_answers_me(providers_at_standin: Any) -> None:
    with httpx.Client(timeout=10.0) as http:
        assert ADAPTER.check_credentials(get_settings(), http).startswith("token of Stand-in System User")


def test_the_standin_refuses_a_wrong_token(providers_at_standin: Any) -> None:
    wrong = get_settings().model_copy(update={"whatsapp_access_token": "wrong"})
    with httpx.Client(timeout=10.0) as http, pytest.raises(ProviderRejected) as refused:
        ADAPTER.check_credentials(wrong, http)
    assert (refused.value.code, refused.value.status) == ("190", 401)
