"""No API key ever leaves the process: not in a report, a golden record, a log line or an error.

Why a sweep rather than spot checks: a key can leak anywhere a run writes (a report's config
copy, an error message, a traceback, a file name, a gate report), and in encoded form (a URL, a
base64 header). So each test puts distinctive fake keys, random per test, in the environment and
in an ``--env-file``, runs real commands with ``--debug`` on, and then searches EVERY produced
byte — stdout, stderr, log records, warnings, every file name and file under the folders the
commands wrote — for each key in every encoding. `test_the_sweep_finds_every_encoding` keeps the
sweep honest: a search that cannot see a planted key would pass everything.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from ai_content_pipeline.__main__ import main
from ai_content_pipeline.cli.app import LOGGER_NAME
from ai_content_pipeline.config.features import PARALLEL_ENV_VAR
from ai_content_pipeline.models.stub import JITTER_SEED_ENV, TIME_SCALE_ENV
from ai_content_pipeline.pipeline.executor import ChainExecutor

REPO = Path(__file__).resolve().parent.parent

# The established provider key names (and the two generic ones users also keep in a `.env`),
# each with the prefix its real keys carry, so a value looks like what a user pastes.
KEY_PREFIXES = {
    "FAL_KEY": "fal",
    "ELEVENLABS_API_KEY": "el",
    "GEMINI_API_KEY": "AIza",
    "OPENROUTER_API_KEY": "sk-or",
    "REPLICATE_API_TOKEN": "r8",
    "GOOGLE_API_KEY": "AIzb",
    "OPENAI_API_KEY": "sk-proj",
}
# Every key is in the env file; these are also in the environment, whose value wins.
IN_ENVIRONMENT = ("FAL_KEY", "GEMINI_API_KEY", "REPLICATE_API_TOKEN", "OPENAI_API_KEY")
SECRET_MARK = "-SECRET-"

# Mentions the keys' names everywhere a value could be expanded (prompt, params, messages): a
# run must carry the names literally. A group with a raising, a URL-only and a good branch, then
# a failing step, so one run walks the fault, download and failure paths.
PROBE_YAML = """\
name: secrets_probe
description: "mentions $FAL_KEY and ${OPENAI_API_KEY}; nothing may expand them"
prompt: "A lighthouse at dawn, $FAL_KEY ${GEMINI_API_KEY}"
output_dir: output
save_intermediates: true
steps:
  - type: parallel_group
    model: parallel
    params:
      max_workers: 2
      merge_strategy: collect_all
      parallel_steps:
        - {type: text_to_image, model: flux_schnell, params: {aspect_ratio: "16:9"}}
        - {type: text_to_image, model: seedream_v3, params: {stub_raise: "401 for $FAL_KEY"}}
        - {type: text_to_image, model: imagen4, params: {stub_url_only: true}}
  - type: image_to_video
    model: hailuo
    params:
      duration: 6
      stub_fail: "upstream rejected ${REPLICATE_API_TOKEN}"
"""

# Bundled pipelines run by the CLI tests: plain, TTS (an ElevenLabs model), a failing step, a
# group then OpenRouter/hailuo, image input with a failing branch, Replicate with media assets,
# URL-only branches downloaded as intermediates.
RUNS = {
    "01_text_to_image_basic": 0,
    "04_text_to_speech_voice_params": 0,
    "09_step_fails_stub_fail": 1,
    "11_group_collect_all_then_video": 0,
    "13_group_collect_all_branch_fails": 0,
    "16_replicate_multitalk_conversation": 0,
    "27_group_url_only_intermediates": 0,
}
GATE_CORPUS = (
    "01_text_to_image_basic",
    "09_step_fails_stub_fail",
    "11_group_collect_all_then_video",
)


# -- the sweep ---------------------------------------------------------------------------------


def encodings(value: str) -> dict[str, bytes]:
    """Every form in which `value` could be written: raw, its random core (24 hex digits) and
    each third of it alone (a value cut to 15 digits, or re-cased), URL-, JSON- and hex-encoded,
    and base64 at each of the three alignments it can have inside a longer encoded blob (only the
    groups that depend on `value` alone)."""
    raw = value.encode()
    core = value.split(SECRET_MARK, 1)[1].split(":", 1)[0]
    forms = {
        "raw": raw,
        "core": core.encode(),
        **{f"core part {n + 1}": core[n * 8 : n * 8 + 8].encode() for n in range(3)},
        "core upper-case": core.upper().encode(),
        "url-encoded": quote(value, safe="").encode(),
        "form-encoded": quote_plus(value).encode(),
        "json-escaped": json.dumps(value)[1:-1].encode(),
        "hex": raw.hex().encode(),
    }
    for offset in range(3):
        stop = (offset + len(raw)) // 3 * 4
        start = 4 if offset else 0
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            forms[f"{name}@{offset}"] = encode(b"\0" * offset + raw)[start:stop]
    return forms


@dataclass
class Evidence:
    """Every byte the commands under test produced, each blob labelled by where it came from."""

    blobs: list[tuple[str, bytes]] = field(default_factory=list)

    def add(self, label: str, data: str | bytes) -> None:
        self.blobs.append(
            (label, data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
        )

    def add_tree(self, root: Path) -> None:
        """Every file and folder name under `root` (names can leak too) and every file's bytes."""
        for path in sorted(root.rglob("*")):
            self.add(f"name of {path}", str(path.relative_to(root)))
            if path.is_file() and not path.is_symlink():
                self.add(str(path), path.read_bytes())

    def add_logs(self, records: list[logging.LogRecord]) -> None:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        for record in records:
            self.add(f"log record {record.name}:{record.lineno}", formatter.format(record))
            self.add(f"log record args {record.name}:{record.lineno}", repr(record.args))

    def add_warnings(self, caught: list[warnings.WarningMessage]) -> None:
        for warning in caught:
            self.add(f"warning {warning.filename}:{warning.lineno}", str(warning.message))

    def has(self, label_part: str) -> bool:
        return any(label_part in label for label, _ in self.blobs)

    def leaks(self, keys: FakeKeys) -> list[str]:
        """`NAME (form) in LABEL` for every key found anywhere; empty when nothing leaked."""
        found = []
        for name, value in keys.all_values():
            for form, needle in encodings(value).items():
                found += [
                    f"{name} ({form}) in {label}" for label, blob in self.blobs if needle in blob
                ]
        return found

    def assert_clean(self, keys: FakeKeys) -> None:
        assert self.blobs, "nothing was captured: the sweep would pass vacuously"
        leaked = self.leaks(keys)
        assert not leaked, "API key leaked:\n" + "\n".join(leaked)


# -- fake keys ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeKeys:
    """Random fake keys: `environment` is set in os.environ, `in_file` written to `env_file`."""

    environment: dict[str, str]
    in_file: dict[str, str]
    env_file: Path

    def all_values(self) -> list[tuple[str, str]]:
        """(name, value) pairs; a name in both places gives two values, both secret."""
        return [*self.environment.items(), *self.in_file.items()]


def fake_key(name: str) -> str:
    """Distinctive, random, and with characters that URL- and base64-encoding change."""
    prefix = KEY_PREFIXES[name]
    return f"{prefix}{SECRET_MARK}{secrets.token_hex(12)}:{secrets.token_urlsafe(9)}/+="


def env_file_text(values: dict[str, str], extra: str = "") -> str:
    """Every spelling `load_env_file` accepts: export, double and single quotes, a comment."""
    lines = ["# fake provider keys for tests/test_secrets.py", ""]
    spellings = ("export {k}={v}", '{k}="{v}"', "{k}='{v}'", "{k}={v}  # inline comment")
    for index, (name, value) in enumerate(values.items()):
        lines.append(spellings[index % len(spellings)].format(k=name, v=value))
    return "\n".join(lines) + "\n" + extra


def _forget_afterwards(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Unset `name` now and after the test: `--env-file` writes os.environ behind monkeypatch."""
    monkeypatch.setenv(name, "placeholder")
    monkeypatch.delenv(name)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """cwd with the corpus's media assets (pipelines name them relative to cwd), own HOME."""
    shutil.copytree(REPO / "input" / "assets", tmp_path / "input" / "assets")
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in (TIME_SCALE_ENV, JITTER_SEED_ENV):
        monkeypatch.delenv(name, raising=False)
    _forget_afterwards(monkeypatch, PARALLEL_ENV_VAR)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def keys(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> FakeKeys:
    environment = {name: fake_key(name) for name in IN_ENVIRONMENT}
    in_file = {name: fake_key(name) for name in KEY_PREFIXES}
    for name in KEY_PREFIXES:
        if name in environment:
            monkeypatch.setenv(name, environment[name])
        else:
            _forget_afterwards(monkeypatch, name)
    env_file = workdir / "secrets.env"
    env_file.write_text(env_file_text(in_file), encoding="utf-8")
    return FakeKeys(environment, in_file, env_file)


@pytest.fixture(autouse=True)
def _package_logger_restored() -> Iterator[None]:
    """`main(["--debug", ...])` leaves the package logger at DEBUG with a handler on this test's
    captured stderr; later in-process runs would log to a closed stream."""
    logger = logging.getLogger(LOGGER_NAME)
    level, handlers = logger.level, list(logger.handlers)
    try:
        yield
    finally:
        logger.setLevel(level)
        logger.handlers[:] = handlers


@pytest.fixture
def captured_warnings() -> Iterator[list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def _with_flag(keys: FakeKeys, flag: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`on` comes from the env file (as users switch it), `off` from the environment."""
    if flag == "on":
        with keys.env_file.open("a", encoding="utf-8") as handle:
            handle.write(f"{PARALLEL_ENV_VAR}=true\n")
    else:
        monkeypatch.setenv(PARALLEL_ENV_VAR, "false")


FLAGS = [pytest.param("on", marks=pytest.mark.requires_parallel), "off"]


# -- the sweep itself --------------------------------------------------------------------------


def test_the_sweep_finds_every_encoding(tmp_path: Path) -> None:
    """A key planted in any form, in a file name, a log line or a file, is found; clean is clean."""
    value = fake_key("FAL_KEY")
    keys = FakeKeys({"FAL_KEY": value}, {}, tmp_path / "unused.env")
    clean = Evidence()
    clean.add("stdout", "nothing secret here: fal-SECRET-, FAL_KEY=<set>\n")
    assert clean.leaks(keys) == []
    for form, needle in encodings(value).items():
        planted = b"prefix " + needle + b" suffix"
        if form.startswith("base64"):  # inside a longer encoded stream, at this alignment
            encode = base64.urlsafe_b64encode if "url" in form else base64.b64encode
            offset = int(form.rsplit("@", 1)[1])
            planted = encode(b"Bearer"[: 3 + offset] + value.encode() + b"tail")
        evidence = Evidence()
        evidence.add("blob", planted)
        assert f"FAL_KEY ({form}) in blob" in evidence.leaks(keys), form
    folder = tmp_path / "tree"
    core = value.split(SECRET_MARK)[1].split(":")[0]
    (folder / f"step1_{core[16:]}").mkdir(parents=True)
    in_a_name = Evidence()
    in_a_name.add_tree(folder)
    assert in_a_name.leaks(keys) == [f"FAL_KEY (core part 3) in name of {folder}/step1_{core[16:]}"]
    cut = len("fal" + SECRET_MARK) + 15  # the prefix and 15 digits: still found
    truncated = Evidence()
    truncated.add_logs([logging.makeLogRecord({"msg": "key %s", "args": (value[:cut],)})])
    assert "FAL_KEY (core part 1) in log record None:0" in truncated.leaks(keys)


# -- aicp, in-process ----------------------------------------------------------------------------


def _aicp(keys: FakeKeys, base: Path, *args: str) -> int:
    return main(["--debug", "--env-file", str(keys.env_file), "--base-dir", str(base), *args])


@pytest.mark.parametrize("flag", FLAGS)
def test_aicp_commands_never_reveal_a_key(
    flag: str,
    keys: FakeKeys,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    captured_warnings: list[warnings.WarningMessage],
) -> None:
    """validate, run-chain (passing, failing, raising, URL-only, interrupted), features,
    list-models and setup, all with --debug: no key in any output, log, report or file."""
    _with_flag(keys, flag, monkeypatch)
    caplog.set_level(logging.DEBUG)
    base = workdir / "project"
    probe = workdir / "secrets_probe.yaml"
    probe.write_text(PROBE_YAML, encoding="utf-8")
    configs = {stem: str(REPO / "input" / f"{stem}.yaml") for stem in RUNS}

    for config in [*configs.values(), str(probe)]:
        assert _aicp(keys, base, "validate", "--config", config) == 0, config
    for stem, code in RUNS.items():
        argv = [
            "run-chain",
            "--config",
            configs[stem],
            "--no-confirm",
            "--save-json",
            f"{stem}.json",
        ]
        assert _aicp(keys, base, *argv) == code, stem
    assert _aicp(keys, base, "run-chain", "--config", str(probe), "--no-confirm") == 1
    for name, value in keys.in_file.items():  # the file was read: its keys reached the process
        assert os.environ[name] == keys.environment.get(name, value)
    assert os.environ[PARALLEL_ENV_VAR] == ("true" if flag == "on" else "false")

    real_step = ChainExecutor._execute_step
    calls: list[int] = []

    def interrupt_second_step(self: ChainExecutor, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(ChainExecutor, "_execute_step", interrupt_second_step)
        group = configs["11_group_collect_all_then_video"]
        assert _aicp(keys, base, "run-chain", "--config", group, "--no-confirm") == 130

    assert _aicp(keys, base, "features") == 0
    assert _aicp(keys, base, "list-models") == 0
    assert _aicp(keys, workdir / "fresh", "setup") == 0

    out, err = capsys.readouterr()
    assert f"parallel execution: {'enabled' if flag == 'on' else 'disabled'}" in out
    evidence = Evidence()
    evidence.add("stdout", out)
    evidence.add("stderr", err)
    evidence.add_logs(caplog.records)
    evidence.add_warnings(captured_warnings)
    evidence.add_tree(base)
    evidence.add_tree(workdir / "fresh")
    evidence.add_tree(workdir / "home")
    reports = sorted((base / "output" / "reports").glob("*_report.json"))
    assert len(reports) == len(RUNS) + 2  # every run, the probe and the interrupted one
    assert evidence.has("_intermediate_") and evidence.has(".json")
    assert "Traceback" in err and "interrupted" in err  # --debug really was on
    evidence.assert_clean(keys)


# -- aicp, a real process ----------------------------------------------------------------------


@pytest.mark.parametrize("flag", FLAGS)
def test_a_real_process_never_reveals_a_key(
    flag: str, keys: FakeKeys, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything the interpreter itself writes too (exit-time output, unraisable errors)."""
    _with_flag(keys, flag, monkeypatch)
    probe = workdir / "secrets_probe.yaml"
    probe.write_text(PROBE_YAML, encoding="utf-8")
    base = workdir / "project"
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONWARNINGS": "always", "PYTHONPATH": path}
    command = [sys.executable, "-m", "ai_content_pipeline", "--debug", "--env-file"]
    command += [str(keys.env_file), "--base-dir", str(base), "run-chain", "--config", str(probe)]
    command += ["--no-confirm", "--save-json", "probe.json"]
    done = subprocess.run(command, capture_output=True, cwd=workdir, env=env, timeout=60)
    assert done.returncode == 1, done.stderr.decode(errors="replace")
    evidence = Evidence()
    evidence.add("stdout", done.stdout)
    evidence.add("stderr", done.stderr)
    evidence.add_tree(base)
    assert evidence.has("probe.json") and evidence.has("_report.json")
    evidence.assert_clean(keys)


# -- malformed env files ------------------------------------------------------------------------

MALFORMED = {
    "unterminated double quote": '{name}="{value}',
    "unterminated single quote": "{name}='{value}",
    "junk after the quote": '{name}="{value}" {value}',
    "no equals sign": "{name} {value}",
    "a bad name": "{name}-{value}={value}",
    "export without a name": "export ={value}",
    "a NUL byte in the value": "{name}={value}\0{value}",
}


@pytest.mark.parametrize("kind", MALFORMED)
def test_malformed_env_line_names_file_and_line_not_value(
    kind: str, keys: FakeKeys, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2, one error naming FILE:LINE, no value in it (traceback included), nothing set."""
    name = "OPENROUTER_API_KEY"  # not in the environment: would be set by a good file
    bad = MALFORMED[kind].format(name=name, value=keys.in_file[name])
    text = env_file_text(keys.in_file)
    keys.env_file.write_text(text + bad + "\nLATER_KEY=later\n", encoding="utf-8")
    line = len(text.splitlines()) + 1

    assert main(["--env-file", str(keys.env_file), "features"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"error: {keys.env_file}:{line}: malformed line"), err
    assert len(err.splitlines()) == 1
    for name in KEY_PREFIXES:  # the whole file is parsed before anything is set
        assert os.environ.get(name) == keys.environment.get(name), name

    assert main(["--debug", "--env-file", str(keys.env_file), "features"]) == 2
    out_debug, err_debug = capsys.readouterr()
    evidence = Evidence()
    for label, data in (("stdout", out), ("stderr", err), ("stdout --debug", out_debug)):
        evidence.add(label, data)
    evidence.add("stderr --debug", err_debug)
    evidence.assert_clean(keys)


# -- harness -------------------------------------------------------------------------------------


@pytest.mark.requires_parallel
def test_harness_gate_and_update_never_reveal_a_key(
    keys: FakeKeys,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    captured_warnings: list[warnings.WarningMessage],
) -> None:
    """`harness update` then `harness gate` (JSON + JUnit) on a copy of the goldens, with every
    key in the environment: nothing of them in a golden record, a gate report or the output."""
    from harness.cli import main as harness_main

    monkeypatch.delenv("CI", raising=False)
    for name, value in keys.in_file.items():
        if name not in keys.environment:
            monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    corpus, snapshots, reports = workdir / "corpus", workdir / "snapshots", workdir / "reports"
    corpus.mkdir()
    snapshots.mkdir()
    for stem in GATE_CORPUS:
        shutil.copy(REPO / "input" / f"{stem}.yaml", corpus)
        shutil.copy(REPO / "snapshots" / f"{stem}.json", snapshots)
    for api_record in (REPO / "snapshots").glob("__*__.json"):  # every API baseline
        shutil.copy(api_record, snapshots)
    common = ["--input", str(corpus), "--snapshots", str(snapshots), "--jobs", "1", "--debug"]

    assert harness_main(["update", *common, "-k", GATE_CORPUS[-1]]) == 0
    assert harness_main(["update", *common]) == 0  # the whole copy, API record included
    gate = ["gate", *common, "--no-perf", "--json", str(reports / "gate.json")]
    assert harness_main([*gate, "--junit", str(reports / "gate.xml")]) == 0

    out, err = capsys.readouterr()
    evidence = Evidence()
    evidence.add("stdout", out)
    evidence.add("stderr", err)
    evidence.add_logs(caplog.records)
    evidence.add_warnings(captured_warnings)
    evidence.add_tree(snapshots)
    evidence.add_tree(reports)
    assert evidence.has("gate.json") and evidence.has("gate.xml")
    assert evidence.has(f"{GATE_CORPUS[-1]}.json")
    evidence.assert_clean(keys)
