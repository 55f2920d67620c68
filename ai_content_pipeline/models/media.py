"""Small, real media files made from a seed, byte-identical on every machine.

The stub backend must produce files that downstream tools accept (a PNG a viewer opens, a WAV
the `wave` module reads) and that hash the same everywhere, because file names and golden
records are built from those hashes. So nothing here depends on the platform's maths library
or compressor: PNG pixels go into *stored* deflate blocks (zlib implementations such as
zlib-ng compress differently, a stored block is the same everywhere) and the WAV tone is
integer arithmetic (libm `sin` may differ in the last bit between platforms).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import secrets
import shutil
import stat
import struct
import wave
import zlib
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_STORED_BLOCK_MAX = 0xFFFF

IMAGE_SIZE = 32
"""Side of the stub's square images: enough to view and hash, cheap to build on the hot path."""


def expand_seed(seed: bytes, size: int, tag: bytes = b"") -> bytes:
    """`size` pseudo-random bytes from `seed` (SHA-256 in counter mode); `tag` separates uses."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(seed + tag + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _zlib_stored(data: bytes) -> bytes:
    """A zlib stream of uncompressed deflate blocks: valid everywhere, identical everywhere."""
    out = bytearray(b"\x78\x01")
    if not data:
        out += b"\x01\x00\x00\xff\xff"
    for start in range(0, len(data), _STORED_BLOCK_MAX):
        block = data[start : start + _STORED_BLOCK_MAX]
        final = 1 if start + _STORED_BLOCK_MAX >= len(data) else 0
        out += struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF) + block
    out += struct.pack(">I", zlib.adler32(data) & 0xFFFFFFFF)
    return bytes(out)


def make_png(seed: bytes, width: int = IMAGE_SIZE, height: int = IMAGE_SIZE) -> bytes:
    """An RGB PNG whose colours, gradient direction and stripes come from `seed`.

    Pixel (x, y), channel c = base[c] + x*step_x[c] + y*step_y[c] (+48 on odd stripes), mod 256.
    Built row by row with byte-table translations: the stub writes one of these per image
    step, so it sits on the executor's zero-latency hot path.
    """
    if width < 1 or height < 1:
        raise ValueError(f"PNG size must be positive, got {width}x{height}")
    params = expand_seed(seed, 12, b"png")
    base = params[0:3]
    step_x = [1 + b % 7 for b in params[3:6]]
    step_y = [1 + b % 5 for b in params[6:9]]
    stripe = 4 + params[9] % 12
    first_row = bytes((base[c] + x * step_x[c]) & 0xFF for x in range(width) for c in range(3))
    shade_table = _add_table(48)
    raw = bytearray()
    for y in range(height):
        plain = bytearray(width * 3)
        for c in range(3):
            plain[c::3] = first_row[c::3].translate(_add_table((y * step_y[c]) & 0xFF))
        shaded = plain.translate(shade_table)
        # Odd bands of (x + y) // stripe are shaded; slices clamp at the row's end.
        first_band = y // stripe
        for band in range(first_band | 1, (y + width - 1) // stripe + 1, 2):
            start = max(0, band * stripe - y) * 3
            end = ((band + 1) * stripe - y) * 3
            plain[start:end] = shaded[start:end]
        raw.append(0)  # filter type "None" for every scan line
        raw += plain
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", _zlib_stored(bytes(raw)))
        + _png_chunk(b"IEND", b"")
    )


@functools.cache
def _add_table(k: int) -> bytes:
    """Translation table mapping byte b to (b + k) mod 256."""
    return bytes((i + k) & 0xFF for i in range(256))


def make_wav(seed: bytes, seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV holding a triangle tone whose pitch (220-880 Hz) comes from `seed`."""
    if rate < 1 or seconds < 0:
        raise ValueError(f"WAV needs rate >= 1 and seconds >= 0, got {rate}, {seconds}")
    frequency = 220 + int.from_bytes(expand_seed(seed, 2, b"wav"), "big") % 661
    frames = round(seconds * rate)
    amplitude = 12000
    levels = []
    for i in range(frames):
        phase = (i * frequency * 4096 // rate) % 4096  # one period = 4096 phase units
        level = phase if phase < 2048 else 4096 - phase  # triangle 0..2048..0
        levels.append((level - 1024) * amplitude // 1024)
    samples = struct.pack(f"<{frames}h", *levels)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(samples))
    return buffer.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def make_mp4(seed: bytes) -> bytes:
    """An ISO-BMFF file: an `ftyp` box (brand isom) and an `mdat` box of seed-derived bytes.

    Enough for type sniffers and hashing; it holds no playable track.
    """
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")
    return ftyp + _box(b"mdat", expand_seed(seed, 4096, b"mp4"))


def make_mp3(seed: bytes) -> bytes:
    """An ID3v2.4 tag naming the seed, then MPEG-1 Layer III frame headers with seed payload."""
    text = b"\x03aicp-stub\x00" + seed.hex().encode("ascii")  # UTF-8 TXXX description + value
    frame = b"TXXX" + _syncsafe(len(text)) + b"\x00\x00" + text
    tag = b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame
    frame_header = b"\xff\xfb\x90\x64"  # 128 kbit/s, 44.1 kHz, no padding: 417-byte frames
    payload = expand_seed(seed, 8 * (417 - 4), b"mp3")
    frames = b"".join(
        frame_header + payload[i * 413 : (i + 1) * 413] for i in range(len(payload) // 413)
    )
    return tag + frames


def _syncsafe(value: int) -> bytes:
    return bytes((value >> shift) & 0x7F for shift in (21, 14, 7, 0))


_MAKERS = {
    ".png": make_png,
    ".mp4": make_mp4,
    ".wav": make_wav,
    ".mp3": make_mp3,
}

MEDIA_EXTENSIONS: tuple[str, ...] = tuple(_MAKERS)


def make_media(ext: str, seed: bytes) -> bytes:
    """Bytes of a file of type `ext` (".png", ".mp4", ".wav" or ".mp3") for `seed`."""
    maker = _MAKERS.get(ext.lower())
    if maker is None:
        raise ValueError(f"no media maker for {ext!r}; known: {', '.join(MEDIA_EXTENSIONS)}")
    return maker(seed)


def _temp_sibling(target: Path) -> Path:
    # Random only in a transient name; it never reaches an output. Same folder so os.replace
    # is an atomic rename, and created normally so the final file gets the usual permissions.
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` so readers see the old file or the whole new one, never a partial file.

    Two threads writing the same name with the same bytes (same label, same content) is safe:
    each writes its own temporary file and the last rename wins with identical content.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(target)
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_content_addressed(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write a file whose name carries a hash of `data`, in place (no temp file + rename).

    A rename costs as much as the whole write on some file systems, and it buys nothing
    here: a file cut short by a crash no longer matches the hash in its name (the harness
    compares hashes) and the next run rewrites it.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as handle:
        handle.write(data)
    return target


def copy_atomic(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> Path:
    """Copy a file (streamed, any size) with the same all-or-nothing guarantee as `write_atomic`."""
    target = Path(destination)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_sibling(target)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in chunks so large inputs need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Digests of input files, keyed by what `os.stat` says about them (see `regular_file_digest`).
DIGEST_CACHE_LIMIT = 256
_digests: dict[tuple[str, int, int, int, int, int], str] = {}


def regular_file_digest(path: str | os.PathLike[str]) -> str | None:
    """`sha256_file` of `path` if it names a regular file, else None (`os.path.isfile` rules).

    Every branch of a group fingerprints the same input file, so a file whose device, inode,
    size, mtime and ctime are unchanged since it was last hashed is not read again: one
    `stat` instead of an open and reads (each of which hands the GIL to another branch). The
    pipeline replaces files by rename (a new inode) or writes content-addressed names, so
    only an in-place rewrite to the same size within one file-system clock tick could go
    unnoticed.
    """
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    key = (
        os.fspath(path),
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
    )
    digest = _digests.get(key)
    if digest is None:
        digest = sha256_file(path)
        if len(_digests) >= DIGEST_CACHE_LIMIT:
            _digests.clear()
        _digests[key] = digest
    return digest
