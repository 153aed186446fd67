"""Reading provider payloads: the parsing every adapter shares, in one home."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import ImmutableMultiDict

from bridge.errors import MalformedPayload

FormData = ImmutableMultiDict[str, str]


def parse_form(text: str) -> FormData:
    """An `application/x-www-form-urlencoded` body (or query string), repeated keys kept.

    Blank values are kept too: Twilio signs `ToCity=` like any other parameter. Parsing is
    lenient; a body that is not a form lacks the fields its format requires, and the adapter
    answers 400 naming the first missing one.
    """
    return ImmutableMultiDict(parse_qsl(text, keep_blank_values=True))


def decode_form_body(body: bytes) -> FormData:
    """`parse_form` for raw bytes, with a 400 reason for bytes that are not UTF-8."""
    try:
        return parse_form(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedPayload("the body is not UTF-8 text") from exc


def required(form: FormData, name: str) -> str:
    """A field the format requires, or a 400 that names it."""
    value = form.get(name, "").strip()
    if not value:
        raise MalformedPayload(f"{name} is missing")
    return value
