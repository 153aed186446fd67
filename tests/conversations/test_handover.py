"""How a message's files are split into the replies that carry them: at most 10 a reply, and no
more bytes a request than the limit, in the order the customer sent them."""

from __future__ import annotations

import pytest

from bridge.conversations.attachments import HeldFile
from bridge.conversations.handover import batches, files_line


def held(*sizes: int) -> list[HeldFile]:
    return [HeldFile(f"t{i}", f"f{i}.png", "image/png", size, i) for i, size in enumerate(sizes)]


@pytest.mark.parametrize(
    ("sizes", "limit", "expected"),
    [
        pytest.param((), 100, [], id="none"),
        pytest.param((10, 20, 30), 100, [[0, 1, 2]], id="one-reply"),
        pytest.param((60, 50, 40), 100, [[0], [1, 2]], id="by-bytes"),
        pytest.param((100, 1), 100, [[0], [1]], id="exactly-the-limit"),
        pytest.param((1,) * 23, 100, [list(range(10)), list(range(10, 20)), [20, 21, 22]], id="by-count"),
    ],
)
def test_files_go_in_order_in_as_few_replies_as_intercoms_limits_allow(sizes, limit, expected):
    grouped = batches(held(*sizes), limit)
    assert [[file.media for file in batch] for batch in grouped] == expected


def test_a_reply_carrying_only_files_names_them():
    assert files_line(held(1)) == "(1 attachment: f0.png)"
    assert files_line(held(1, 2)) == "(2 attachments: f0.png, f1.png)"
