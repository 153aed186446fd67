"""Other E.164 forms the same mobile number takes: one table of country rules, with test vectors.

WhatsApp ids and CRM records disagree on a few countries' mobile numbers, and every bridge that
matched exactly has created duplicate contacts there (research/peers.md §1.5, P1-P3):

- Brazil: mobiles gained a 9th digit after the area code (2012-2016), but many WhatsApp accounts
  are still registered without it. Both directions, and never for landlines: a subscriber number
  starting 2-5 is a landline and must not gain or lose a 9.
- Mexico: WhatsApp writes mobiles as `521` + 10 digits; Mexico dropped the `1` in 2019 and CRMs
  store `52` + 10 digits. Both directions, only with exactly 10 digits after it (13-digit guard).
- Argentina: WhatsApp (and libphonenumber) write mobiles as `549` + 10 digits, CRMs often `54` +
  10 digits. One way only: a `54` number without the 9 is a valid landline, so synthesizing `549`
  from it could reach a different subscriber (chatwoot's ArgentinaPhoneNormalizer reasoning).

Variants are used to *find* a contact (identity map and Intercom search); the numbers stored in
Intercom are never rewritten, and replies go to the address the provider gave.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class VariantRule:
    """`pattern` matches E.164 digits (no `+`); `replacement` is the variant's digits."""

    name: str
    pattern: re.Pattern[str]
    replacement: str
    # (number, its variant) pairs this rule must produce, and numbers it must leave alone.
    examples: tuple[tuple[str, str], ...]
    leaves_alone: tuple[str, ...]

    def apply(self, digits: str) -> str | None:
        if not self.pattern.fullmatch(digits):
            return None
        return self.pattern.sub(self.replacement, digits)


RULES: tuple[VariantRule, ...] = (
    VariantRule(
        name="brazil: add the mobile 9th digit",
        pattern=re.compile(r"55(\d{2})([6-9]\d{7})"),
        replacement=r"55\g<1>9\g<2>",
        examples=(("558299448232", "5582999448232"), ("551187654321", "5511987654321")),
        leaves_alone=("551132345678", "55119876543210", "5511987654321"),  # landline, too long, has its 9
    ),
    VariantRule(
        name="brazil: drop the mobile 9th digit",
        pattern=re.compile(r"55(\d{2})9([6-9]\d{7})"),
        replacement=r"55\g<1>\g<2>",
        examples=(("5582999448232", "558299448232"), ("5511987654321", "551187654321")),
        leaves_alone=("5541932345678", "558299448232"),  # 9 + landline stays; no 9 to drop
    ),
    VariantRule(
        name="mexico: 521 (WhatsApp) to 52",
        pattern=re.compile(r"521(\d{10})"),
        replacement=r"52\g<1>",
        examples=(("5215512345678", "525512345678"),),
        leaves_alone=("52155123456789", "525512345678"),  # 11 digits after 521; already 52
    ),
    VariantRule(
        name="mexico: 52 to 521 (WhatsApp)",
        pattern=re.compile(r"52(\d{10})"),
        replacement=r"521\g<1>",
        examples=(("525512345678", "5215512345678"),),
        leaves_alone=("52551234567", "5215512345678"),  # 9 digits; already 521 (13 digits)
    ),
    VariantRule(
        name="argentina: 549 (mobile) to 54, one way",
        pattern=re.compile(r"549(\d{10})"),
        replacement=r"54\g<1>",
        examples=(("5491112345678", "541112345678"),),
        leaves_alone=("541112345678", "54911234567"),  # never 54 -> 549; 9 digits after 549
    ),
)


def phone_variants(e164: str) -> tuple[str, ...]:
    """The other E.164 forms of `e164` by the rules above, without `e164` itself, in rule order."""
    digits = e164.lstrip("+")
    found: list[str] = []
    for rule in RULES:
        variant = rule.apply(digits)
        if variant is not None and variant != digits and f"+{variant}" not in found:
            found.append(f"+{variant}")
    return tuple(found)


def family_key(e164: str) -> str:
    """One key shared by a number and its variants, so they queue in the same sender lane.

    The smallest of the set is the same for every member when the rules are symmetric (Brazil,
    Mexico). Argentina's rule is one way, but `54…` always sorts before `549…` (area codes never
    start with 9), so both still share the `54…` key.
    """
    return min((e164, *phone_variants(e164)))
