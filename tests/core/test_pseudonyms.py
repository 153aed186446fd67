"""The keyed hash a forgotten customer's opt-out is kept under: the same for the same id under one
key, nothing alike under another; the key kept apart from Redis, the owner's alone."""

from __future__ import annotations

import stat

import pytest

from bridge.core.pseudonyms import KEY_FILE, Pseudonyms
from bridge.core.settings import Settings

CUSTOMER = "phone:+525587143926"


def settings(tmp_path, **fields) -> Settings:
    return Settings(_env_file=None, BRIDGE_DATA_DIR=str(tmp_path / "data"), **fields)


def test_the_same_id_has_the_same_pseudonym_under_one_key_and_shows_nothing_of_the_number():
    key = Pseudonyms(b"k" * 32)
    pseudonym = key.of(CUSTOMER)
    assert pseudonym == Pseudonyms(b"k" * 32).of(CUSTOMER)
    assert pseudonym.startswith("forgotten:") and len(pseudonym) == len("forgotten:") + 64
    assert "5587143926" not in pseudonym and pseudonym != key.of("phone:+5215587143926")


def test_another_key_gives_other_pseudonyms_and_another_key_id():
    one, other = Pseudonyms(b"1" * 32), Pseudonyms(b"2" * 32)
    assert one.of(CUSTOMER) != other.of(CUSTOMER)
    assert one.key_id != other.key_id and len(one.key_id) == 16


def test_without_a_secret_the_first_forget_writes_a_key_the_owners_alone_that_every_process_reads(tmp_path):
    assert Pseudonyms.configured(settings(tmp_path)) is None  # nobody forgotten: no key made
    made = Pseudonyms.configured(settings(tmp_path), create=True)
    path = tmp_path / "data" / KEY_FILE
    assert made is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    read = Pseudonyms.configured(settings(tmp_path))
    assert read is not None and read.of(CUSTOMER) == made.of(CUSTOMER)
    again = Pseudonyms.configured(settings(tmp_path), create=True)
    assert again is not None and again.key_id == made.key_id  # never replaced


def test_a_configured_secret_is_the_key_on_every_machine(tmp_path):
    secret = "a shared secret of the deployment"
    here = Pseudonyms.configured(settings(tmp_path / "a", BRIDGE_FORGET_SECRET=secret), create=True)
    there = Pseudonyms.configured(settings(tmp_path / "b", BRIDGE_FORGET_SECRET=secret))
    assert here is not None and there is not None and here.of(CUSTOMER) == there.of(CUSTOMER)
    assert not (tmp_path / "a" / "data" / KEY_FILE).exists()


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError):
        Pseudonyms(b"short")
