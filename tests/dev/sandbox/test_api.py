"""The sandbox answers as Intercom does: auth, errors, search lag, pagination, merge, faults."""

from __future__ import annotations

import time


def test_requests_without_a_valid_token_get_401_and_no_rate_limit_headers(sandbox, http):
    response = http.get(f"{sandbox.url}/me")
    assert response.status_code == 401
    assert response.json()["errors"][0] == {"code": "unauthorized", "message": "Access Token Invalid"}
    assert "x-ratelimit-limit" not in response.headers
    wrong = http.get(f"{sandbox.url}/me", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_authenticated_answers_carry_rate_limit_headers(sandbox):
    response = sandbox.api("GET", "/me")
    assert response.status_code == 200
    assert int(response.headers["x-ratelimit-limit"]) == 1666
    assert int(response.headers["x-ratelimit-reset"]) > time.time()


def test_search_does_not_see_a_contact_created_within_the_lag(sandbox):
    sandbox.configure(search_lag=60)
    created = sandbox.api("POST", "/contacts", json={"role": "lead", "phone": "+14155550123"}).json()
    query = {"query": {"field": "phone", "operator": "=", "value": "+14155550123"}}
    assert sandbox.api("POST", "/contacts/search", json=query).json()["data"] == []
    assert sandbox.api("GET", f"/contacts/{created['id']}").status_code == 200  # reads are not delayed
    sandbox.configure(search_lag=0)
    sandbox.api("POST", "/contacts", json={"role": "lead", "phone": "+14155550123"})
    assert len(sandbox.api("POST", "/contacts/search", json=query).json()["data"]) == 1


def test_formatted_phone_is_searchable_only_for_numbers_stored_with_a_country_code(sandbox):
    sandbox.seed_contact(role="user", phone="+1 (415) 555-0123")
    sandbox.seed_contact(role="user", phone="(415) 555-0123")
    query = {"query": {"field": "formatted_phone", "operator": "=", "value": "+14155550123"}}
    [found] = sandbox.api("POST", "/contacts/search", json=query).json()["data"]
    assert found["phone"] == "+1 (415) 555-0123"


def test_search_pages_with_a_cursor_in_the_body(sandbox):
    for n in range(5):
        sandbox.seed_contact(role="lead", phone="+14155550123", updated_at=1000 + n)
    body = {
        "query": {"field": "phone", "operator": "=", "value": "+14155550123"},
        "pagination": {"per_page": 2},
        "sort": {"field": "updated_at", "order": "descending"},
    }
    seen = []
    while True:
        page = sandbox.api("POST", "/contacts/search", json=body).json()
        seen += [c["updated_at"] for c in page["data"]]
        cursor = page["pages"].get("next", {}).get("starting_after")
        if not cursor:
            break
        body["pagination"] = {"per_page": 2, "starting_after": cursor}
    assert seen == [1004, 1003, 1002, 1001, 1000]


def test_an_invalid_sort_order_is_refused_as_intercom_does(sandbox):
    body = {
        "query": {"field": "role", "operator": "=", "value": "lead"},
        "sort": {"field": "updated_at", "order": "desc"},
    }
    response = sandbox.api("POST", "/contacts/search", json=body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_sort_order"


def test_a_taken_email_answers_409_naming_the_contact(sandbox):
    first = sandbox.api("POST", "/contacts", json={"role": "user", "email": "ada@example.com"}).json()
    response = sandbox.api("POST", "/contacts", json={"role": "user", "email": "ada@example.com"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["message"].endswith(f"id={first['id']}")


def test_merge_moves_a_leads_conversations_and_leaves_a_410_with_a_link(sandbox):
    user = sandbox.seed_contact(role="user", phone="+14155550123", email="ada@example.com")
    lead = sandbox.seed_contact(role="lead", phone="+14155550123")
    conversation = sandbox.api(
        "POST", "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "hi"}
    ).json()
    merged = sandbox.api("POST", "/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert merged.status_code == 200 and merged.json()["id"] == user["id"]
    gone = sandbox.api("GET", f"/contacts/{lead['id']}")
    assert gone.status_code == 410
    assert gone.headers["link"] == f'</contacts/{user["id"]}>; rel="canonical"'
    moved = sandbox.api("GET", f"/conversations/{conversation['conversation_id']}").json()
    assert moved["contacts"]["contacts"][0]["id"] == user["id"]
    search = {"query": {"field": "phone", "operator": "=", "value": "+14155550123"}}
    assert [c["id"] for c in sandbox.api("POST", "/contacts/search", json=search).json()["data"]] == [
        user["id"]
    ]


def test_merge_rules_lead_into_user_only_and_duplicates_only_unless_skipped(sandbox):
    user_a = sandbox.seed_contact(role="user", email="a@example.com")
    user_b = sandbox.seed_contact(role="user", email="b@example.com")
    lead = sandbox.seed_contact(role="lead", phone="+14155550123")

    def merge(source, target, **extra):
        return sandbox.api(
            "POST", "/contacts/merge", json={"from": source["id"], "into": target["id"], **extra}
        )

    assert (
        merge(user_a, user_b).json()["errors"][0]["message"]
        == "Merging can only be performed on a lead into a user"
    )
    assert merge(lead, lead).status_code == 400
    no_shared = merge(lead, user_a)
    assert (
        no_shared.status_code == 400
        and "skip_duplicate_validation" in no_shared.json()["errors"][0]["message"]
    )
    assert merge(lead, user_a, skip_duplicate_validation=True).status_code == 200


def test_a_customer_reply_reopens_and_appends(sandbox):
    lead = sandbox.seed_contact(role="lead", phone="+14155550123")
    created = sandbox.api(
        "POST", "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "one"}
    )
    assert created.json()["message_type"] == "inapp"
    conversation_id = created.json()["conversation_id"]
    reply = sandbox.api(
        "POST",
        f"/conversations/{conversation_id}/reply",
        json={"message_type": "comment", "type": "user", "intercom_user_id": lead["id"], "body": "two"},
    )
    parts = reply.json()["conversation_parts"]["conversation_parts"]
    assert [p["body"] for p in parts] == ["two"]
    assert reply.json()["state"] == "open"


def test_a_reply_from_a_contact_outside_the_conversation_is_not_found(sandbox):
    lead = sandbox.seed_contact(role="lead", phone="+14155550123")
    other = sandbox.seed_contact(role="lead", phone="+14155550199")
    conversation_id = sandbox.api(
        "POST", "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "one"}
    ).json()["conversation_id"]
    reply = sandbox.api(
        "POST",
        f"/conversations/{conversation_id}/reply",
        json={"message_type": "comment", "type": "user", "intercom_user_id": other["id"], "body": "two"},
    )
    assert reply.status_code == 404


def test_faults_answer_in_intercoms_format_then_clear(sandbox):
    sandbox.fault(429, times=1, reset_in=3)
    limited = sandbox.api("GET", "/me")
    assert limited.status_code == 429
    assert limited.json()["errors"][0]["code"] == "rate_limit_exceeded"
    assert int(limited.headers["x-ratelimit-reset"]) >= time.time() + 2
    assert sandbox.api("GET", "/me").status_code == 200
    sandbox.fault(500, times=None, path_prefix="/contacts")
    assert sandbox.api("GET", "/contacts/x").status_code == 500
    assert sandbox.api("GET", "/me").status_code == 200
    sandbox.clear_faults()
    assert sandbox.api("GET", "/contacts/x").status_code == 404


def test_a_fault_after_applies_the_call_and_answers_the_failure_instead(sandbox):
    sandbox.fault(500, path_prefix="/contacts", after=True)
    failed = sandbox.api("POST", "/contacts", json={"role": "lead", "phone": "+14155550123"})
    assert failed.status_code == 500
    assert failed.json()["errors"][0]["code"] == "server_error"
    [created] = sandbox.contacts()  # applied all the same
    assert created["phone"] == "+14155550123"
    assert sandbox.api("GET", f"/contacts/{created['id']}").status_code == 200  # once only


def test_the_rate_limit_window_is_enforced_when_set(sandbox):
    sandbox.configure(rate_limit=3)
    # 8 calls over at most two 10-second windows: whatever the split, one window sees a 4th call.
    statuses = [sandbox.api("GET", "/me").status_code for _ in range(8)]
    assert statuses.count(429) >= 1 and statuses[:2] == [200, 200]


def test_added_latency_delays_answers(sandbox):
    sandbox.configure(latency=0.3)
    started = time.monotonic()
    sandbox.api("GET", "/me")
    assert time.monotonic() - started >= 0.3


def test_the_dashboard_shows_conversations_to_a_person(sandbox, http):
    lead = sandbox.seed_contact(role="lead", phone="+14155550123", name="Ada")
    sandbox.api(
        "POST", "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "<hello>"}
    )
    page = http.get(f"{sandbox.url}/").text
    assert "Conversations (1)" in page and "&lt;hello&gt;" in page and "Ada" in page


def test_held_webhooks_are_kept_then_sent_late_as_they_were_made(sandbox, bridge, request):
    sandbox.configure(
        webhook_url=f"{bridge.url}/intercom/webhooks", client_secret="test-intercom-client-secret"
    )
    request.addfinalizer(lambda: sandbox.configure(webhook_url="", client_secret=""))  # not reset
    sandbox.configure(hold_webhooks=True)
    lead = sandbox.seed_contact(role="lead", phone="+14155550123")
    opened = sandbox.api(
        "POST", "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "Hi"}
    )
    assert sandbox.agent_reply(opened.json()["conversation_id"], "Late, but here").status_code == 200
    assert sandbox.deliveries() == []
    assert sandbox.release_webhooks() == 1
    [delivery] = sandbox.deliveries()
    assert (delivery["topic"], delivery["status"]) == ("conversation.admin.replied", 200)
    assert sandbox.release_webhooks() == 0
