"""Reading a JSON payload, whoever sent it (a provider, Intercom, the inbox app): hostile bytes in,
a typed value or a `MalformedPayload` naming the field out, never another exception.

Times come as unix seconds or ISO 8601 depending on the sender; `timestamp` reads both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bridge.core.errors import MalformedPayload


def parse_json(body: bytes) -> Any:
    """A JSON body, or a 400 with the reason."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"the body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # json.loads on `[[[[…` nested past the interpreter's limit
        raise MalformedPayload("the body is nested too deeply to be read") from exc


def parse_json_object(body: bytes) -> dict[str, Any]:
    data = parse_json(body)
    if not isinstance(data, dict):
        raise MalformedPayload("the body must be a JSON object")
    return data


def timestamp(value: str | int | float | None, *, default: datetime) -> datetime:
    """A provider's time, as unix seconds or ISO 8601 (`2017-05-03T06:04:45Z`, `2013-11-21 15:27:30`
    read as UTC); `default` (the receive time) when absent or unreadable: a bad clock is no
    reason to lose a message."""
    if value is None or value == "":
        return default
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        pass
    text = str(value).strip().replace("Z", "+00:00")
    for candidate in (text, text.replace(" ", "T", 1)):
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return default


@dataclass(frozen=True)
class JsonNode:
    """A JSON object and where it sits in the payload, so every complaint names the field
    (`entry[0].changes[1].value.messages[2].id is missing`) and a value of the wrong JSON type
    becomes a 400, never an exception a fuzzer could turn into a 500."""

    data: dict[str, Any]
    path: str = ""

    @classmethod
    def parse(cls, body: bytes) -> JsonNode:
        return cls(parse_json_object(body))

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def text(self, key: str) -> str | None:
        """A string field, or None when absent. Numbers are read as text: providers document some
        ids as "number | string" and error codes are numbers."""
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise MalformedPayload(f"{self.at(key)} must be a string")

    def required(self, key: str) -> str:
        value = self.text(key)
        if value is None or not value.strip():
            raise MalformedPayload(f"{self.at(key)} is missing")
        return value

    def object(self, key: str) -> JsonNode | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise MalformedPayload(f"{self.at(key)} must be an object")
        return JsonNode(value, self.at(key))

    def required_object(self, key: str) -> JsonNode:
        node = self.object(key)
        if node is None:
            raise MalformedPayload(f"{self.at(key)} is missing")
        return node

    def objects(self, key: str, *, required: bool = False) -> list[JsonNode]:
        value = self.data.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            raise MalformedPayload(
                f"{self.at(key)} {'must be a list' if value is not None else 'is missing'}"
            )
        nodes = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise MalformedPayload(f"{self.at(key)}[{index}] must be an object")
            nodes.append(JsonNode(item, f"{self.at(key)}[{index}]"))
        return nodes

    def time(self, key: str, *, default: datetime) -> datetime:
        """Unix seconds or ISO 8601; the receive time when unreadable, of whatever type: a bad
        clock is no reason to refuse a message."""
        value = self.data.get(key)
        readable = isinstance(value, str | int | float) and not isinstance(value, bool)
        return timestamp(value if readable else None, default=default)

    def nested(self, *keys: str) -> str | None:
        """`nested("profile", "name")`: a string under optional objects."""
        node: JsonNode | None = self
        for key in keys[:-1]:
            node = node.object(key) if node else None
        return node.text(keys[-1]) if node else None
