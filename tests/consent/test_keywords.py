"""Keywords: a whole message that is STOP opts out; a sentence with "stop" in it does not."""

from __future__ import annotations

import pytest

from bridge.consent.keywords import Keyword, keyword_of
from bridge.core.settings import Settings


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", "  Stop \n", "STOPALL", "unsubscribe", "CANCEL", "end", "Quit", "OPTOUT", "revoke"],
)
def test_the_default_opt_out_keywords(text):
    assert keyword_of(text, Settings()) is Keyword.OPT_OUT


@pytest.mark.parametrize("text", ["START", " unstop", "Yes"])
def test_the_default_opt_in_keywords(text):
    assert keyword_of(text, Settings()) is Keyword.OPT_IN


@pytest.mark.parametrize(
    "text", ["please stop calling me", "STOP!!! now", "stop it", "", "   ", "non-stop", "yes please"]
)
def test_a_message_that_merely_contains_a_keyword_is_no_keyword(text):
    assert keyword_of(text, Settings()) is None


def test_help_is_its_own_keyword():
    assert keyword_of("help", Settings()) is Keyword.HELP


def test_the_settings_replace_the_lists_per_language(monkeypatch):
    settings = Settings(BRIDGE_OPT_OUT_KEYWORDS="ARRÊT, Baja,PARAR", BRIDGE_OPT_IN_KEYWORDS="ARRIBA")
    assert keyword_of("arrêt", settings) is Keyword.OPT_OUT
    assert keyword_of("BAJA", settings) is Keyword.OPT_OUT
    assert keyword_of("STOP", settings) is None  # replaced, not added to
    assert keyword_of("arriba", settings) is Keyword.OPT_IN
