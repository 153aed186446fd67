"""`bridge run --sandbox` lists WhatsApp templates from the stand-ins: the environment it gives
every process names the WhatsApp Business Account and points Twilio's Content API at the
stand-ins, and the `bridge standins` process it starts serves that account's templates."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bridge.core.errors import ProviderRejected
from bridge.core.settings import Settings
from bridge.dev.sandbox.credentials import sandbox_credentials
from bridge.dev.standins.templates import META_TEMPLATES, TWILIO_CONTENTS
from bridge.providers.registry import ADAPTERS
from bridge.runtime.supervisor import RunOptions, sandbox_environment


def test_the_sandbox_names_a_business_account_and_the_standins_content_api(tmp_path: Path) -> None:
    env = sandbox_environment(sandbox_credentials(tmp_path), RunOptions(standins_port=8002), {})
    assert env["WHATSAPP_BUSINESS_ACCOUNT_ID"].isdigit()
    assert env["TWILIO_CONTENT_API_URL"] == env["TWILIO_API_URL"] == "http://127.0.0.1:8002"


@pytest.mark.parametrize(
    ("provider", "names"),
    [
        ("whatsapp", [template["name"] for template in META_TEMPLATES]),
        ("twilio", [content["sid"] for content in TWILIO_CONTENTS]),
    ],
)
def test_a_sandbox_run_lists_the_standins_templates(
    sandbox_run: dict[str, str], provider: str, names: list[str]
) -> None:
    settings = Settings(_env_file=None, **sandbox_run)  # type: ignore[arg-type]
    with httpx.Client(timeout=10.0) as http:
        listed = ADAPTERS[provider].list_templates(settings, http)
    assert [info.name for info in listed] == names


def test_the_standins_list_only_the_sandboxs_business_account(sandbox_run: dict[str, str]) -> None:
    env = sandbox_run | {"WHATSAPP_BUSINESS_ACCOUNT_ID": "999999999999999"}
    with httpx.Client(timeout=10.0) as http, pytest.raises(ProviderRejected) as refused:
        ADAPTERS["whatsapp"].list_templates(Settings(_env_file=None, **env), http)  # type: ignore[arg-type]
    assert refused.value.code == "100"
