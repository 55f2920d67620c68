"""The offline stub backend: deterministic media, failure injection, latency, subtitles, threads."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import hashlib
import io
import json
import struct
import threading
import time
import wave
import zlib
from pathlib import Path
from typing import Any

import pytest

from ai_content_pipeline.clock import VirtualClock
from ai_content_pipeline.config.constants import SUPPORTED_MODELS
from ai_content_pipeline.errors import UsageError
from ai_content_pipeline.models import media, stub
from ai_content_pipeline.models.protocol import GenerationRequest, GenerationResult, Generator
from ai_content_pipeline.models.registry import GeneratorRegistry, build_registry
from ai_content_pipeline.pipeline.step_types import input_type_of

ALL_CALLS = [(t, m) for t, models in SUPPORTED_MODELS.items() for m in models] + [
    ("replicate_multitalk", "multitalk"),
    ("generate_subtitles", "anything-goes"),
]


@pytest.fixture(autouse=True)
def _no_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(stub.TIME_SCALE_ENV, raising=False)
    monkeypatch.delenv(stub.JITTER_SEED_ENV, raising=False)


@pytest.fixture(scope="module")
def registry() -> GeneratorRegistry:
    return build_registry("stub")


def make_request(
    step_type: str,
    model: str,
    input_data: Any,
    output_dir: Path,
    params: dict[str, Any] | None = None,
    label: str = "step1",
) -> GenerationRequest:
    return GenerationRequest(
        step_type=step_type,
        model=model,
        input_data=input_data,
        input_type=input_type_of(step_type),
        params=params or {},
        output_dir=output_dir,
        label=label,
    )


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- media ------------------------------------------------------------------------------------


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == media.PNG_SIGNATURE
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def test_png_is_a_valid_rgb_image() -> None:
    chunks = _png_chunks(media.make_png(b"seed", width=10, height=7))
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    assert (width, height, depth, colour) == (10, 7, 8, 2)
    pixels = zlib.decompress(chunks[1][1])
    assert len(pixels) == 7 * (1 + 3 * 10)


def test_wav_is_readable_by_wave() -> None:
    with wave.open(io.BytesIO(media.make_wav(b"seed", seconds=0.25, rate=8000))) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 8000)
        assert audio.getnframes() == 2000


def test_mp4_and_mp3_headers() -> None:
    mp4 = media.make_mp4(b"seed")
    (ftyp_size,) = struct.unpack(">I", mp4[:4])
    assert mp4[4:12] == b"ftypisom"
    (mdat_size,) = struct.unpack(">I", mp4[ftyp_size : ftyp_size + 4])
    assert mp4[ftyp_size + 4 : ftyp_size + 8] == b"mdat"
    assert ftyp_size + mdat_size == len(mp4)
    assert 1000 < len(mp4) < 10_000
    assert media.make_mp3(b"seed").startswith(b"ID3")


# Pinned so a change in any maker (or a platform difference) shows up as a failing test.
PINNED = {
    ".png": "f14277cd6a63850d",
    ".wav": "44ca449194905d16",
    ".mp4": "c4179add22440333",
    ".mp3": "eec06d1d976d9abc",
}


@pytest.mark.parametrize("ext", sorted(PINNED))
def test_media_bytes_are_pinned(ext: str) -> None:
    data = media.make_media(ext, hashlib.sha256(b"pinned").digest())
    assert data == media.make_media(ext, hashlib.sha256(b"pinned").digest())
    assert data != media.make_media(ext, hashlib.sha256(b"other").digest())
    assert hashlib.sha256(data).hexdigest()[:16] == PINNED[ext]


def test_make_media_rejects_unknown_extension() -> None:
    with pytest.raises(ValueError, match=r"\.gif"):
        media.make_media(".gif", b"x")


def test_write_atomic_creates_parents_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.bin"
    media.write_atomic(target, b"one")
    media.write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert files_in(target.parent) == ["file.bin"]


# --- determinism ----------------------------------------------------------------------------


def _inputs(root: Path) -> dict[str, Any]:
    """Same input content, different locations per run."""
    folder = root / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / "in.png"
    image.write_bytes(media.make_png(b"input image"))
    video = folder / "in.mp4"
    video.write_bytes(media.make_mp4(b"input video"))
    return {"text": "a red fox in fresh snow", "image": str(image), "video": str(video)}


def _run(registry: GeneratorRegistry, step_type: str, model: str, root: Path) -> GenerationResult:
    inputs = _inputs(root)
    kind = input_type_of(step_type)
    input_data = inputs.get(kind, inputs["image"])
    params: dict[str, Any] = {"subtitle_text": "hello from the stub"}
    if step_type == "image_to_video":
        params["duration"] = 5
    request = make_request(step_type, model, input_data, root / "out", params)
    return registry.get(step_type, model).generate(request)


def _comparable(result: GenerationResult) -> dict[str, Any]:
    data = vars(result).copy()
    data["output_path"] = Path(result.output_path).name if result.output_path else None
    data["extra"] = {k: Path(v).name for k, v in result.extra.items()}
    return data


@pytest.mark.parametrize(("step_type", "model"), ALL_CALLS)
def test_outputs_are_identical_across_runs_and_folders(
    registry: GeneratorRegistry, tmp_path: Path, step_type: str, model: str
) -> None:
    first = _run(registry, step_type, model, tmp_path / "run1")
    second = _run(registry, step_type, model, tmp_path / "run2")
    assert first.success, first.error
    assert _comparable(first) == _comparable(second)
    assert files_in(tmp_path / "run1" / "out") == files_in(tmp_path / "run2" / "out")
    for name in files_in(tmp_path / "run1" / "out"):
        assert sha(tmp_path / "run1" / "out" / name) == sha(tmp_path / "run2" / "out" / name)
    json.dumps(first.metadata)  # must be JSON-serialisable
    score = first.metadata["quality_score"]
    assert 0 <= score < 1 and round(score, 4) == score
    assert first.metadata["backend"] == "stub"


@pytest.mark.parametrize(("step_type", "model"), ALL_CALLS)
def test_file_names_follow_label_and_content_hash(
    registry: GeneratorRegistry, tmp_path: Path, step_type: str, model: str
) -> None:
    result = _run(registry, step_type, model, tmp_path)
    if result.output_path is None:
        assert step_type in {"image_understanding", "prompt_generation"}
        assert files_in(tmp_path / "out") == []
        return
    path = Path(result.output_path)
    assert path.parent == tmp_path / "out"
    assert path.name == f"step1_{sha(path)[:12]}{path.suffix}"


def test_different_params_give_different_outputs(
    registry: GeneratorRegistry, tmp_path: Path
) -> None:
    generator = registry.get("text_to_image", "flux_dev")
    one = generator.generate(make_request("text_to_image", "flux_dev", "cat", tmp_path))
    two = generator.generate(
        make_request("text_to_image", "flux_dev", "cat", tmp_path, {"aspect_ratio": "16:9"})
    )
    other_model = registry.get("text_to_image", "imagen4").generate(
        make_request("text_to_image", "imagen4", "cat", tmp_path)
    )
    paths = {one.output_path, two.output_path, other_model.output_path}
    assert len(paths) == 3
    assert len({sha(p) for p in paths}) == 3


def test_seed_uses_input_file_content_not_its_path(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    c.write_bytes(b"different")

    def seed(path: Path) -> bytes:
        return stub.content_seed(make_request("image_to_video", "kling", str(path), tmp_path))

    assert seed(a) == seed(b) != seed(c)


def test_input_file_digest_follows_the_file_not_a_stale_cache(tmp_path: Path) -> None:
    """Each branch of a group fingerprints the same input, so digests are cached by what
    `os.stat` says; any replacement or resize must still be seen."""
    image = tmp_path / "in.png"
    image.write_bytes(b"first version")

    def seed() -> bytes:
        return stub.content_seed(make_request("image_to_video", "kling", str(image), tmp_path))

    first = seed()
    assert seed() == first
    replacement = tmp_path / "new.png"
    replacement.write_bytes(b"second versio")  # same size, new inode once renamed over
    replacement.replace(image)
    second = seed()
    assert second != first
    image.write_bytes(b"a longer third version")  # rewritten in place, size changes
    assert seed() not in {first, second}
    assert media.regular_file_digest(image) == hashlib.sha256(image.read_bytes()).hexdigest()


def test_only_regular_files_count_as_input_files(tmp_path: Path) -> None:
    assert media.regular_file_digest(tmp_path) is None  # a folder is a value, as isfile says
    assert media.regular_file_digest(tmp_path / "missing.png") is None
    assert media.regular_file_digest("bad\x00name") is None


def test_control_params_and_output_dir_are_not_part_of_the_seed(tmp_path: Path) -> None:
    def seed(params: dict[str, Any]) -> bytes:
        return stub.content_seed(make_request("text_to_image", "flux_dev", "x", tmp_path, params))

    plain = seed({})
    assert plain == seed({"stub_delay": 0, "stub_url_only": True, "output_dir": "sub"})
    assert plain == seed({"stub_fail": "boom", "stub_raise": "crash"})
    assert plain != seed({"style": "noir"})


def test_generators_keep_no_per_call_state(registry: GeneratorRegistry, tmp_path: Path) -> None:
    for step_type, model in ALL_CALLS:
        generator = registry.get(step_type, model)
        before = dict(vars(generator))
        _run(registry, step_type, model, tmp_path / step_type)
        assert vars(generator) == before


# --- failure injection ----------------------------------------------------------------------


def test_stub_fail_returns_failure_and_charges_cost(
    registry: GeneratorRegistry, tmp_path: Path
) -> None:
    request = make_request("image_to_video", "veo3", "img", tmp_path, {"stub_fail": "quota hit"})
    result = registry.get("image_to_video", "veo3").generate(request)
    assert not result.success
    assert result.error == "quota hit"
    assert result.cost == 3.0
    assert result.model_time == 300.0
    assert result.output_path is None
    assert files_in(tmp_path) == []


def test_stub_raise_raises(registry: GeneratorRegistry, tmp_path: Path) -> None:
    request = make_request("text_to_image", "flux_dev", "x", tmp_path, {"stub_raise": "kaput"})
    with pytest.raises(RuntimeError, match="kaput"):
        registry.get("text_to_image", "flux_dev").generate(request)


def test_stub_delay_sleeps_for_real(registry: GeneratorRegistry, tmp_path: Path) -> None:
    request = make_request("text_to_image", "flux_dev", "x", tmp_path, {"stub_delay": 0.05})
    started = time.perf_counter()
    assert registry.get("text_to_image", "flux_dev").generate(request).success
    assert time.perf_counter() - started >= 0.045


@pytest.mark.parametrize("bad", [-1, "soon", True, float("nan")])
def test_bad_stub_delay_is_a_failed_result(
    registry: GeneratorRegistry, tmp_path: Path, bad: Any
) -> None:
    request = make_request("text_to_image", "flux_dev", "x", tmp_path, {"stub_delay": bad})
    result = registry.get("text_to_image", "flux_dev").generate(request)
    assert not result.success
    assert "stub_delay" in (result.error or "")


def test_url_only_writes_nothing_and_the_fetcher_rebuilds_the_bytes(
    registry: GeneratorRegistry, tmp_path: Path
) -> None:
    for step_type, model in [
        ("text_to_image", "flux_dev"),
        ("image_to_video", "hailuo"),
        ("text_to_speech", "elevenlabs"),
    ]:
        generator = registry.get(step_type, model)
        url_only = generator.generate(
            make_request(step_type, model, "x", tmp_path / "url", {"stub_url_only": True})
        )
        assert url_only.success
        assert url_only.output_path is None
        assert url_only.output_url and url_only.output_url.startswith("stub://")
        assert files_in(tmp_path / "url") == []
        normal = generator.generate(make_request(step_type, model, "x", tmp_path / "file"))
        assert normal.output_url == url_only.output_url
        assert registry.fetch(url_only.output_url) == Path(normal.output_path).read_bytes()


def test_url_only_string_false_is_off(registry: GeneratorRegistry, tmp_path: Path) -> None:
    request = make_request("text_to_image", "flux_dev", "x", tmp_path, {"stub_url_only": "false"})
    assert registry.get("text_to_image", "flux_dev").generate(request).output_path


@pytest.mark.parametrize(
    "url", ["stub://gif/" + "0" * 64, "stub://png/abc", "stub://png/" + "z" * 64, "http://x/y"]
)
def test_fetch_rejects_malformed_stub_urls(url: str) -> None:
    with pytest.raises(ValueError, match="stub media URL"):
        stub.fetch_stub_url(url)


# --- latency --------------------------------------------------------------------------------


def test_time_scale_is_honoured_and_model_time_stays_nominal(
    registry: GeneratorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generator = registry.get("text_to_image", "flux_schnell")  # 5 s nominal
    request = make_request("text_to_image", "flux_schnell", "x", tmp_path)
    started = time.perf_counter()
    instant = generator.generate(request)
    assert time.perf_counter() - started < 1.0

    monkeypatch.setenv(stub.TIME_SCALE_ENV, "0.01")  # 5 s * 0.01 = 50 ms
    started = time.perf_counter()
    slow = generator.generate(request)
    elapsed = time.perf_counter() - started
    assert 0.045 <= elapsed < 2.0
    assert slow.model_time == instant.model_time == 5.0


def timed(generator: Any, request: GenerationRequest) -> tuple[GenerationResult, float]:
    """The result of one call on a fresh virtual clock, and the virtual seconds it waited."""
    clock = VirtualClock()
    result = generator.generate(dataclasses.replace(request, clock=clock))
    return result, clock.now()


def test_jitter_changes_the_sleep_but_not_the_outputs(
    registry: GeneratorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(stub.TIME_SCALE_ENV, "1")
    generator = registry.get("text_to_image", "flux_dev")  # 15 s nominal

    def run(label: str) -> tuple[GenerationResult, float]:
        request = make_request("text_to_image", "flux_dev", "x", tmp_path / label, label=label)
        return timed(generator, request)

    plain, plain_sleep = run("step1")
    monkeypatch.setenv(stub.JITTER_SEED_ENV, "7")
    jittered = [run(f"step1_branch{i}") for i in range(1, 6)]
    again, again_sleep = run("step1_branch1")
    sleeps = [seconds for _, seconds in jittered]
    assert plain_sleep == 15.0
    assert all(7.5 <= s < 22.5 for s in sleeps)
    assert len(set(sleeps)) == 5  # labels reorder completions
    assert again_sleep == sleeps[0]  # reproducible
    for result in [*(r for r, _ in jittered), again]:
        assert result.model_time == plain.model_time
        assert result.output_url == plain.output_url
        assert sha(result.output_path) == sha(plain.output_path)


def test_the_stub_waits_on_the_requests_clock(
    registry: GeneratorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Latency and `stub_delay` go through `request.clock`: on a virtual clock a 300 s model
    call costs no wall time. The delay is unscaled; the latency follows the time scale."""
    generator = registry.get("image_to_video", "veo3")  # 300 s nominal
    request = make_request("image_to_video", "veo3", "img", tmp_path, {"stub_delay": 7})
    started = time.perf_counter()
    assert timed(generator, request)[1] == 7.0  # time scale unset: only the delay
    monkeypatch.setenv(stub.TIME_SCALE_ENV, "1")
    result, waited = timed(generator, request)
    assert waited == 307.0
    monkeypatch.setenv(stub.TIME_SCALE_ENV, "0.5")
    assert timed(generator, request)[1] == 157.0
    assert time.perf_counter() - started < 2.0
    assert result.success and result.model_time == 300.0


def test_latency_factors_scale_one_label_only(
    registry: GeneratorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`LATENCY_FACTORS` (how the gate replays completion orders) changes a call's wait,
    never its outputs; unnamed labels keep factor 1, and the variable is per context."""
    monkeypatch.setenv(stub.TIME_SCALE_ENV, "1")
    generator = registry.get("text_to_image", "flux_schnell")  # 5 s

    def run(label: str) -> tuple[GenerationResult, float]:
        request = make_request("text_to_image", "flux_schnell", "x", tmp_path / label, label=label)
        return timed(generator, request)

    base, base_wait = run("g_branch1")
    token = stub.LATENCY_FACTORS.set({"g_branch1": 0.5, "g_branch2": 1.25})
    try:
        slowed = [run("g_branch1"), run("g_branch2"), run("g_branch3")]
        other_context = contextvars.Context().run(run, "g_branch1")
    finally:
        stub.LATENCY_FACTORS.reset(token)
    assert base_wait == 5.0
    assert [wait for _, wait in slowed] == [2.5, 6.25, 5.0]
    assert other_context[1] == 5.0  # a fresh context does not see the factors
    assert all(r.output_url == base.output_url for r, _ in slowed)
    assert stub.LATENCY_FACTORS.get() is None


def test_a_cancelled_wait_fails_the_call_writes_nothing_and_charges_it(
    registry: GeneratorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(stub.TIME_SCALE_ENV, "1")
    generator = registry.get("text_to_image", "flux_dev")
    request = make_request("text_to_image", "flux_dev", "x", tmp_path)
    request.cancelled.set()
    result, waited = timed(generator, request)
    assert not result.success
    assert result.error == stub.CANCELLED_ERROR
    assert result.cost == 0.003  # the stub's own report; the executor decides what counts
    assert waited == 0.0
    assert files_in(tmp_path) == []


def test_agenerate_waits_on_the_running_loop_and_matches_generate(
    registry: GeneratorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(stub.TIME_SCALE_ENV, "1")
    generator = registry.get("text_to_image", "imagen4")  # 20 s
    clock = VirtualClock()
    request = make_request("text_to_image", "imagen4", "x", tmp_path / "async")
    request = dataclasses.replace(request, clock=clock)

    async def two_calls() -> list[GenerationResult]:
        other = dataclasses.replace(request, label="step2")
        return list(await asyncio.gather(generator.agenerate(request), generator.agenerate(other)))

    loop = clock.new_event_loop()
    try:
        first, second = loop.run_until_complete(two_calls())
    finally:
        loop.close()
    assert clock.now() == 20.0  # awaited side by side: 20 s, not 40
    sync, waited = timed(generator, make_request("text_to_image", "imagen4", "x", tmp_path / "s"))
    assert waited == 20.0
    assert _comparable(first) == _comparable(sync)
    assert sha(first.output_path) == sha(sync.output_path)
    assert Path(second.output_path).name.startswith("step2_")


def test_a_cancelled_agenerate_writes_nothing(
    registry: GeneratorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(stub.TIME_SCALE_ENV, "1")
    generator = registry.get("text_to_image", "imagen4")
    clock = VirtualClock()
    request = dataclasses.replace(
        make_request("text_to_image", "imagen4", "x", tmp_path), clock=clock
    )

    async def cut() -> None:
        async with asyncio.timeout(3):
            await generator.agenerate(request)

    loop = clock.new_event_loop()
    try:
        with pytest.raises(TimeoutError):
            loop.run_until_complete(cut())
    finally:
        loop.close()
    assert clock.now() == 3.0
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        (stub.TIME_SCALE_ENV, "fast"),
        (stub.TIME_SCALE_ENV, "-1"),
        (stub.TIME_SCALE_ENV, "nan"),
        (stub.TIME_SCALE_ENV, "inf"),
        (stub.JITTER_SEED_ENV, "1.5"),
        (stub.JITTER_SEED_ENV, "seven"),
    ],
)
def test_bad_environment_values_are_usage_errors(
    registry: GeneratorRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    request = make_request("text_to_image", "flux_dev", "x", tmp_path)
    with pytest.raises(UsageError, match=variable):
        registry.get("text_to_image", "flux_dev").generate(request)


def test_empty_environment_values_mean_unset() -> None:
    timing = stub.read_stub_timing({stub.TIME_SCALE_ENV: " ", stub.JITTER_SEED_ENV: ""})
    assert timing == stub.StubTiming(time_scale=0.0, jitter_seed=None)


# --- per-type behaviour ---------------------------------------------------------------------


@pytest.mark.parametrize(("duration", "expected"), [(5, 5), ("6", 6), (10, 10), (" 10 ", 10)])
def test_image_to_video_accepts_int_or_string_durations(
    registry: GeneratorRegistry, tmp_path: Path, duration: Any, expected: int
) -> None:
    request = make_request("image_to_video", "kling", "img", tmp_path, {"duration": duration})
    result = registry.get("image_to_video", "kling").generate(request)
    assert result.success
    assert result.metadata["duration"] == expected


@pytest.mark.parametrize("duration", [7, "7", "5.0", True, None])
def test_image_to_video_rejects_other_durations(
    registry: GeneratorRegistry, tmp_path: Path, duration: Any
) -> None:
    request = make_request("image_to_video", "kling", "img", tmp_path, {"duration": duration})
    result = registry.get("image_to_video", "kling").generate(request)
    assert not result.success
    assert "duration must be one of 5, 6, 10" in (result.error or "")
    assert result.cost == 0.10


def test_upscale_needs_an_existing_input(registry: GeneratorRegistry, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.mp4")
    result = registry.get("upscale_video", "topaz").generate(
        make_request("upscale_video", "topaz", missing, tmp_path)
    )
    assert not result.success
    assert result.error == f"Input video not found: {missing}"
    assert result.cost == 1.50


def test_text_to_speech_output_file_sets_the_format_but_not_the_folder(
    registry: GeneratorRegistry, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    generator = registry.get("text_to_speech", "elevenlabs_v3")
    wav = generator.generate(
        make_request("text_to_speech", "elevenlabs_v3", "hi", out, {"output_file": "../../x.WAV"})
    )
    assert Path(wav.output_path).parent == out
    assert wav.output_path.endswith(".wav")
    with wave.open(wav.output_path) as audio:
        assert audio.getnframes() > 0
    mp3 = generator.generate(make_request("text_to_speech", "elevenlabs_v3", "hi", out))
    assert Path(mp3.output_path).read_bytes().startswith(b"ID3")
    assert files_in(tmp_path) == ["out"]


@pytest.mark.parametrize("label", ["", "..", "a/b", "..\\x"])
def test_labels_cannot_steer_writes(
    registry: GeneratorRegistry, tmp_path: Path, label: str
) -> None:
    request = make_request("text_to_image", "flux_dev", "x", tmp_path / "out", label=label)
    result = registry.get("text_to_image", "flux_dev").generate(request)
    assert not result.success
    assert files_in(tmp_path) == []


def test_text_outputs(registry: GeneratorRegistry, tmp_path: Path) -> None:
    describe = registry.get("image_understanding", "gemini_describe")
    text = describe.generate(make_request("image_understanding", "gemini_describe", "i", tmp_path))
    qa = registry.get("image_understanding", "gemini_qa").generate(
        make_request("image_understanding", "gemini_qa", "i", tmp_path, {"question": "Why?"})
    )
    assert text.output_text and qa.output_text and "Why?" in qa.output_text
    assert text.output_text != qa.output_text
    params = {"video_style": "film noir", "background_context": "a rainy harbour"}
    prompt = registry.get("prompt_generation", "openrouter_video_cinematic").generate(
        make_request("prompt_generation", "openrouter_video_cinematic", "i", tmp_path, params)
    )
    assert prompt.extracted_prompt
    assert "film noir" in prompt.extracted_prompt
    assert "a rainy harbour" in prompt.extracted_prompt
    assert prompt.extracted_prompt in (prompt.output_text or "")
    assert prompt.cost == 0.002
    assert files_in(tmp_path) == []


def test_costs_use_the_table_then_the_spec_fallbacks() -> None:
    assert stub.call_cost("image_to_video", "veo3") == 3.0
    assert stub.call_cost("text_to_image", "dalle3") == 0.0
    assert stub.call_cost("replicate_multitalk", "multitalk") == 1.0
    assert stub.call_cost("generate_subtitles", "any") == 0.0
    assert stub.call_cost("image_to_image", "brand_new_model") == 0.02
    assert stub.call_seconds("generate_subtitles", "any") == 0.0
    assert stub.call_seconds("text_to_image", "gen4") == 60.0


# --- subtitles ------------------------------------------------------------------------------


def _subtitles(
    registry: GeneratorRegistry, video: Any, out: Path, **params: Any
) -> GenerationResult:
    request = make_request("generate_subtitles", "whatever", video, out, params)
    return registry.get("generate_subtitles", "whatever").generate(request)


TEN_WORDS = "one two three four five six seven eight nine ten"


def test_subtitles_srt(registry: GeneratorRegistry, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(media.make_mp4(b"clip"))
    result = _subtitles(registry, str(video), tmp_path / "out", subtitle_text=TEN_WORDS)
    assert result.success, result.error
    copied = Path(result.output_path)
    assert copied.name == f"step1_{sha(video)[:12]}.mp4"
    assert copied.read_bytes() == video.read_bytes()
    srt = Path(result.extra["subtitle_path"])
    assert srt == copied.with_suffix(".srt")
    assert srt.read_text() == (
        "1\n00:00:00,000 --> 00:00:04,000\none two three four five six seven eight\n\n"
        "2\n00:00:04,000 --> 00:00:05,000\nnine ten\n"
    )
    assert result.cost == 0.0 and result.model_time == 0.0


def test_subtitles_vtt_with_custom_rate(registry: GeneratorRegistry, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(media.make_mp4(b"clip"))
    result = _subtitles(
        registry, str(video), tmp_path, subtitle_text=TEN_WORDS, format="vtt", words_per_second=3
    )
    assert result.success, result.error
    vtt = Path(result.extra["subtitle_path"])
    assert vtt.suffix == ".vtt"
    assert vtt.read_text() == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.667\none two three four five six seven eight\n\n"
        "00:00:02.667 --> 00:00:03.333\nnine ten\n"
    )


def test_subtitle_timestamps_cover_hours() -> None:
    text = " ".join(["w"] * 16)
    document = stub.format_subtitles(text, "srt", words_per_second=0.002)
    assert "01:06:40,000 --> 02:13:20,000" in document


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"subtitle_text": "hi", "format": "ass"}, "format"),
        ({"subtitle_text": "hi", "words_per_second": 0}, "words_per_second"),
        ({"subtitle_text": "   "}, "subtitle text"),
        ({}, "subtitle text"),
    ],
)
def test_subtitle_errors(
    registry: GeneratorRegistry, tmp_path: Path, params: dict[str, Any], message: str
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"video")
    result = _subtitles(registry, str(video), tmp_path / "out", **params)
    assert not result.success
    assert message in (result.error or "")


def test_subtitles_need_an_existing_video(registry: GeneratorRegistry, tmp_path: Path) -> None:
    result = _subtitles(registry, str(tmp_path / "missing.mp4"), tmp_path, subtitle_text="x")
    assert not result.success
    assert (result.error or "").startswith("Input video not found")


# --- registry and threads -------------------------------------------------------------------


def test_every_supported_model_has_a_generator(registry: GeneratorRegistry) -> None:
    for step_type, models in SUPPORTED_MODELS.items():
        assert sorted(registry.models_for(step_type)) == sorted(models)
        for model in models:
            assert isinstance(registry.get(step_type, model), Generator)
    assert isinstance(registry.get("generate_subtitles", "literally anything"), Generator)
    assert isinstance(registry.get("replicate_multitalk", "multitalk"), Generator)
    with pytest.raises(KeyError):
        registry.get("parallel_group", "parallel")


def test_one_generator_serves_eight_threads(
    registry: GeneratorRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generator = registry.get("text_to_image", "flux_dev")
    prompts = [f"prompt number {i}" for i in range(8)]

    def request(i: int, root: Path) -> GenerationRequest:
        return make_request(
            "text_to_image", "flux_dev", prompts[i], root, {"seed": i}, label=f"step1_branch{i}"
        )

    sequential = [generator.generate(request(i, tmp_path / "seq")) for i in range(8)]
    # Overlapping calls finishing in a shuffled order: 15 s * 0.002 = 30 ms, jittered.
    monkeypatch.setenv(stub.TIME_SCALE_ENV, "0.002")
    monkeypatch.setenv(stub.JITTER_SEED_ENV, "3")
    concurrent: list[GenerationResult | None] = [None] * 8
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        barrier.wait()
        concurrent[i] = generator.generate(request(i, tmp_path / "par"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for expected, got in zip(sequential, concurrent, strict=True):
        assert got is not None
        assert _comparable(got) == _comparable(expected)
        assert sha(got.output_path) == sha(expected.output_path)
    assert files_in(tmp_path / "seq") == files_in(tmp_path / "par")
    assert len(files_in(tmp_path / "par")) == 8
