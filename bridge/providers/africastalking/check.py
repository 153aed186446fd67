"""Proving Africa's Talking's username and API key: read the app's data (`bridge doctor`).

`GET {AFRICASTALKING_API_URL}/version1/user?username=<app username>` with headers `apiKey` and
`Accept: application/json` is the Python SDK's `ApplicationService.fetch_application_data`
(africastalking-python `africastalking/Application.py`); it answers `{"UserData": {"balance":
"KES 1785.50"}}`, and a wrong key or username the same plain-text 401 a send gets ("The supplied
authentication is invalid"). Sandbox apps (username `sandbox`) live on another host:
`AFRICASTALKING_API_URL` must point there for them.
"""

from __future__ import annotations

import httpx

from bridge.core.settings import Settings
from bridge.providers.africastalking.send import PROVIDER, read_error
from bridge.providers.base import CredentialCheck, read_account, refused

PATH = "/version1/user"


def check_credentials(settings: Settings, http: httpx.Client) -> str:
    """Read the app's balance; `app acme, balance KES 1785.50`."""
    username = settings.secret("africastalking_username")
    headers = {"apiKey": settings.secret("africastalking_api_key"), "Accept": "application/json"}
    url = settings.africastalking_api_url.rstrip("/") + PATH
    data = read_account(
        http, url, provider=PROVIDER, error=read_error, headers=headers, params={"username": username}
    )
    user = data.get("UserData")
    if not isinstance(user, dict):
        raise refused(PROVIDER, "the answer has no UserData")
    return f"app {username}, balance {user.get('balance') or 'unknown'}"


#: `AfricasTalkingAdapter.credential_check`.
CREDENTIAL_CHECK = CredentialCheck(
    request=f"GET {PATH}",
    credentials=("africastalking_username", "africastalking_api_key"),
    api_url="africastalking_api_url",
    run=check_credentials,
)
