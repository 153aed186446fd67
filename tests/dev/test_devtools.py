"""The dev tools (the Intercom sandbox, the providers' stand-ins) answer only this machine: requests
addressed to a loopback name, and on their control routes only JSON bodies, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bridge.dev.devtools import host_name
from bridge.dev.sandbox import Workspace, create_sandbox_app
from bridge.dev.standins import create_standin_app
from bridge.runtime.serving import BackgroundServer


@dataclass(frozen=True)
class Tool:
    """One dev tool on a real port, and a control route of it that changes its state."""

    url: str
    read: str  # a control route to GET
    write: str  # a control route to POST, with `payload`
    payload: str
    reset: str  # a control route to POST with no body

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@pytest.fixture(params=["sandbox", "standins"])
def tool(request: pytest.FixtureRequest) -> Tool:
    if request.param == "sandbox":
        sandbox = request.getfixturevalue("sandbox")
        fault = '{"status": 500, "times": null}'
        return Tool(sandbox.url, "/_sandbox/state", "/_sandbox/faults", fault, "/_sandbox/reset")
    standin = request.getfixturevalue("standin")
    fault = '{"statuses": [500]}'
    return Tool(standin.url, "/_standin/sends", "/_standin/faults/twilio", fault, "/_standin/reset")


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8001", "127.0.0.1"),
        ("LocalHost", "localhost"),
        ("[::1]:8001", "[::1]"),
        ("evil.example:8001", "evil.example"),
        ("127.0.0.1.evil.example", "127.0.0.1.evil.example"),
        ("localhost:80:81", None),
        ("localhost@evil.example", None),
        ("localhost.", "localhost."),
        ("", None),
    ],
)
def test_the_host_name_is_the_header_without_its_port(header: str, name: str | None) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize("path", ["/", "read", "write"])
def test_a_request_addressed_to_another_host_name_is_refused(tool: Tool, http, path):
    # What a DNS-rebinding page makes the browser send: the dev tool's address, the page's name.
    target = {"read": tool.read, "write": tool.write}.get(path, path)
    headers = {"Host": f"rebind.evil.example:{tool.port}", "Content-Type": "application/json"}
    response = http.request("GET" if path != "write" else "POST", f"{tool.url}{target}", headers=headers)
    assert response.status_code == 403
    assert "127.0.0.1, localhost or [::1]" in response.text
    assert "evil.example" not in response.text


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]", "LOCALHOST"])
def test_a_request_addressed_to_a_loopback_name_is_answered(tool: Tool, http, name):
    response = http.get(f"{tool.url}{tool.read}", headers={"Host": f"{name}:{tool.port}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_a_control_post_that_is_not_json_is_refused_and_changes_nothing(tool: Tool, http, content_type):
    # A page may send any of these cross-site with no preflight (no type at all: a bodiless fetch).
    headers = {"Content-Type": content_type} if content_type else {}
    response = http.post(f"{tool.url}{tool.write}", content=tool.payload, headers=headers)
    assert response.status_code == 415
    assert response.json()  # a JSON reason
    assert http.post(f"{tool.url}{tool.reset}", headers=headers).status_code == 415


def test_a_refused_post_injected_no_fault(sandbox, http):
    http.post(
        f"{sandbox.url}/_sandbox/faults", content='{"status": 500}', headers={"Content-Type": "text/plain"}
    )
    assert sandbox.api("GET", "/me").status_code == 200


def test_a_refused_post_injected_no_stand_in_fault(standin, http):
    http.post(f"{standin.url}/_standin/faults/twilio", content='{"statuses": [500]}')
    assert not standin.state.faults.get("twilio")  # type: ignore[attr-defined]


def test_a_json_control_post_is_taken(tool: Tool, http):
    response = http.post(
        f"{tool.url}{tool.write}",
        content=tool.payload,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text


def test_a_bodiless_delete_is_taken(sandbox, http):
    # Browsers preflight a cross-origin DELETE whatever its body, so `curl -X DELETE` needs no type.
    assert http.delete(f"{sandbox.url}/_sandbox/faults").status_code == 200


def test_the_intercom_api_is_not_a_control_route(sandbox):
    # The bridge's own calls are checked by the token, as Intercom checks them; only Host applies.
    response = sandbox.api("POST", "/contacts", json={"role": "lead", "phone": "+14155550123"})
    assert response.status_code == 200, response.text


@pytest.fixture(params=["sandbox", "standins"])
def tool_with_a_service_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A dev tool told to answer a container's service name too."""
    if request.param == "sandbox":
        app = create_sandbox_app(Workspace(), allowed_hosts=["Sandbox.internal"])
    else:
        app = create_standin_app(allowed_hosts=["sandbox.internal"])
    with BackgroundServer(app) as server:
        yield server.url


def test_a_host_name_given_explicitly_is_answered_too(tool_with_a_service_name: str, http):
    url = f"{tool_with_a_service_name}/"
    assert http.get(url, headers={"Host": "sandbox.internal:8001"}).status_code == 200
    assert http.get(url, headers={"Host": "localhost"}).status_code == 200
    assert http.get(url, headers={"Host": "other.internal:8001"}).status_code == 403
