"""Intercom's search query language, evaluated over the sandbox's contacts and conversations.

The grammar (research/intercom-api.md §2.4, §3.4): a single filter `{field, operator, value}` or a
group `{operator: AND|OR, value: [...]}`, groups nested at most two deep, at most 15 filters in
one group. Strings support `= != IN NIN ~ !~ ^ $`, numbers the comparisons too. A field holding a
list (a conversation's `contact_ids`) matches when one of its items does. Invalid queries are
refused as Intercom refuses them, with a 400 and a reason. Conversations are searchable on the
fields the sandbox keeps (`CONVERSATION_FIELDS`); `source.body`, which Intercom matches word by
word, and the statistics are not.

Timestamps (`DATE_FIELDS`) are matched by calendar day in the workspace's timezone (the sandbox's
is UTC, as `/me` says), as the 2.16 description documents under "Searching for Timestamp Fields":
the value is truncated to its day, so `=` matches that whole day, `>` matches from the start of
the *next* day and `<` everything before the start of that day; `!=`, `>=`, `<=`, `IN` and `NIN`
are refused. So `updated_at > <an hour ago>` finds nothing updated today: a client that wants the
last minutes asks from two days back and compares the full `updated_at` it is answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_FILTERS_PER_GROUP = 15
MAX_NESTING = 2

SEARCHABLE_FIELDS = frozenset(
    {
        "id",
        "role",
        "name",
        "email",
        "email_domain",
        "phone",
        "formatted_phone",
        "external_id",
        "created_at",
        "updated_at",
        "signed_up_at",
        "last_seen_at",
        "owner_id",
    }
)
# The conversation fields (Intercom's table under `POST /conversations/search`) the sandbox fills.
CONVERSATION_FIELDS = frozenset(
    {
        "id",
        "created_at",
        "updated_at",
        "source.type",
        "source.id",
        "source.delivered_as",
        "source.author.id",
        "source.author.type",
        "source.author.name",
        "source.author.email",
        "contact_ids",
        "admin_assignee_id",
        "team_assignee_id",
        "open",
        "read",
        "state",
        "priority",
    }
)
# Timestamps, matched by calendar day (the module docstring). Intercom's own table lists more
# (`last_replied_at`, `waiting_since`, ...): these are the ones the sandbox fills.
DATE_FIELDS = frozenset({"created_at", "updated_at", "signed_up_at", "last_seen_at"})
DATE_OPERATORS = frozenset({"=", "<", ">"})
DAY_SECONDS = 86400
# A list field matches a negative operator only when none of its items match the positive one.
_NEGATIVE = frozenset({"!=", "NIN", "!~"})


class InvalidQuery(ValueError):
    """A query Intercom would refuse; the message is what the sandbox answers."""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, int | float) and not isinstance(left, bool):
        try:
            return float(left) == float(right)
        except (TypeError, ValueError):
            return False
    return _text(left) == _text(right)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidQuery(f"value {value!r} is not a number") from exc


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": _equal,
    "!=": lambda left, right: not _equal(left, right),
    "IN": lambda left, right: any(_equal(left, item) for item in right),
    "NIN": lambda left, right: not any(_equal(left, item) for item in right),
    "~": lambda left, right: _text(right).lower() in _text(left).lower(),
    "!~": lambda left, right: _text(right).lower() not in _text(left).lower(),
    "^": lambda left, right: _text(left).lower().startswith(_text(right).lower()),
    "$": lambda left, right: _text(left).lower().endswith(_text(right).lower()),
    "<": lambda left, right: left is not None and _number(left) < _number(right),
    "<=": lambda left, right: left is not None and _number(left) <= _number(right),
    ">": lambda left, right: left is not None and _number(left) > _number(right),
    ">=": lambda left, right: left is not None and _number(left) >= _number(right),
}


def compile_query(
    query: Any, *, fields: frozenset[str] = SEARCHABLE_FIELDS
) -> Callable[[dict[str, Any]], bool]:
    """A predicate over records (contacts' by default, or `CONVERSATION_FIELDS`); `InvalidQuery`
    for what Intercom would refuse."""
    return _compile(query, depth=0, fields=fields)


def _compile(node: Any, *, depth: int, fields: frozenset[str]) -> Callable[[dict[str, Any]], bool]:
    if not isinstance(node, dict):
        raise InvalidQuery("each query node must be an object")
    if "field" in node:
        return _filter(node, fields)
    operator = node.get("operator")
    if operator not in ("AND", "OR"):
        raise InvalidQuery(f"operator {operator!r} is not AND or OR for a group")
    if depth >= MAX_NESTING:
        raise InvalidQuery(f"there is a limit of max {MAX_NESTING} nested filters")
    children = node.get("value")
    if not isinstance(children, list) or not children:
        raise InvalidQuery("a group's value must be a non-empty list")
    if len(children) > MAX_FILTERS_PER_GROUP:
        raise InvalidQuery(f"max {MAX_FILTERS_PER_GROUP} filters for each AND or OR group")
    compiled = [_compile(child, depth=depth + 1, fields=fields) for child in children]
    if operator == "AND":
        return lambda record: all(predicate(record) for predicate in compiled)
    return lambda record: any(predicate(record) for predicate in compiled)


def _filter(node: dict[str, Any], fields: frozenset[str]) -> Callable[[dict[str, Any]], bool]:
    field, operator, value = node.get("field"), node.get("operator"), node.get("value")
    if not isinstance(field, str) or not (field in fields or field.startswith("custom_attributes.")):
        raise InvalidQuery(f"{field!r} is not a searchable field")
    test = OPERATORS.get(str(operator))
    if test is None:
        raise InvalidQuery(f"operator {operator!r} is not supported")
    if operator in ("IN", "NIN") and not isinstance(value, list):
        raise InvalidQuery(f"operator {operator} needs a list value")
    if field in DATE_FIELDS:
        if operator not in DATE_OPERATORS:
            raise InvalidQuery(f"operator {operator} is not supported on date field {field}")
        return _by_day(field, str(operator), _number(value))

    def predicate(record: dict[str, Any]) -> bool:
        held = _field_value(record, field)
        if isinstance(held, list):
            if operator in _NEGATIVE:
                return all(test(item, value) for item in held)
            return any(test(item, value) for item in held)
        return test(held, value)

    return predicate


def _by_day(field: str, operator: str, value: float) -> Callable[[dict[str, Any]], bool]:
    """A timestamp filter as Intercom applies it: `value` truncated to its day (UTC)."""
    day = value - value % DAY_SECONDS

    def predicate(record: dict[str, Any]) -> bool:
        held = record.get(field)
        if held is None:
            return False
        at = _number(held)
        if operator == ">":
            return at >= day + DAY_SECONDS
        if operator == "<":
            return at < day
        return day <= at < day + DAY_SECONDS

    return predicate


def _field_value(record: dict[str, Any], field: str) -> Any:
    if field.startswith("custom_attributes."):
        return (record.get("custom_attributes") or {}).get(field.split(".", 1)[1])
    return record.get(field)


def custom_fields(query: Any) -> list[str]:
    """The `custom_attributes.*` fields a query filters on (Intercom refuses undefined ones)."""
    if not isinstance(query, dict):
        return []
    field = query.get("field")
    if isinstance(field, str):
        return [field] if field.startswith("custom_attributes.") else []
    children = query.get("value")
    return [name for child in children for name in custom_fields(child)] if isinstance(children, list) else []
