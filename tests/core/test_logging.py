"""The log format: JSON lines or text, with the request and job ids, masked, configured once."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import uvicorn
from pydantic import ValidationError

from bridge.core.context import job_context
from bridge.core.logs import (
    HideQueryValues,
    configure_logging,
    is_bridge_handler,
    mask,
    mask_number,
    route_server_logs,
    wants_json,
)
from bridge.core.settings import Settings, describe_invalid

SECRET = "test-secret-value-0123456789"
NUMBER = "+353881234599"

log = logging.getLogger("bridge.test")


@pytest.fixture
def configured() -> Iterator[Callable[..., io.StringIO]]:
    """`configure_logging` into a buffer; the root logger and httpx's level are restored after."""
    root, httpx_logger = logging.getLogger(), logging.getLogger("httpx")
    levels = root.level, httpx_logger.level

    def configure(**options: object) -> io.StringIO:
        stream = io.StringIO()
        configure_logging(secrets=[SECRET], stream=stream, **options)  # type: ignore[arg-type]
        return stream

    yield configure
    for handler in [h for h in root.handlers if is_bridge_handler(h)]:
        root.removeHandler(handler)
    root.setLevel(levels[0])
    httpx_logger.setLevel(levels[1])


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_and_message_and_no_ids_outside_a_request(configured):
    stream = configured(log_format="json")
    log.info("inbound %s: delivered", "twilio-1")

    [line] = lines(stream)
    assert line == {
        "ts": line["ts"],
        "level": "INFO",
        "logger": "bridge.test",
        "message": "inbound twilio-1: delivered",
    }
    assert line["ts"].endswith("Z") and datetime.fromisoformat(line["ts"]).utcoffset().total_seconds() == 0


def test_a_json_line_inside_a_job_carries_the_job_id_and_the_request_id(configured):
    stream = configured(log_format="json")
    with job_context(job_id="in-twilio-1", request_id="req-1"):
        log.warning("retrying")
    log.warning("after")

    inside, after = lines(stream)
    assert (inside["job_id"], inside["request_id"]) == ("in-twilio-1", "req-1")
    assert "job_id" not in after and "request_id" not in after


def test_an_exception_is_one_line_with_its_traceback_masked_and_the_secret_hidden(configured):
    stream = configured(log_format="json")
    try:
        raise RuntimeError(f"Twilio refused {NUMBER} with token {SECRET}")
    except RuntimeError:
        log.exception("could not send to %s", NUMBER)

    [line] = lines(stream)
    assert line["message"] == "could not send to +35388*****99"
    assert "Traceback" in line["exc"] and "+35388*****99" in line["exc"] and "***" in line["exc"]
    assert NUMBER not in stream.getvalue() and SECRET not in stream.getvalue()


def test_extra_fields_are_not_written_they_would_bypass_the_masking(configured):
    stream = configured(log_format="json")
    log.error("job failed", extra={"kwargs": {"to": NUMBER}, "queue": "bridge-outbound"})

    [line] = lines(stream)
    assert set(line) == {"ts", "level", "logger", "message"}
    assert NUMBER.removeprefix("+") not in stream.getvalue()


def test_a_text_line_ends_with_the_ids_when_there_are_some(configured):
    stream = configured(log_format="text")
    log.info("plain")
    with job_context(job_id="out-7", request_id="req-2"):
        log.info("in a job for %s", NUMBER)

    plain, in_job = stream.getvalue().splitlines()
    assert plain.endswith("INFO bridge.test: plain")
    assert in_job.endswith("INFO bridge.test: in a job for +35388*****99 [request_id=req-2 job_id=out-7]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("log_format", "stream", "json_lines"),
    [
        ("auto", io.StringIO(), True),  # a pipe, a container, a service manager: a log store reads it
        ("auto", Terminal(), False),  # somebody reads along
        ("json", Terminal(), True),
        ("text", io.StringIO(), False),
    ],
)
def test_auto_is_json_unless_the_stream_is_a_terminal(log_format, stream, json_lines):
    assert wants_json(log_format, stream) is json_lines


def test_configuring_twice_leaves_one_handler_and_caplog_still_sees_records(configured, caplog):
    configured(log_format="json")
    stream = configured(log_format="text")
    log.info("once")

    assert len([h for h in logging.getLogger().handlers if is_bridge_handler(h)]) == 1
    assert stream.getvalue().count("once") == 1
    assert [r.getMessage() for r in caplog.records] == ["once"]


def test_the_access_line_keeps_the_query_names_and_hides_their_values():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/webhooks/vonage?msisdn=353871234567&text=hi+there", "1.1", 200), None,
    )  # fmt: skip
    assert HideQueryValues().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /webhooks/vonage?msisdn=***&text=*** HTTP/1.1" 200'


def test_uvicorns_lines_go_through_the_bridges_format_once_routed(configured):
    uvicorn.Config(app=None, access_log=True)  # as `uvicorn bridge.app:app`: loggers with handlers
    stream = configured(log_format="json")
    route_server_logs([SECRET])
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "POST", f"/webhooks/textmagic?token={SECRET}", "1.1", 200
    )

    started, access = lines(stream)
    assert (started["logger"], started["message"]) == ("uvicorn.error", "Started server process [42]")
    assert access["message"] == '127.0.0.1:5000 - "POST /webhooks/textmagic?token=*** HTTP/1.1" 200'
    assert not logging.getLogger("uvicorn").handlers and SECRET not in stream.getvalue()


def test_an_access_log_switched_off_stays_off_once_routed(configured):
    uvicorn.Config(app=None, access_log=False)  # `--no-access-log`
    configured(log_format="json")
    route_server_logs([SECRET])
    assert not logging.getLogger("uvicorn.access").hasHandlers()


def test_log_format_defaults_to_auto_and_an_unknown_one_names_the_variable(monkeypatch):
    monkeypatch.delenv("BRIDGE_LOG_FORMAT", raising=False)
    assert Settings(_env_file=None).log_format == "auto"
    monkeypatch.setenv("BRIDGE_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)
    assert describe_invalid(raised.value) == ["BRIDGE_LOG_FORMAT: Input should be 'auto', 'json' or 'text'"]


LONG = "1234567890" * 500  # a 5,000-digit "number"


@pytest.mark.parametrize(
    ("party", "masked"),
    [
        (NUMBER, "+35388*****99"),
        ("447860123430", "447860****30"),  # international digits without the +, as some providers write
        ("whatsapp:+14155550795", "whatsapp:+14155****95"),
        ("+1 (415) 555-0795", "+14155****95"),
        ("+1-415-555-0795", "+14155****95"),
        ("+1.415.555.0795", "+14155****95"),
        ("unknown:+1415555\x000795", "unknown:+14155****95"),
        ("\x1b\t+1415\r\n555\u200b0795\x7f", "+14155****95"),  # control and invisible characters
        ("+\u0664\u0664\u0667\u0667\u0660\u0660\u0669\u0660\u0660\u0661\u0662\u0663", "+44770*****23"),
        (f"unknown:+{LONG}", "unknown:+12345********90"),
        (LONG, "123456********90"),
        ("whatsapp_user:US.13491208655302741918", "whatsapp_user:134912********18"),
        ("short_code:12345", "short_code:*****"),
        ("alphanumeric:INFO", "alphanumeric:****"),
        ("14155550795:x", "141555***95"),  # digits make no kind: masked with the rest
        ("+1415555", "********"),
        ("", ""),
    ],
)
def test_every_party_is_masked_whatever_its_kind_form_or_length(party, masked):
    assert mask_number(party) == masked
    assert len(masked) <= 41 and masked.isprintable()  # bounded, and nothing that moves a terminal


def test_a_number_of_any_length_in_a_log_line_is_masked_and_bounded():
    masked = mask(f"sender +{LONG} refused; then +1 (415) 555-0795 wrote")
    assert masked == "sender +12345********90 refused; then +14155****95 wrote"
