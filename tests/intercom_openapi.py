"""Intercom's official OpenAPI description (2.16, ../shared/intercom-openapi), loaded once for every
test that checks a request or an answer against it.

The description has two known defects (../shared/intercom-openapi/SOURCE.md): contact ids typed
`format: uuid` (no real 24-hex id passes) and unix timestamps typed `integer` with `format:
date-time`. Those two formats are dropped before validating; nothing else is relaxed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator

from tests.helpers import INTERCOM_OPENAPI, shared_file


def _drop_defective_formats(node: Any) -> Any:
    if isinstance(node, dict):
        cleaned = {key: _drop_defective_formats(value) for key, value in node.items()}
        if cleaned.get("format") == "uuid" or (
            cleaned.get("type") == "integer" and cleaned.get("format") == "date-time"
        ):
            cleaned.pop("format")
        return cleaned
    if isinstance(node, list):
        return [_drop_defective_formats(item) for item in node]
    return node


@cache
def intercom_description() -> dict[str, Any]:
    """The whole description, defects dropped; parsed once a run (36,000 lines of YAML).
    Skips the test when the shared folder is absent. Callers must not change it."""
    path = shared_file(*INTERCOM_OPENAPI)
    return dict(_drop_defective_formats(yaml.load(path.read_text(), Loader=yaml.CSafeLoader)))


def intercom_error_schema() -> OAS30Validator:
    """Intercom's `error` schema (the `error.list` envelope every failed request answers with)."""
    return OAS30Validator(intercom_description()["components"]["schemas"]["error"])
