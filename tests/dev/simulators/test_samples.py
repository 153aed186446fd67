"""The built-in samples are files a reader opens, not bytes that only look like one: a PNG whose
chunks and pixels check out, a PDF whose cross-reference table points at its objects."""

from __future__ import annotations

import re
import struct
import zlib

from bridge.dev.simulators.samples import SAMPLES, sample_pdf, sample_png


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Each chunk's type and data, its CRC checked (PNG specification, section 5.3)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        at += 12 + length
    return chunks


def test_the_sample_image_is_a_png_of_the_size_it_says_with_every_pixel_row():
    chunks = png_chunks(sample_png(size=20))
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (width, height, depth, colour) == (20, 20, 8, 2)
    pixels = zlib.decompress(chunks[1][1])
    assert len(pixels) == height * (1 + width * 3)
    assert len(set(pixels)) > 3  # a picture, not one flat colour


def test_the_sample_document_is_a_pdf_whose_cross_references_point_at_its_objects():
    data = sample_pdf("Hello")
    assert data.startswith(b"%PDF-1.4\n") and data.endswith(b"%%EOF\n")
    start = int(re.search(rb"startxref\n(\d+)\n", data).group(1))
    assert data[start:].startswith(b"xref\n0 6\n")
    offsets = [int(offset) for offset in re.findall(rb"(\d{10}) 00000 n ", data[start:])]
    for number, offset in enumerate(offsets, start=1):
        assert data[offset:].startswith(b"%d 0 obj\n" % number)
    assert b"(Hello) Tj" in data


def test_each_sample_is_named_and_typed_as_its_content():
    made = {name: make() for name, make in SAMPLES.items()}
    assert {name: (file.name, file.content_type) for name, file in made.items()} == {
        "image": ("sample.png", "image/png"),
        "document": ("sample.pdf", "application/pdf"),
    }
    assert made["image"].content == sample_png()
    assert made["document"].content == sample_pdf()
