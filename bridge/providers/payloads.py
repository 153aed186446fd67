"""Reading provider payloads: the parsing every adapter shares, in one home.

Providers send the same kind of data in different envelopes: a form body, a query string (GET
callbacks), multipart (TextMagic's default), JSON. `request_fields` reads any of them into one
`FormData`, so an adapter describes its fields once, whatever the envelope.
"""

from __future__ import annotations

import json
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParser, parse_options_header

from bridge.core.errors import MalformedPayload
from bridge.core.json_payloads import parse_json_object

if TYPE_CHECKING:
    from bridge.model.messages import DeliveryState
    from bridge.providers.base import WebhookRequest

# Twilio's richest webhook (WhatsApp with 10 media) has under 80 fields.
MAX_FORM_FIELDS = 1000


class FormData(Mapping[str, str]):
    """A request's fields: ordered pairs, a name may repeat. Immutable.

    It reads exactly like Starlette's `ImmutableMultiDict`, which the adapters were written
    against and which it replaces so that they do not load the web framework: `form[name]` and
    `get` give a repeated name's *last* value, `getlist` every value in order, `multi_items` the
    pairs as sent (what a signature covers); names iterate in the order they first appear. Unlike
    Starlette's, `getlist` is one dict access, not a scan of every field: Twilio's validator calls
    it once per name, and a hostile form of `MAX_FORM_FIELDS` fields must not cost their square.
    """

    __slots__ = ("_last", "_lists", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs = list(pairs)
        self._lists: dict[str, list[str]] = {}
        for name, value in self._pairs:
            self._lists.setdefault(name, []).append(value)
        self._last = {name: values[-1] for name, values in self._lists.items()}

    def getlist(self, name: str) -> list[str]:
        """Every value of `name`, in order; empty when it is absent."""
        return list(self._lists.get(name, ()))

    def multi_items(self) -> list[tuple[str, str]]:
        """Every pair, repeats included, in the order they came."""
        return list(self._pairs)

    def __getitem__(self, name: str) -> str:
        return self._last[name]

    def __contains__(self, name: object) -> bool:
        return name in self._last

    def __iter__(self) -> Iterator[str]:
        return iter(self._last)

    def __len__(self) -> int:
        return len(self._last)

    def keys(self) -> KeysView[str]:
        return self._last.keys()

    def values(self) -> ValuesView[str]:
        return self._last.values()

    def items(self) -> ItemsView[str, str]:
        return self._last.items()

    def __eq__(self, other: object) -> bool:
        # Starlette's equality: the same values under each name in the same order, whatever the
        # order of the names. Mapping's would ignore repeats.
        if not isinstance(other, FormData):
            return NotImplemented
        return self._lists == other._lists

    def __repr__(self) -> str:
        return f"FormData({self._pairs!r})"


def parse_form(text: str) -> FormData:
    """An `application/x-www-form-urlencoded` body (or query string), repeated keys kept.

    Blank values are kept too: Twilio signs `ToCity=` like any other parameter. Parsing is
    lenient; a body that is not a form lacks the fields its format requires, and the adapter
    answers 400 naming the first missing one.
    """
    return FormData(form_pairs(text))


def form_pairs(text: str) -> list[tuple[str, str]]:
    """`parse_form`'s fields in order, as pairs (what a signature check needs).

    At most `MAX_FORM_FIELDS` fields: no provider sends a hundred, and a body of tens of thousands
    of empty fields (well under the body limit) is refused before anything else looks at it.
    """
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError as exc:  # parse_qsl's "Max number of fields exceeded"
        raise MalformedPayload(f"the form has more than {MAX_FORM_FIELDS} fields") from exc


def decode_form_body(body: bytes) -> FormData:
    """`parse_form` for raw bytes, with a 400 reason for bytes that are not UTF-8."""
    return FormData(decode_form_pairs(body))


def decode_form_pairs(body: bytes) -> list[tuple[str, str]]:
    """`form_pairs` for raw bytes, with a 400 reason for bytes that are not UTF-8."""
    try:
        return form_pairs(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedPayload("the body is not UTF-8 text") from exc


def parse_multipart(body: bytes, content_type_header: str) -> FormData:
    """The text fields of a `multipart/form-data` body (files are not expected from providers)."""
    _, options = parse_options_header(content_type_header)
    boundary = options.get(b"boundary")
    if not boundary:
        raise MalformedPayload("the multipart body has no boundary")
    fields: list[tuple[str, str]] = []
    name: list[str] = []
    value = bytearray()
    header_field = bytearray()
    header_value = bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        if header_field.lower() == b"content-disposition":
            _, disposition = parse_options_header(bytes(header_value))
            name.append(disposition.get(b"name", b"").decode("utf-8", "replace"))
        header_field.clear()
        header_value.clear()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        value.extend(data[start:end])

    def on_part_end() -> None:
        if name:
            fields.append((name.pop(), value.decode("utf-8", "replace")))
        value.clear()

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart raises its own hierarchy for every kind of bad input
        raise MalformedPayload(f"the multipart body cannot be read: {exc}") from exc
    return FormData(fields)


def request_fields(request: WebhookRequest) -> FormData:
    """The request's parameters, whatever the envelope: query string first, then the body's fields
    (form, multipart, or a flat JSON object whose values are read as text)."""
    fields = list(parse_form(request.query).multi_items())
    if request.body:
        content_type = request.content_type
        if content_type == "application/json" or (not content_type and request.body.lstrip()[:1] == b"{"):
            fields += [(key, _text(value)) for key, value in parse_json_object(request.body).items()]
        elif content_type == "multipart/form-data":
            fields += parse_multipart(request.body, request.headers.get("content-type", "")).multi_items()
        else:
            fields += decode_form_body(request.body).multi_items()
    return FormData(fields)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def required(form: FormData, name: str) -> str:
    """A field the format requires, or a 400 that names it."""
    value = form.get(name, "").strip()
    if not value:
        raise MalformedPayload(f"{name} is missing")
    return value


def first(form: FormData, *names: str) -> str | None:
    """The first of `names` present with a value (providers rename fields across API versions)."""
    for name in names:
        value = form.get(name, "").strip()
        if value:
            return value
    return None


def state_of(
    reported: str, table: Mapping[str, DeliveryState | None], *, provider: str, field: str = "status"
) -> DeliveryState | None:
    """A provider's status word through its table: the bridge's state, None for one not worth
    reporting (queued, buffered…), and a 400 naming the word for one the provider never documented
    (it would otherwise be silently misread)."""
    key = reported.strip().lower()
    if key not in table:
        raise MalformedPayload(f"{field} {reported!r} is not one {provider} documents")
    return table[key]
