"""Opt-out and opt-in keywords: what a customer's whole message means for their consent.

Carriers (CTIA's Messaging Principles) and Twilio's default handling read a message as a keyword
only when it is nothing but the keyword: `STOP`, ` stop `, `Stop` opt out; "please stop calling
me at work" does not. The defaults are Twilio's lists, which follow the carriers'; a team that
needs other languages (ARRET, BAJA, PARAR) replaces them with `BRIDGE_OPT_OUT_KEYWORDS` and
`BRIDGE_OPT_IN_KEYWORDS` (`bridge.core.settings`). HELP is answered where the provider does not.
"""

from __future__ import annotations

from enum import StrEnum

from bridge.core.settings import Settings

HELP_WORDS = ("help", "info")


class Keyword(StrEnum):
    """What a message says about consent."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


def keyword_of(text: str, settings: Settings) -> Keyword | None:
    """The keyword `text` is, when the whole of it (trimmed, case-folded) is one; None otherwise."""
    said = text.strip().casefold()
    if not said:
        return None
    if said in settings.opt_out_keywords:
        return Keyword.OPT_OUT
    if said in settings.opt_in_keywords:
        return Keyword.OPT_IN
    if said in HELP_WORDS:
        return Keyword.HELP
    return None


def opt_in_word(settings: Settings) -> str:
    """The keyword a customer is told to text to opt back in (the first opt-in keyword)."""
    return (settings.opt_in_keywords or ("start",))[0].upper()
