"""Canvas Kit builders: every component is one Intercom's inbox renders (validated against its
Canvas Kit schemas), and a canvas carries `stored_data` and `completed` only when asked to."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from bridge.intercom import canvas
from tests.helpers import shared_file


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    """Intercom's Canvas Kit schemas (`components.schemas`), for `$ref`s to resolve against."""
    path = shared_file("intercom-openapi", "canvas-kit-schemas-from-2.11.yaml")
    return {"components": yaml.safe_load(path.read_text())["components"]}


def errors(schemas: dict[str, Any], instance: dict[str, Any], schema: str) -> list[str]:
    validator = OAS30Validator({**schemas, "$ref": f"#/components/schemas/{schema}"})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


@pytest.mark.parametrize(
    ("component", "schema"),
    [
        (canvas.text("Hello"), "text_component"),
        (canvas.text("Hello", id="greeting"), "text_component"),
        (canvas.header("Merge"), "text_component"),
        (canvas.error("No such contact"), "text_component"),
        (canvas.muted("They share no email"), "text_component"),
        (canvas.button("confirm", "Confirm merge"), "button_component"),
        (canvas.button("cancel", "Cancel", style="secondary"), "button_component"),
        (canvas.text_input("target", "Merge into"), "input_component"),
        (canvas.text_input("target", "Merge into", placeholder="ada@…", value="x"), "input_component"),
        (canvas.table([("Name", "Ada"), ("Role", "lead")]), "data_table_component"),
        (canvas.divider(), "divider_component"),
        (canvas.textarea("text", "Message"), "text_area_component"),
        (canvas.textarea("shown", "Preview", value="Hi *Ada*", disabled=True), "text_area_component"),
        (
            canvas.dropdown("route", "Send from", [("a", "SMS"), ("b", "WhatsApp")], value="b"),
            "dropdown_component",
        ),
        (
            canvas.item_list(
                [canvas.list_item("t:1", "order_update", subtitle="en_US", tertiary="2 variables")]
            ),
            "list_component",
        ),
    ],
)
def test_every_builder_makes_a_component_intercom_renders(schemas, component, schema):
    assert errors(schemas, component, schema) == []
    assert errors(schemas, component, "component") == []


def test_text_styles_are_the_ones_intercom_knows():
    assert [canvas.text("a")["style"], canvas.header("a")["style"]] == ["paragraph", "header"]
    assert [canvas.error("a")["style"], canvas.muted("a")["style"]] == ["error", "muted"]


def test_a_text_has_an_id_only_when_given_one():
    assert "id" not in canvas.text("a")
    assert canvas.text("a", id="x")["id"] == "x"


def test_a_button_submits_the_canvas_when_clicked():
    assert canvas.button("find", "Find contact") == {
        "type": "button",
        "id": "find",
        "label": "Find contact",
        "style": "primary",
        "action": {"type": "submit"},
    }


def test_an_input_leaves_out_an_empty_placeholder_and_value():
    assert canvas.text_input("target", "Merge into") == {
        "type": "input",
        "id": "target",
        "label": "Merge into",
    }
    filled = canvas.text_input("target", "Merge into", placeholder="ada@example.com", value="5f1a")
    assert (filled["placeholder"], filled["value"]) == ("ada@example.com", "5f1a")


def test_a_table_keeps_its_rows_in_order():
    rows = [("Name", "Ada"), ("Role", "lead"), ("Phone", "+1415•••0123")]
    items = canvas.table(rows)["items"]
    assert [(item["field"], item["value"]) for item in items] == rows
    assert {item["type"] for item in items} == {"field-value"}


@pytest.mark.parametrize("kind", ["initialize_response", "submit_response"])
def test_a_canvas_is_a_response_intercom_accepts(schemas, kind):
    body = canvas.canvas([canvas.header("Merge"), canvas.divider()], stored_data={"from": "abc"})
    assert errors(schemas, body, kind) == []


def test_stored_data_travels_with_the_canvas_only_when_there_is_some():
    components = [canvas.text("a")]
    assert canvas.canvas(components) == {"canvas": {"content": {"components": components}}}
    assert "stored_data" not in canvas.canvas(components, stored_data={})["canvas"]
    stored = canvas.canvas(components, stored_data={"from": "a", "into": "b"})
    assert stored["canvas"]["stored_data"] == {"from": "a", "into": "b"}


def test_only_a_completed_flow_tells_intercom_it_is_over(schemas):
    assert "event" not in canvas.canvas([canvas.text("a")])
    done = canvas.canvas([canvas.text("Merged")], completed=True)
    assert done["event"] == {"type": "completed"}
    assert errors(schemas, done, "submit_response") == []


@pytest.mark.parametrize("count", [1, canvas.MAX_OPTIONS + 1])
def test_a_dropdown_refuses_fewer_than_two_or_more_than_ten_options(count):
    """Canvas Kit takes 2 to 10 options; its schema does not say so, the inbox does."""
    with pytest.raises(ValueError, match="2 to 10 options"):
        canvas.dropdown("route", "Send from", [(str(index), str(index)) for index in range(count)])


def test_a_list_item_submits_with_its_own_id_when_clicked():
    item = canvas.list_item("send_template:en:hello", "hello")
    assert (item["id"], item["action"]) == ("send_template:en:hello", {"type": "submit"})
    assert "subtitle" not in item and "tertiary_text" not in item


def test_a_disabled_textarea_shows_its_text_and_an_enabled_one_says_nothing_of_it():
    assert canvas.textarea("shown", "Preview", value="x", disabled=True)["disabled"] is True
    assert "disabled" not in canvas.textarea("text", "Message") and "value" not in canvas.textarea("t", "M")


def test_the_encoded_size_counts_utf8_bytes_as_the_answer_carries_them():
    """Canvas Kit's 64 KB limit counts the answer's bytes: a non-ASCII character takes 2 to 4."""
    assert canvas.encoded_size({"a": "é"}) == len('{"a":"é"}'.encode())
    assert canvas.encoded_size(["👋"]) == 2 + 2 + 4
