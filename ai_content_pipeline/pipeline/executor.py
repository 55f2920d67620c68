"""Runs a chain: validate, walk the enabled steps, call generators, write reports."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import hashlib
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from ..clock import Clock, RealClock, StepTimeout
from ..config.features import FeatureFlags
from ..errors import PipelineError
from ..interrupts import second_interrupt_exits
from ..models.avatar import ReplicateMultiTalkGenerator
from ..models.image_to_image import UnifiedImageToImageGenerator
from ..models.image_to_video import UnifiedImageToVideoGenerator
from ..models.image_understanding import UnifiedImageUnderstandingGenerator
from ..models.prompt_generation import UnifiedPromptGenerator
from ..models.protocol import GenerationRequest, GenerationResult, is_async
from ..models.registry import GeneratorRegistry, build_registry
from ..models.text_to_image import UnifiedTextToImageGenerator
from ..models.text_to_speech import UnifiedTextToSpeechGenerator
from ..utils.file_manager import FileManager
from . import reports, step_types
from .chain import ChainResult, ContentCreationChain, PipelineStep, StepType
from .groups import (
    INTERRUPTED_MESSAGE,
    BranchOutcome,
    BranchTask,
    GroupInterrupted,
    GroupScheduler,
    branch_tasks,
    failed_result,
    run_group,
)
from .schedule import InFlight, ScheduleTrace
from .schedulers import load_scheduler, wanted_scheduler
from .step_params import CONTROL_PARAMS, resolve_params

logger = logging.getLogger("ai_content_pipeline")
logger.addHandler(logging.NullHandler())

RESULT_KEYS = (
    "success",
    "output_path",
    "output_url",
    "output_text",
    "extracted_prompt",
    "processing_time",
    "cost",
    "model",
    "metadata",
    "error",
)


T = TypeVar("T")


class CallMode(Enum):
    """How a step's model call waits: blocking the thread, or awaited on the running loop."""

    SYNC = "sync"
    ASYNC = "async"


@dataclass(frozen=True)
class SchedulerInfo:
    """What the executor runs groups on, asked for by `aicp features` and the harness."""

    name: str
    """The scheduler's registered name: ``sequential``, ``async``, ..."""
    concurrent: bool
    clock: str
    """``real`` or ``virtual``."""
    flag_enabled: bool
    """What the feature flag said (a concurrent scheduler may still be missing)."""
    extension_loaded: bool
    """Whether the optional `parallel` package was found."""


class StepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a plain step: carries its (failed, partial) result for the report."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("step interrupted")
        self.result = result


class _CallInterrupted(Exception):
    """Inside `_run_step`: the call in flight was stopped (Ctrl-C or task cancellation)."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(INTERRUPTED_MESSAGE)
        self.result = result


def drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends, on this thread, without an event loop.

    Why: one `async def` holds the step rules for both call modes; in `CallMode.SYNC` it
    awaits nothing that suspends, so stepping it once runs it to the end.
    """
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a synchronous step suspended: it awaited an event loop")


class ChainExecutor:
    """Executes content creation chains step by step.

    Groups are handed to a scheduler chosen by name (the feature flag, or `scheduler`): the
    core's sequential one, or one registered in the ``ai_content_pipeline.schedulers``
    entry-point group, such as the `parallel` package's. Every wait goes through `clock`.
    """

    def __init__(
        self,
        file_manager: FileManager,
        generators: GeneratorRegistry | None = None,
        *,
        clock: Clock | None = None,
        scheduler: str | None = None,
    ) -> None:
        self.file_manager = file_manager
        self.generators = generators if generators is not None else build_registry("stub")
        self.text_to_image = UnifiedTextToImageGenerator(self.generators)
        self.image_understanding = UnifiedImageUnderstandingGenerator(self.generators)
        self.prompt_generation = UnifiedPromptGenerator(self.generators)
        self.image_to_image = UnifiedImageToImageGenerator(self.generators)
        self.image_to_video = UnifiedImageToVideoGenerator(self.generators)
        self.text_to_speech = UnifiedTextToSpeechGenerator(self.generators)
        self.replicate_multitalk = ReplicateMultiTalkGenerator(
            self.file_manager, registry=self.generators
        )
        self.clock: Clock = clock if clock is not None else RealClock()
        self.flag_state = FeatureFlags.parallel_execution_state()
        wanted = scheduler or wanted_scheduler(self.flag_state)
        self._scheduler: GroupScheduler = load_scheduler(wanted, self.clock)
        self._parallel_extension: Any = self._load_parallel_extension()
        self.schedule_trace: ScheduleTrace | None = None
        """Set a `ScheduleTrace` here to collect every group's schedule (the harness does)."""
        self.last_report_path: Path | None = None
        self.last_report_error: str | None = None

    # -- scheduler seam -------------------------------------------------------------------

    def _load_parallel_extension(self) -> Any:
        """The established `ParallelExtension`, when the optional package is importable."""
        try:
            from .parallel_extension import ParallelExtension
        except ImportError:
            return None
        extension = ParallelExtension(self)
        extension.enabled = self._scheduler.concurrent
        return extension

    @property
    def scheduler_info(self) -> SchedulerInfo:
        """Which scheduler and clock this executor runs (public; the harness asks only this)."""
        return SchedulerInfo(
            name=self._scheduler.name,
            concurrent=self._scheduler.concurrent,
            clock=self.clock.name,
            flag_enabled=self.flag_state.enabled,
            extension_loaded=self._parallel_extension is not None,
        )

    @property
    def scheduler_name(self) -> str:
        return self._scheduler.name

    def close(self) -> None:
        """Release the scheduler's loop and threads (they also end with the interpreter)."""
        self._scheduler.close()

    # -- running a chain ------------------------------------------------------------------

    def execute(self, chain: ContentCreationChain, input_data: str, **kwargs: Any) -> ChainResult:
        """Execute a complete chain. Validates first: an invalid chain runs nothing."""
        enabled_steps = chain.get_enabled_steps()
        problems = chain.validate()
        if problems:
            return ChainResult(
                success=False,
                steps_completed=0,
                total_steps=len(enabled_steps),
                total_cost=0.0,
                total_time=0.0,
                outputs={},
                error="Chain validation failed: " + "; ".join(problems),
                step_results=[],
            )
        self.last_report_path = None
        self.last_report_error = None
        run = _Run(chain, input_data, self._output_root(chain), secrets.token_hex(6))
        current = _CURRENT_RUN.set(run)  # the report methods' established signatures lack it
        try:
            started = self.clock.now()
            try:
                self._walk(run, enabled_steps, kwargs)
            except KeyboardInterrupt:
                run.error = INTERRUPTED_MESSAGE
                run.interrupted = True
                with second_interrupt_exits():
                    self._finish(run, self.clock.now() - started)
                raise
            except Exception as exc:
                run.error = f"Execution error: {exc}"
                logger.debug("execution error", exc_info=True)
            return self._finish(run, self.clock.now() - started)
        finally:
            _CURRENT_RUN.reset(current)

    def _walk(self, run: _Run, enabled_steps: list[PipelineStep], kwargs: dict[str, Any]) -> None:
        data: Any = run.input_data
        data_type = run.input_type
        context: dict[str, Any] = {}
        for number, step in enumerate(enabled_steps, start=1):
            context["step_label"] = f"step{number}"
            try:
                result = self._execute_step(
                    step=step,
                    input_data=data,
                    input_type=data_type,
                    chain_config=run.chain.config,
                    step_context=context,
                    **kwargs,
                )
            except (StepInterrupted, GroupInterrupted) as stop:
                run.record(number, step, data, stop.result)  # its charges and files count
                raise
            record = run.record(number, step, data, result)
            if not result.get("success"):
                run.error = f"Step {number} failed: {result.get('error') or 'Unknown error'}"
                return
            if run.chain.save_intermediates:
                self._download_intermediate(run, record)
                report = self._create_intermediate_report(
                    run.chain,
                    run.input_data,
                    run.step_results,
                    run.outputs,
                    run.total_cost,
                    number,
                    len(enabled_steps),
                )
                self._save_intermediate_report(report, run.chain.config, number)
            data, data_type = _next_input(step, result, data, data_type)

    def _finish(self, run: _Run, total_time: float) -> ChainResult:
        run.total_time = total_time
        report = self._create_execution_report(
            run.chain,
            run.input_data,
            run.step_results,
            run.outputs,
            run.total_cost,
            total_time,
            run.error is None,
            run.error,
        )
        if run.interrupted:
            report["interrupted"] = True
            report["files_present"] = _files_under(run.output_dir)
        self._save_execution_report(report, run.chain.config)
        self._cleanup_temp(run)
        return ChainResult(
            success=run.error is None,
            steps_completed=run.successes,
            total_steps=len(run.chain.get_enabled_steps()),
            total_cost=run.total_cost,
            total_time=total_time,
            outputs=run.outputs,
            error=run.error,
            step_results=run.step_results,
        )

    # -- one step -------------------------------------------------------------------------

    def _execute_step(
        self,
        step: PipelineStep,
        input_data: Any,
        input_type: str,
        chain_config: dict[str, Any],
        step_context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Execute one step and return its result dict. Never raises, except
        `StepInterrupted`/`GroupInterrupted` (both `KeyboardInterrupt`) on Ctrl-C."""
        context = step_context if step_context is not None else {}
        if step.step_type is StepType.PARALLEL_GROUP:
            return self._run_group(step, input_data, input_type, chain_config, context, kwargs)
        try:
            return drive(
                self._run_step(
                    step, input_data, input_type, chain_config, context, kwargs, CallMode.SYNC
                )
            )
        except _CallInterrupted as stop:
            raise StepInterrupted(stop.result) from None

    def _run_group(
        self,
        step: PipelineStep,
        input_data: Any,
        input_type: str,
        chain_config: Mapping[str, Any],
        context: dict[str, Any],
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        tasks = branch_tasks(step, input_data, input_type, chain_config, context, options)
        return run_group(
            step, tasks, self._scheduler, StepRunner(self), context, self.schedule_trace
        )

    async def _run_step(
        self,
        step: PipelineStep,
        input_data: Any,
        input_type: str,
        chain_config: Mapping[str, Any],
        context: dict[str, Any],
        options: Mapping[str, Any],
        mode: CallMode,
    ) -> dict[str, Any]:
        """The rules of one model step, for both call modes. Never raises, except
        `_CallInterrupted` when the call in flight was stopped."""
        clock = self.clock
        started = clock.now()
        try:
            try:
                generator = self.generators.get(step.step_type.value, step.model)
            except KeyError:
                return _failed(step, f"Unsupported step type: {step.step_type.value}")
            request = GenerationRequest(
                step_type=step.step_type.value,
                model=step.model,
                input_data=input_data,
                input_type=input_type,
                params=resolve_params(step, input_data, context),
                output_dir=self._media_dir(chain_config, step),
                label=context.get("step_label", "step"),
                options=dict(options),
                clock=clock,
            )
            result, attempts = await self._call_with_retries(generator, request, step, mode)
            outcome = _result_dict(step, result, clock.now() - started, attempts)
            if result.success and step.step_type is StepType.PROMPT_GENERATION:
                context["generated_prompt"] = result.extracted_prompt or result.output_text
            if result.success and step.step_type is StepType.GENERATE_SUBTITLES:
                context["subtitle_text"] = request.params.get("subtitle_text")
            level = logging.INFO if result.success else logging.WARNING
            logger.log(
                level,
                "[%s] %s/%s %s",
                request.label,
                step.step_type.value,
                step.model,
                "ok" if result.success else f"failed: {result.error}",
            )
            return outcome
        except _CallInterrupted:
            raise
        except Exception as exc:
            logger.debug("step raised", exc_info=True)
            return _failed(
                step, f"Step execution failed: {exc}", processing_time=clock.now() - started
            )

    async def _call_with_retries(
        self, generator: Any, request: GenerationRequest, step: PipelineStep, mode: CallMode
    ) -> tuple[GenerationResult, int]:
        """Call up to 1 + retry_count times; every attempt's cost counts. A call stopped by
        Ctrl-C is not charged (as a timed-out one is not) and ends the step."""
        timeout = step.params.get("timeout")
        cost = 0.0
        attempts = 0
        while True:
            attempts += 1
            # A fresh cancel flag per retry: a timed-out attempt must not doom the next one.
            attempt = (
                request
                if attempts == 1
                else dataclasses.replace(request, cancelled=threading.Event())
            )
            try:
                if mode is CallMode.SYNC:
                    result = call_with_timeout(generator.generate, attempt, timeout)
                else:
                    result = await acall_with_timeout(generator, attempt, timeout)
            except (KeyboardInterrupt, asyncio.CancelledError):
                attempt.cancelled.set()
                stopped = _failed(step, INTERRUPTED_MESSAGE)
                stopped["cost"] = cost
                stopped["metadata"] = {"attempts": attempts, "interrupted": True}
                raise _CallInterrupted(stopped) from None
            cost += result.cost
            if result.success or attempts > max(0, int(step.retry_count)):
                break
        result.cost = cost
        return result, attempts

    def _media_dir(self, chain_config: dict[str, Any], step: PipelineStep) -> Path:
        root = self._output_root_from_config(chain_config)
        sub = step.params.get("output_dir")
        return root / sub if sub else root

    def _output_root(self, chain: ContentCreationChain) -> Path:
        return self._output_root_from_config(chain.config)

    def _output_root_from_config(self, chain_config: dict[str, Any]) -> Path:
        """The chain's output_dir; relative paths resolve against the file manager's base."""
        configured = os.fspath(chain_config.get("output_dir", "output"))
        base = getattr(self.file_manager, "base_dir", None)
        if not base:
            return _resolved_root(configured, os.getcwd())  # never cached: cwd may change
        return _cached_root(configured, os.fspath(base))

    def _get_step_output_type(self, step_type: StepType) -> str:
        out = step_types.output_type_of(step_type.value)
        if out == step_types.PASSTHROUGH:
            return step_types.input_type_of(step_type.value)
        return step_types.ANY if out == step_types.GROUP else out

    # -- intermediates, temp, reports -----------------------------------------------------

    def _download_intermediate(self, run: _Run, record: dict[str, Any]) -> None:
        """URL-only results are fetched into <output_dir>/intermediates/ (path updated)."""
        if record.get("output_path") or not record.get("output_url"):
            return
        url = record["output_url"]
        data = self.generators.fetch(url)
        suffix = Path(url.split("?", 1)[0]).suffix or "." + url.split("://", 1)[-1].split("/")[0]
        staging = run.temp_dir() / f"{record['step_name']}.download"
        staging.write_bytes(data)
        target = (
            run.output_dir
            / "intermediates"
            / (f"step{record['step_number']}_{hashlib.sha256(data).hexdigest()[:12]}{suffix}")
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.replace(target)
        run.outputs[record["step_name"]]["path"] = str(target)
        record["output_path"] = str(target)

    def _cleanup_temp(self, run: _Run) -> None:
        if run.chain.cleanup_temp and run.created_temp:
            shutil.rmtree(run.temp_root, ignore_errors=True)

    # The four report methods keep the established signatures (users call and override
    # them). Inside `execute` they take the run's id and input type from `_CURRENT_RUN`;
    # called on their own they make a fresh id, as the established release did.

    def _create_execution_report(
        self,
        chain: ContentCreationChain,
        input_data: str,
        step_results: list[dict[str, Any]],
        outputs: dict[str, Any],
        total_cost: float,
        total_time: float,
        success: bool,
        error: str | None = None,
    ) -> dict[str, Any]:
        token, input_type = _run_identity(chain)
        return reports.build_execution_report(
            chain,
            execution_id=f"exec_{token}",
            timestamp=_now(),
            input_data=input_data,
            input_type=input_type,
            step_results=step_results,
            outputs=outputs,
            total_cost=total_cost,
            total_time=total_time,
            success=success,
            error=error,
            total_steps=len(chain.get_enabled_steps()),
        )

    def _save_execution_report(
        self, report: dict[str, Any], chain_config: dict[str, Any]
    ) -> str | None:
        """Write the report under the chain's output_dir; return its path, or None when it
        could not be written (the failure is kept in `last_report_error` and logged)."""
        summary = report["execution_summary"]
        path = reports.execution_report_path(
            self._output_root_from_config(chain_config),
            summary["chain_name"],
            summary["execution_id"],
        )
        written = self._write(path, report)
        if written is None:
            return None
        self.last_report_path = written
        return str(written)

    def _create_intermediate_report(
        self,
        chain: ContentCreationChain,
        input_data: str,
        step_results: list[dict[str, Any]],
        outputs: dict[str, Any],
        total_cost: float,
        current_step: int,
        total_steps: int,
    ) -> dict[str, Any]:
        token, input_type = _run_identity(chain)
        return reports.build_intermediate_report(
            chain,
            intermediate_id=f"{_INTERMEDIATE_PREFIX}{token}",
            timestamp=_now(),
            input_data=input_data,
            input_type=input_type,
            step_results=step_results,
            outputs=outputs,
            current_step=current_step,
            total_steps=total_steps,
            total_cost=total_cost,
        )

    def _save_intermediate_report(
        self, report: dict[str, Any], config: dict[str, Any], step_number: int
    ) -> str | None:
        summary = report["execution_summary"]
        token = str(summary["execution_id"]).removeprefix(_INTERMEDIATE_PREFIX)
        path = reports.intermediate_report_path(
            self._output_root_from_config(config), summary["chain_name"], step_number, token
        )
        written = self._write(path, report)
        return str(written) if written is not None else None

    def _write(self, path: Path, report: dict[str, Any]) -> Path | None:
        try:
            written = reports.write_report(path, report)
        except PipelineError as exc:
            self.last_report_error = str(exc)
            logger.error("%s", exc)
            return None
        return written


_INTERMEDIATE_PREFIX = "intermediate_"


def _run_identity(chain: ContentCreationChain) -> tuple[str, str]:
    """The id token and initial input type of the run of `chain` in progress, else new ones."""
    run = _CURRENT_RUN.get()
    if run is not None and run.chain is chain:
        return run.token, run.input_type
    return secrets.token_hex(6), chain.get_initial_input_type()


_INTERMEDIATE_PREFIX = "intermediate_"


def _run_identity(chain: ContentCreationChain) -> tuple[str, str]:
    """The id token and initial input type of the run of `chain` in progress, else new ones."""
    run = _CURRENT_RUN.get()
    if run is not None and run.chain is chain:
        return run.token, run.input_type
    return secrets.token_hex(6), chain.get_initial_input_type()


class _Run:
    """Mutable state of one chain run, kept off the executor so runs never share it."""

    def __init__(
        self, chain: ContentCreationChain, input_data: Any, output_dir: Path, token: str
    ) -> None:
        self.chain = chain
        self.input_data = input_data
        self.input_type = chain.get_initial_input_type()
        self.output_dir = output_dir
        self.token = token
        self.execution_id = f"exec_{token}"
        self.step_results: list[dict[str, Any]] = []
        self.outputs: dict[str, Any] = {}
        self.total_cost = 0.0
        self.total_time = 0.0
        self.successes = 0
        self.error: str | None = None
        self.interrupted = False
        self.temp_root = output_dir / str(chain.temp_dir)
        self.created_temp = False
        self._lock = threading.Lock()

    def temp_dir(self) -> Path:
        with self._lock:
            if not self.temp_root.exists():
                self.temp_root.mkdir(parents=True, exist_ok=True)
                self.created_temp = True
        return self.temp_root

    def record(
        self, number: int, step: PipelineStep, input_data: Any, result: dict[str, Any]
    ) -> dict[str, Any]:
        name = f"step_{number}_{step.step_type.value}"
        record = {
            **result,
            "step_number": number,
            "step_type": step.step_type.value,
            "step_name": name,
            "params": {k: v for k, v in step.params.items() if k not in CONTROL_PARAMS},
            "input_data": input_data if isinstance(input_data, str | None) else str(input_data),
        }
        self.step_results.append(record)
        self.total_cost += float(result.get("cost") or 0.0)
        if result.get("success"):
            self.successes += 1
            self.outputs[name] = _output_entry(step, result)
        return record


def timed_out(timeout: Any) -> GenerationResult:
    """A call still running at its step's timeout: a failure, not charged."""
    return GenerationResult(success=False, error=f"Timed out after {timeout} s")


def call_with_timeout(fn: Any, request: GenerationRequest, timeout: Any) -> GenerationResult:
    """Run a generator call; with a timeout, a call still running then becomes a failure.

    Defined in the core so a hung call fails the same way under every scheduler. On the
    virtual clock the deadline is the clock's (exact); on the real clock the call runs on a
    daemon thread that is abandoned at the deadline (Python cannot kill threads), its cancel
    flag set so it writes nothing.
    """
    if not timeout:
        return fn(request)  # type: ignore[no-any-return]
    if request.clock.name != "real":
        try:
            with request.clock.deadline(float(timeout)):
                return fn(request)  # type: ignore[no-any-return]
        except StepTimeout:
            request.cancelled.set()
            return timed_out(timeout)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = fn(request)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=target, name=f"aicp-{request.label}", daemon=True)
    worker.start()
    worker.join(float(timeout))
    if worker.is_alive():
        request.cancelled.set()  # the abandoned call must not write files after we moved on
        return timed_out(timeout)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]  # type: ignore[no-any-return]


# Threads for sync generators called from an event loop: as many as branches can be in flight.
_CURRENT_RUN: contextvars.ContextVar[_Run | None] = contextvars.ContextVar(
    "aicp_current_run", default=None
)
"""The run `execute` is in (one per context, so concurrent runs never see each other's)."""

_SYNC_CALL_THREADS = 64
_sync_pool_lock = threading.Lock()
_sync_pool: Any = None


def _sync_call_pool() -> Any:
    global _sync_pool
    with _sync_pool_lock:
        if _sync_pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _sync_pool = ThreadPoolExecutor(_SYNC_CALL_THREADS, thread_name_prefix="aicp-call")
        return _sync_pool


async def acall_with_timeout(
    generator: Any, request: GenerationRequest, timeout: Any
) -> GenerationResult:
    """`call_with_timeout` on the running loop: an async generator is awaited (cancelled at
    the deadline), a sync one runs on a thread (abandoned at the deadline, as above)."""
    loop = asyncio.get_running_loop()
    if is_async(generator):
        call: Any = generator.agenerate(request)
    else:
        run_in_thread = getattr(loop, "run_in_thread", None)
        # The thread sees the task's context variables, as an awaited generator would.
        fn = functools.partial(contextvars.copy_context().run, generator.generate, request)
        call = (
            run_in_thread(_sync_call_pool(), fn)
            if run_in_thread is not None
            else loop.run_in_executor(_sync_call_pool(), fn)
        )
    try:
        if not timeout:
            return await call  # type: ignore[no-any-return]
        async with asyncio.timeout(float(timeout)):
            return await call  # type: ignore[no-any-return]
    except TimeoutError:
        _give_up(loop, request)
        return timed_out(timeout)
    except asyncio.CancelledError:
        _give_up(loop, request)
        raise


def _give_up(loop: asyncio.AbstractEventLoop, request: GenerationRequest) -> None:
    """The caller stops waiting for a call: flag it, and wake its clock waits at once."""
    request.cancelled.set()
    wake = getattr(loop, "wake_cancelled", None)
    if wake is not None:
        wake(request.cancelled)


class StepRunner:
    """The core's `BranchRunner`: runs a branch task through the executor's step rules and
    returns its result and context changes; never touches the task's own context."""

    def __init__(self, executor: ChainExecutor) -> None:
        self._executor = executor
        self.clock = executor.clock
        self.in_flight = InFlight()

    def run(self, task: BranchTask) -> BranchOutcome:
        return drive(self._run(task, CallMode.SYNC))

    async def arun(self, task: BranchTask) -> BranchOutcome:
        return await self._run(task, CallMode.ASYNC)

    async def _run(self, task: BranchTask, mode: CallMode) -> BranchOutcome:
        context = dict(task.context)
        self.in_flight.enter()
        started = self.clock.now()
        interrupted = False
        try:
            result = await self._executor._run_step(
                task.step,
                task.input_data,
                task.input_type,
                task.chain_config,
                context,
                task.options,
                mode,
            )
        except _CallInterrupted as stop:
            result, interrupted = stop.result, True
        except Exception as exc:  # a branch that raises is a failed branch, never a crash
            result = failed_result(task.step, f"Step execution failed: {exc}")
        finally:
            ended = self.clock.now()
            self.in_flight.leave()
        updates = {k: v for k, v in context.items() if task.context.get(k, _ABSENT) != v}
        return BranchOutcome(task.index, result, updates, started, ended, interrupted)


_ABSENT = object()


def _files_under(folder: Path) -> list[str]:
    """Every file in the run's output folder, relative: what an interrupted report lists."""
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _resolved_root(configured: str, base: str) -> Path:
    path = Path(configured)
    return path if path.is_absolute() else Path(base) / path


# Every step of every run resolves its chain's folder; building Paths costs more than the
# rest of the step's bookkeeping, and (configured, base) -> folder never changes.
_cached_root = functools.lru_cache(maxsize=256)(_resolved_root)


def _result_dict(
    step: PipelineStep, result: GenerationResult, elapsed: float, attempts: int
) -> dict[str, Any]:
    metadata = dict(result.metadata)
    metadata.setdefault("model_time", result.model_time)
    if attempts > 1:
        metadata["attempts"] = attempts
    outcome = {
        "success": result.success,
        "output_path": result.output_path,
        "output_url": result.output_url,
        "output_text": result.output_text,
        "extracted_prompt": result.extracted_prompt,
        "processing_time": elapsed,
        "cost": result.cost,
        "model": step.model,
        "metadata": metadata,
        "error": None if result.success else (result.error or "Unknown error"),
    }
    outcome.update(result.extra)
    return outcome


def _failed(step: PipelineStep, error: str, processing_time: float = 0.0) -> dict[str, Any]:
    return {
        **dict.fromkeys(RESULT_KEYS),
        "success": False,
        "processing_time": processing_time,
        "cost": 0.0,
        "model": step.model,
        "metadata": {},
        "error": error,
    }


def _output_entry(step: PipelineStep, result: dict[str, Any]) -> dict[str, Any]:
    entry = {
        "path": result.get("output_path"),
        "url": result.get("output_url"),
        "text": result.get("output_text"),
        "model": result.get("model", step.model),
        "metadata": result.get("metadata") or {},
    }
    if step.step_type is StepType.PROMPT_GENERATION:
        entry["optimized_prompt"] = result.get("extracted_prompt")
        entry["full_analysis"] = result.get("output_text")
    if "subtitle_path" in result:
        entry["subtitle_path"] = result["subtitle_path"]
    if step.step_type is StepType.PARALLEL_GROUP:
        entry["selected_branch"] = result.get("selected_branch")
        entry["branches"] = [
            {
                "step_index": item["step_index"],
                "step_type": item["step_type"],
                "model": item["model"],
                "success": bool(item["result"].get("success")),
                "path": item["result"].get("output_path"),
                "url": item["result"].get("output_url"),
                "text": item["result"].get("output_text"),
            }
            for item in result.get("parallel_results", [])
        ]
    return entry


def _next_input(
    step: PipelineStep, result: dict[str, Any], data: Any, data_type: str
) -> tuple[Any, str]:
    """What the next step receives. A group passes on its selected branch's output."""
    step_type = step.step_type.value
    if step.step_type is StepType.PARALLEL_GROUP:
        step_type = result.get("selected_step_type") or step_type
    if step_type == "prompt_generation" or step_type == "parallel_group":
        return data, data_type
    if step_type == "image_understanding":
        return result.get("output_text"), "text"
    produced = result.get("output_path") or result.get("output_url")
    return produced, step_types.next_type(step_type, data_type)


def _now() -> str:
    return datetime.now(UTC).isoformat()
