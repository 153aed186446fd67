"""Proving TextMagic's username and API key: read the current user (`bridge doctor`).

`GET {TEXTMAGIC_API_URL}/api/v2/user` with `X-TM-Username` / `X-TM-Key`, the same headers sends
use, answers the `User` (textmagic-rest-python-v2 `docs/User.md`: `id`, `username`, `status` `A`
active or `T` trial, `balance` in the account currency, `currency` {`id`, `htmlSymbol`}, and the
owner's name, email and phone, which are not reported). Wrong credentials are refused with 401
`{"code": 401, "message": "Unauthorized"}` (textmagic.com/docs/api/response-codes).
"""

from __future__ import annotations

import httpx

from bridge.core.settings import Settings
from bridge.providers.base import CredentialCheck, read_account
from bridge.providers.textmagic.send import PROVIDER, read_error

PATH = "/api/v2/user"
TRIAL = "T"


def check_credentials(settings: Settings, http: httpx.Client) -> str:
    """Read the current user; `user acme, balance 12.5 GBP` (`, trial account` on a trial)."""
    headers = {
        "X-TM-Username": settings.secret("textmagic_username"),
        "X-TM-Key": settings.secret("textmagic_api_key"),
        "Accept": "application/json",
    }
    url = settings.textmagic_api_url.rstrip("/") + PATH
    user = read_account(http, url, provider=PROVIDER, error=read_error, headers=headers)
    currency = user.get("currency")
    code = currency.get("id") if isinstance(currency, dict) else None
    text = f"user {user.get('username') or settings.textmagic_username}, balance {user.get('balance')}"
    text += f" {code}" if code else ""
    return text + (", trial account" if user.get("status") == TRIAL else "")


#: `TextMagicAdapter.credential_check`.
CREDENTIAL_CHECK = CredentialCheck(
    request=f"GET {PATH}",
    credentials=("textmagic_username", "textmagic_api_key"),
    api_url="textmagic_api_url",
    run=check_credentials,
)
