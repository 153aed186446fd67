"""`bridge send` and `bridge templates list`: a line a person reads, on real parts.

The command runs in-process against the test Redis, the Intercom sandbox and the provider
stand-ins; `--wait 0` returns once the message is queued, and the in-process worker then sends it.
"""

from __future__ import annotations

from click.testing import CliRunner, Result

from bridge.cli.main import main
from tests.helpers import api_message

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"


def bridge_command(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_send_queues_the_message_and_says_so_then_the_worker_sends_it(
    providers_at_standin, bridge, sandbox, drain, http
):
    result = bridge_command(
        "send",
        "--to",
        "(415) 555-0123",
        "--provider",
        "twilio",
        "--from",
        BUSINESS,
        "--text",
        "Hello!",
        "--wait",
        "0",
    )
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert "sms to +14155****23 from +14155550100 through twilio: queued" in line
    assert CUSTOMER not in line

    drain()

    [sent] = providers_at_standin.state.sends
    assert (sent.to, sent.text) == (CUSTOMER, "Hello!")
    message_id = line.split(":", 1)[0]
    assert api_message(http, bridge.url, message_id)["status"] == "sent"


def test_send_with_a_template_and_variables(providers_at_standin, bridge, sandbox, drain):
    result = bridge_command(
        "send",
        "--to",
        CUSTOMER,
        "--channel",
        "whatsapp",
        "--provider",
        "whatsapp",
        "--from",
        "106540352242922",
        "--template",
        "order_shipped:en_US",
        "--var",
        "Ada",
        "--var",
        "4711",
        "--header-media",
        "https://media.example.com/orders/shipped.jpg",
        "--wait",
        "0",
    )
    assert result.exit_code == 0, result.output
    drain()
    [sent] = providers_at_standin.state.sends
    assert (sent.template, sent.variables) == ("order_shipped", ["Ada", "4711"])


def test_send_refused_says_why_and_exits_1(providers_at_standin, bridge):
    result = bridge_command("send", "--to", CUSTOMER, "--provider", "twilio", "--text", "Hello!")
    assert result.exit_code == 1
    assert "not sent (from): no business number to send from" in result.output
    assert providers_at_standin.state.sends == []


def test_templates_list_prints_the_approved_ones(providers_at_standin, bridge):
    result = bridge_command("templates", "list")
    assert result.exit_code == 0, result.output
    assert "order_shipped" in result.output
    assert "order_status" in result.output and "HX" + "b" * 32 in result.output  # its name, and its SID
    assert "spring_sale" not in result.output  # paused
