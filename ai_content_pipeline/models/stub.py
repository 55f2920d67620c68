"""The offline `stub` backend: every model call answered locally, deterministically, for free.

Why it exists: pipelines, the parallel scheduler and the golden-record gate must be testable
without keys or network, and two runs (on any machine, under any scheduler) must produce the
same files byte for byte.

Content seed
    ``sha256`` of the canonical JSON of ``[step_type, model, params, input]``: params with
    sorted keys (``default=str``) minus the control keys below and ``output_dir`` (it says
    where a file goes, not what it holds); input = ``file:<sha256 of its bytes>`` when
    ``input_data`` names an existing local file, else ``value:<str(input_data)>``. Every output
    byte, text and metadata value derives from that seed, nothing from time or randomness.

Outputs
    text_to_image, image_to_image -> PNG; image_to_video, add_audio, upscale_video,
    replicate_multitalk -> MP4; text_to_speech -> MP3 (or WAV when ``params.output_file`` ends
    in ``.wav``; only its extension is used, the file stays inside ``request.output_dir``);
    image_understanding -> ``output_text``; prompt_generation -> ``output_text`` and
    ``extracted_prompt``. Files are named ``{label}_{sha256(bytes)[:12]}{ext}`` inside
    ``request.output_dir`` and written atomically; ``output_url`` is ``stub://{ext}/{seed hex}``
    and the registered ``stub://`` fetcher rebuilds the same bytes from it.
    generate_subtitles is a real local implementation, see `SubtitleGenerator`.

Cost and latency
    Cost is the ``COST_ESTIMATES`` entry, else `FALLBACK_COSTS`, else 0.0; a failed call still
    reports it. ``model_time`` is the ``PROCESSING_TIME_ESTIMATES`` entry (default 60 s;
    generate_subtitles 0). A call sleeps ``model_time * $AICP_STUB_TIME_SCALE`` seconds (read at
    call time; unset or empty = 0, no sleep). With ``$AICP_STUB_JITTER_SEED`` (an integer) the
    sleep is multiplied by a factor in [0.5, 1.5) derived from the jitter seed, the label and
    the content seed, so concurrent calls finish in a different but reproducible order; the
    reported ``model_time`` stays nominal. Malformed values raise `UsageError`.

Failure injection (step params; never part of the content seed)
    ``stub_fail: "message"``   the call sleeps as usual, then fails with that error (cost charged).
    ``stub_raise: "message"``  the call sleeps, then RAISES ``RuntimeError(message)``, to test how
                               callers survive a generator that breaks its no-raise contract.
    ``stub_delay: seconds``    extra real, unscaled sleep: a slow or hung call.
    ``stub_url_only: true``    return only ``output_url``, write no file (a URL-only provider).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..config.constants import (
    EXTRA_VALID_MODELS,
    IMAGE_TO_VIDEO_DURATIONS,
    SUPPORTED_MODELS,
    estimated_cost,
    estimated_seconds,
)
from ..errors import UsageError
from .media import (
    IMAGE_SIZE,
    MEDIA_EXTENSIONS,
    copy_atomic,
    make_media,
    regular_file_digest,
    sha256_file,
    write_atomic,
    write_content_addressed,
)
from .protocol import GenerationRequest, GenerationResult, Generator
from .registry import ANY_MODEL, GeneratorRegistry

TIME_SCALE_ENV = "AICP_STUB_TIME_SCALE"
JITTER_SEED_ENV = "AICP_STUB_JITTER_SEED"

CONTROL_PARAMS = frozenset({"stub_fail", "stub_raise", "stub_delay", "stub_url_only"})
_NOT_CONTENT = CONTROL_PARAMS | {"output_dir"}

# Spec section 5: what a step costs when COST_ESTIMATES has no entry for its model.
FALLBACK_COSTS: dict[str, float] = {
    "image_to_image": 0.02,
    "text_to_speech": 0.05,
    "add_audio": 0.05,
    "upscale_video": 1.50,
    "prompt_generation": 0.002,
    "generate_subtitles": 0.0,
    "replicate_multitalk": 1.0,
}

STUB_URL_SCHEME = "stub"
SUBTITLE_FORMATS = ("srt", "vtt")
WORDS_PER_CUE = 8


def call_cost(step_type: str, model: str) -> float:
    """USD one call costs: the table entry, else the step type's fallback, else 0.0."""
    return estimated_cost(step_type, model, default=FALLBACK_COSTS.get(step_type, 0.0))


def call_seconds(step_type: str, model: str) -> float:
    """Nominal model latency; subtitles are local work, not a model call."""
    if step_type == "generate_subtitles":
        return 0.0
    return estimated_seconds(step_type, model)


@dataclass(frozen=True)
class StubTiming:
    """The latency settings read from the environment for one call."""

    time_scale: float = 0.0
    jitter_seed: int | None = None


def read_stub_timing(environ: Mapping[str, str] | None = None) -> StubTiming:
    """Parse the latency variables; callers may use this to reject bad values up front."""
    env = os.environ if environ is None else environ
    return _parse_timing(env.get(TIME_SCALE_ENV, "").strip(), env.get(JITTER_SEED_ENV, "").strip())


@functools.lru_cache(maxsize=64)
def _parse_timing(scale_text: str, jitter_text: str) -> StubTiming:
    # Read on every call (tests and the harness change the variables between runs), parsed
    # once per distinct value. Errors are raised, and so never cached.
    scale = 0.0
    if scale_text:
        try:
            scale = float(scale_text)
        except ValueError:
            scale = math.nan
        if not math.isfinite(scale) or scale < 0:
            raise UsageError(
                f"{TIME_SCALE_ENV} must be a non-negative number (0 = no simulated latency), "
                f"got {scale_text!r}"
            )
    jitter: int | None = None
    if jitter_text:
        try:
            jitter = int(jitter_text)
        except ValueError:
            raise UsageError(f"{JITTER_SEED_ENV} must be an integer, got {jitter_text!r}") from None
    return StubTiming(time_scale=scale, jitter_seed=jitter)


def _input_fingerprint(input_data: Any) -> str:
    if isinstance(input_data, str | os.PathLike):
        digest = regular_file_digest(input_data)
        if digest is not None:
            return "file:" + digest
    return f"value:{input_data}"


def content_seed(request: GenerationRequest) -> bytes:
    """The 32-byte seed every stub output derives from (see the module docstring)."""
    params = {str(k): v for k, v in request.params.items() if k not in _NOT_CONTENT}
    canonical = json.dumps(
        [request.step_type, request.model, params, _input_fingerprint(request.input_data)],
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).digest()


def stub_url(ext: str, seed: bytes) -> str:
    """The URL the stub reports for a file it made (or would make) from `seed`."""
    return f"{STUB_URL_SCHEME}://{ext.lstrip('.').lower()}/{seed.hex()}"


def fetch_stub_url(url: str) -> bytes:
    """Rebuild the bytes behind a ``stub://`` URL, offline and identical to the original file."""
    prefix = f"{STUB_URL_SCHEME}://"
    if url[: len(prefix)].lower() != prefix:
        raise ValueError(f"not a stub media URL: {url!r}")
    kind, _, seed_hex = url[len(prefix) :].partition("/")
    ext = f".{kind.lower()}"
    if ext not in MEDIA_EXTENSIONS or len(seed_hex) != 64:
        raise ValueError(f"not a stub media URL: {url!r}")
    try:
        seed = bytes.fromhex(seed_hex)
    except ValueError:
        raise ValueError(f"not a stub media URL: {url!r}") from None
    return make_media(ext, seed)


def quality_score(seed: bytes) -> float:
    """A stand-in quality in [0, 1) with 4 decimals, for the best_quality merge strategy."""
    value = int.from_bytes(hashlib.sha256(seed + b"quality").digest()[:8], "big")
    return (value % 10_000) / 10_000


def _jitter_factor(jitter_seed: int, label: str, seed: bytes) -> float:
    digest = hashlib.sha256(f"{jitter_seed}\0{label}\0{seed.hex()}".encode()).digest()
    return 0.5 + int.from_bytes(digest[:8], "big") / 2**64


def simulated_sleep(timing: StubTiming, model_time: float, label: str, seed: bytes) -> float:
    """Seconds one call sleeps for its simulated model latency."""
    seconds = model_time * timing.time_scale
    if timing.jitter_seed is not None:
        seconds *= _jitter_factor(timing.jitter_seed, label, seed)
    return seconds


def _truthy(value: Any) -> bool:
    # YAML gives booleans, but a quoted "false" must not switch a flag on.
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _message(value: Any, fallback: str) -> str | None:
    if value is None or value is False or value == "":
        return None
    return value if isinstance(value, str) else fallback


@dataclass(frozen=True)
class _Controls:
    fail: str | None
    raise_: str | None
    delay: float
    url_only: bool

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> _Controls:
        if CONTROL_PARAMS.isdisjoint(params):
            return _NO_CONTROLS  # the usual case, on every call's hot path
        delay = params.get("stub_delay", 0) or 0
        if isinstance(delay, bool) or not isinstance(delay, int | float | str):
            raise ValueError(f"stub_delay must be a number of seconds, got {delay!r}")
        try:
            seconds = float(delay)
        except ValueError:
            raise ValueError(f"stub_delay must be a number of seconds, got {delay!r}") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"stub_delay must be a non-negative number of seconds, got {delay!r}")
        return cls(
            fail=_message(params.get("stub_fail"), "Simulated failure (stub_fail)"),
            raise_=_message(params.get("stub_raise"), "Simulated crash (stub_raise)"),
            delay=seconds,
            url_only=_truthy(params.get("stub_url_only", False)),
        )


_NO_CONTROLS = _Controls(fail=None, raise_=None, delay=0.0, url_only=False)


LATENCY_FACTORS: contextvars.ContextVar[Mapping[str, float] | None] = contextvars.ContextVar(
    "aicp_stub_latency_factors", default=None
)
"""label -> factor on the simulated model latency of that step or branch (after the jitter).

How the release gate replays a group under another completion order: it gives the branches
other latencies. A context variable, so concurrent runs in one process never see each other's.
"""

CANCELLED_ERROR = "cancelled: the caller stopped waiting"


class _StubError(Exception):
    """A model failure found while producing output: becomes a failed result, never escapes."""


@dataclass(frozen=True)
class _Call:
    """One call, planned: what it costs, how long it waits, and what it will do then."""

    seed: bytes
    cost: float
    model_time: float
    metadata: dict[str, Any]
    controls: _Controls
    pause: float


class _StubGenerator:
    """Shared call flow: seed, cost, latency, injected failures, then the type's output.

    Instances hold only fixed configuration set in ``__init__``; everything about a call lives
    in locals, so one instance serves every thread and task (spec section 8 #15). The sync
    `generate` and the async `agenerate` differ only in how they wait: on the request's clock,
    or on the running loop (which shares that clock).
    """

    def generate(self, request: GenerationRequest) -> GenerationResult:
        call = self._plan(request)
        if isinstance(call, GenerationResult):
            return call
        if call.pause > 0 and request.clock.sleep(call.pause, request.cancelled):
            return self._failed(call, CANCELLED_ERROR)
        return self._complete(request, call)

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        call = self._plan(request)
        if isinstance(call, GenerationResult):
            return call
        if call.pause > 0:
            await asyncio.sleep(call.pause)
        return self._complete(request, call)

    def estimate_cost(self, request: GenerationRequest) -> float:
        """What the call is charged, known before it runs (an interrupted call is charged it)."""
        return call_cost(request.step_type, request.model)

    def _plan(self, request: GenerationRequest) -> _Call | GenerationResult:
        timing = read_stub_timing()
        seed = content_seed(request)
        cost = call_cost(request.step_type, request.model)
        model_time = call_seconds(request.step_type, request.model)
        metadata: dict[str, Any] = {
            "backend": "stub",
            "seed": seed.hex()[:12],
            "quality_score": quality_score(seed),
        }
        try:
            controls = _Controls.parse(request.params)
        except ValueError as exc:
            return GenerationResult(
                success=False, cost=cost, model_time=model_time, metadata=metadata, error=str(exc)
            )
        pause = simulated_sleep(timing, model_time, request.label, seed)
        factors = LATENCY_FACTORS.get()
        if factors is not None:
            pause *= factors.get(request.label, 1.0)
        return _Call(seed, cost, model_time, metadata, controls, pause + controls.delay)

    @staticmethod
    def _failed(call: _Call, error: str) -> GenerationResult:
        return GenerationResult(
            success=False,
            cost=call.cost,
            model_time=call.model_time,
            metadata=call.metadata,
            error=error,
        )

    def _complete(self, request: GenerationRequest, call: _Call) -> GenerationResult:
        if request.cancelled.is_set():
            return self._failed(call, CANCELLED_ERROR)
        if call.controls.raise_ is not None:
            raise RuntimeError(call.controls.raise_)
        if call.controls.fail is not None:
            return self._failed(call, call.controls.fail)
        try:
            result = self._produce(request, call.seed, call.controls)
        except _StubError as exc:
            return self._failed(call, str(exc))
        except OSError as exc:
            return self._failed(call, f"{request.step_type}: cannot write output: {exc}")
        result.cost = call.cost
        result.model_time = call.model_time
        result.metadata = {**call.metadata, **result.metadata}
        return result

    def _produce(
        self, request: GenerationRequest, seed: bytes, controls: _Controls
    ) -> GenerationResult:
        raise NotImplementedError


def _output_dir(request: GenerationRequest) -> Path:
    label = request.label
    if not label or label in {".", ".."} or any(c in label for c in "/\\\0"):
        # The label becomes part of a file name; it must never steer the write elsewhere.
        raise _StubError(f"label {label!r} cannot be used in a file name")
    return Path(request.output_dir)


class _FileGenerator(_StubGenerator):
    """Media outputs: the bytes come from the seed, the name from the label and their hash."""

    default_ext = ".png"

    def _produce(
        self, request: GenerationRequest, seed: bytes, controls: _Controls
    ) -> GenerationResult:
        metadata = self._metadata(request)
        ext = self._extension(request)
        metadata["format"] = ext.lstrip(".")
        url = stub_url(ext, seed)
        if controls.url_only:
            return GenerationResult(success=True, output_url=url, metadata=metadata)
        data = make_media(ext, seed)
        path = (
            _output_dir(request) / f"{request.label}_{hashlib.sha256(data).hexdigest()[:12]}{ext}"
        )
        write_content_addressed(path, data)
        return GenerationResult(
            success=True, output_path=str(path), output_url=url, metadata=metadata
        )

    def _extension(self, request: GenerationRequest) -> str:
        return self.default_ext

    def _metadata(self, request: GenerationRequest) -> dict[str, Any]:
        """Type-specific metadata; raises `_StubError` for parameters the model would reject."""
        return {}


class _ImageGenerator(_FileGenerator):
    default_ext = ".png"

    def _metadata(self, request: GenerationRequest) -> dict[str, Any]:
        return {"width": IMAGE_SIZE, "height": IMAGE_SIZE}


def _duration(value: Any, allowed: tuple[int, ...] | None) -> int | float:
    text = str(value).strip()
    if allowed is not None:
        # Same rule as validation: 5, 6 or 10 as int or string (spec section 8 #4).
        choices = {str(d): d for d in allowed}
        if isinstance(value, bool) or text not in choices:
            raise _StubError(f"duration must be one of {', '.join(choices)} seconds, got {value!r}")
        return choices[text]
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds <= 0:
        raise _StubError(f"duration must be a positive number of seconds, got {value!r}")
    return int(seconds) if seconds.is_integer() else seconds


class _VideoGenerator(_FileGenerator):
    default_ext = ".mp4"

    def __init__(
        self, allowed_durations: tuple[int, ...] | None = None, needs_input_file: bool = False
    ) -> None:
        self.allowed_durations = allowed_durations
        self.needs_input_file = needs_input_file

    def _metadata(self, request: GenerationRequest) -> dict[str, Any]:
        if self.needs_input_file:
            source = request.input_data
            if not isinstance(source, str | os.PathLike) or not os.path.isfile(source):
                raise _StubError(f"Input video not found: {source}")
        duration = _duration(request.params.get("duration", 5), self.allowed_durations)
        metadata: dict[str, Any] = {"duration": duration}
        if request.step_type == "upscale_video":
            metadata["upscale_factor"] = request.params.get("upscale_factor", 2)
        return metadata


class _SpeechGenerator(_FileGenerator):
    default_ext = ".mp3"

    def _extension(self, request: GenerationRequest) -> str:
        wanted = request.params.get("output_file")
        if wanted:
            # Only the name's extension counts; its folder would point outside output_dir.
            suffix = PurePosixPath(str(wanted).replace("\\", "/")).suffix.lower()
            if suffix in {".mp3", ".wav"}:
                return suffix
        return self.default_ext


# Word banks for the text outputs; a seed byte picks each word.
_SUBJECTS = (
    "a quiet harbour at dawn",
    "a mountain lake under low cloud",
    "a busy street market",
    "a sunlit forest clearing",
    "a city skyline at night",
    "a desert road with long shadows",
    "a snowy village square",
    "a coastal cliff above breaking waves",
)
_PALETTES = (
    "warm amber",
    "cool blue",
    "muted green",
    "soft pastel",
    "high-contrast monochrome",
    "golden",
    "teal and orange",
    "deep violet",
)
_COMPOSITIONS = (
    "rule-of-thirds framing",
    "a centred, symmetric layout",
    "a strong leading line",
    "a low camera angle",
    "a wide establishing view",
    "a shallow depth of field",
)
_OBJECTS = ("a bicycle", "a lantern", "two figures", "a wooden bench", "a red umbrella", "a bird")
_CATEGORIES = ("landscape", "urban scene", "nature", "architecture", "street photography")
_CAMERA_MOVES = (
    "Slow dolly-in",
    "Gentle pan to the left",
    "Aerial pull-back",
    "Steady tracking shot",
    "Slow orbit",
    "Locked-off shot with drifting light",
)


def _pick(options: tuple[str, ...], seed: bytes, index: int) -> str:
    return options[seed[index] % len(options)]


class _ImageDescriptionGenerator(_StubGenerator):
    """image_understanding: a sentence shaped by the model's analysis kind."""

    def _produce(
        self, request: GenerationRequest, seed: bytes, controls: _Controls
    ) -> GenerationResult:
        subject = _pick(_SUBJECTS, seed, 0)
        palette = _pick(_PALETTES, seed, 1)
        composition = _pick(_COMPOSITIONS, seed, 2)
        first, second = _pick(_OBJECTS, seed, 3), _pick(_OBJECTS[::-1], seed, 4)
        kind = request.model.removeprefix("gemini_")
        if kind == "detailed":
            text = (
                f"The image shows {subject} in {palette} tones, with {composition}. "
                f"Details include {first} and {second}; the light is even and soft."
            )
        elif kind == "classify":
            confidence = 0.5 + (seed[5] % 50) / 100
            text = f"Category: {_pick(_CATEGORIES, seed, 6)} (confidence {confidence:.2f})."
        elif kind == "objects":
            text = f"Objects: {first}, {second}, and the backdrop of {subject}."
        elif kind == "ocr":
            text = f'Detected text: "{seed.hex()[:6].upper()}" on a small sign.'
        elif kind == "composition":
            text = f"Composition: {composition}; palette: {palette}; subject: {subject}."
        elif kind == "qa":
            question = request.params.get("question") or "What does the image show?"
            text = f"Q: {question} A: It shows {subject}, lit in {palette} tones."
        else:
            text = f"The image shows {subject} in {palette} tones, with {composition}."
        text += f" [stub {seed.hex()[:12]}]"
        return GenerationResult(success=True, output_text=text)


class _VideoPromptGenerator(_StubGenerator):
    """prompt_generation: an analysis plus the video prompt later steps use."""

    def _produce(
        self, request: GenerationRequest, seed: bytes, controls: _Controls
    ) -> GenerationResult:
        params = request.params
        flavour = request.model.removeprefix("openrouter_video_")
        style = params.get("video_style") or ("natural" if flavour == "prompt" else flavour)
        subject = _pick(_SUBJECTS, seed, 0)
        parts = [
            f"{_pick(_CAMERA_MOVES, seed, 7)} across {subject}",
            f"{_pick(_PALETTES, seed, 1)} light",
            f"{style} style",
        ]
        if params.get("background_context"):
            parts.append(f"background: {params['background_context']}")
        if params.get("duration_preference"):
            parts.append(f"pacing: {params['duration_preference']}")
        prompt = ", ".join(parts)
        analysis = (
            f"Image analysis ({request.model}): {subject}, with "
            f"{_pick(_COMPOSITIONS, seed, 2)}.\nVideo prompt: {prompt}\n[stub {seed.hex()[:12]}]"
        )
        return GenerationResult(success=True, output_text=analysis, extracted_prompt=prompt)


def _timestamp(milliseconds: int, separator: str) -> str:
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def format_subtitles(
    text: str, fmt: str = "srt", words_per_second: float = 2.0, words_per_cue: int = WORDS_PER_CUE
) -> str:
    """An SRT or WebVTT document showing `text` in cues of `words_per_cue` words.

    Cue times are computed from word positions in whole milliseconds, so no rounding drift
    accumulates over long texts.
    """
    if fmt not in SUBTITLE_FORMATS:
        raise ValueError(
            f"subtitle format must be one of {', '.join(SUBTITLE_FORMATS)}, got {fmt!r}"
        )
    if not math.isfinite(words_per_second) or words_per_second <= 0:
        raise ValueError(f"words_per_second must be a positive number, got {words_per_second!r}")
    words = text.split()
    separator = "," if fmt == "srt" else "."
    blocks = ["WEBVTT\n"] if fmt == "vtt" else []
    for number, start in enumerate(range(0, len(words), words_per_cue), start=1):
        group = words[start : start + words_per_cue]
        begin = round(start * 1000 / words_per_second)
        end = round((start + len(group)) * 1000 / words_per_second)
        timing = f"{_timestamp(begin, separator)} --> {_timestamp(end, separator)}"
        # "-->" inside a cue's text would read as a timing line.
        cue = f"{timing}\n{' '.join(group).replace('-->', '->')}\n"
        blocks.append(f"{number}\n{cue}" if fmt == "srt" else cue)
    return "\n".join(blocks)


class SubtitleGenerator(_StubGenerator):
    """generate_subtitles, done for real: copy the video next to an SRT/VTT file of the text.

    Params: ``subtitle_text`` (required), ``format`` (``srt`` default, or ``vtt``),
    ``words_per_second`` (2.0). The copy is named ``{label}_{sha256(video)[:12]}{suffix}`` and
    the subtitles ``<that stem>.<format>``; ``extra["subtitle_path"]`` points at them.
    """

    def _produce(
        self, request: GenerationRequest, seed: bytes, controls: _Controls
    ) -> GenerationResult:
        params = request.params
        source = request.input_data
        if not isinstance(source, str | os.PathLike) or not os.path.isfile(source):
            raise _StubError(f"Input video not found: {source}")
        fmt = params.get("format", "srt")
        if fmt not in SUBTITLE_FORMATS:
            raise _StubError(f"subtitle format must be 'srt' or 'vtt', got {fmt!r}")
        rate = params.get("words_per_second", 2.0)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
            raise _StubError(f"words_per_second must be a positive number, got {rate!r}")
        text = params.get("subtitle_text")
        if text is None or not str(text).strip():
            raise _StubError(
                "no subtitle text: set params.subtitle_text or run a prompt_generation step first"
            )
        try:
            document = format_subtitles(str(text), fmt, float(rate))
        except ValueError as exc:
            raise _StubError(str(exc)) from None
        folder = _output_dir(request)
        source_path = Path(source)
        video = folder / f"{request.label}_{sha256_file(source_path)[:12]}{source_path.suffix}"
        if not (video.exists() and os.path.samefile(video, source_path)):
            copy_atomic(source_path, video)
        subtitles = video.with_name(f"{video.stem}.{fmt}")
        write_atomic(subtitles, document.encode("utf-8"))
        return GenerationResult(
            success=True,
            output_path=str(video),
            metadata={
                "format": fmt,
                "words_per_second": rate,
                "cue_count": -(-len(str(text).split()) // WORDS_PER_CUE),
            },
            extra={"subtitle_path": str(subtitles)},
        )


def _generator_for(step_type: str) -> Generator | None:
    """The stub generator serving `step_type`; None for types that are not model calls."""
    factories: dict[str, Any] = {
        "text_to_image": _ImageGenerator,
        "image_to_image": _ImageGenerator,
        "image_to_video": lambda: _VideoGenerator(allowed_durations=IMAGE_TO_VIDEO_DURATIONS),
        "add_audio": _VideoGenerator,
        "upscale_video": lambda: _VideoGenerator(needs_input_file=True),
        "replicate_multitalk": _VideoGenerator,
        "text_to_speech": _SpeechGenerator,
        "image_understanding": _ImageDescriptionGenerator,
        "prompt_generation": _VideoPromptGenerator,
        "generate_subtitles": SubtitleGenerator,
    }
    if step_type == "parallel_group":
        return None  # a group runs its branches' generators, it is not a call itself
    factory = factories.get(step_type)
    if factory is None:
        raise ValueError(f"the stub backend has no generator for step type {step_type!r}")
    return factory()


def register_stub_generators(registry: GeneratorRegistry) -> None:
    """Fill `registry` with a generator for every model the constants know, and ``stub://``."""
    tables: list[tuple[str, list[str] | None]] = [
        *SUPPORTED_MODELS.items(),
        *EXTRA_VALID_MODELS.items(),
    ]
    for step_type, models in tables:
        generator = _generator_for(step_type)
        if generator is None:
            continue
        for model in [ANY_MODEL] if models is None else models:
            registry.register(step_type, model, generator)
    registry.register_fetcher(STUB_URL_SCHEME, fetch_stub_url)
