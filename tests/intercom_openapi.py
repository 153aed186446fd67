"""Intercom's official OpenAPI description (2.16, ../shared/intercom-openapi), loaded once for every
test that checks a request or an answer against it, and the check itself: what the sandbox recorded
(`SandboxControl.requests()`), each request and answer against the operation it names.

The description has two known defects (../shared/intercom-openapi/SOURCE.md): contact ids typed
`format: uuid` (no real 24-hex id passes) and unix timestamps typed `integer` with `format:
date-time`. Those two formats are dropped before validating; nothing else is relaxed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

from tests.helpers import INTERCOM_OPENAPI, shared_file

HOST = "https://api.intercom.io"


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


@cache
def intercom_openapi() -> OpenAPI:
    """The description as a validator of requests and answers. The document itself fails
    openapi-spec-validator (SOURCE.md), so it is not checked as a spec first."""
    return OpenAPI.from_dict(intercom_description(), config=Config(spec_validator_cls=None))


def exchange_request(exchange: dict[str, Any]) -> MockRequest:
    """A request the sandbox recorded, as sent to Intercom."""
    body = exchange["request_body"]
    return MockRequest(
        HOST,
        exchange["method"],
        exchange["path"],
        headers=exchange["request_headers"],
        data=json.dumps(body).encode() if body is not None else None,
        content_type="application/json",
    )


def exchange_response(exchange: dict[str, Any]) -> MockResponse:
    """The sandbox's recorded answer to it."""
    return MockResponse(
        json.dumps(exchange["response_body"]).encode(),
        status_code=exchange["status"],
        headers=exchange["response_headers"],
        content_type="application/json",
    )


def conformance_problems(exchanges: Iterable[dict[str, Any]]) -> list[str]:
    """Every way the recorded requests and answers depart from the description, one line each.

    A 429 body is not checked (the description documents none for these operations); an answer
    with a status the operation does not list must still be an `error.list`."""
    openapi, error_envelope = intercom_openapi(), intercom_error_schema()
    problems = []
    for exchange in exchanges:
        label = f"{exchange['method']} {exchange['path']} -> {exchange['status']}"
        try:
            openapi.validate_request(exchange_request(exchange))
        except Exception as exc:  # noqa: BLE001 - collect every problem, then fail once
            problems.append(f"request {label}: {reason(exc)}")
        if exchange["status"] == 429:
            continue
        try:
            openapi.validate_response(exchange_request(exchange), exchange_response(exchange))
        except ResponseNotFound:
            errors = [error.message for error in error_envelope.iter_errors(exchange["response_body"])]
            if exchange["status"] < 400 or errors:
                problems.append(
                    f"response {label}: undocumented status with a body that is no error.list: {errors}"
                )
        except Exception as exc:  # noqa: BLE001
            problems.append(f"response {label}: {reason(exc)}")
    return problems


def reason(exc: Exception) -> str:
    """The schema errors behind a validation failure: where, and what is wrong (not the whole value)."""
    found = []
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        for error in getattr(current, "schema_errors", None) or []:
            for leaf in _leaves(error):
                where = "/".join(str(part) for part in leaf.absolute_path) or "(root)"
                found.append(f"{where}: {leaf.message[:200]}")
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return "; ".join(found) or f"{type(exc).__name__}: {str(exc)[:300]}"


def _leaves(error: Any) -> list[Any]:
    """The most specific errors (oneOf/anyOf failures nest the real reasons in `context`)."""
    if not getattr(error, "context", None):
        return [error]
    return [leaf for child in error.context for leaf in _leaves(child)]
