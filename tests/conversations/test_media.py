"""The media store on disk: customers' pictures and documents, readable by the bridge's user only."""

from __future__ import annotations

from pathlib import Path

from bridge.conversations.media import media_store


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_stored_media_are_readable_by_their_owner_only(tmp_path):
    data_dir = tmp_path / "data"
    store = media_store(data_dir, retention_days=1)
    token = store.put(b"GIF89a", "image/gif", "cat.gif")
    assert mode(data_dir) == mode(data_dir / "media") == 0o700
    assert {path.name: mode(path) for path in (data_dir / "media").iterdir()} == {
        f"{token}.bin": 0o600,
        f"{token}.json": 0o600,
    }


def test_a_media_dir_left_readable_by_others_is_narrowed(tmp_path):
    (tmp_path / "media").mkdir(mode=0o755)
    media_store(tmp_path, retention_days=1).put(b"x", "image/png")
    assert mode(tmp_path / "media") == 0o700
