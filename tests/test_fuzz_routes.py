"""Fuzzing every route from the app's own OpenAPI: whatever arrives, never a 5xx, and a 4xx says why.

Each operation's path and query parameters are drawn from its schema in
`create_app(settings).openapi()` (hypothesis-jsonschema), mixed with any text and with values
that exist (a failed job's id, a stored media token, a provider's name), so the fuzz reaches the
handlers rather than stopping at "not found". A JSON body with a schema (the ops API's replay) is
drawn from it; the routes that read their raw body get garbage (tests/fuzz_strategies.py) and
real-looking requests with random parts replaced: Intercom notifications, inbox app canvases.
Credentials are valid most of the time, so the garbage gets past the check: the ops API's bearer
token, Intercom's `X-Hub-Signature`, the inbox app's `X-Body-Signature`, each provider's own
signature (tests/test_fuzz_webhooks.py fuzzes the provider bodies themselves); otherwise wrong,
missing or garbage.

Requests go over HTTP to the bridge served by uvicorn, with real Redis and the Intercom sandbox.
Runs are derandomized (the same examples every run) and bounded by `max_examples`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from rq import Worker
from rq.serializers import JSONSerializer

from bridge.app import create_app
from bridge.conversations.media import media_store
from bridge.core.settings import Settings
from bridge.infra.queueing import QUEUES
from bridge.intercom.webhooks import REPLY_TOPICS, STATE_TOPICS
from bridge.providers.registry import ADAPTERS
from tests.fuzz_strategies import bodies, json_values, mutated, signed
from tests.helpers import signed_twilio

ADMIN_TOKEN = "test-admin-token"  # BRIDGE_ADMIN_TOKEN in tests/conftest.py
API_TOKEN = "test-api-token"  # BRIDGE_API_TOKEN there
CLIENT_SECRET = "test-intercom-client-secret"  # INTERCOM_CLIENT_SECRET there
BUSINESS, CUSTOMER = "+14155550100", "+14155550123"


class Access(StrEnum):
    """How a caller proves who it is, by the OpenAPI tag of the route."""

    OPEN = "open"
    ADMIN = "admin"  # Authorization: Bearer $BRIDGE_ADMIN_TOKEN
    INTERCOM = "intercom"  # X-Hub-Signature: sha1=HMAC-SHA1(client secret, body)
    INBOX_APP = "inbox app"  # X-Body-Signature: HMAC-SHA256(client secret, body)
    PROVIDER = "provider"  # each provider's own signature
    API = "api"  # Authorization: Bearer $BRIDGE_API_TOKEN


ACCESS_BY_TAG = {
    "health": Access.OPEN,
    "media": Access.OPEN,
    "ops": Access.ADMIN,
    "intercom": Access.INTERCOM,
    "inbox app": Access.INBOX_APP,
    "webhooks": Access.PROVIDER,
    "messages": Access.API,
}

# Every operation the bridge documents; test_every_documented_route_is_fuzzed keeps this list whole.
OPERATIONS = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/media/{token}"),
    ("GET", "/admin/merges"),
    ("GET", "/admin/consent/{number}"),
    ("POST", "/admin/consent"),
    ("POST", "/admin/contacts/forget"),
    ("GET", "/admin/jobs/failed"),
    ("GET", "/admin/jobs/{job_id}"),
    ("POST", "/admin/jobs/replay"),
    ("POST", "/admin/jobs/{job_id}/replay"),
    ("POST", "/intercom/webhooks"),
    ("HEAD", "/intercom/webhooks"),
    ("POST", "/intercom/inbox-app/initialize"),
    ("POST", "/intercom/inbox-app/submit"),
    ("GET", "/webhooks/{provider}"),
    ("POST", "/webhooks/{provider}"),
    ("HEAD", "/webhooks/{provider}"),
    ("GET", "/webhooks/{provider}/status"),
    ("POST", "/webhooks/{provider}/status"),
    ("HEAD", "/webhooks/{provider}/status"),
    ("POST", "/api/messages"),
    ("GET", "/api/messages/{message_id}"),
    ("GET", "/api/templates"),
]
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Conversation:
    """A conversation the bridge delivered (so it has a thread), its lead, and another contact."""

    id: str
    contact: dict[str, Any]
    other_contact_id: str


@dataclass(frozen=True)
class Known:
    """What exists in the bridge and the sandbox, for the fuzz to aim at."""

    path_values: Mapping[str, list[str]]  # path parameter name -> values that name something
    conversation: Conversation | None = None  # for Intercom's webhooks and the inbox app


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # with its query
    headers: dict[str, str]
    body: bytes


# --- fixtures ---


@pytest.fixture(autouse=True)
def _providers_at_standin(providers_at_standin) -> None:
    """Before the settings are read: a template list the message API asks for is the stand-in's,
    never a provider's on the internet."""


@pytest.fixture
def spec(settings: Settings) -> dict[str, Any]:
    return create_app(settings).openapi()


@pytest.fixture
def client(bridge: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge.url, timeout=30.0) as http:
        yield http


@pytest.fixture
def ready_worker(redis_client) -> None:
    """A worker that just heartbeated, so /readyz is ready: a 503 there would be a finding too."""
    Worker(list(QUEUES), connection=redis_client, serializer=JSONSerializer).register_birth()


@pytest.fixture
def media_token(settings) -> str:
    return media_store(settings.data_dir, settings.retention_days).put(b"\x89PNG", "image/png", "a.png")


@pytest.fixture
def failed_job_ids(bridge, settings, sandbox, drain, http) -> list[str]:
    """A message that failed for good while Intercom answered 500."""
    sandbox.fault(500, times=None)
    assert signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="x").send(http)
    drain()
    sandbox.clear_faults()
    jobs = http.get(f"{bridge.url}/admin/jobs/failed", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    ids = [job["id"] for job in jobs.json()["jobs"]]
    assert ids, "no failed job to aim at"
    return ids


@pytest.fixture
def conversation(bridge, settings, sandbox, drain, http) -> Conversation:
    assert signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="hi").send(http)
    drain()
    [delivered] = sandbox.conversations()
    contact_id = delivered["contacts"]["contacts"][0]["id"]
    other = sandbox.seed_contact(role="user", email="ada@example.com", name="Ada")
    return Conversation(
        id=str(delivered["id"]),
        contact=sandbox.api("GET", f"/contacts/{contact_id}").json(),
        other_contact_id=str(other["id"]),
    )


@pytest.fixture
def message_ids(bridge, http) -> list[str]:
    """A message the team wrote first, queued (no worker runs)."""
    answer = http.post(
        f"{bridge.url}/api/messages",
        json=MESSAGE_EXAMPLES[0],
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    assert answer.status_code == 202, answer.text
    return [str(answer.json()["id"])]


# Requests the message API accepts (SMS only: a WhatsApp template asks the provider's list).
MESSAGE_EXAMPLES = [
    {"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": "Your order shipped"},
    {
        "to": "(415) 555-0123",
        "channel": "sms",
        "provider": "vonage",
        "from": BUSINESS,
        "media_urls": ["https://example.com/a.jpg"],
        "idempotency_key": "k1",
    },
]


@st.composite
def message_requests(draw: st.DrawFn) -> tuple[bytes, str]:
    return json_body(draw(variants(draw(st.sampled_from(MESSAGE_EXAMPLES)))))


def known_for(access: Access, request: pytest.FixtureRequest) -> Known:
    """What a route's fuzz aims at; traffic (seconds of it) only for the routes that read it."""
    values = {"provider": sorted(ADAPTERS), "token": [request.getfixturevalue("media_token")]}
    if access is Access.ADMIN:
        values["job_id"] = request.getfixturevalue("failed_job_ids")
    if access is Access.API:
        values["message_id"] = request.getfixturevalue("message_ids")
    if access in (Access.INTERCOM, Access.INBOX_APP):
        return Known(values, request.getfixturevalue("conversation"))
    return Known(values)


# --- strategies from the OpenAPI ---


def as_text(value: Any) -> str:
    """A drawn JSON value as a query or path parameter carries it."""
    return value if isinstance(value, str) else json.dumps(value)


def parameter_values(schema: dict[str, Any], known: list[str]) -> st.SearchStrategy[str]:
    """Values that name something (half the time, when there are any), values valid for the
    schema, and any text."""
    valid = from_schema(schema).filter(lambda value: value is not None).map(as_text)
    anything = valid | st.text(max_size=20)
    return st.sampled_from(known) | anything if known else anything


def operation_of(spec: dict[str, Any], method: str, path: str) -> tuple[dict[str, Any], Access]:
    operation = spec["paths"][path][method.lower()]
    return operation, ACCESS_BY_TAG[operation["tags"][0]]


@st.composite
def urls(draw: st.DrawFn, path: str, operation: dict[str, Any], known: Known) -> tuple[str, dict[str, str]]:
    """`path` with its parameters filled in and a query of declared and undeclared parameters;
    the path parameters drawn."""
    query: list[tuple[str, str]] = []
    drawn: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        name, schema = parameter["name"], parameter.get("schema", {})
        value = draw(parameter_values(schema, known.path_values.get(name, [])))
        if parameter["in"] == "path":
            drawn[name] = value
            path = path.replace(f"{{{name}}}", quote(value, safe=""))
        elif parameter["in"] == "query" and draw(st.booleans()):
            query.append((name, value))
    query += draw(st.lists(st.tuples(st.text(max_size=10), st.text(max_size=20)), max_size=3))
    return (f"{path}?{urlencode(query)}" if query else path), drawn


def notification(conversation: Conversation, topic: str) -> dict[str, Any]:
    """An Intercom notification about the known conversation, as research/intercom-api.md §4.2."""
    part = {
        "type": "conversation_part",
        "id": "9001",
        "part_type": "comment",
        "body": "<p>Hello from support</p>",
        "created_at": 1_700_000_000,
        "author": {"type": "admin", "id": "991267101", "name": "Sandbox Admin"},
        "attachments": [
            {
                "type": "upload",
                "url": "https://example.invalid/a.png",
                "content_type": "image/png",
                "name": "a",
            }
        ],
    }
    item = {
        "type": "conversation",
        "id": conversation.id,
        "state": "open",
        "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [part]},
    }
    return {
        "type": "notification_event",
        "id": "notif_1",
        "topic": topic,
        "created_at": 1_700_000_000,
        "data": {"type": "notification_event_data", "item": item},
    }


def canvas_request(conversation: Conversation, component_id: str, target: str) -> dict[str, Any]:
    """An inbox app initialize or submit request, as tests/inbox/test_inbox_app.py sends them."""
    return {
        "workspace_id": "sandbox",
        "admin": {"type": "admin", "id": "991267101", "name": "Sandbox Admin", "email": "a@sandbox.test"},
        "context": {"conversation_id": conversation.id, "location": "conversation"},
        "conversation": {"type": "conversation", "id": conversation.id},
        "contact": conversation.contact,
        "component_id": component_id,
        "input_values": {"target": target},
        "current_canvas": {
            "content": {"components": []},
            "stored_data": {"from": conversation.contact["id"], "into": conversation.other_contact_id},
        },
    }


def json_body(value: Any) -> tuple[bytes, str]:
    return json.dumps(value).encode(), "application/json"


@st.composite
def variants(draw: st.DrawFn, example: Any) -> Any:
    """`example` as it is (so the request gets to the end of its route), or mutated."""
    return mutated(example, draw) if draw(st.integers(0, 2)) == 0 else example


@st.composite
def intercom_notifications(draw: st.DrawFn, conversation: Conversation) -> tuple[bytes, str]:
    topic = draw(st.sampled_from(sorted(REPLY_TOPICS | set(STATE_TOPICS)) + ["contact.created"]))
    return json_body(draw(variants(notification(conversation, topic))))


@st.composite
def canvas_requests(draw: st.DrawFn, conversation: Conversation) -> tuple[bytes, str]:
    component = draw(
        st.sampled_from(
            ["find", "confirm", "merge_anyway", "cancel", f"candidate:{conversation.other_contact_id}"]
            # The send panel's steps (`bridge.inbox.send_canvases`), here without what they expect
            # in stored_data: each must still answer a canvas.
            + ["send_open", "send_preview", "send_confirm", "send_edit", "send_refresh", "send_close"]
            + ["send_templates", "send_templates:10", "send_template:en_US:hello_world"]
        )
        | st.text(max_size=30)
    )
    target = draw(
        st.sampled_from([conversation.other_contact_id, "ada@example.com", ""]) | st.text(max_size=30)
    )
    return json_body(draw(variants(canvas_request(conversation, component, target))))


def replay_requests(known: Known) -> st.SearchStrategy[Any]:
    """Bodies for POST /admin/jobs/replay that name real failed jobs."""
    ids = known.path_values["job_id"]
    examples = [
        {"ids": ids},
        {"ids": ids, "dry_run": True},
        {"all": True, "dry_run": True},
        {"all": True, "provider": "twilio", "since": "1h", "dry_run": True},
        {"all": True},
    ]
    return st.sampled_from(examples).flatmap(variants)


# Real-looking JSON bodies for the operations whose schema alone rarely makes a useful request.
BODY_EXAMPLES = {("POST", "/admin/jobs/replay"): replay_requests}


def body_strategy(
    method: str, path: str, spec: dict[str, Any], known: Known
) -> st.SearchStrategy[tuple[bytes, str]]:
    """Bodies for one operation: from its JSON schema when it has one, else what its route reads."""
    operation, access = operation_of(spec, method, path)
    garbage = bodies()
    if method in ("GET", "HEAD"):
        return st.just((b"", "")) | garbage
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if schema is not None:
        examples = BODY_EXAMPLES[(method, path)](known) if (method, path) in BODY_EXAMPLES else st.nothing()
        valid = from_schema({**schema, "components": spec.get("components", {})})
        return st.one_of(examples, valid, json_values).map(json_body) | garbage
    if access is Access.INTERCOM and known.conversation is not None:
        return intercom_notifications(known.conversation) | garbage
    if access is Access.INBOX_APP and known.conversation is not None:
        return canvas_requests(known.conversation) | garbage
    if access is Access.API:
        return message_requests() | garbage
    return garbage


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@st.composite
def calls(
    draw: st.DrawFn,
    method: str,
    path: str,
    spec: dict[str, Any],
    known: Known,
    config: Settings,
    base_url: str,
) -> Call:
    operation, access = operation_of(spec, method, path)
    url, path_parameters = draw(urls(path, operation, known))
    body, content_type = draw(body_strategy(method, path, spec, known))
    headers = {"Content-Type": content_type} if content_type else {}
    credentials = draw(st.sampled_from(["valid", "valid", "valid", "wrong", "missing", "garbage"]))
    header = {
        Access.ADMIN: "Authorization",
        Access.API: "Authorization",
        Access.INTERCOM: "X-Hub-Signature",
        Access.INBOX_APP: "X-Body-Signature",
    }.get(access)
    if header is not None and credentials == "valid":
        headers[header] = {
            Access.ADMIN: f"Bearer {ADMIN_TOKEN}",
            Access.API: f"Bearer {API_TOKEN}",
            Access.INTERCOM: "sha1=" + hmac.new(CLIENT_SECRET.encode(), body, hashlib.sha1).hexdigest(),
            Access.INBOX_APP: hmac.new(CLIENT_SECRET.encode(), body, hashlib.sha256).hexdigest(),
        }[access]
    elif header is not None and credentials != "missing":
        wrong = {Access.ADMIN: "Bearer ", Access.API: "Bearer ", Access.INTERCOM: "sha1="}.get(access, "")
        # Stripped: HTTP clients refuse to send a value with surrounding whitespace.
        headers[header] = ((wrong if credentials == "wrong" else "") + draw(header_text)).strip()
    provider = path_parameters.get("provider", "")
    if access is Access.PROVIDER and provider in ADAPTERS and credentials == "valid":
        signed_url, body, signed_headers = signed(provider, base_url, url, body, content_type, config)
        url = signed_url.removeprefix(base_url)
        headers |= signed_headers
    return Call(method, url, headers, body)


def assert_answered(call: Call, response: httpx.Response) -> None:
    """Never a 5xx; a 4xx is JSON that says why (HEAD answers carry no body)."""
    context = (call.method, call.path, response.status_code, response.text[:300])
    assert response.status_code < 500, context
    if 400 <= response.status_code < 500 and call.method != "HEAD":
        assert response.headers.get("content-type", "").startswith("application/json"), context
        assert response.json().get("detail"), context


# --- tests ---


def test_every_documented_route_is_fuzzed(spec):
    """A new route fails here until it is in OPERATIONS, with a tag that says how to call it."""
    documented = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert documented == set(OPERATIONS)
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert operation["tags"][0] in ACCESS_BY_TAG, (method, path)


def test_operation_ids_are_unique(spec):
    """FastAPI gives every method of a multi-method route the same id (and warns, which fails
    the suite); OpenAPI requires unique ids, so the routes register one method each."""
    ids = [operation["operationId"] for item in spec["paths"].values() for operation in item.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_to_a_documented_route_gets_a_5xx(
    method, path, spec, client, settings, bridge, ready_worker, request
):
    known = known_for(operation_of(spec, method, path)[1], request)

    @FUZZ
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        call = data.draw(calls(method, path, spec, known, settings, bridge.url))
        response = client.request(call.method, call.path, headers=call.headers, content=call.body or None)
        assert_answered(call, response)

    fuzz()


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
    path=st.lists(
        st.sampled_from(["admin", "jobs", "failed", "replay", "media", "intercom", "inbox-app", "webhooks"])
        | st.text(max_size=12),
        max_size=4,
    ),
)
def test_no_method_or_path_gets_a_5xx(method, path, client, bridge):
    """Any method on any path: routes that do not exist, methods a route does not take."""
    call = Call(method, "/" + "/".join(quote(segment, safe="") for segment in path), {}, b"")
    # Absolute: httpx refuses a relative URL that starts with `//`, a path a server must still answer.
    assert_answered(call, client.request(call.method, f"{bridge.url}{call.path}"))
