"""The hostile-input catalogue: every file in `tests/hostile/` (plus two generated here: a 50 MB
file and a 10 MB prompt) with its exact outcome.

For each file, `aicp validate` and `aicp run-chain` (in-process, `--base-dir` a fresh folder)
exit 2 with the same single stderr line, which names the file, a line and the field; no
traceback; nothing is written, in the base folder or anywhere else. `harness gate`, run once over
the whole catalogue in the three flag states, names each file with that same line (after its
YAML's stem, once, not per state) and leaves the golden records byte-identical.

A file is given to `aicp` as `input/<name>`, from the folder holding the copies, which is also
the gate's `--input`: so `{file}` in the table stands for the very path both print.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ai_content_pipeline.__main__ import main
from ai_content_pipeline.config.features import PARALLEL_ENV_VAR
from ai_content_pipeline.config.loader import MAX_FILE_BYTES

REPO = Path(__file__).resolve().parent.parent
HOSTILE = Path(__file__).resolve().parent / "hostile"
OUTSIDE = Path("/tmp/aicp-hostile-outside")
"""The absolute path the catalogue's files point at; it must never come into being."""
PWNED = Path("/tmp/aicp-hostile-pwned")
"""What `tag_python_object_apply.yaml` would create under an unsafe loader."""
STRICT = ("--strict",)
WINDOWS_PATH = "C:\\Users\\Public"


@dataclass(frozen=True)
class Case:
    """What `aicp validate` and `aicp run-chain` print for a catalogue file.

    `line` is the one stderr line, `{file}` standing for the path given to --config. An
    ``error: `` prefix means the loader refused the file; a bare ``FILE:LINE:`` line is a
    validation problem. `field` is how the message names the field (None: the line alone
    locates it, as for the established "Chain must have at least one step").
    """

    line: str
    field: str | None = None
    strict: bool = False
    """A misspelt key: only `--strict` (and the harness, which always is) makes it an error."""
    plain: tuple[int, tuple[str, ...]] | None = None
    """For `strict` cases: plain `validate`'s exit code and stderr (its warnings first)."""
    gate: tuple[str, ...] | None = None
    """The gate's lines for the file when it is not refused as a file (`{stem}` for its stem)."""


def _warning(line: str) -> str:
    return line.replace(": ", ": warning: ", 1)


ENABLE_TYPO = "{file}:7: step 1 field 'enable': unknown key; did you mean 'enabled'?"
GROUP_KEY_TYPO = (
    "{file}:8: step 1 field 'params.max_worker': unknown key; did you mean 'max_workers'?"
)
MODEL_TYPO = "{file}:6: step 1 field 'modle': unknown key; did you mean 'model'?"
MODEL_MISSING = (
    "{file}:6: Step 1 (text_to_image) is missing required field 'model' (unknown key "
    "'modle'; did you mean 'model'?)"
)
PROMPT_TYPO = "{file}:3: top-level field 'promt': unknown key; did you mean 'prompt'?"
NO_PROMPT = (
    "{file}:5: no input prompt: give --input-text TEXT, --input TEXT or --prompt-file FILE, "
    "or set 'prompt' in {file}"
)
NO_GOLDEN = ("{stem} [absent]", "{stem} [off]", "{stem} [on]")


def _input_path(field: str, got: str) -> str:
    return (
        f"top-level field '{field}' must be a relative path inside the current directory, or a "
        f"URL, got '{got}'; to use a file elsewhere, give it with --input PATH"
    )


def _output_path(label: str, field: str, got: str) -> str:
    return (
        f"{label} field 'params.{field}' must be a relative path inside the chain's "
        f"output_dir, got '{got}'"
    )


def _multitalk(field: str, got: str) -> str:
    return (
        f"Step 1 (replicate_multitalk) field 'params.{field}' must be a relative path inside "
        f"the current directory, or a URL, got '{got}'"
    )


def _output_dir(got: str) -> str:
    return (
        f"top-level field 'output_dir' must be a relative path inside --base-dir, got '{got}'; "
        "to write elsewhere, pass --base-dir DIR (output_dir is relative to it)"
    )


def _workers(got: str) -> str:
    return (
        "Step 1 (parallel_group) field 'params.max_workers' must be an integer from 1 to 64, "
        f"got '{got}'"
    )


def _unsafe_tag(tag: str) -> str:
    return f"invalid YAML: could not determine a constructor for the tag '{tag}'"


RETRY = "Step 1 (text_to_image) field 'retry_count' must be an integer from 0 to 10"
TOO_BIG = (
    "configuration file is larger than 1 MiB (this line passes the limit); refusing to parse it"
)
SHAPE = "top level must be a mapping of keys (name, steps, ...), not"

CASES: dict[str, Case] = {
    # -- the file as a whole
    "empty.yaml": Case("error: {file}:1: configuration file is empty"),
    "comment_only.yaml": Case("error: {file}:1: configuration file is empty"),
    "not_mapping_list.yaml": Case(f"error: {{file}}:2: {SHAPE} a list"),
    "not_mapping_scalar.yaml": Case(f"error: {{file}}:2: {SHAPE} a string"),
    "multi_document.yaml": Case(
        "error: {file}:6: invalid YAML: expected a single document in the stream, but found "
        "another document"
    ),
    "tabs.yaml": Case(
        "error: {file}:5: invalid YAML: while scanning for the next token, found character "
        "'\\t' that cannot start any token"
    ),
    "non_utf8.yaml": Case("error: {file}:3: configuration file is not valid UTF-8 (byte 0xe9)"),
    "nul_byte.yaml": Case("error: {file}:3: invalid YAML: unacceptable character #x0000"),
    "huge_50mb.yaml": Case(f"error: {{file}}:18082: {TOO_BIG}"),
    "prompt_10mb.yaml": Case(f"error: {{file}}:3: {TOO_BIG}"),  # line 3: the prompt's
    "duplicate_top_key.yaml": Case(
        "error: {file}:4: duplicate key 'prompt' (first defined on line 3); remove one of them",
        field="prompt",
    ),
    "duplicate_step_key.yaml": Case(
        "error: {file}:7: duplicate key 'model' (first defined on line 6); remove one of them",
        field="model",
    ),
    "unhashable_key.yaml": Case(
        "error: {file}:4: invalid YAML: while constructing a mapping, found unhashable key"
    ),
    # -- tags and aliases
    "tag_python_object.yaml": Case(
        "error: {file}:5: "
        + _unsafe_tag(
            "tag:yaml.org,2002:python/object:ai_content_pipeline.pipeline.chain.PipelineStep"
        )
    ),
    "tag_python_object_apply.yaml": Case(
        "error: {file}:3: " + _unsafe_tag("tag:yaml.org,2002:python/object/apply:os.system")
    ),
    "tag_python_name.yaml": Case(
        "error: {file}:3: " + _unsafe_tag("tag:yaml.org,2002:python/name:os.system")
    ),
    "tag_custom_include.yaml": Case("error: {file}:3: " + _unsafe_tag("!include")),
    "tag_binary_prompt.yaml": Case(
        "{file}:3: top-level field 'prompt' must be a string", field="prompt"
    ),
    "tag_int_model.yaml": Case(
        "{file}:6: Step 1 (text_to_image) field 'model' must be a non-empty string", field="model"
    ),
    "alias_bomb.yaml": Case(
        "error: {file}:7: document expands to more than 100,000 nodes (alias expansion bomb?); "
        "refusing to load it"
    ),
    "alias_recursive.yaml": Case("error: {file}:4: recursive YAML alias (a node contains itself)"),
    # -- steps
    "steps_missing.yaml": Case(
        "error: {file}:2: missing required key 'steps' (the list of pipeline steps)",
        field="steps",
    ),
    "steps_not_list.yaml": Case(
        "error: {file}:4: 'steps' must be a list of step mappings, not a mapping", field="steps"
    ),
    "steps_null.yaml": Case(
        "error: {file}:4: 'steps' must be a list of step mappings, not null", field="steps"
    ),
    "steps_empty.yaml": Case("{file}:4: Chain must have at least one step"),
    "step_is_string.yaml": Case(
        "{file}:5: Step 1 must be a mapping with 'type' and 'model'", field="Step 1"
    ),
    "unknown_type.yaml": Case(
        "{file}:5: Step 1 field 'type': unknown step type 'text_to_imagee'; did you mean "
        "'text_to_image'?",
        field="type",
    ),
    "unknown_model.yaml": Case(
        "{file}:6: Step 1 (text_to_image) field 'model': unknown model 'flux_schnel' for "
        "text_to_image; did you mean 'flux_schnell'?",
        field="model",
    ),
    "params_not_mapping.yaml": Case(
        "{file}:7: Step 1 (text_to_image) field 'params' must be a mapping", field="params"
    ),
    "enabled_not_bool.yaml": Case(
        "{file}:7: Step 1 (text_to_image) field 'enabled' must be true or false", field="enabled"
    ),
    "retry_count_negative.yaml": Case(f"{{file}}:7: {RETRY}", field="retry_count"),
    "retry_count_huge.yaml": Case(f"{{file}}:7: {RETRY}", field="retry_count"),
    "timeout_negative.yaml": Case(
        "{file}:7: Step 1 (text_to_image) field 'params.timeout' must be a positive number of "
        "seconds",
        field="params.timeout",
    ),
    # -- misspelt keys: warnings, errors under --strict (and in the harness)
    "misspelt_enable.yaml": Case(
        ENABLE_TYPO, field="enable", strict=True, plain=(0, (_warning(ENABLE_TYPO),))
    ),
    "misspelt_modle.yaml": Case(
        MODEL_MISSING,
        field="modle",
        strict=True,
        plain=(2, (_warning(MODEL_TYPO), MODEL_MISSING)),
    ),
    "misspelt_promt.yaml": Case(
        PROMPT_TYPO, field="promt", strict=True, plain=(2, (_warning(PROMPT_TYPO), NO_PROMPT))
    ),
    "misspelt_group_key.yaml": Case(
        GROUP_KEY_TYPO,
        field="params.max_worker",
        strict=True,
        plain=(0, (_warning(GROUP_KEY_TYPO),)),
    ),
    # -- groups
    "max_workers_zero.yaml": Case(f"{{file}}:8: {_workers('0')}", field="params.max_workers"),
    "max_workers_negative.yaml": Case(f"{{file}}:8: {_workers('-1')}", field="params.max_workers"),
    "max_workers_million.yaml": Case(
        f"{{file}}:8: {_workers('1000000')}", field="params.max_workers"
    ),
    "max_workers_string.yaml": Case(f"{{file}}:8: {_workers('3')}", field="params.max_workers"),
    "group_empty.yaml": Case(
        "{file}:8: Step 1 (parallel_group) has no enabled branches in 'params.parallel_steps'",
        field="params.parallel_steps",
    ),
    "group_nested.yaml": Case(
        "{file}:9: Step 1 branch 1: nested parallel_group is not supported",
        field="parallel_group",
    ),
    "groups_nested_100.yaml": Case(
        "error: {file}:21: configuration is nested more than 50 levels deep; refusing to load it"
    ),
    "merge_strategy_unknown.yaml": Case(
        "{file}:8: Step 1 (parallel_group) field 'params.merge_strategy': unknown merge "
        "strategy 'fastest'",
        field="params.merge_strategy",
    ),
    "branches_one_output_file.yaml": Case(
        "{file}:10: Step 1 branch 2 writes the same output_file 'voice.mp3' as branch 1",
        field="voice.mp3",
    ),
    # -- every path-valued field, absolute and with ..
    "output_dir_absolute.yaml": Case(
        f"{{file}}:4: {_output_dir(str(OUTSIDE))}", field="output_dir"
    ),
    "output_dir_dotdot.yaml": Case(f"{{file}}:4: {_output_dir('../outside')}", field="output_dir"),
    "output_dir_windows_absolute.yaml": Case(
        f"{{file}}:4: {_output_dir(WINDOWS_PATH)}", field="output_dir"
    ),
    "temp_dir_absolute.yaml": Case(
        "{file}:4: top-level field 'temp_dir' must be a relative path inside output_dir, got "
        f"'{OUTSIDE}'",
        field="temp_dir",
    ),
    "temp_dir_dotdot.yaml": Case(
        "{file}:4: top-level field 'temp_dir' must be a relative path inside output_dir, got "
        "'../outside'",
        field="temp_dir",
    ),
    "input_image_absolute.yaml": Case(
        f"{{file}}:3: {_input_path('input_image', f'{OUTSIDE}/in.png')}", field="input_image"
    ),
    "input_image_dotdot.yaml": Case(
        f"{{file}}:3: {_input_path('input_image', '../outside/in.png')}", field="input_image"
    ),
    "input_image_file_url.yaml": Case(
        f"{{file}}:3: {_input_path('input_image', 'file:///etc/passwd.png')}",
        field="input_image",
    ),
    "input_video_absolute.yaml": Case(
        f"{{file}}:3: {_input_path('input_video', f'{OUTSIDE}/in.mp4')}", field="input_video"
    ),
    "input_video_dotdot.yaml": Case(
        f"{{file}}:3: {_input_path('input_video', '../outside/in.mp4')}", field="input_video"
    ),
    "output_file_absolute.yaml": Case(
        "{file}:8: "
        + _output_path("Step 1 (text_to_speech)", "output_file", f"{OUTSIDE}/voice.mp3"),
        field="params.output_file",
    ),
    "output_file_dotdot.yaml": Case(
        "{file}:8: "
        + _output_path("Step 1 (text_to_speech)", "output_file", "../outside/voice.mp3"),
        field="params.output_file",
    ),
    "branch_output_file_dotdot.yaml": Case(
        "{file}:9: "
        + _output_path("Step 1 branch 1 (text_to_speech)", "output_file", "../outside/voice.mp3"),
        field="params.output_file",
    ),
    "step_output_dir_absolute.yaml": Case(
        "{file}:8: " + _output_path("Step 1 (text_to_image)", "output_dir", str(OUTSIDE)),
        field="params.output_dir",
    ),
    "step_output_dir_dotdot.yaml": Case(
        "{file}:8: " + _output_path("Step 1 (text_to_image)", "output_dir", "../outside"),
        field="params.output_dir",
    ),
    "multitalk_image_absolute.yaml": Case(
        f"{{file}}:9: {_multitalk('image', f'{OUTSIDE}/portrait.png')}", field="params.image"
    ),
    "multitalk_image_dotdot.yaml": Case(
        f"{{file}}:9: {_multitalk('image', '../outside/portrait.png')}", field="params.image"
    ),
    "multitalk_first_audio_absolute.yaml": Case(
        f"{{file}}:10: {_multitalk('first_audio', f'{OUTSIDE}/a.wav')}",
        field="params.first_audio",
    ),
    "multitalk_first_audio_dotdot.yaml": Case(
        f"{{file}}:10: {_multitalk('first_audio', '../outside/a.wav')}",
        field="params.first_audio",
    ),
    "multitalk_second_audio_absolute.yaml": Case(
        f"{{file}}:11: {_multitalk('second_audio', f'{OUTSIDE}/b.wav')}",
        field="params.second_audio",
    ),
    "multitalk_second_audio_dotdot.yaml": Case(
        f"{{file}}:11: {_multitalk('second_audio', '../outside/b.wav')}",
        field="params.second_audio",
    ),
    # -- a valid file, run into an output folder holding a link to outside --base-dir
    "symlink_in_output.yaml": Case(
        "{file}:4: field 'output_dir' (output): {base}/output/reports is a symbolic link to "
        "{outside}, outside --base-dir; remove it (a run writes only inside --base-dir)",
        field="output_dir",
        gate=tuple(f"{state} no golden record; run `harness update`" for state in NO_GOLDEN),
    ),
}

PAD_LINE = b"#" + b" padding" * 7 + b"\n"
T2I_STEP = b"steps:\n  - {type: text_to_image, model: flux_schnell}\n"


def _huge(path: Path) -> None:
    """50 MiB: a valid pipeline, then comment lines; the 1 MiB limit falls on line 18082."""
    head = b"# hostile: a 50 MB file (generated by the test)\nname: hostile\n"
    head += b'prompt: "A lighthouse at dawn"\n'
    with path.open("wb") as handle:
        handle.write(head + T2I_STEP)
        chunk = PAD_LINE * (1024 * 1024 // len(PAD_LINE))
        for _ in range(50):
            handle.write(chunk)


def _prompt_10mb(path: Path) -> None:
    with path.open("wb") as handle:
        handle.write(b"# hostile: a 10 MB prompt (generated by the test)\nname: hostile\n")
        handle.write(b'prompt: "' + b"a lighthouse " * 800_000 + b'"\n' + T2I_STEP)


GENERATED: dict[str, Callable[[Path], None]] = {
    "huge_50mb.yaml": _huge,
    "prompt_10mb.yaml": _prompt_10mb,
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose ``input/`` holds every committed case file and the generated ones."""
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "input"
    shutil.copytree(HOSTILE, folder)
    for name, make in GENERATED.items():
        make(folder / name)
    return root


@pytest.fixture(autouse=True)
def _isolated(catalogue: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Own HOME, no flag or stub timing in the environment, stdin not a terminal, cwd the
    catalogue folder; afterwards, nothing exists at the absolute paths the files point at."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in (PARALLEL_ENV_VAR, "AICP_STUB_TIME_SCALE", "AICP_STUB_JITTER_SEED", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(catalogue)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    yield
    assert not OUTSIDE.exists() and not PWNED.exists()


def _tree(*roots: Path) -> dict[str, tuple[str, int, str]]:
    """Every path under `roots` (links not followed) -> (kind, size, link target)."""
    found: dict[str, tuple[str, int, str]] = {}
    for root in roots:
        for current, dirs, files in os.walk(root):
            for name in [*dirs, *files]:
                path = Path(current) / name
                info = path.lstat()
                if path.is_symlink():
                    found[str(path)] = ("link", 0, os.readlink(path))
                else:
                    found[str(path)] = ("dir" if path.is_dir() else "file", info.st_size, "")
    return found


def _aicp(base: Path, command: str, config: str, *extra: str) -> int:
    flags = ["--no-confirm"] if command == "run-chain" else []
    return main(["--base-dir", str(base), command, "--config", config, *flags, *extra])


def _expected(case: Case, name: str, **values: str) -> str:
    return case.line.format(file=f"input/{name}", **values)


# --------------------------------------------------------------------------- the table


def test_the_catalogue_is_the_table() -> None:
    committed = sorted(p.name for p in HOSTILE.iterdir())
    assert len(committed) >= 40
    assert sorted([*committed, *GENERATED]) == sorted(CASES)
    assert all(p.suffix == ".yaml" for p in HOSTILE.iterdir())  # the gate reads each of them


# --------------------------------------------------------------------------- aicp


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_and_run_chain_refuse_with_one_line(
    name: str, catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    outside = tmp_path / "outside"
    outside.mkdir()
    for command in ("validate", "run-chain"):
        base = tmp_path / f"base-{command}"
        base.mkdir()
        values = {}
        if name == "symlink_in_output.yaml":
            (base / "output").mkdir()
            (base / "output" / "reports").symlink_to(outside, target_is_directory=True)
            values = {"base": str(base), "outside": str(outside)}
        before = _tree(tmp_path, catalogue)
        code = _aicp(base, command, f"input/{name}", *(STRICT if case.strict else ()))
        out, err = capsys.readouterr()
        expected = _expected(case, name, **values)
        assert (code, err.splitlines()) == (2, [expected]), command
        assert "Traceback" not in out + err
        assert re.fullmatch(rf"(error: )?{re.escape(f'input/{name}')}:\d+: .+", expected)
        if case.field is not None:
            assert case.field in re.sub(r"^(error: )?\S+?:\d+: ", "", expected)
        assert _tree(tmp_path, catalogue) == before, f"{command} wrote something"
    assert not any(outside.iterdir())


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.strict))
def test_misspelt_keys_warn_without_strict(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    assert case.plain is not None
    code, lines = case.plain
    assert _aicp(tmp_path / "base", "validate", f"input/{name}") == code
    out, err = capsys.readouterr()
    assert err.splitlines() == [line.format(file=f"input/{name}") for line in lines]
    assert ("valid (1 steps" in out) == (code == 0)
    assert not (tmp_path / "base").exists()


@pytest.mark.parametrize("command", ["validate", "run-chain"])
def test_a_10_mb_prompt_file_is_refused(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = tmp_path / "prompt.txt"
    prompt.write_bytes(b"a lighthouse " * 800_000)
    config = tmp_path / "text.yaml"
    config.write_text("name: text\nsteps:\n  - {type: text_to_image, model: flux_schnell}\n")
    base = tmp_path / "base"
    code = _aicp(base, command, str(config), "--prompt-file", str(prompt))
    assert (code, capsys.readouterr().err.splitlines()) == (
        2,
        [f"error: prompt file {prompt} is larger than 1 MiB; refusing to read it"],
    )
    assert prompt.stat().st_size >= 10_000_000 > MAX_FILE_BYTES
    assert not base.exists()


def test_a_link_planted_at_the_next_output_name_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """File names are content hashes, so the next one is known in advance: a link put there
    would have the run write through it."""
    config = "input/symlink_in_output.yaml"
    first = tmp_path / "first"
    assert _aicp(first, "run-chain", config) == 0
    [made] = (first / "output").glob("step1_*.png")
    capsys.readouterr()
    base, outside = tmp_path / "base", tmp_path / "outside"
    (base / "output").mkdir(parents=True)
    outside.mkdir()
    (base / "output" / made.name).symlink_to(outside / "victim.png")
    before = _tree(tmp_path)
    assert _aicp(base, "run-chain", config) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{config}:4: field 'output_dir' (output): {base}/output/{made.name} is a symbolic "
        f"link to {outside}/victim.png, outside --base-dir; remove it (a run writes only inside "
        "--base-dir)"
    ]
    assert _tree(tmp_path) == before and not any(outside.iterdir())


@pytest.mark.parametrize("command", ["validate", "run-chain"])
def test_an_output_folder_it_cannot_write_is_refused_before_spending(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """(Root may write anywhere, so the folder's mode is simulated: `os.access` says no.)"""
    from ai_content_pipeline.cli import run_chain

    base = tmp_path / "base"
    (base / "output").mkdir(parents=True)
    denied = base / "output"
    real_access = os.access
    monkeypatch.setattr(
        run_chain.os, "access", lambda path, mode: Path(path) != denied and real_access(path, mode)
    )
    config = "input/symlink_in_output.yaml"
    assert _aicp(base, command, config) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{config}:4: field 'output_dir' (output): {denied} is not writable; nothing was run"
    ]
    assert list(denied.iterdir()) == []


# --------------------------------------------------------------------------- harness gate


def _records(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _gate_expected(case: Case, name: str) -> list[str]:
    stem = Path(name).stem
    if case.gate is not None:
        return [line.format(stem=stem) for line in case.gate]
    return [f"{stem}: " + _expected(case, name).removeprefix("error: ")]


@pytest.mark.requires_parallel
def test_gate_names_every_file_with_validates_line(catalogue: Path, tmp_path: Path) -> None:
    """`harness gate` once over the whole catalogue (one test, so once under xdist too):
    states absent, off and on, in-process, no perf, on a copy of the repository's golden
    records (none of them is for these files). Exit 1; each file is named once, after its
    stem, with the line `aicp validate` gives for it, and its cells say ``error``; the golden
    records are byte-identical afterwards."""
    from harness.gate import GateOptions, run_gate

    snapshots = tmp_path / "snapshots"
    shutil.copytree(REPO / "snapshots", snapshots)
    before = _records(snapshots)
    out = io.StringIO()
    result = run_gate(
        GateOptions(
            input_dir=Path("input"),
            snapshots_dir=snapshots,
            jobs=1,
            perf=False,
            out=out,
            err=io.StringIO(),
            quiet=True,
        )
    )
    lines = out.getvalue().splitlines()
    assert result.exit_code == 1
    assert "Traceback" not in out.getvalue()
    assert _records(snapshots) == before
    assert lines[-1].startswith(f"FAIL: {len(CASES)} YAML(s) x 3 state(s), ")
    wrong = {}
    for name, case in sorted(CASES.items()):
        stem = Path(name).stem
        mine = [x for x in lines if x.startswith((f"{stem}: ", f"{stem} ["))]
        row = [x.split() for x in lines if x.split()[:1] == [stem] and f"{stem} [" not in x]
        cell = "missing" if case.gate is not None else "error"
        if mine != _gate_expected(case, name) or row != [[stem, cell, cell, cell]]:
            wrong[name] = (mine, row)
    assert wrong == {}
