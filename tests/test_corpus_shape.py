"""Shape of the example corpus in `input/`: what it covers and what it costs to run.

The release gate runs every corpus file in several states with simulated model
latency, so the corpus must stay cheap (summed estimate-seconds) as well as
cover every step type, merge strategy and a wide fan-out. These checks read the
files only; they never execute a pipeline.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ai_content_pipeline.config.loader import LoadedConfig, load_config_file

REPO = Path(__file__).resolve().parent.parent
INPUT = REPO / "input"
ASSETS = INPUT / "assets"
CORPUS = sorted(INPUT.glob("*.yaml"))

STEP_TYPES = (
    "text_to_image",
    "image_understanding",
    "prompt_generation",
    "image_to_image",
    "image_to_video",
    "text_to_speech",
    "add_audio",
    "upscale_video",
    "generate_subtitles",
    "parallel_group",
    "replicate_multitalk",
)
MERGE_STRATEGIES = ("collect_all", "first_success", "best_quality")

# Spec section 2/6. generate_subtitles takes any model string.
MODELS: dict[str, set[str]] = {
    "text_to_image": {
        "flux_dev",
        "flux_schnell",
        "imagen4",
        "seedream_v3",
        "seedream3",
        "gen4",
        "dalle3",
        "stable_diffusion",
    },
    "image_understanding": {
        f"gemini_{m}"
        for m in ("describe", "detailed", "classify", "objects", "ocr", "composition", "qa")
    },
    "prompt_generation": {
        f"openrouter_video_{m}"
        for m in ("prompt", "cinematic", "realistic", "artistic", "dramatic")
    },
    "image_to_image": {
        "photon_flash",
        "photon_base",
        "flux_kontext",
        "flux_kontext_multi",
        "seededit_v3",
        "clarity_upscaler",
    },
    "image_to_video": {"veo3", "veo3_fast", "veo2", "hailuo", "kling"},
    "text_to_speech": {"elevenlabs", "elevenlabs_turbo", "elevenlabs_v3"},
    "add_audio": {"thinksound"},
    "upscale_video": {"topaz"},
    "replicate_multitalk": {"multitalk"},
    "parallel_group": {"parallel"},
}

# PROCESSING_TIME_ESTIMATES (seconds); anything absent counts DEFAULT_SECONDS.
SECONDS: dict[str, float] = {
    "flux_dev": 15,
    "flux_schnell": 5,
    "imagen4": 20,
    "seedream_v3": 10,
    "elevenlabs": 15,
    "elevenlabs_turbo": 8,
    "elevenlabs_v3": 20,
    "gemini_describe": 3,
    "gemini_detailed": 5,
    "gemini_classify": 3,
    "gemini_objects": 4,
    "gemini_ocr": 3,
    "gemini_composition": 5,
    "gemini_qa": 4,
    "openrouter_video_prompt": 4,
    "openrouter_video_cinematic": 5,
    "openrouter_video_realistic": 4,
    "openrouter_video_artistic": 5,
    "openrouter_video_dramatic": 5,
    "photon_flash": 8,
    "photon_base": 12,
    "flux_kontext": 15,
    "flux_kontext_multi": 25,
    "seededit_v3": 10,
    "clarity_upscaler": 30,
    "veo3": 300,
    "veo3_fast": 180,
    "veo2": 240,
    "hailuo": 60,
    "kling": 90,
    "thinksound": 45,
    "topaz": 120,
}
DEFAULT_SECONDS = 60.0
CORPUS_BUDGET_SECONDS = 3000.0

# type -> (input, output); "keep" = prompt_generation pass-through, "any" matches all.
IO: dict[str, tuple[str, str]] = {
    "text_to_image": ("text", "image"),
    "image_understanding": ("image", "text"),
    "prompt_generation": ("image", "keep"),
    "image_to_image": ("image", "image"),
    "image_to_video": ("image", "video"),
    "text_to_speech": ("text", "audio"),
    "add_audio": ("video", "video"),
    "upscale_video": ("video", "video"),
    "generate_subtitles": ("video", "video"),
    "replicate_multitalk": ("any", "video"),
}
INPUT_KEY = {"text": "prompt", "image": "input_image", "video": "input_video"}
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")


def load(path: Path) -> LoadedConfig:
    return load_config_file(path)


def enabled(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (s for s in steps if s.get("enabled", True))


def located_steps(data: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every enabled step with its key path, group branches included."""
    for index, step in enumerate(data["steps"]):
        if not step.get("enabled", True):
            continue
        yield ("steps", index), step
        if step["type"] == "parallel_group":
            for branch_index, branch in enumerate(step.get("params", {}).get("parallel_steps", [])):
                if branch.get("enabled", True):
                    yield ("steps", index, "params", "parallel_steps", branch_index), branch


def all_steps(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    return (step for _, step in located_steps(data))


def estimate_seconds(data: dict[str, Any]) -> float:
    """Summed model time; a step made to fail counts once per attempt (retries included)."""
    total = 0.0
    for step in all_steps(data):
        if step["type"] == "parallel_group":
            continue
        attempts = (
            1 + int(step.get("retry_count", 0)) if "stub_fail" in step.get("params", {}) else 1
        )
        total += SECONDS.get(step["model"], DEFAULT_SECONDS) * attempts
    return total


def initial_type(data: dict[str, Any]) -> str:
    explicit = data.get("input_type", "auto")
    if explicit != "auto":
        return explicit
    first = next(enabled(data["steps"]))
    if first["type"] == "parallel_group":
        first = first["params"]["parallel_steps"][0]
    kind = IO[first["type"]][0]
    return "text" if kind == "any" else kind


def flow(steps: list[dict[str, Any]], available: str, where: str) -> str:
    """Walk the types like validation does (enabled steps only); return the final type."""
    for index, step in enumerate(enabled(steps), start=1):
        if step["type"] == "parallel_group":
            branches = list(enabled(step["params"]["parallel_steps"]))
            outs = {flow([b], available, f"{where} step {index} branch") for b in branches}
            assert len(outs) == 1, f"{where}: step {index} branches disagree on output type {outs}"
            available = outs.pop()
            continue
        expected, produced = IO[step["type"]]
        assert expected in ("any", available), (
            f"{where}: step {index} ({step['type']}) expects {expected}, gets {available}"
        )
        available = available if produced == "keep" else produced
    return available


@pytest.fixture(scope="module")
def corpus() -> dict[str, LoadedConfig]:
    return {path.stem: load(path) for path in CORPUS}


def test_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 16


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_each_file_is_well_formed(path: Path) -> None:
    loaded = load(path)
    data = loaded.data
    assert data.get("name") == path.stem, "name must equal the file stem"
    assert SNAKE.match(data["name"])
    assert isinstance(data.get("description"), str) and data["description"].strip()
    assert data.get("output_dir") == "output"
    start = initial_type(data)
    assert INPUT_KEY[start] in data, f"{path.name}: {start} pipeline needs {INPUT_KEY[start]}"
    assert data["steps"], "at least one step"
    flow(data["steps"], start, path.name)

    for location, step in located_steps(data):
        where = loaded.where(location)
        assert {"type", "model"} <= step.keys(), f"{where}: type and model are required"
        assert step["type"] in STEP_TYPES
        models = MODELS.get(step["type"])
        if models is not None:
            assert step["model"] in models, f"{where}: unknown model {step['model']!r}"
        assert isinstance(step.get("retry_count", 0), int) and step.get("retry_count", 0) >= 0
        params = step.get("params", {})
        assert isinstance(params, dict)
        if step["type"] == "image_to_video" and "duration" in params:
            assert str(params["duration"]) in {"5", "6", "10"}, f"{where}: bad duration"
        if step["type"] == "parallel_group":
            assert step["model"] == "parallel"
            assert 1 <= params.get("max_workers", 3) <= 64
            assert params.get("merge_strategy", "collect_all") in MERGE_STRATEGIES
            branches = params["parallel_steps"]
            assert branches, "empty group"
            assert all(b["type"] != "parallel_group" for b in branches), "nested group"
            assert len({b["type"] for b in branches}) == 1, "branches must share a step type"


def referenced_paths(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from referenced_paths(item)
    elif isinstance(value, list):
        for item in value:
            yield from referenced_paths(item)
    elif isinstance(value, str) and value.startswith("input/"):
        yield value


def test_every_referenced_asset_exists(corpus: dict[str, LoadedConfig]) -> None:
    missing = [
        f"{name}: {ref}"
        for name, loaded in corpus.items()
        for ref in referenced_paths(loaded.data)
        if not (REPO / ref).is_file()
    ]
    assert not missing
    for name, loaded in corpus.items():
        for key in ("input_image", "input_video"):
            if key in loaded.data:
                assert loaded.data[key].startswith("input/assets/"), name


def test_assets_match_their_generator() -> None:
    sys.path.insert(0, str(ASSETS))
    try:
        import make_assets
    finally:
        sys.path.remove(str(ASSETS))
    expected = make_assets.build_assets()
    for name, content in expected.items():
        assert (ASSETS / name).read_bytes() == content, f"{name} is stale: run make_assets.py"
    assert (ASSETS / "clip.mp4").read_bytes()[4:12] == b"ftypisom"
    assert (ASSETS / "landscape.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_names_are_unique(corpus: dict[str, LoadedConfig]) -> None:
    names = [loaded.data["name"] for loaded in corpus.values()]
    assert len(names) == len(set(names))


def test_every_step_type_appears(corpus: dict[str, LoadedConfig]) -> None:
    seen = {step["type"] for loaded in corpus.values() for step in all_steps(loaded.data)}
    assert seen == set(STEP_TYPES)


def test_every_merge_strategy_appears(corpus: dict[str, LoadedConfig]) -> None:
    seen = {
        step["params"].get("merge_strategy", "collect_all")
        for loaded in corpus.values()
        for step in all_steps(loaded.data)
        if step["type"] == "parallel_group"
    }
    assert seen == set(MERGE_STRATEGIES)


def test_a_wide_fan_out_exists(corpus: dict[str, LoadedConfig]) -> None:
    widths = [
        len(step["params"]["parallel_steps"])
        for loaded in corpus.values()
        for step in all_steps(loaded.data)
        if step["type"] == "parallel_group"
    ]
    assert max(widths) >= 8


def test_scenarios_are_covered(corpus: dict[str, LoadedConfig]) -> None:
    datas = [loaded.data for loaded in corpus.values()]
    starts = {initial_type(d) for d in datas}
    assert {"text", "image", "video"} <= starts
    assert {d.get("save_intermediates", False) for d in datas} == {True, False}
    assert any(
        not s.get("enabled", True) and i not in (0, len(d["steps"]) - 1)
        for d in datas
        for i, s in enumerate(d["steps"])
    ), "a disabled step in the middle"
    failing = [s for d in datas for s in all_steps(d) if "stub_fail" in s.get("params", {})]
    assert any(s.get("retry_count", 0) >= 2 for s in failing)
    assert any(s["type"] != "parallel_group" and not s.get("retry_count") for s in failing)
    assert any(
        "subtitle_text" not in s.get("params", {})
        for d in datas
        for s in all_steps(d)
        if s["type"] == "generate_subtitles"
    )


def test_corpus_time_budget(corpus: dict[str, LoadedConfig]) -> None:
    per_file = {name: estimate_seconds(loaded.data) for name, loaded in corpus.items()}
    total = sum(per_file.values())
    assert total <= CORPUS_BUDGET_SECONDS, f"corpus needs {total:.0f} estimate-seconds: {per_file}"
    veo3 = sum(
        1 for loaded in corpus.values() for s in all_steps(loaded.data) if s["model"] == "veo3"
    )
    assert veo3 <= 1
