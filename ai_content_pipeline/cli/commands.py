"""The small commands: list-models, setup, create-examples, generate-image, create-video, features,
schema.

Why together: each is a few lines over the manager or the feature flags; `run-chain` and
`validate` (the file-driven ones) live in `run_chain`.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from ..clock import RealClock
from ..config.constants import (
    COST_ESTIMATES,
    PROCESSING_TIME_ESTIMATES,
    SUPPORTED_MODELS,
    is_known_model,
)
from ..config.features import SOURCE_DEFAULT, FeatureFlags, features_file_warnings
from ..errors import UsageError
from ..pipeline.chain import ContentCreationChain, PipelineStep, StepType
from ..pipeline.schedulers import load_scheduler, wanted_scheduler
from ..pipeline.validation import did_you_mean
from ..utils.validators import validate_aspect_ratio, validate_prompt
from .output import check_save_json_name, finish_run, money, seconds, show_estimate
from .run_chain import proceed
from .session import Session

PROMPT_MAX_LENGTH = 10_000


def cmd_list_models(args: argparse.Namespace, session: Session) -> int:
    """Models per step type, with the cost/time estimates the planner uses."""
    for step_type, models in session.manager().get_available_models().items():
        print(f"{step_type}:")
        width = max((len(m) for m in models), default=0)
        for model in models:
            print(f"  {model:<{width}}  {_estimate_text(step_type, model)}")
    return 0


def _estimate_text(step_type: str, model: str) -> str:
    cost = COST_ESTIMATES.get(step_type, {}).get(model)
    secs = PROCESSING_TIME_ESTIMATES.get(step_type, {}).get(model)
    cost_text = money(cost) if cost is not None else "cost n/a"
    time_text = f"~{seconds(secs)}" if secs is not None else "time n/a"
    return f"{cost_text}  {time_text}"


def cmd_setup(args: argparse.Namespace, session: Session) -> int:
    """Create output/ and input/ under --base-dir, then write the example configs."""
    targets = _example_targets(args, session)
    manager = session.manager()
    for folder in (manager.output_dir, session.base_dir / "input"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        session.say(f"Folder ready: {folder}")
    return _write_examples(targets, session)


def cmd_create_examples(args: argparse.Namespace, session: Session) -> int:
    return _write_examples(_example_targets(args, session), session)


def _example_targets(args: argparse.Namespace, session: Session) -> Path:
    """The examples' folder; without --force, a file already there (perhaps edited by its
    user) stops the command before anything is written."""
    from ..pipeline.manager import EXAMPLE_CONFIGS

    folder = Path(session.resolve_dir(args.output_dir) or session.base_dir / "input")
    existing = [str(folder / name) for name in EXAMPLE_CONFIGS if (folder / name).exists()]
    if existing and not args.force:
        them = "it" if len(existing) == 1 else "them"
        raise UsageError(
            f"{' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
            f"pass --force to overwrite {them} (nothing was written)"
        )
    return folder


def _write_examples(folder: Path, session: Session) -> int:
    written = session.manager().create_example_configs(str(folder))
    for path in written:
        print(f"Wrote {path}")
    return 0


def cmd_generate_image(args: argparse.Namespace, session: Session) -> int:
    """One text_to_image step, run through the manager like any chain."""
    check_save_json_name(args.save_json)
    _check_text(args.text)
    ok, error = validate_aspect_ratio(args.aspect_ratio)
    if not ok:
        raise UsageError(f"--aspect-ratio: {error}")
    manager = session.manager()
    model = args.model
    if model == "auto":
        model = manager.text_to_image.recommend_model()
        if model is None:
            raise UsageError("no text_to_image model is available in this backend")
    _check_model("text_to_image", model, "--model")
    config = {"output_dir": args.output_dir} if args.output_dir else {}
    step = PipelineStep(StepType.TEXT_TO_IMAGE, model, {"aspect_ratio": args.aspect_ratio})
    chain = ContentCreationChain(name="generate_image", steps=[step], config=config)
    show_estimate(session, manager.estimate_chain_cost(chain), chain.estimate_time())
    if args.model == "auto":
        _say_auto_choice(session, "text_to_image", model, "--model")
    if not proceed(args.no_confirm):
        return 0
    result = manager.execute_chain(chain, args.text)
    return finish_run(session, result, args.save_json)


def cmd_create_video(args: argparse.Namespace, session: Session) -> int:
    """Text -> image -> video: the chain `manager.quick_create_video` runs, shown and priced
    (with what `auto` chose) and confirmed on a terminal before anything is spent."""
    from ..pipeline.manager import quick_video_chain

    check_save_json_name(args.save_json)
    _check_text(args.text)
    _check_model("text_to_image", args.image_model, "--image-model")
    _check_model("image_to_video", args.video_model, "--video-model")
    manager = session.manager()
    chain = quick_video_chain(
        manager.text_to_image, args.image_model, args.video_model, args.output_dir
    )
    show_estimate(session, manager.estimate_chain_cost(chain), chain.estimate_time())
    image_step, video_step = chain.steps
    if args.image_model == "auto":
        _say_auto_choice(session, "text_to_image", image_step.model, "--image-model")
    if args.video_model == "auto":
        _say_auto_choice(session, "image_to_video", video_step.model, "--video-model")
    if not proceed(args.no_confirm):
        return 0
    result = manager.execute_chain(chain, args.text)
    return finish_run(session, result, args.save_json)


def _say_auto_choice(session: Session, step_type: str, chosen: str, flag: str) -> None:
    """`auto` never spends silently: name the model it chose and the cheapest alternative."""
    prices = {m: COST_ESTIMATES.get(step_type, {}).get(m) for m in SUPPORTED_MODELS[step_type]}
    known = {m: cost for m, cost in prices.items() if cost is not None}
    line = f"{flag} auto chose {chosen}"
    if chosen in known:
        line += f" ({money(known[chosen])})"
    cheapest = min(known, key=lambda m: known[m], default=None)
    if cheapest is not None and chosen in known and known[cheapest] < known[chosen]:
        line += f"; the cheapest is {cheapest} ({money(known[cheapest])}): {flag} {cheapest}"
    session.say(line)


def _check_text(text: str) -> None:
    ok, error = validate_prompt(text, max_length=PROMPT_MAX_LENGTH)
    if not ok:
        raise UsageError(f"--text: {error}")


def _check_model(step_type: str, model: str, flag: str) -> None:
    """Unknown models are usage errors before anything runs (spec §8 #3)."""
    if not is_known_model(step_type, model):
        hint = did_you_mean(model, [*SUPPORTED_MODELS.get(step_type, []), "auto"])
        raise UsageError(f"{flag}: unknown {step_type} model '{model}'{hint}")


def cmd_features(args: argparse.Namespace, session: Session) -> int:
    """The effective parallel flag, which source decided it, and the scheduler that results."""
    for warning in features_file_warnings():
        print(warning, file=sys.stderr)
    state = FeatureFlags.parallel_execution_state()
    importable = _parallel_importable()
    source = state.source if state.source == SOURCE_DEFAULT else f"{state.source} ({state.detail})"
    scheduler = _scheduler_a_run_would_use()
    print(f"parallel execution: {'enabled' if state.enabled else 'disabled'}")
    print(f"source: {source}")
    print(f"parallel package: {'importable' if importable else 'not installed'}")
    print(f"scheduler: {scheduler}")
    return 0


def _scheduler_a_run_would_use() -> str:
    """Loaded as an executor loads it, so the answer cannot drift from what a run does (a
    registered scheduler whose package is gone falls back to sequential)."""
    wanted = wanted_scheduler(FeatureFlags.parallel_execution_state())
    scheduler = load_scheduler(wanted, RealClock())
    try:
        return scheduler.name
    finally:
        scheduler.close()


def _parallel_importable() -> bool:
    try:
        return importlib.util.find_spec("parallel") is not None
    except (ImportError, ValueError):
        return False


def cmd_schema(args: argparse.Namespace, session: Session) -> int:
    """The pipeline file format as a JSON Schema, for editors (docs/pipeline.schema.json)."""
    from ..pipeline.schema import schema_text

    print(schema_text(), end="")
    return 0
