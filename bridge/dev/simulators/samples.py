"""Built-in files for `bridge simulate --media sample:NAME`: something to attach without one at hand.

Made in code rather than shipped as binaries: a small valid PNG (what a customer's photo is to the
bridge and to Intercom: a raster image, shown inline) and a one-page PDF (a document). Each is the
same bytes every time, so a test can compare what Intercom ends up holding.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

SAMPLE_PREFIX = "sample:"


@dataclass(frozen=True)
class LocalFile:
    """A file to attach: its name (for a document's file name), content type and bytes."""

    name: str
    content_type: str
    content: bytes


def sample_png(size: int = 64) -> bytes:
    """A `size`-pixel square RGB PNG: a sun over a blue-to-green gradient."""
    rows = []
    centre, radius = size / 2, size / 4
    for y in range(size):
        row = bytearray([0])  # filter type None
        for x in range(size):
            if (x - centre) ** 2 + (y - centre * 0.8) ** 2 <= radius**2:
                row += bytes((250, 204, 21))
            else:
                row += bytes((56, 120 + y * 100 // size, 220 - y * 140 // size))
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def sample_pdf(text: str = "A sample document from bridge simulate") -> bytes:
    """A one-page PDF showing `text` (ASCII), with the cross-reference table readers check."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


SAMPLES: dict[str, Callable[[], LocalFile]] = {
    "image": lambda: LocalFile("sample.png", "image/png", sample_png()),
    "document": lambda: LocalFile("sample.pdf", "application/pdf", sample_pdf()),
}
