"""The webhook route: a clear answer for every bad request, and nothing stored for any of them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import redis

from bridge.app import create_app
from bridge.core.settings import get_settings
from bridge.infra import keys
from bridge.infra.queueing import inbound_queue
from bridge.runtime.serving import BackgroundServer
from tests.helpers import signed_twilio

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"


def nothing_stored(client: redis.Redis) -> bool:
    # Counting the refusal is not storing the request: metrics hold counts by provider and outcome.
    stored = [
        key for key in client.keys(keys.PREFIX + "*") if not key.startswith(keys.METRICS_PREFIX.encode())
    ]
    return not stored and inbound_queue(client).count == 0


def test_a_signed_message_is_acknowledged_with_empty_twiml_once_stored(bridge, settings, http, redis_client):
    response = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="hi").send(http)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert inbound_queue(redis_client).count == 1


def test_a_redis_that_forgot_the_store_script_still_stores(bridge, settings, http, redis_client):
    # The route sends the script's digest (EVALSHA); a restarted Redis answers NOSCRIPT once.
    redis_client.script_flush()
    response = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="hi").send(http)
    assert response.status_code == 200
    assert redis_client.zcard(keys.WEBHOOKS_PENDING) == 1


def test_a_forged_signature_gets_403_and_nothing_is_stored(bridge, settings, http, redis_client):
    request = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="hi")
    forged = request.__class__(request.url, request.body, {**request.headers, "X-Twilio-Signature": "AAAA"})
    response = forged.send(http)
    assert response.status_code == 403
    assert "X-Twilio-Signature" in response.json()["detail"]
    assert nothing_stored(redis_client)


def test_a_body_changed_after_signing_gets_403(bridge, settings, http, redis_client):
    request = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="hi")
    tampered = request.__class__(request.url, request.body.replace(b"Body=hi", b"Body=bye"), request.headers)
    assert tampered.send(http).status_code == 403
    assert nothing_stored(redis_client)


def test_an_unsigned_request_gets_403(bridge, http, redis_client):
    response = http.post(
        f"{bridge.url}/webhooks/twilio",
        content=b"From=%2B1&Body=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 403
    assert nothing_stored(redis_client)


def test_twilio_not_configured_answers_404_with_a_reason(bridge_env, monkeypatch, http, redis_client):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    from bridge.core.settings import reset_settings_cache

    reset_settings_cache()
    with BackgroundServer(create_app(get_settings())) as server:
        response = http.post(f"{server.url}/webhooks/twilio", content=b"From=%2B1")
    assert response.status_code == 404
    assert "TWILIO_AUTH_TOKEN" in response.json()["detail"]
    assert nothing_stored(redis_client)


def test_an_unknown_provider_answers_404(bridge, http):
    response = http.post(f"{bridge.url}/webhooks/carrier-pigeon", content=b"coo")
    assert response.status_code == 404
    assert "unknown provider" in response.json()["detail"]


def test_a_signed_request_is_stored_as_it_arrived_and_read_by_a_worker(
    bridge, settings, http, redis_client, drain
):
    # The route never parses: an authentic request is never refused for what it says (it is read
    # later; tests/test_unreadable_webhooks.py follows the unreadable ones).
    from twilio.request_validator import RequestValidator

    url = f"{bridge.url}/webhooks/twilio"
    body = "From=%2B14155550123&To=%2B14155550100&Body=hi"  # no MessageSid
    signature = RequestValidator(settings.secret("twilio_auth_token")).compute_signature(
        url, {"From": CUSTOMER, "To": BUSINESS, "Body": "hi"}
    )
    response = http.post(
        url,
        content=body,
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    [stored] = redis_client.keys(keys.webhook("*"))
    assert redis_client.hget(stored, "body") == body.encode()
    assert redis_client.zcard(keys.WEBHOOKS_PENDING) == 1
    drain()
    assert redis_client.hget(stored, "reason") == b"MessageSid is missing"
    assert redis_client.zcard(keys.WEBHOOKS_PENDING) == 0


def test_a_form_of_tens_of_thousands_of_fields_is_refused_while_other_requests_are_answered(
    bridge, http, redis_client
):
    # 60,000 empty fields are about 500 KB, under the body limit: the refusal must come from counting
    # them, and the event loop must stay free for everybody else meanwhile (the validator used to take
    # minutes over such a form, on the loop, before comparing any secret).
    body = "&".join(f"f{i}=" for i in range(60_000)).encode()
    headers = {"X-Twilio-Signature": "AAAA", "Content-Type": "application/x-www-form-urlencoded"}
    with ThreadPoolExecutor(max_workers=1) as pool, httpx.Client(timeout=5.0) as other:
        hostile = pool.submit(http.post, f"{bridge.url}/webhooks/twilio", content=body, headers=headers)
        health = [other.get(f"{bridge.url}/healthz").status_code for _ in range(5)]
        refused = hostile.result()
    assert health == [200] * 5
    assert refused.status_code == 400
    assert "more than" in refused.json()["detail"]
    assert nothing_stored(redis_client)


def test_an_oversized_body_gets_413(bridge, http, redis_client):
    response = http.post(f"{bridge.url}/webhooks/twilio", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert nothing_stored(redis_client)


def test_redis_down_answers_503_so_the_provider_retries(bridge_env, monkeypatch, http):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    from bridge.core.settings import reset_settings_cache

    reset_settings_cache()
    settings = get_settings()
    with BackgroundServer(create_app(settings)) as server:
        response = signed_twilio(server.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="hi").send(
            http
        )
        ready = http.get(f"{server.url}/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert "not stored" in response.json()["detail"]
    assert ready.status_code == 503


def test_signatures_are_checked_against_the_public_url_behind_a_proxy(
    bridge_env, monkeypatch, http, redis_client
):
    # Twilio signed https://bridge.example.com/...; the app itself is reached on 127.0.0.1.
    monkeypatch.setenv("BRIDGE_PUBLIC_URL", "https://bridge.example.com")
    from bridge.core.settings import reset_settings_cache

    reset_settings_cache()
    settings = get_settings()
    with BackgroundServer(create_app(settings)) as server:
        signed_for_public = signed_twilio(
            "https://bridge.example.com", settings, sender=CUSTOMER, recipient=BUSINESS, text="hi"
        )
        local = signed_for_public.__class__(
            f"{server.url}/webhooks/twilio", signed_for_public.body, signed_for_public.headers
        )
        assert local.send(http).status_code == 200
        signed_for_local = signed_twilio(server.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="x")
        assert signed_for_local.send(http).status_code == 403


def test_a_head_request_checks_the_url_without_storing_anything(bridge, http, redis_client):
    response = http.head(f"{bridge.url}/webhooks/twilio")
    assert response.status_code == 200
    assert nothing_stored(redis_client)


def test_a_method_the_provider_never_uses_gets_405(bridge, http):
    response = http.get(f"{bridge.url}/webhooks/twilio")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_the_url_token_never_reaches_the_access_log(bridge_env, monkeypatch, http):
    import logging

    monkeypatch.setenv("TEXTMAGIC_WEBHOOK_SECRET", "a-very-secret-url-token")
    from bridge.core.settings import reset_settings_cache

    reset_settings_cache()
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    access = logging.getLogger("uvicorn.access")
    collector = Collect()
    try:
        with BackgroundServer(create_app(get_settings())) as server:
            access.addHandler(collector)  # after uvicorn configured its loggers at start-up
            # What uvicorn's access log writes for a provider's callback (its format, its logger).
            access.warning(
                '%s - "%s %s HTTP/%s" %d',
                "127.0.0.1",
                "POST",
                "/webhooks/textmagic?token=a-very-secret-url-token",
                "1.1",
                200,
            )
            http.post(f"{server.url}/webhooks/textmagic?token=a-very-secret-url-token", content=b"x")
    finally:
        access.removeHandler(collector)
    assert lines and not any("a-very-secret-url-token" in line for line in lines)
    assert any("token=***" in line for line in lines)
