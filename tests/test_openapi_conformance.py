"""Every request the bridge sends, and every answer the sandbox gives, against Intercom's own
OpenAPI description (2.16, ../shared/intercom-openapi).

Its two known defects (`format: uuid` contact ids, `integer` timestamps with `format: date-time`)
are dropped on loading (tests/intercom_openapi.py); nothing else is relaxed.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from openapi_core import Config, OpenAPI
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

from bridge.contacts.lookup import build_lookup
from bridge.contacts.resolution import IdentityMap
from bridge.contacts.sync import sync_contacts
from bridge.intercom.client import IntercomClient
from tests.helpers import signed_twilio
from tests.intercom_openapi import intercom_description, intercom_error_schema

HOST = "https://api.intercom.io"


@pytest.fixture(scope="module")
def intercom_spec() -> dict[str, Any]:
    return intercom_description()


@pytest.fixture(scope="module")
def intercom_openapi(intercom_spec: dict[str, Any]) -> OpenAPI:
    return OpenAPI.from_dict(intercom_spec, config=Config(spec_validator_cls=None))


@pytest.fixture(scope="module")
def error_envelope() -> OAS30Validator:
    """Intercom's `error` schema, for real answers the description does not list for an operation
    (a 409 on create contact, a 404 on show contact): their body must still be an `error.list`."""
    return intercom_error_schema()


def _request(exchange: dict[str, Any]) -> MockRequest:
    body = exchange["request_body"]
    return MockRequest(
        HOST,
        exchange["method"],
        exchange["path"],
        headers=exchange["request_headers"],
        data=json.dumps(body).encode() if body is not None else None,
        content_type="application/json",
    )


def _response(exchange: dict[str, Any]) -> MockResponse:
    return MockResponse(
        json.dumps(exchange["response_body"]).encode(),
        status_code=exchange["status"],
        headers=exchange["response_headers"],
        content_type="application/json",
    )


def _workload(bridge, settings, sandbox, drain, http) -> None:
    """A bit of everything the bridge does against Intercom, plus the sandbox's error answers."""
    now = int(time.time())
    sandbox.seed_contact(
        role="user", phone="+14155550123", name="Ada", email="ada@example.com", updated_at=now - 10
    )
    sandbox.seed_contact(role="lead", phone="+1 415-555-0123", updated_at=now - 100)
    for text in ("known number", "and again"):
        signed_twilio(bridge.url, settings, sender="+14155550123", recipient="+14155550100", text=text).send(
            http
        )
        drain()
    signed_twilio(
        bridge.url,
        settings,
        sender="+31612345678",
        recipient="+14155550100",
        text="hoi",
        whatsapp=True,
        profile_name="Sanne",
    ).send(http)
    signed_twilio(
        bridge.url,
        settings,
        sender="+14155550177",
        recipient="+14155550100",
        text="pics",
        media=("https://media.example.com/a.jpg", "https://media.example.com/b.png"),
    ).send(http)
    sandbox.fault(429, times=1)
    drain()
    # The sandbox's other answers: merge, 410, 409, 404, admins, /me.
    users = [c for c in sandbox.contacts() if c["role"] == "user"]
    leads = [c for c in sandbox.contacts() if c["role"] == "lead"]
    sandbox.api(
        "POST",
        "/contacts/merge",
        json={"from": leads[0]["id"], "into": users[0]["id"], "skip_duplicate_validation": True},
    )
    sandbox.api("GET", f"/contacts/{leads[0]['id']}")
    sandbox.api("POST", "/contacts", json={"role": "user", "email": "ada@example.com"})
    sandbox.api("GET", "/contacts/000000000000000000000000")
    sandbox.api("PUT", f"/contacts/{users[0]['id']}", json={"name": "Ada Lovelace"})
    sandbox.api("GET", f"/conversations/{sandbox.conversations()[0]['id']}")
    sandbox.api("GET", "/admins")
    sandbox.api("GET", "/me")
    # `bridge contacts sync` pages through GET /contacts (cursor in the query); `lookup` only reads.
    sandbox.api("GET", "/contacts", params={"starting_after": "not-a-cursor"})
    with IntercomClient.from_settings(settings) as intercom:
        redis_client = redis.Redis.from_url(settings.redis_url)
        try:
            sync_contacts(
                redis_client=redis_client,
                intercom=intercom,
                default_region=settings.default_region,
                per_page=2,
            )
            build_lookup("+14155550123", region="US", identities=IdentityMap(redis_client), intercom=intercom)
        finally:
            redis_client.close()


def test_every_exchange_conforms_to_intercoms_openapi(
    intercom_openapi, error_envelope, bridge, settings, sandbox, drain, http
):
    _workload(bridge, settings, sandbox, drain, http)
    exchanges = sandbox.requests()
    operations = {(e["method"], e["path"].split("/")[1], e["status"]) for e in exchanges}
    # The workload must really cover what the bridge does, and the error answers.
    for expected in [
        ("POST", "contacts", 200),
        ("POST", "conversations", 200),
        ("GET", "contacts", 410),
        ("POST", "contacts", 409),
        ("GET", "contacts", 404),
        ("GET", "me", 200),
    ]:
        assert expected in operations, expected
    assert any(e["status"] == 429 for e in exchanges)
    assert any(e["path"].endswith("/reply") for e in exchanges)
    assert any(
        (e["method"], e["path"], e["status"]) == ("GET", "/contacts", 200) and "starting_after" in e["query"]
        for e in exchanges
    )

    problems = []
    for exchange in exchanges:
        label = f"{exchange['method']} {exchange['path']} -> {exchange['status']}"
        try:
            intercom_openapi.validate_request(_request(exchange))
        except Exception as exc:  # noqa: BLE001 - collect every problem, then fail once
            problems.append(f"request {label}: {_reason(exc)}")
        if exchange["status"] == 429:
            continue  # the description documents no 429 body for these operations
        try:
            intercom_openapi.validate_response(_request(exchange), _response(exchange))
        except ResponseNotFound:
            errors = [error.message for error in error_envelope.iter_errors(exchange["response_body"])]
            if exchange["status"] < 400 or errors:
                problems.append(
                    f"response {label}: undocumented status with a body that is no error.list: {errors}"
                )
        except Exception as exc:  # noqa: BLE001
            problems.append(f"response {label}: {_reason(exc)}")
    assert problems == [], "\n".join(problems)


def test_the_bridge_always_sends_the_pinned_version_and_a_bearer_token(
    bridge, settings, sandbox, drain, http
):
    signed_twilio(bridge.url, settings, sender="+14155550123", recipient="+14155550100", text="hi").send(http)
    drain()
    exchanges = sandbox.requests()
    assert exchanges
    for exchange in exchanges:
        assert exchange["request_headers"]["intercom-version"] == "2.16"
        assert exchange["request_headers"]["authorization"].startswith("Bearer ")


def _reason(exc: Exception) -> str:
    """The schema errors behind a validation failure: where, and what is wrong (not the whole value)."""
    found = []
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        for error in getattr(current, "schema_errors", None) or []:
            for leaf in _leaves(error):
                where = "/".join(str(part) for part in leaf.absolute_path) or "(root)"
                found.append(f"{where}: {leaf.message[:200]}")
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return "; ".join(found) or f"{type(exc).__name__}: {str(exc)[:300]}"


def _leaves(error: Any) -> list[Any]:
    """The most specific errors (oneOf/anyOf failures nest the real reasons in `context`)."""
    if not getattr(error, "context", None):
        return [error]
    return [leaf for child in error.context for leaf in _leaves(child)]


def test_the_check_is_not_vacuous_a_wrong_request_and_answer_are_caught(intercom_openapi):
    wrong_request = {
        "method": "POST",
        "path": "/conversations",
        "request_headers": {"intercom-version": "2.16", "authorization": "Bearer t"},
        "request_body": {"body": "no sender"},
    }
    with pytest.raises(Exception) as caught:
        intercom_openapi.validate_request(_request(wrong_request))
    assert "from" in _reason(caught.value)
    wrong_answer = {
        **wrong_request,
        "request_body": {"from": {"type": "lead", "id": "a" * 24}, "body": "hi"},
        "status": 200,
        "response_headers": {},
        "response_body": {"type": "user_message", "id": "1"},
    }
    with pytest.raises(Exception) as caught:
        intercom_openapi.validate_response(_request(wrong_answer), _response(wrong_answer))
    assert "created_at" in _reason(caught.value) or "conversation_id" in _reason(caught.value)
