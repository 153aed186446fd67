"""What the provider tests share: sending through a scripted API (`httpx.MockTransport`) or over
real HTTP without waits between retries, the providers' error answers as their APIs send them,
webhook requests as the bridge receives them, and the cases every adapter whose callbacks carry
`?token=` (`bridge.providers.tokenauth`) must pass."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from bridge.core.errors import SignatureInvalid
from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.dev.simulators.base import SimulatedRequest
from bridge.model.outgoing import OutboundMessage
from bridge.providers.base import ProviderAdapter, WebhookRequest
from bridge.providers.tokenauth import UrlTokenAdapter, callback_fields

NO_WAIT = RetryPolicy(sleep=lambda seconds: None)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FORM = "application/x-www-form-urlencoded"

Handler = Callable[[httpx.Request], httpx.Response]


# --- sending ---


def send_with(
    adapter: ProviderAdapter, message: OutboundMessage, handler: Handler, settings: Settings
) -> str:
    """`adapter.send` through a MockTransport answering with `handler`; the id it returns."""
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        return adapter.send(message, settings, http, NO_WAIT)


def send_recorded(
    adapter: ProviderAdapter, message: OutboundMessage, handler: Handler, settings: Settings
) -> tuple[str, list[httpx.Request]]:
    """`send_with`, and the requests the send made, their bodies read."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return handler(request)

    return send_with(adapter, message, record, settings), seen


def send_over_http(adapter: ProviderAdapter, message: OutboundMessage, settings: Settings) -> str:
    """`adapter.send` over real HTTP (to the stand-in the settings point at); the id it returns."""
    with httpx.Client(timeout=10.0) as http:
        return adapter.send(message, settings, http, NO_WAIT)


def replies(*answers: httpx.Response) -> Handler:
    """A handler giving `answers` in turn, the last one to every later request."""
    pending = deque(answers)
    return lambda request: pending.popleft() if len(pending) > 1 else pending[0]


class FakeApi:
    """A MockTransport handler that records requests and answers from a queue (the last answer repeats)."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = replies(*answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers(request)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def answer(status: int, body: object) -> httpx.Response:
    """A JSON answer."""
    return httpx.Response(status, json=body)


def form(request: httpx.Request) -> dict[str, list[str]]:
    """The fields of a form-encoded request, each with all its values."""
    return parse_qs(request.content.decode(), keep_blank_values=True)


# --- the providers' error answers, as their APIs send them ---


def twilio_error(status: int, code: int, message: str) -> httpx.Response:
    """Twilio's REST error body."""
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return httpx.Response(status, json={"code": code, "message": message, "more_info": more_info})


def vonage_problem(status: int, fragment: str, title: str, detail: str = "") -> httpx.Response:
    """An RFC 7807 problem as Vonage's Messages API sends it (Java SDK MessagesClientTest)."""
    body = {
        "type": f"https://developer.nexmo.com/api-errors/{fragment}",
        "title": title,
        "detail": detail,
        "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
    }
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def graph_error(status: int, code: int, message: str, details: str = "") -> httpx.Response:
    """Graph's error envelope, as Meta's error-code reference shows it."""
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "Az8or",
    }
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return httpx.Response(status, json={"error": error})


# --- webhooks ---

BOUNDARY = "TextMagicBoundary7MA4YWxkTrZu0gW"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart_body(fields: Mapping[str, object]) -> str:
    """`fields` as a multipart/form-data body (content type MULTIPART), as TextMagic may post them."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return "".join(parts) + f"--{BOUNDARY}--\r\n"


def callback(url: str, body: bytes | str, *, query: str, content_type: str) -> WebhookRequest:
    """A provider's POST to `url` (`?query` added), as the bridge receives it at `NOW`."""
    raw = body.encode() if isinstance(body, str) else body
    return WebhookRequest(
        method="POST",
        url=f"{url}?{query}" if query else url,
        headers={"content-type": content_type} if content_type else {},
        query=query,
        body=raw,
        received_at=NOW,
    )


def received(sent: SimulatedRequest) -> WebhookRequest:
    """A simulator's request as the bridge receives it at `NOW`."""
    return WebhookRequest(
        method=sent.method,
        url=sent.url,
        headers={k.lower(): v for k, v in sent.headers.items()},
        query=urlsplit(sent.url).query,
        body=sent.body,
        received_at=NOW,
    )


class UrlTokenCases:
    """The proof by `?token=<secret>` in the callback URL, which every `UrlTokenAdapter` gives.

    A provider's test module subclasses it as `TestUrlToken`, naming its adapter, route, secret
    variable and the fields of a genuine callback; pytest then runs these cases for that provider.
    """

    adapter: ClassVar[UrlTokenAdapter]
    url: ClassVar[str]
    variable: ClassVar[str]  # the setting holding the secret, e.g. TEXTMAGIC_WEBHOOK_SECRET
    secret: ClassVar[str]
    fields: ClassVar[Mapping[str, object]]

    def settings(self) -> Settings:
        return self.settings_with(self.secret)

    def settings_with(self, secret: str | None) -> Settings:
        return Settings(_env_file=None, **{self.adapter.secret_field: secret})

    def request(self, *, query: str, body: str = "") -> WebhookRequest:
        return callback(self.url, body, query=query, content_type=FORM if body else "")

    def genuine(self) -> WebhookRequest:
        return self.request(query=f"token={self.secret}", body=urlencode(self.fields))

    def test_the_right_token_verifies(self) -> None:
        self.adapter.verify(self.genuine(), self.settings())

    def test_a_wrong_token_is_refused(self) -> None:
        with pytest.raises(SignatureInvalid, match=f"does not match {self.variable}"):
            self.adapter.verify(self.request(query="token=guess"), self.settings())

    @pytest.mark.parametrize("query", ["", "other=1"])
    def test_a_missing_token_is_refused(self, query: str) -> None:
        with pytest.raises(SignatureInvalid, match="no token= parameter"):
            self.adapter.verify(self.request(query=query), self.settings())

    def test_an_empty_token_is_refused(self) -> None:
        with pytest.raises(SignatureInvalid):
            self.adapter.verify(self.request(query="token="), self.settings())

    def test_a_repeated_token_is_refused_even_when_one_is_right(self) -> None:
        with pytest.raises(SignatureInvalid, match="more than one"):
            self.adapter.verify(self.request(query=f"token=guess&token={self.secret}"), self.settings())

    def test_a_token_in_the_body_proves_nothing(self) -> None:
        body = urlencode({**self.fields, "token": self.secret})
        with pytest.raises(SignatureInvalid):
            self.adapter.verify(self.request(query="", body=body), self.settings())

    def test_refusals_never_echo_the_token_or_the_secret(self) -> None:
        with pytest.raises(SignatureInvalid) as refused:
            self.adapter.verify(self.request(query="token=almost-" + self.secret), self.settings())
        assert self.secret not in str(refused.value)
        assert "almost" not in str(refused.value)

    def test_the_provider_is_disabled_without_its_webhook_secret(self) -> None:
        reason = self.adapter.disabled_reason(self.settings_with(None))
        assert reason and self.variable in reason and "?token=" in reason
        assert self.adapter.disabled_reason(self.settings()) is None

    def test_an_empty_webhook_secret_leaves_the_provider_disabled(self) -> None:
        assert self.adapter.disabled_reason(self.settings_with("")) is not None
        with pytest.raises(SignatureInvalid):
            self.adapter.verify(self.request(query="token="), self.settings_with(""))

    def test_the_token_is_not_read_as_a_field(self) -> None:
        assert "token" not in callback_fields(self.genuine())
