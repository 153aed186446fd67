"""The sandbox's conversation attributes and tags, as Intercom 2.16 keeps and checks them.

Conversation attributes have their own API (`GET`/`POST /conversations/attributes`); a value set
on a conversation (`PUT /conversations/{id}` with `custom_attributes`) must name a defined, live
attribute and fit its type, else 400 as for contacts. Tags (`POST /tags` with a name) are found by
name regardless of case or created; a conversation is tagged with a tag's id by an admin
(`POST /conversations/{id}/tags`), and a tag that does not exist is 404.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from bridge.dev.sandbox.errors import ApiError

# 2.16 `create_conversation_attribute_request`'s data types.
DATA_TYPES = ("string", "integer", "list", "decimal", "boolean", "datetime", "relationship", "files")
# The JSON types a value of each simple data type takes.
_VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "decimal": (int, float),
    "boolean": (bool,),
    "datetime": (int, str),
    "list": (str,),
}


class Labels:
    """The workspace's conversation attributes (by name) and tags (by id)."""

    def __init__(self) -> None:
        self.attributes: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    # --- conversation attributes ---

    def attributes_json(self) -> dict[str, Any]:
        live = [attribute for attribute in self.attributes.values() if not attribute["archived"]]
        return {"type": "list", "data": live}

    def create_attribute(self, fields: dict[str, Any], *, admin_id: str) -> dict[str, Any]:
        name, data_type = fields.get("name"), fields.get("data_type")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "parameter_not_found", "name is a required parameter", field="name")
        if data_type not in DATA_TYPES:
            raise ApiError(
                422,
                "parameter_invalid",
                f"data_type '{data_type}' is not valid. Allowed types: {', '.join(DATA_TYPES)}",
            )
        if name in self.attributes and not self.attributes[name]["archived"]:
            raise ApiError(422, "parameter_invalid", f"An attribute named '{name}' already exists")
        now = int(time.time())
        attribute: dict[str, Any] = {
            "type": "conversation_attribute",
            "id": next(self._ids),
            "name": name,
            "description": str(fields.get("description") or ""),
            "data_type": data_type,
            "admin_id": admin_id,
            "archived": False,
            "required": bool(fields.get("required", False)),
            "visible_to_team_ids": [str(team) for team in fields.get("visible_to_team_ids") or []],
            "created_at": now,
            "updated_at": now,
        }
        if data_type == "string":
            attribute["multiline"] = bool(fields.get("multiline", False))
        self.attributes[name] = attribute
        return attribute

    def archive(self, attribute_id: str) -> dict[str, Any]:
        """`DELETE /conversations/attributes/{id}` archives: listed no more, its values refused."""
        for attribute in self.attributes.values():
            if str(attribute["id"]) == str(attribute_id):
                attribute["archived"] = True
                attribute["updated_at"] = int(time.time())
                return attribute
        raise ApiError(404, "conversation_attribute_not_found", "Conversation attribute not found")

    def check_values(self, values: Any) -> dict[str, Any]:
        """`custom_attributes` as a conversation may take them: each a live attribute's, of its type."""
        if not isinstance(values, dict):
            raise ApiError(400, "parameter_invalid", "custom_attributes must be an object")
        for name, value in values.items():
            attribute = self.attributes.get(name)
            if attribute is None or attribute["archived"]:
                raise ApiError(400, "parameter_invalid", f"Conversation attribute '{name}' does not exist")
            allowed = _VALUE_TYPES.get(attribute["data_type"])
            fits = value is None or (
                allowed is not None
                and isinstance(value, allowed)
                and (attribute["data_type"] == "boolean" or not isinstance(value, bool))
            )
            if not fits:
                raise ApiError(
                    400,
                    "parameter_invalid",
                    f"Conversation attribute '{name}' takes a {attribute['data_type']}, not {value!r}",
                )
        return dict(values)

    # --- tags ---

    def tag_named(self, fields: dict[str, Any]) -> dict[str, Any]:
        """`POST /tags` with a name: the tag by that name (any case), created when there is none."""
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "parameter_not_found", "name is a required parameter", field="name")
        if fields.get("users") is not None or fields.get("companies") is not None:
            raise ApiError(
                400, "parameter_invalid", "the sandbox tags conversations only, not users or companies"
            )
        for tag in self.tags.values():
            if tag["name"].casefold() == name.strip().casefold():
                return dict(tag)
        tag_id = str(200_000 + next(self._ids))
        self.tags[tag_id] = {"type": "tag", "id": tag_id, "name": name.strip()}
        return dict(self.tags[tag_id])

    def tag(self, tag_id: str) -> dict[str, Any]:
        tag = self.tags.get(str(tag_id))
        if tag is None:
            raise ApiError(404, "not_found", "Resource Not Found")
        return tag

    def delete_tag(self, tag_id: str) -> None:
        """`DELETE /tags/{id}`; the caller takes it off every conversation."""
        self.tag(tag_id)
        del self.tags[str(tag_id)]

    def tags_json(self) -> dict[str, Any]:
        return {"type": "list", "data": [dict(tag) for tag in self.tags.values()]}
