"""The sandbox's evaluation of Intercom's search query language."""

from __future__ import annotations

import pytest

from bridge.dev.sandbox.search import CONVERSATION_FIELDS, InvalidQuery, compile_query

ADA = {
    "id": "1",
    "role": "user",
    "phone": "+14155550123",
    "formatted_phone": "+14155550123",
    "email": "ada@example.com",
    "updated_at": 2 * 86400 + 200,  # two days after BOB's: timestamps are searched by day
    "custom_attributes": {"plan": "pro"},
}
BOB = {
    "id": "2",
    "role": "lead",
    "phone": "(415) 555-0199",
    "formatted_phone": None,
    "email": None,
    "updated_at": 100,
    "custom_attributes": {},
}


def matches(query) -> list[str]:
    predicate = compile_query(query)
    return [record["id"] for record in (ADA, BOB) if predicate(record)]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ({"field": "phone", "operator": "=", "value": "+14155550123"}, ["1"]),
        ({"field": "phone", "operator": "!=", "value": "+14155550123"}, ["2"]),
        ({"field": "phone", "operator": "IN", "value": ["(415) 555-0199", "x"]}, ["2"]),
        ({"field": "role", "operator": "NIN", "value": ["user"]}, ["2"]),
        ({"field": "email", "operator": "~", "value": "EXAMPLE"}, ["1"]),
        ({"field": "phone", "operator": "^", "value": "(415)"}, ["2"]),
        ({"field": "phone", "operator": "$", "value": "0199"}, ["2"]),
        ({"field": "updated_at", "operator": ">", "value": 150}, ["1"]),
        ({"field": "custom_attributes.plan", "operator": "=", "value": "pro"}, ["1"]),
        (
            {
                "operator": "OR",
                "value": [
                    {"field": "formatted_phone", "operator": "=", "value": "+14155550123"},
                    {"field": "phone", "operator": "IN", "value": ["(415) 555-0199"]},
                ],
            },
            ["1", "2"],
        ),
        (
            {
                "operator": "AND",
                "value": [
                    {"field": "role", "operator": "=", "value": "lead"},
                    {"field": "phone", "operator": "$", "value": "0199"},
                ],
            },
            ["2"],
        ),
    ],
)
def test_operators_and_groups(query, ids):
    assert matches(query) == ids


def test_two_levels_of_nesting_are_allowed_three_are_not():
    inner = {"field": "role", "operator": "=", "value": "user"}
    two = {"operator": "AND", "value": [{"operator": "OR", "value": [inner]}]}
    assert matches(two) == ["1"]
    three = {
        "operator": "AND",
        "value": [{"operator": "OR", "value": [{"operator": "OR", "value": [inner]}]}],
    }
    with pytest.raises(InvalidQuery, match="nested"):
        compile_query(three)


def test_a_group_holds_at_most_fifteen_filters():
    many = {"operator": "OR", "value": [{"field": "id", "operator": "=", "value": str(n)} for n in range(16)]}
    with pytest.raises(InvalidQuery, match="max 15"):
        compile_query(many)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"field": "password", "operator": "=", "value": "x"}, "not a searchable field"),
        ({"field": "phone", "operator": "LIKE", "value": "x"}, "not supported"),
        ({"field": "phone", "operator": "IN", "value": "x"}, "list value"),
        ({"operator": "XOR", "value": []}, "not AND or OR"),
        ("phone", "must be an object"),
    ],
)
def test_queries_intercom_would_refuse(query, reason):
    with pytest.raises(InvalidQuery, match=reason):
        compile_query(query)


def test_a_conversations_contact_ids_match_when_one_of_them_does():
    record = {"id": "7", "source.id": "403918346", "contact_ids": ["a" * 24, "b" * 24]}
    predicate = compile_query(
        {"field": "contact_ids", "operator": "=", "value": "b" * 24}, fields=CONVERSATION_FIELDS
    )
    assert predicate(record)
    absent = compile_query(
        {"field": "contact_ids", "operator": "!=", "value": "a" * 24}, fields=CONVERSATION_FIELDS
    )
    assert not absent(record)  # one of them is that contact
    by_message = compile_query(
        {"field": "source.id", "operator": "=", "value": "403918346"}, fields=CONVERSATION_FIELDS
    )
    assert by_message(record)


def test_conversation_fields_are_not_contact_fields():
    with pytest.raises(InvalidQuery, match="not a searchable field"):
        compile_query({"field": "source.id", "operator": "=", "value": "1"})
    with pytest.raises(InvalidQuery, match="not a searchable field"):
        compile_query({"field": "phone", "operator": "=", "value": "1"}, fields=CONVERSATION_FIELDS)


# Tuesday 2 January 2024, 00:00 UTC, the sandbox workspace's timezone; and 9:00 and 23:00 that day.
TUESDAY = 1704153600
NINE, ELEVEN_PM = TUESDAY + 9 * 3600, TUESDAY + 23 * 3600


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        # `>` starts at the next day, not at the instant given (the 2.16 description's example).
        (">", NINE, {"tuesday 23:00": False, "wednesday 00:00": True, "monday 23:00": False}),
        (">", TUESDAY - 86400, {"tuesday 23:00": True, "wednesday 00:00": True, "monday 23:00": False}),
        ("<", ELEVEN_PM, {"tuesday 23:00": False, "wednesday 00:00": False, "monday 23:00": True}),
        ("=", NINE, {"tuesday 23:00": True, "wednesday 00:00": False, "monday 23:00": False}),
    ],
)
def test_timestamps_are_matched_by_calendar_day(operator, value, expected):
    at = {"tuesday 23:00": ELEVEN_PM, "wednesday 00:00": TUESDAY + 86400, "monday 23:00": TUESDAY - 3600}
    predicate = compile_query(
        {"field": "updated_at", "operator": operator, "value": value}, fields=CONVERSATION_FIELDS
    )
    assert {name: predicate({"id": name, "updated_at": when}) for name, when in at.items()} == expected


@pytest.mark.parametrize("operator", [">=", "<=", "!=", "IN", "NIN"])
def test_operators_intercom_does_not_support_on_timestamps_are_refused(operator):
    value = [NINE] if operator in ("IN", "NIN") else NINE
    with pytest.raises(InvalidQuery, match="date field updated_at"):
        compile_query({"field": "updated_at", "operator": operator, "value": value})
