"""TextMagic's credential check (`bridge doctor`): the current user with the X-TM headers, what
it reports, refusals, and the stand-in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bridge.core.errors import ConfigurationError, ProviderRejected
from bridge.core.settings import Settings, get_settings
from bridge.providers.textmagic.adapter import TextMagicAdapter
from tests.providers.support import FakeApi, answer

ADAPTER = TextMagicAdapter()
USER, KEY = "test-textmagic-user", "test-textmagic-api-key"
# textmagic-rest-python-v2 docs/User.md (the JSON names are camelCase).
CURRENT_USER = {
    "id": 5,
    "username": USER,
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.com",
    "status": "A",
    "balance": 12.5,
    "phone": "447860021130",
    "company": "Acme",
    "currency": {"id": "GBP", "htmlSymbol": "&pound;"},
    "subaccountType": "P",
}


def settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {
        "textmagic_webhook_secret": "s",
        "textmagic_username": USER,
        "textmagic_api_key": KEY,
    } | fields
    return Settings(_env_file=None, **values)


def check(api: FakeApi, **fields: Any) -> str:
    with httpx.Client(transport=httpx.MockTransport(api)) as http:
        return ADAPTER.check_credentials(settings(**fields), http)


def test_the_user_is_read_with_the_x_tm_headers() -> None:
    api = FakeApi(answer(200, CURRENT_USER))
    check(api)
    [request] = api.requests
    assert (request.method, str(request.url)) == ("GET", "https://rest.textmagic.com/api/v2/user")
    assert (request.headers["x-tm-username"], request.headers["x-tm-key"]) == (USER, KEY)


def test_the_report_gives_the_user_and_balance_but_not_the_owners_phone() -> None:
    described = check(FakeApi(answer(200, CURRENT_USER)))
    assert described == f"user {USER}, balance 12.5 GBP"
    assert "447860021130" not in described


def test_a_trial_account_says_so() -> None:
    assert check(FakeApi(answer(200, CURRENT_USER | {"status": "T"}))).endswith(", trial account")


def test_wrong_credentials_are_refused_with_textmagics_code() -> None:
    api = FakeApi(answer(401, {"code": 401, "message": "Unauthorized", "errors": None}))
    with pytest.raises(ProviderRejected) as refused:
        check(api)
    assert (refused.value.code, refused.value.status, refused.value.message) == ("401", 401, "Unauthorized")


@pytest.mark.parametrize(
    ("missing", "variable"),
    [("textmagic_username", "TEXTMAGIC_USERNAME"), ("textmagic_api_key", "TEXTMAGIC_API_KEY")],
)
def test_a_missing_credential_names_the_variable(missing: str, variable: str) -> None:
    api = FakeApi(answer(200, CURRENT_USER))
    with pytest.raises(ConfigurationError, match=variable):
        check(api, **{missing: None})
    assert api.requests == []


# --- against the stand-in ---


def test_the_standin_answers_the_user(providers_at_standin: Any) -> None:
    with httpx.Client(timeout=10.0) as http:
        assert ADAPTER.check_credentials(get_settings(), http) == f"user {USER}, balance 12.5 GBP"


def test_the_standin_refuses_a_wrong_key(providers_at_standin: Any) -> None:
    wrong = get_settings().model_copy(update={"textmagic_api_key": "wrong"})
    with httpx.Client(timeout=10.0) as http, pytest.raises(ProviderRejected) as refused:
        ADAPTER.check_credentials(wrong, http)
    assert (refused.value.code, refused.value.status) == ("401", 401)
