"""The country variant rules, each against the vectors it carries, and as a whole."""

from __future__ import annotations

import pytest

from bridge.model.variants import RULES, VariantRule, family_key, phone_variants


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_each_rule_produces_its_examples(rule: VariantRule):
    for number, variant in rule.examples:
        assert rule.apply(number) == variant


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_each_rule_leaves_alone_what_it_must(rule: VariantRule):
    for number in rule.leaves_alone:
        assert rule.apply(number) in (None, number)


@pytest.mark.parametrize(
    ("number", "variants"),
    [
        ("+5511987654321", ("+551187654321",)),  # Brazil with the 9
        ("+551187654321", ("+5511987654321",)),  # Brazil without it (a real WhatsApp id shape)
        ("+551132345678", ()),  # Brazilian landline: no 9 to add
        ("+5541932345678", ()),  # 9 followed by a landline: not a mobile 9
        ("+5215512345678", ("+525512345678",)),
        ("+525512345678", ("+5215512345678",)),
        ("+5491112345678", ("+541112345678",)),
        ("+541112345678", ()),  # never synthesize 549
        ("+14155550123", ()),
        ("+353871234567", ()),
    ],
)
def test_phone_variants(number, variants):
    assert phone_variants(number) == variants


@pytest.mark.parametrize(
    "family",
    [
        ("+5511987654321", "+551187654321"),
        ("+5215512345678", "+525512345678"),
        ("+5491112345678", "+541112345678"),
    ],
)
def test_a_number_and_its_variant_share_a_lane(family):
    assert len({family_key(number) for number in family}) == 1


def test_unrelated_numbers_do_not_share_a_lane():
    assert family_key("+14155550123") != family_key("+14155550124")
