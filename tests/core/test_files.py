"""The data dir's files and directories are the owner's alone (0600, 0700), whatever the umask,
and whatever an older bridge left behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.core.files import DIR_MODE, FILE_MODE, private_dir, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022], ids=["umask-000", "umask-022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """A permissive umask (000) would leave a plain mkdir or open readable by everyone."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_the_modes_are_owner_only():
    assert (DIR_MODE, FILE_MODE) == (0o700, 0o600)


def test_every_missing_component_is_created_owner_only(tmp_path, umask):
    os.chmod(tmp_path, 0o755)
    target = tmp_path / "data" / "media" / "twilio"
    assert private_dir(target) == target
    assert [mode(p) for p in (tmp_path / "data", tmp_path / "data" / "media", target)] == [0o700] * 3
    assert mode(tmp_path) == 0o755  # what existed before is not the bridge's to change


def test_a_directory_an_older_bridge_left_open_is_narrowed(tmp_path):
    old = tmp_path / "data"
    old.mkdir()
    old.chmod(0o755)
    private_dir(old)
    assert mode(old) == 0o700


def test_an_existing_private_directory_and_its_contents_are_left_as_they_are(tmp_path):
    data = private_dir(tmp_path / "data")
    (data / "secret").write_text("kept")
    assert private_dir(data) == data
    assert mode(data) == 0o700 and (data / "secret").read_text() == "kept"


def test_a_new_file_is_written_owner_only(tmp_path, umask):
    path = tmp_path / "password"
    write_private(path, "s3cret")
    assert path.read_text() == "s3cret"
    assert mode(path) == 0o600


def test_an_existing_readable_file_is_narrowed_and_replaced_whole(tmp_path):
    path = tmp_path / "password"
    path.write_text("an old and much longer password")
    path.chmod(0o644)
    write_private(path, "new")
    assert mode(path) == 0o600
    assert path.read_text() == "new"
