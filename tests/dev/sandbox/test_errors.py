"""Every error the sandbox gives is Intercom's `error.list`, whatever refused the request: an unknown
route, a method the route lacks, a malformed parameter, an unexpected failure. Intercom's clients
read nothing else (FastAPI's `{"detail": ...}` is no error to them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bridge.dev.sandbox import Workspace, create_sandbox_app
from bridge.runtime.serving import BackgroundServer
from tests.helpers import SandboxControl
from tests.intercom_openapi import intercom_error_schema


def intercom_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The first error of `response`, once it is checked to be Intercom's error answer: the status,
    JSON, a body valid against the description's `error` schema, a request id, then `code`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert [error.message for error in intercom_error_schema().iter_errors(body)] == []
    assert body["type"] == "error.list"
    uuid.UUID(body["request_id"])
    assert body["errors"][0]["code"] == code
    return dict(body["errors"][0])


@pytest.fixture(scope="module")
def extended_sandbox() -> Iterator[SandboxControl]:
    """A sandbox with two routes it does not have: one declaring a typed query parameter (no sandbox
    route declares one, so FastAPI's own validation cannot be reached through them) and one that
    fails. Any token is accepted (a workspace without one)."""
    app = create_sandbox_app(Workspace())

    @app.get("/typed")
    async def typed(per_page: int) -> dict[str, int]:
        return {"per_page": per_page}

    @app.get("/broken")
    async def broken() -> dict[str, str]:
        raise RuntimeError("an unexpected failure")

    with BackgroundServer(app) as server:
        control = SandboxControl(server.url)
        try:
            yield control
        finally:
            control.close()


def test_an_unknown_route_answers_404_not_found(sandbox):
    error = intercom_error(sandbox.api("GET", "/tickets/123"), 404, "not_found")
    assert error["message"] == "Resource Not Found"


def test_an_unknown_control_route_answers_404_not_found_too(sandbox, http):
    intercom_error(http.get(f"{sandbox.url}/_sandbox/nowhere"), 404, "not_found")


def test_a_method_the_route_lacks_answers_404_as_intercom_documents(sandbox):
    # Intercom's HTTP responses page: "A request using an HTTP method that the endpoint does not
    # support also returns 404"; its 405 means an action not allowed for this type of admin.
    intercom_error(sandbox.api("PATCH", "/contacts/6762f0dd1bb69f9f2193bb83"), 404, "not_found")


def test_a_query_parameter_of_the_wrong_type_answers_400_parameter_invalid(extended_sandbox):
    error = intercom_error(
        extended_sandbox.api("GET", "/typed", params={"per_page": "many"}), 400, "parameter_invalid"
    )
    assert error["field"] == "per_page"
    assert "many" not in error["message"]  # the value sent is never echoed (it could be a phone number)


def test_a_missing_required_parameter_answers_400_parameter_not_found(extended_sandbox):
    error = intercom_error(extended_sandbox.api("GET", "/typed"), 400, "parameter_not_found")
    assert error == {
        "code": "parameter_not_found",
        "message": "per_page is a required parameter",
        "field": "per_page",
    }


def test_an_unexpected_failure_answers_500_server_error(extended_sandbox):
    error = intercom_error(extended_sandbox.api("GET", "/broken"), 500, "server_error")
    assert "RuntimeError" in error["message"]


def test_a_request_to_another_host_name_answers_403_forbidden(sandbox, http):
    # bridge.dev.devtools: the sandbox answers only this machine (DNS rebinding), in Intercom's shape.
    response = http.get(f"{sandbox.url}/_sandbox/state", headers={"Host": "rebind.evil.example"})
    intercom_error(response, 403, "forbidden")


def test_a_control_post_that_is_not_json_answers_415_unsupported(sandbox, http):
    response = http.post(
        f"{sandbox.url}/_sandbox/reset", content="{}", headers={"Content-Type": "text/plain"}
    )
    error = intercom_error(response, 415, "unsupported")
    assert "application/json" in error["message"]
