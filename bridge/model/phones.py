"""Phone numbers: E.164 normalization and the written forms a number is stored under.

Pure functions over `phonenumbers`. Two rules from the field (research/providers.md §7):
- Digits a provider sends in international form without `+` (Meta, Vonage, MessageBird, TextMagic,
  Twilio's `WaId`) get a `+` and are never parsed with a default region: `972987654321` parsed
  with region IL becomes `+972972987654321`.
- Validity is not a filter. Real WhatsApp ids (a Brazilian mobile without its 9th digit, Mexico's
  `521…`) are "invalid" to libphonenumber; a number that parses is kept as it is. Validity only
  arbitrates between two readings of one stored string (an exit code's, below).

A number typed after an international dialling prefix (exit code) other than the deployment's own,
`00 44 20 7946 0958` in a US deployment (which dials 011) or `011 44 …` in a GB one (which dials 00),
is read with every country's exit code from phonenumbers' metadata, not a hand-written list.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

import phonenumbers
from phonenumbers import (
    CountryCodeSource,
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberFormat,
)

from bridge.model.variants import phone_variants

_FORMATTING = re.compile(r"[\s\-().\u00a0]")


def strip_formatting(text: str) -> str:
    """`+1 (413) 388-1111` -> `+14133881111`: what people and CRMs add around digits."""
    return _FORMATTING.sub("", text.strip())


def to_e164(number: str, *, region: str | None = None) -> str | None:
    """E.164 of `number` (written with `+`, national to `region`, or after any country's exit
    code), or None.

    Read in `region` alone, `00 44 20 7946 0958` in the US is `+100442079460958` and `011 44 20 7946
    0958` in GB is `+4411442079460958`: numbers nobody has. So when `region`'s reading is not a valid
    number, the reading after another country's exit code replaces it if exactly one such reading is
    plausible; otherwise `region`'s reading stands, valid or not.
    """
    try:
        parsed: PhoneNumber | None = phonenumbers.parse(number, region)
    except NumberParseException:
        parsed = None
    if (parsed is None or not phonenumbers.is_valid_number(parsed)) and not number.lstrip().startswith("+"):
        foreign = _read_after_exit_code(number)
        if foreign is not None:
            return foreign
    return None if parsed is None else phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


@functools.cache
def _exit_code_regions() -> tuple[str, ...]:
    """One region for each distinct exit-code pattern in phonenumbers' metadata (00, 011, 0011,
    010, 810, and carrier-selection codes such as Brazil's 0015 or Korea's 00700), so reading a
    number in each tries every country's exit code once (40 patterns in phonenumbers 9.0.43).

    A pattern that matches a lone digit (Cape Verde's and Samoa's `0`) is left out: `0` is most
    countries' trunk prefix, and reading it as an exit code would turn a mistyped national number
    into a foreign one.
    """
    representative: dict[str, str] = {}
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        metadata = PhoneMetadata.metadata_for_region(region)
        pattern = metadata.international_prefix if metadata is not None else None
        if pattern and not any(re.fullmatch(pattern, digit) for digit in "0123456789"):
            representative.setdefault(pattern, region)
    return tuple(representative.values())


def _read_after_exit_code(number: str) -> str | None:
    """The one plausible E.164 of `number` read after some country's exit code, or None (no
    reading, or several that disagree: then nothing here can say which the writer meant)."""
    readings: set[str] = set()
    for region in _exit_code_regions():
        try:
            parsed = phonenumbers.parse(number, region, keep_raw_input=True)
        except NumberParseException:
            continue
        if parsed.country_code_source == CountryCodeSource.FROM_NUMBER_WITH_IDD and _plausible(parsed):
            readings.add(phonenumbers.format_number(parsed, PhoneNumberFormat.E164))
    return readings.pop() if len(readings) == 1 else None


def _plausible(parsed: PhoneNumber) -> bool:
    """Valid, or one of its country variants is (a Brazilian mobile without its 9th digit).

    `parsed` itself is judged, not its E.164 parsed again: `+114155550123` parses as `+14155550123`
    (the `1` taken for North America's trunk prefix), but after an exit code it stays 11 digits.
    """
    if phonenumbers.is_valid_number(parsed):
        return True
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    return any(
        phonenumbers.is_valid_number(phonenumbers.parse(variant, None)) for variant in phone_variants(e164)
    )


@functools.cache
def written_exit_codes() -> tuple[str, ...]:
    """The exit codes people write before a country code, most countries' first: `00`, `011`,
    `810`, `0011`, … From each region's literal exit code in phonenumbers' metadata, or its
    preferred one where the metadata has a pattern (Russia's `8~10`, whose `~`, a wait for the
    dial tone, is dropped). Carrier-selection codes that only a pattern names (Brazil's `0015`)
    are not written forms anyone stores, and a lone `0` is left out as in `_exit_code_regions`.
    """
    counts: Counter[str] = Counter()
    for region in phonenumbers.SUPPORTED_REGIONS:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None or not metadata.international_prefix:
            continue
        pattern = metadata.international_prefix
        code = pattern if pattern.isdigit() else (metadata.preferred_international_prefix or "")
        code = code.replace("~", "")
        if len(code) > 1 and code.isdigit():
            counts[code] += 1
    return tuple(code for code, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def national_to_e164(number: str, *, region: str) -> str | None:
    """E.164 of a number written nationally in `region`, or None when it cannot be a number
    there (a UK `07700 900123` read as American): better an unreadable sender ops can see, and
    replay once `BRIDGE_DEFAULT_REGION` is right, than a contact under a number nobody has."""
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def international_digits_to_e164(digits: str) -> str | None:
    """`16505551234` (country code included, no `+`) -> `+16505551234`, never a default region."""
    return to_e164("+" + digits.lstrip("+"))


def written_forms(e164: str) -> list[str]:
    """The strings a contact's `phone` may hold for this number, most likely first.

    Intercom matches `phone` as an exact string, and people store numbers however they typed them:
    `+14133881111`, `+1 413-388-1111`, `(413) 388-1111`, `4133881111`, `0014133881111`, and after
    whatever exit code they dial: `011 44 20 7946 0958`, `0044 20 7946 0958`, `0011442079460958`.

    Bounded: three layouts per exit code in `written_exit_codes()` (10 codes in phonenumbers
    9.0.43), 35 forms in all whatever the number; they go into one search (`bridge.contacts.matching`).
    """
    digits = e164.lstrip("+")
    forms = [e164, digits, "00" + digits]
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return forms
    international = phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)
    candidates = [international, national, strip_formatting(national), strip_formatting(international)]
    # After an exit code: compact, spaced as phonenumbers formats it abroad, and glued to the country code.
    grouped = international.removeprefix("+")
    for code in written_exit_codes():
        candidates.extend((code + digits, f"{code} {grouped}", code + grouped))
    for form in candidates:
        if form and form not in forms:
            forms.append(form)
    return forms
