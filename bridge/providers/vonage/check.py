"""Proving Vonage's API key and secret: read the account's balance (`bridge doctor`).

`GET {VONAGE_API_URL}/account/get-balance?api_key=…&api_secret=…` (Nexmo/api-specification
`definitions/account.yml`, `getAccountBalance`: both are required query parameters) answers
`{"value": 10.28, "autoReload": false}` (the balance in EUR), and bad credentials 401
`{"error-code": "401", "error-code-label": "authentication failed"}`. The key and secret are the
ones both send APIs use (`send`). They travel in the query as the API documents, so the request's
URL is never logged or reported: `api_call` names only its path.
"""

from __future__ import annotations

import httpx

from bridge.core.settings import Settings
from bridge.providers.base import CredentialCheck, read_account
from bridge.providers.refusals import json_answer, status_text
from bridge.providers.vonage.send import NAME

PATH = "/account/get-balance"


def check_credentials(settings: Settings, http: httpx.Client) -> str:
    """Read the balance with the API key and secret; `balance €10.28, auto-reload off (key abcd…)`."""
    settings.require("vonage_api_key")
    key = str(settings.vonage_api_key)
    params = {"api_key": key, "api_secret": settings.secret("vonage_api_secret")}
    url = settings.vonage_api_url.rstrip("/") + PATH
    balance = read_account(
        http, url, provider=NAME, error=read_error, params=params, headers={"Accept": "application/json"}
    )
    value = balance.get("value")
    amount = f"€{value:.2f}" if isinstance(value, int | float) and not isinstance(value, bool) else "unknown"
    reload = "on" if balance.get("autoReload") is True else "off"
    return f"balance {amount}, auto-reload {reload} (key {key[:4]}…)"


#: `VonageAdapter.credential_check`.
CREDENTIAL_CHECK = CredentialCheck(
    request=f"GET {PATH}",
    credentials=("vonage_api_key", "vonage_api_secret"),
    api_url="vonage_api_url",
    run=check_credentials,
)


def read_error(response: httpx.Response) -> tuple[str | None, str]:
    """The Account API's `error-code` and `error-code-label`; an RFC 7807 problem's `title` and
    `detail` should another part of Vonage answer."""
    data = json_answer(response)
    if not isinstance(data, dict):
        return None, status_text(response)
    if "error-code" in data:
        label = data.get("error-code-label")
        return str(data["error-code"]), str(label) if label else status_text(response)
    parts = [str(data[name]) for name in ("title", "detail") if data.get(name)]
    return None, ": ".join(parts) or status_text(response)
