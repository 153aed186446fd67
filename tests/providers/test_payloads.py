"""The payload helpers every adapter shares: `FormData`, the bridge's own multi-dict, read exactly
as Starlette's `ImmutableMultiDict` (which the adapters were written against) is read, without the
web framework."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import ImmutableMultiDict

from bridge.providers.payloads import MAX_FORM_FIELDS, FormData, parse_form

# A few names, so that generated forms repeat them.
pairs = st.lists(st.tuples(st.sampled_from(["a", "b", "To", "token", ""]), st.text(max_size=3)), max_size=12)


def test_a_repeated_name_reads_as_its_last_value_and_lists_every_value_in_order():
    form = FormData([("To", "+1"), ("Body", "hi"), ("To", "+2"), ("To", "")])
    assert form["To"] == form.get("To") == ""
    assert form.getlist("To") == ["+1", "+2", ""]
    assert form.multi_items() == [("To", "+1"), ("Body", "hi"), ("To", "+2"), ("To", "")]


def test_names_come_once_each_in_the_order_they_first_appear():
    form = FormData([("b", "1"), ("a", "2"), ("b", "3")])
    assert list(form) == list(form.keys()) == ["b", "a"]
    assert list(form.items()) == [("b", "3"), ("a", "2")]
    assert len(form) == 2
    assert "a" in form and "c" not in form


def test_an_absent_name_has_no_value():
    form = FormData([("a", "1")])
    assert form.get("c") is None
    assert form.get("c", "") == ""
    assert form.getlist("c") == []
    with pytest.raises(KeyError):
        form["c"]
    assert not FormData() and len(FormData()) == 0


def test_what_a_caller_is_given_cannot_change_the_form():
    form = FormData([("a", "1"), ("a", "2")])
    form.getlist("a").append("3")
    form.multi_items().append(("b", "4"))
    assert form.getlist("a") == ["1", "2"]
    assert form.multi_items() == [("a", "1"), ("a", "2")]
    with pytest.raises(TypeError):
        form["a"] = "5"  # type: ignore[index]


def test_forms_are_equal_with_the_same_values_under_each_name_in_the_same_order():
    assert FormData([("a", "1"), ("b", "2"), ("a", "3")]) == FormData([("b", "2"), ("a", "1"), ("a", "3")])
    assert FormData([("a", "1"), ("a", "3")]) != FormData([("a", "3"), ("a", "1")])
    assert FormData([("a", "1"), ("a", "3")]) != FormData([("a", "3")])
    assert FormData([("a", "1")]) != {"a": "1"}


@given(pairs)
def test_a_form_reads_exactly_as_starlettes_multi_dict(items: list[tuple[str, str]]) -> None:
    ours, theirs = FormData(items), ImmutableMultiDict(items)
    assert ours.multi_items() == theirs.multi_items()
    assert list(ours) == list(theirs)
    assert list(ours.items()) == list(theirs.items())
    assert list(ours.values()) == list(theirs.values())
    assert len(ours) == len(theirs)
    for name in ["a", "b", "To", "token", "", "absent"]:
        assert ours.get(name) == theirs.get(name)
        assert ours.getlist(name) == theirs.getlist(name)
        assert (name in ours) == (name in theirs)


@given(pairs, pairs)
def test_forms_are_equal_when_starlette_finds_them_equal(
    left: list[tuple[str, str]], right: list[tuple[str, str]]
) -> None:
    assert (FormData(left) == FormData(right)) == (ImmutableMultiDict(left) == ImmutableMultiDict(right))


class CountedName(str):
    """A field name that counts how often it is compared: a lookup that scans every field
    compares the name it looks for with each of them."""

    comparisons = 0

    def __eq__(self, other: object) -> bool:
        CountedName.comparisons += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_looking_up_every_name_of_a_form_at_the_field_cap_reads_no_other_field():
    # Twilio's validator asks getlist once per name: a scan per lookup would be a million
    # comparisons for a hostile form of MAX_FORM_FIELDS fields.
    form = FormData([(CountedName(f"f{i}"), "") for i in range(MAX_FORM_FIELDS)])
    CountedName.comparisons = 0
    for name in (CountedName(f"f{i}") for i in range(MAX_FORM_FIELDS)):
        assert form.getlist(name) == [""]
        assert form[name] == ""
        assert name in form
    assert CountedName.comparisons <= 3 * MAX_FORM_FIELDS


def test_a_query_string_parses_to_a_form_with_blank_values_and_repeats_kept():
    form = parse_form("token=a&ToCity=&token=b")
    assert form.multi_items() == [("token", "a"), ("ToCity", ""), ("token", "b")]
    assert form.getlist("token") == ["a", "b"]


def test_the_provider_adapters_load_without_the_web_framework():
    # The adapters run in workers and the CLI too: only the web front end may load Starlette.
    probe = (
        "import sys, bridge.providers; print(sorted(m for m in ('starlette', 'fastapi') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
