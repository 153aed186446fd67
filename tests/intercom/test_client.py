"""The Intercom client over a mock transport: headers, retries, and errors that keep their reason."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from bridge.core.errors import (
    IntercomConflict,
    IntercomGone,
    IntercomNotFound,
    IntercomOutcomeUnknown,
    IntercomRateLimited,
    IntercomRejected,
    IntercomUnavailable,
    PermanentError,
)
from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.intercom.client import API_VERSION, IntercomClient
from bridge.intercom.models import ContactRef


class Clock:
    """A fake clock that sleeping advances, so waits are asserted, not endured."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"type": "error.list", "errors": [{"code": code, "message": message}]}, headers=headers
    )


def client_for(
    handler: Callable[[httpx.Request], httpx.Response], clock: Clock | None = None
) -> IntercomClient:
    clock = clock or Clock()
    settings = Settings(
        _env_file=None, intercom_access_token="tok", intercom_api_url="https://api.intercom.test"
    )
    policy = RetryPolicy(sleep=clock.sleep, clock=clock.time)
    return IntercomClient.from_settings(settings, transport=httpx.MockTransport(handler), policy=policy)


def test_every_request_carries_the_token_and_the_pinned_version():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"type": "admin", "id": "1"})

    client_for(handler).me()
    assert seen[0].headers["Authorization"] == "Bearer tok"
    assert seen[0].headers["Intercom-Version"] == API_VERSION == "2.16"
    assert str(seen[0].url) == "https://api.intercom.test/me"


def test_a_cookie_an_answer_sets_is_never_sent_back():
    # Each call stands alone, authenticated by its headers (`bridge.core.cookies`).
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"type": "admin", "id": "1"}, headers={"Set-Cookie": "session=abc; Path=/"}
        )

    client = client_for(handler)
    client.me()
    client.me()
    assert [request.headers.get("Cookie") for request in seen] == [None, None]


def test_a_429_waits_until_the_rate_limit_window_resets():
    clock = Clock()
    answers = iter(
        [
            error(
                429,
                "rate_limit_exceeded",
                "Exceeded rate limit of 167 in 10_seconds",
                {"X-RateLimit-Reset": str(int(clock.now) + 7)},
            ),
            httpx.Response(200, json={"type": "admin"}),
        ]
    )
    client_for(lambda request: next(answers), clock).me()
    assert clock.slept == [7.0]


def test_429s_that_never_stop_become_retryable_rate_limited():
    clock = Clock()
    limited = error(429, "rate_limit_exceeded", "Exceeded", {"X-RateLimit-Reset": str(int(clock.now) + 1)})
    with pytest.raises(IntercomRateLimited, match="429"):
        client_for(lambda request: limited, clock).me()


def test_5xx_is_retried_with_backoff_then_given_up_as_unavailable():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error(503, "service_unavailable", "try later")

    clock = Clock()
    with pytest.raises(IntercomUnavailable, match="503 to GET /me after 4 attempts: service_unavailable"):
        client_for(handler, clock).me()
    assert len(calls) == 4
    assert len(clock.slept) == 3 and clock.slept == sorted(clock.slept)


def test_a_5xx_then_success_returns_the_success():
    answers = iter([error(500, "server_error", "boom"), httpx.Response(200, json={"id": "1"})])
    assert client_for(lambda request: next(answers)).me() == {"id": "1"}


def test_transport_errors_are_retried():
    answers = iter([httpx.ConnectError("refused"), httpx.Response(200, json={"id": "1"})])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert client_for(handler).me() == {"id": "1"}


def test_other_4xx_are_permanent_and_keep_intercoms_reason():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return error(401, "unauthorized", "Access Token Invalid")

    with pytest.raises(IntercomRejected, match="401 unauthorized to GET /me: Access Token Invalid") as caught:
        client_for(handler).me()
    assert caught.value.code == "unauthorized"
    assert len(calls) == 1


def test_a_409_names_the_existing_contact():
    conflict = error(
        409, "conflict", "A contact matching those details already exists with id=6762f0dd1bb69f9f2193bb83"
    )
    with pytest.raises(IntercomConflict) as caught:
        client_for(lambda request: conflict).create_contact({"role": "lead"})
    assert caught.value.existing_id == "6762f0dd1bb69f9f2193bb83"


def test_a_410_names_the_surviving_contact_from_the_link_header():
    link = {"Link": '</contacts/6762f0dd1bb69f9f2193bb84>; rel="canonical"'}
    merged = error(410, "contact_merged", "This contact has been merged.", link)
    with pytest.raises(IntercomGone) as caught:
        client_for(lambda request: merged).get_contact("old")
    assert caught.value.canonical_id == "6762f0dd1bb69f9f2193bb84"


def test_a_404_is_not_found():
    with pytest.raises(IntercomNotFound):
        client_for(lambda request: error(404, "not_found", "User Not Found")).get_contact("x")


def test_search_follows_the_cursor_in_the_body_across_pages():
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if "starting_after" not in body["pagination"]:
            return httpx.Response(
                200,
                json={
                    "type": "list",
                    "data": [{"id": "a", "role": "lead", "updated_at": 1}],
                    "pages": {"next": {"starting_after": "CURSOR"}},
                },
            )
        return httpx.Response(
            200, json={"type": "list", "data": [{"id": "b", "role": "user", "updated_at": 2}], "pages": {}}
        )

    contacts = client_for(handler).search_contacts({"field": "phone", "operator": "=", "value": "+1"})
    assert [c.id for c in contacts] == ["a", "b"]
    assert bodies[1]["pagination"]["starting_after"] == "CURSOR"
    assert bodies[0]["sort"] == {"field": "updated_at", "order": "descending"}


def test_a_conversation_is_opened_from_the_contact_and_its_id_read_from_the_message():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(
            200,
            json={
                "type": "user_message",
                "id": "9",
                "created_at": 1,
                "body": "hi",
                "message_type": "inapp",
                "conversation_id": "499",
            },
        )

    urls = [f"https://media.test/{n}" for n in range(2)]
    conversation_id = client_for(handler).create_conversation(
        contact=ContactRef("c1", "lead"), body="hi", attachment_urls=urls
    )
    assert conversation_id == "499"
    assert seen[0]["from"] == {"type": "lead", "id": "c1"}
    assert seen[0]["attachment_urls"] == urls


@pytest.mark.parametrize("identifier", ["../admins", "1 HTTP/1.1\r\nX: y", "a/b?c#d"])
def test_an_id_stays_one_path_segment_whatever_it_holds(identifier: str) -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return error(404, "not_found", "Contact Not Found")

    with pytest.raises(IntercomNotFound):
        client_for(handler).get_contact(identifier)
    [path] = seen
    assert path.startswith(b"/contacts/") and path.count(b"/") == 2
    assert b"?" not in path and b"#" not in path and b" " not in path and b"\r" not in path


def test_reply_as_admin_reads_the_newest_part_by_that_admin_whatever_came_after():
    def part(part_id: str, author_type: str, author_id: str) -> dict[str, object]:
        return {"type": "conversation_part", "id": part_id, "author": {"type": author_type, "id": author_id}}

    conversation = {
        "type": "conversation",
        "id": "7",
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": [part("1", "admin", "5"), part("2", "admin", "5"), part("3", "user", "c1")],
        },
    }
    answer = httpx.Response(200, json=conversation)
    assert client_for(lambda request: answer).reply_as_admin("7", admin_id="5", body="hi") == "2"
    with pytest.raises(PermanentError, match="no part by admin 6"):
        client_for(lambda request: answer).reply_as_admin("7", admin_id="6", body="hi")


def test_a_search_hit_for_another_message_is_not_taken_for_its_conversation():
    """Were Intercom to ignore the filter, the first conversation it lists is somebody else's."""
    hits = {"type": "conversation.list", "conversations": [{"id": "8", "source": {"id": "111"}}]}
    client = client_for(lambda request: httpx.Response(200, json=hits))
    assert client.conversation_for_message("222") is None
    assert client.conversation_for_message("111") == "8"


# --- a customer's reply is never repeated blindly ---


class Conversation:
    """Intercom's side of a conversation over the mock transport. Each reply posted meets the next
    of `outcomes` (then "ok"): "ok" applies it and answers, "500" and "timeout" apply it and lose
    the answer, "503" and "429" refuse it before applying anything. `GET` answers the conversation."""

    def __init__(self, *outcomes: str) -> None:
        self.parts: list[dict[str, object]] = []
        self.calls: list[str] = []
        self._outcomes = list(outcomes)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        if request.method == "GET":
            return httpx.Response(200, json=self.answer())
        outcome = self._outcomes.pop(0) if self._outcomes else "ok"
        if outcome == "429":
            return error(429, "rate_limit_exceeded", "", {"Retry-After": "1"})
        if outcome == "503":
            return error(503, "service_unavailable", "")
        sent = json.loads(request.content)
        self.parts.append(
            {
                "type": "conversation_part",
                "id": str(len(self.parts) + 1),
                "part_type": "comment",
                "body": f"<p>{sent['body']}</p>",
                "created_at": sent["created_at"],
                "author": {"type": "lead", "id": sent["intercom_user_id"]},
            }
        )
        if outcome == "timeout":
            raise httpx.ReadTimeout("the answer never came", request=request)
        if outcome == "500":
            return error(500, "server_error", "")
        return httpx.Response(200, json=self.answer())

    def answer(self) -> dict[str, object]:
        return {
            "type": "conversation",
            "id": "7",
            "conversation_parts": {"type": "conversation_part.list", "conversation_parts": self.parts},
        }


POST, GET = "POST /conversations/7/reply", "GET /conversations/7"


def reply(intercom: IntercomClient) -> dict[str, object]:
    return intercom.reply_as_contact(
        "7", contact_id="c1", body="hi", attachment_urls=(), created_at=1_700_000_000
    )


@pytest.mark.parametrize("lost", ["timeout", "500"])
def test_a_reply_intercom_applied_but_whose_answer_was_lost_is_found_not_posted_again(lost):
    intercom = Conversation(lost)
    answer = reply(client_for(intercom.handle))
    assert intercom.calls == [POST, GET]
    assert len(intercom.parts) == 1
    assert answer == intercom.answer()


def test_a_reply_refused_with_a_5xx_before_it_was_applied_is_looked_for_then_posted_again():
    clock = Clock()
    intercom = Conversation("503")
    reply(client_for(intercom.handle, clock))
    assert intercom.calls == [POST, GET, POST]
    assert len(intercom.parts) == 1
    assert len(clock.slept) == 1  # backed off before posting again


def test_a_reply_never_answered_gives_up_as_outcome_unknown_after_looking_each_time():
    attempts = RetryPolicy().max_attempts
    intercom = Conversation(*["503"] * attempts)
    with pytest.raises(IntercomOutcomeUnknown, match="503"):
        reply(client_for(intercom.handle))
    assert intercom.calls == [POST, GET] * attempts
    assert intercom.parts == []


def test_a_reply_refused_with_429_is_waited_out_and_posted_without_looking():
    intercom = Conversation("429")
    reply(client_for(intercom.handle))
    assert intercom.calls == [POST, POST]
    assert len(intercom.parts) == 1
