"""Regenerate the tiny, deterministic input assets the corpus pipelines point at.

Why generated: binary fixtures should be reviewable and reproducible byte for
byte, so they come from this standard-library-only script instead of a camera.
Run from anywhere: ``python input/assets/make_assets.py`` (``--check`` only
verifies that the files on disk match what this script would write).
"""

from __future__ import annotations

import hashlib
import io
import struct
import sys
import wave
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _zlib_stored(data: bytes) -> bytes:
    """A zlib stream of uncompressed blocks: byte-identical whatever zlib build is installed."""
    out = bytearray(b"\x78\x01")
    chunks = [data[i : i + 0xFFFF] for i in range(0, len(data), 0xFFFF)] or [b""]
    for index, chunk in enumerate(chunks):
        final = 1 if index == len(chunks) - 1 else 0
        out.append(final)
        out += struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk
    out += struct.pack(">I", zlib.adler32(data) & 0xFFFFFFFF)
    return bytes(out)


def png(size: int, pixel: Callable[[int, int], tuple[int, int, int]]) -> bytes:
    """An 8-bit RGB PNG of `size` x `size`, one filter byte (0) per row."""
    rows = bytearray()
    for y in range(size):
        rows.append(0)
        for x in range(size):
            rows.extend(pixel(x, y))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", _zlib_stored(bytes(rows)))
        + _png_chunk(b"IEND", b"")
    )


def _landscape(x: int, y: int) -> tuple[int, int, int]:
    """Sky gradient above a green hill: something for the stub 'understanding' to describe."""
    if y > 20 + (x - 16) ** 2 // 40:
        return (40, 120 + y * 2, 50)
    return (90 + y * 3, 150 + y * 2, 255 - y * 2)


def _portrait(x: int, y: int) -> tuple[int, int, int]:
    """A round 'face' on a grey background, for the talking-avatar pipeline."""
    if (x - 16) ** 2 + (y - 14) ** 2 <= 81:
        return (230, 190, 160)
    if y >= 24 and abs(x - 16) <= 10:
        return (60, 80, 160)
    return (200, 200, 205)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(seed: str, payload_size: int = 384) -> bytes:
    """An ``ftyp`` box (major brand isom) then an ``mdat`` box of deterministic bytes.

    Not playable; real decoders are never involved. It only has to look like an
    MP4 to format sniffers and be byte-identical on every machine.
    """
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")
    data = bytearray()
    block = seed.encode()
    while len(data) < payload_size:
        block = hashlib.sha256(block).digest()
        data.extend(block)
    return ftyp + _box(b"mdat", bytes(data[:payload_size]))


def wav(frequency: int, frames: int = 800, rate: int = 8000) -> bytes:
    """A 0.1 s, 8 kHz, 16-bit mono square wave (integer maths only, so deterministic)."""
    period = max(1, rate // frequency)
    samples = b"".join(
        struct.pack("<h", 6000 if (i % period) < period // 2 else -6000) for i in range(frames)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples)
    return buffer.getvalue()


def build_assets() -> dict[str, bytes]:
    """File name -> exact bytes; the corpus test compares the files on disk with this."""
    return {
        "landscape.png": png(32, _landscape),
        "portrait.png": png(32, _portrait),
        "clip.mp4": mp4("ai-content-pipeline clip v1"),
        "voice_a.wav": wav(220),
        "voice_b.wav": wav(330),
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, content in build_assets().items():
        target = HERE / name
        if check:
            if not target.is_file() or target.read_bytes() != content:
                stale.append(name)
            continue
        if not target.is_file() or target.read_bytes() != content:
            target.write_bytes(content)
            print(f"wrote {target.relative_to(HERE.parent.parent)} ({len(content)} bytes)")
    if stale:
        print("stale assets (run input/assets/make_assets.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
