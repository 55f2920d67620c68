"""Faults against the golden records: kill -9 mid-update, corrupt records, a read-only folder,
two updates at once, `pytest --snapshot-update -n 2`.

Why: the golden records are the release's truth; whatever happens to a writer, each record must
be the old one or the new one, complete, and nothing the writer leaves behind may show in
`git status`. The slow ones (real processes killed over and over) carry the ``faults`` marker
and run in `.ci/run`; the rest are quick and in the default run.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness import golden as golden_module
from harness.cli import main
from harness.golden import API_STEM, GoldenError, GoldenStore, serialize

REPO = Path(__file__).resolve().parent.parent
# Quick to record, with and without groups and assets, and one failing step.
KILL_CORPUS = (
    "01_text_to_image_basic",
    "03_image_understanding_to_speech",
    "04_text_to_speech_voice_params",
    "08_disabled_step_in_middle",
    "09_step_fails_stub_fail",
    "11_group_collect_all_then_video",
    "17_image_to_image_refinement_chain",
    "22_group_first_success",
)
GONE = "99_gone.json"
"""A golden record whose YAML was deleted: an update removes it."""
KILLS = 20
KILL_SEED = 20240611
# A slow disk: each fsync takes this long, so the writes are a large part of the run and the
# kill points land between a temp file's creation and its rename, too.
FSYNC_DELAY = 0.06
# `harness update` with a slow fsync; everything else is the real command.
SLOW_DISK_DRIVER = """\
import os, sys, time
real_fsync = os.fsync
def slow_fsync(fd):
    time.sleep(float(os.environ["GOLDEN_FSYNC_DELAY"]))
    real_fsync(fd)
os.fsync = slow_fsync
from harness.cli import main
sys.exit(main(sys.argv[1:]))
"""

pytestmark = pytest.mark.requires_parallel


ONE = "01_text_to_image_basic"
"""The quick tests' corpus: one small YAML."""
GROUP = "11_group_collect_all_then_video"
UPDATE_ARGS = ["--input", "input", "--snapshots", "snapshots"]
FAST = ["--jobs", "1", "-q"]
# Run by a child process: take the update lock on a folder and hold it until killed.
LOCK_HOLDER = """\
import sys
from harness.golden import GoldenStore
lock = GoldenStore(sys.argv[1]).lock_for_update()
print("held", flush=True)
sys.stdin.read()
"""
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No CI (update would refuse), this checkout first on the path, a private HOME."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_XDIST_WORKER")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    env.update(extra)
    return env


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.name=harness", "-c", "user.email=harness@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=check,
    )


def _stale(text: str) -> str:
    """An older version of a record: the same JSON with one more key."""
    record = json.loads(text)
    record["stale_marker"] = True
    return serialize(record)


def _is_record(name: str) -> bool:
    return name.endswith(".json") and not name.startswith(".")


def _records(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if _is_record(p.name)}


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and mtime: "unchanged" means not even rewritten."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _copy_corpus(stems: tuple[str, ...], folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copytree(REPO / "input" / "assets", folder / "assets")
    for stem in stems:
        shutil.copy(REPO / "input" / f"{stem}.yaml", folder)
    return folder


def _update(corpus: Path, snapshots: Path, *extra: str) -> int:
    argv = ["update", "--input", str(corpus), "--snapshots", str(snapshots)]
    return main([*argv, *FAST, *extra])


def _gate(corpus: Path, snapshots: Path, *extra: str) -> int:
    argv = ["gate", "--input", str(corpus), "--snapshots", str(snapshots), "--no-perf"]
    return main([*argv, *FAST, *extra])


@pytest.fixture(autouse=True)
def _no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_corpus((ONE,), tmp_path_factory.mktemp("faults") / "input")


@pytest.fixture(scope="module")
def pristine(corpus: Path) -> Path:
    """The record `harness update -k` writes for `corpus` (no API record: snapshotting the API
    costs more than the rest of these tests together; the slow tests cover it)."""
    snapshots = corpus.parent / "pristine"
    assert _update(corpus, snapshots, "-k", ONE) == 0
    return snapshots


@pytest.fixture
def snapshots(pristine: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "snapshots"
    shutil.copytree(pristine, folder)
    return folder


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Start another process that holds a folder's update lock (killed at the end)."""
    started: list[subprocess.Popen[str]] = []

    def hold(folder: Path) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, str(folder)],
            env=_env(tmp_path),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        return process

    yield hold
    for process in started:
        process.kill()
        process.wait(timeout=30)


# -- temp files ------------------------------------------------------------------------------


def test_a_writers_temp_file_is_ignored_by_git_and_a_record_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real temp name (caught at the rename) against the repo's .gitignore."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and this checkout's repository")
    names: list[str] = []

    def no_rename(src: str, dst: str) -> None:
        names.append(Path(src).name)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(golden_module.os, "replace", no_rename)
    with pytest.raises(OSError):
        GoldenStore(tmp_path).write(ONE, {"x": 1})
    assert _temps(tmp_path) == []  # a failed write removes its own temp file
    (temp,) = names
    ignored = _git(REPO, "check-ignore", "--no-index", f"snapshots/{temp}", check=False)
    assert ignored.returncode == 0, f"git would show snapshots/{temp}"
    record = _git(REPO, "check-ignore", "--no-index", f"snapshots/{ONE}.json", check=False)
    assert record.returncode == 1, "golden records must not be ignored"


# -- corrupt records -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "the file is empty"),
        (b"[1, 2", "Expecting ',' delimiter"),
        (b"[]\n", "expected a JSON object"),
        (b"\xff{}", "'utf-8' codec can't decode"),
    ],
    ids=["empty", "truncated", "not-an-object", "not-utf8"],
)
def test_store_names_a_corrupt_record(tmp_path: Path, content: bytes, why: str) -> None:
    (tmp_path / "a.json").write_bytes(content)
    with pytest.raises(GoldenError) as caught:
        GoldenStore(tmp_path).read("a")
    message = str(caught.value)
    assert str(tmp_path / "a.json") in message and why in message
    assert "\n" not in message
    assert GoldenStore(tmp_path).stored_text("a") != serialize({})  # an update rewrites it


def test_truncated_record_is_named_once_and_update_repairs_it(
    corpus: Path,
    snapshots: Path,
    pristine: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The gate: one line naming the file, exit 1, no traceback, its report written, the
    record left as it is; then `harness update` rewrites it."""
    record = snapshots / f"{ONE}.json"
    record.write_bytes(record.read_bytes()[:200])
    before = _files(snapshots)
    report = tmp_path / "report.json"
    assert _gate(corpus, snapshots, "--states", "off", "--json", str(report)) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    named = [line for line in captured.out.splitlines() if str(record) in line]
    assert len(named) == 1 and named[0].startswith(f"{ONE}: corrupt golden record {record}: ")
    assert _files(snapshots) == before
    cell = json.loads(report.read_text(encoding="utf-8"))["records"][ONE]["off"]
    assert cell["status"] == "error" and str(record) in cell["message"]

    assert _update(corpus, snapshots, "-k", ONE) == 0
    assert f"changed: {ONE}" in capsys.readouterr().out
    assert _records(snapshots) == _records(pristine)


# -- a read-only folder ----------------------------------------------------------------------


def _without_dac_override() -> None:
    """In the child, before exec: drop the capabilities that let root ignore file modes (the
    folder must be read-only for it too). A non-root user has none to drop."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _harness_read_only(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "harness", *argv],
            cwd=tmp_path,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_without_dac_override,
        )
    except subprocess.SubprocessError as exc:
        pytest.skip(f"cannot run a process for which a folder is read-only: {exc}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux-only")
def test_read_only_folder_update_refuses_in_one_line_and_gate_still_works(
    corpus: Path, snapshots: Path, tmp_path: Path
) -> None:
    golden_module.atomic_write_text(snapshots / f"{ONE}.json", "{}\n")  # stale: would be rewritten
    before = _files(snapshots)
    common = ["--input", str(corpus), "--snapshots", str(snapshots), *FAST]
    report = tmp_path / "gate.json"
    snapshots.chmod(0o555)
    try:
        update = _harness_read_only(tmp_path, "update", *common)
        gate = _harness_read_only(
            tmp_path, "gate", *common, "--states", "off", "--no-perf", "--json", str(report)
        )
    finally:
        snapshots.chmod(0o755)
    assert update.returncode == 2, update.stdout + update.stderr
    assert update.stderr.splitlines() == [
        f"harness update: cannot write the golden record folder {snapshots}: Permission denied;"
        " nothing was recorded or changed"
    ]
    assert update.stdout == ""
    assert _files(snapshots) == before
    # Reading needs no write access: the gate compares, finds the stale record, reports it.
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "Traceback" not in gate.stdout + gate.stderr
    cell = json.loads(report.read_text(encoding="utf-8"))["records"][ONE]["off"]
    assert cell["status"] == "mismatch"


# -- two updates at once ---------------------------------------------------------------------


def test_second_update_refuses_while_another_holds_the_folder(
    corpus: Path,
    snapshots: Path,
    lock_holder: Callable[[Path], subprocess.Popen[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Refused at once, one line, exit 2, nothing touched. Once the holder is killed (-9) its
    lock is gone with it, and the next update's lock removes the temp file a killed writer
    left."""
    holder = lock_holder(snapshots)  # (taking the lock removes temp files: plant one after)
    golden_module.atomic_write_text(snapshots / f"{ONE}.json", "{}\n")  # stale
    stray = snapshots / f".{ONE}.json.k1ll3d.tmp"
    stray.write_text('{"half": ', encoding="utf-8")
    before = _files(snapshots)
    assert _update(corpus, snapshots) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"harness update: another update is writing the golden records in {snapshots}; "
        "wait for it to finish, then run again"
    ]
    assert _files(snapshots) == before

    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    with GoldenStore(snapshots).lock_for_update() as lock:
        assert lock.removed == [stray.resolve()]
    assert _temps(snapshots) == []


def test_a_single_write_waits_for_a_running_update(
    tmp_path: Path, lock_holder: Callable[[Path], subprocess.Popen[str]]
) -> None:
    """What `pytest --snapshot-update` does per record: it waits while an update holds the
    folder, then writes."""
    folder = tmp_path / "snapshots"
    folder.mkdir()
    holder = lock_holder(folder)
    done = threading.Event()

    def write() -> None:
        GoldenStore(folder).write("a", {"v": 1})
        done.set()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    assert not done.wait(0.3)
    assert not (folder / "a.json").exists()
    holder.kill()
    holder.wait(timeout=30)
    assert done.wait(10)
    assert GoldenStore(folder).read("a") == {"v": 1}


# -- kill -9 and real concurrency (slow: the `faults` marker) ----------------------------------


def _slow_update(repo: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`harness update` on a slow disk, in its own process group (a kill reaches all of it)."""
    argv = ["update", *UPDATE_ARGS, *FAST]
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_DISK_DRIVER, *argv],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _slow_update_holding(repo: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """A slow-disk `harness update`, returned once it holds the folder: it says "recording…"
    on stderr only after taking the lock."""
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_DISK_DRIVER, "update", *UPDATE_ARGS, "--jobs", "1"],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("recording "):
            threading.Thread(target=process.stderr.read, daemon=True).start()  # drain the rest
            return process
    raise AssertionError(f"the update ended before recording (exit {process.wait()})")


def _stale_repo(root: Path) -> Path:
    """A git repo laid out like this one (its .gitignore, input/, snapshots/) whose committed
    golden records are all stale, plus one whose YAML is gone: an update rewrites every record
    and removes that one."""
    repo = root / "repo"
    _copy_corpus(KILL_CORPUS, repo / "input")
    (repo / "snapshots").mkdir()
    shutil.copy(REPO / ".gitignore", repo / ".gitignore")
    for stem in (*KILL_CORPUS, API_STEM):
        source = (REPO / "snapshots" / f"{stem}.json").read_text(encoding="utf-8")
        (repo / "snapshots" / f"{stem}.json").write_text(_stale(source), encoding="utf-8")
    shutil.copy(repo / "snapshots" / f"{KILL_CORPUS[0]}.json", repo / "snapshots" / GONE)
    _git(repo, "init", "-q")
    _git(repo, "add", ".gitignore", "input", "snapshots")
    _git(repo, "commit", "-q", "-m", "stale golden records")
    return repo


@pytest.mark.faults
def test_kill_9_anywhere_in_an_update_leaves_each_record_old_or_new(tmp_path: Path) -> None:
    repo = _stale_repo(tmp_path)
    snapshots = repo / "snapshots"
    env = _env(tmp_path, GOLDEN_FSYNC_DELAY=str(FSYNC_DELAY))
    old = _records(snapshots)

    started = time.perf_counter()
    assert _slow_update(repo, env).wait(timeout=120) == 0
    duration = time.perf_counter() - started
    new = _records(snapshots)
    assert set(new) == set(old) - {GONE} and all(new[n] != old[n] for n in new)

    rng = random.Random(KILL_SEED)
    # One kill point in each of KILLS equal slices of the run: spread over all of it.
    delays = [(i + rng.random()) * duration / KILLS for i in range(KILLS)]
    outcomes = []
    for delay in delays:
        for name, data in old.items():
            (snapshots / name).write_bytes(data)
        process = _slow_update(repo, env)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        after = _records(snapshots)
        where = f"killed at {delay:.2f} s of {duration:.2f} s"
        assert set(new) <= set(after) <= set(old), f"{where}: a record was lost"
        for name, data in after.items():
            json.loads(data)  # complete, not truncated
            assert data in (old[name], new.get(name)), f"{where}: {name} is neither old nor new"
        status = _git(repo, "status", "--porcelain", "--untracked-files=all").stdout
        allowed = [f" M snapshots/{n}" for n in new] + [f" D snapshots/{GONE}"]
        stray = [line for line in status.splitlines() if line not in allowed]
        assert not stray, f"{where}: git status shows {stray}"
        written = sum(after[n] == new.get(n) for n in after) + (GONE not in after)
        outcomes.append((round(delay, 2), written, len(_temps(snapshots))))
    print(f"update {duration:.2f} s; (kill at s, records new of {len(old)}, temps): {outcomes}")
    # Some kills landed mid-write (some records new, some old), not only before or after.
    assert any(0 < written < len(old) for _, written, _ in outcomes), outcomes

    assert _slow_update(repo, env).wait(timeout=120) == 0
    assert _records(snapshots) == new
    assert _temps(snapshots) == []  # the killed writers' temp files are gone


def _pytest_update(snapshots: Path, corpus: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """`pytest --snapshot-update -n 2` of tests/test_golden.py on `corpus` into `snapshots`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            str(REPO / "tests" / "test_golden.py"),
            "--golden-input",
            str(corpus),
            "--golden-snapshots",
            str(snapshots),
            "--snapshot-update",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


DAMAGED_CORPUS = (ONE, "04_text_to_speech_voice_params", "09_step_fails_stub_fail", GROUP)


@pytest.fixture
def damaged(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(corpus, expected records from `harness update`, a copy with every kind of damage:
    truncated, not UTF-8, empty, missing, a truncated API record, an unused record and a
    killed writer's temp file)."""
    corpus = _copy_corpus(DAMAGED_CORPUS, tmp_path / "input")
    expected = tmp_path / "expected"
    assert _update(corpus, expected) == 0
    snapshots = tmp_path / "snapshots"
    shutil.copytree(expected, snapshots)
    truncated, missing, not_utf8, empty = (snapshots / f"{s}.json" for s in DAMAGED_CORPUS)
    truncated.write_bytes(truncated.read_bytes()[:100])
    missing.unlink()
    not_utf8.write_bytes(b"\xff\xfe" + not_utf8.read_bytes())
    empty.write_bytes(b"")
    api = snapshots / f"{API_STEM}.json"
    api.write_bytes(api.read_bytes()[:-40])
    shutil.copy(expected / f"{ONE}.json", snapshots / GONE)
    (snapshots / f".{ONE}.json.k1ll3d.tmp").write_text("{", encoding="utf-8")
    return corpus, expected, snapshots


@pytest.mark.faults
def test_gate_names_each_damaged_record_once_and_update_repairs_all(
    damaged: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, expected, snapshots = damaged
    before = _files(snapshots)
    report = tmp_path / "report.json"
    assert _gate(corpus, snapshots, "--json", str(report)) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    for stem in (ONE, DAMAGED_CORPUS[2], GROUP, API_STEM):
        path = snapshots / f"{stem}.json"
        named = [line for line in captured.out.splitlines() if str(path) in line]
        assert len(named) == 1 and named[0].startswith(f"{stem}: "), (stem, named)
    assert f"{DAMAGED_CORPUS[1]} [on] no golden record" in captured.out
    assert f"{GONE[:-5]}: unused golden record" in captured.out
    assert _files(snapshots) == before  # the gate only reads
    assert json.loads(report.read_text(encoding="utf-8"))["passed"] is False

    assert _update(corpus, snapshots) == 0
    assert _records(snapshots) == _records(expected)
    assert _temps(snapshots) == []


@pytest.mark.faults
def test_snapshot_update_under_xdist_repairs_every_record(
    damaged: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """`pytest --snapshot-update -n 2` leaves exactly what `harness update` writes (it does not
    take the folder, so a killed writer's temp file stays; git ignores it)."""
    corpus, expected, snapshots = damaged
    run = _pytest_update(snapshots, corpus, _env(tmp_path))
    out, _ = run.communicate(timeout=300)
    assert run.returncode == 0, out
    assert _records(snapshots) == _records(expected), out


@pytest.mark.faults
def test_updates_at_once_one_refuses_and_snapshot_update_waits(tmp_path: Path) -> None:
    """While a (slow) `harness update` runs: a second one refuses in one line, exit 2, and
    `pytest --snapshot-update -n 2` started meanwhile succeeds too (its writes wait while the
    update holds the folder). The records end complete and correct."""
    repo = _stale_repo(tmp_path)
    snapshots = repo / "snapshots"
    # A slower disk than the kill test's: the update still writes when pytest's workers do.
    env = _env(tmp_path, GOLDEN_FSYNC_DELAY=str(5 * FSYNC_DELAY))
    first = _slow_update_holding(repo, env)
    second = subprocess.run(
        [sys.executable, "-m", "harness", "update", *UPDATE_ARGS, *FAST],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.poll() is None, "the first update ended too soon to test against"
    assert second.returncode == 2, second.stdout + second.stderr
    assert second.stderr.splitlines() == [
        "harness update: another update is writing the golden records in snapshots; "
        "wait for it to finish, then run again"
    ]
    pytest_run = _pytest_update(snapshots, repo / "input", env)
    assert first.wait(timeout=120) == 0
    out, _ = pytest_run.communicate(timeout=300)
    assert pytest_run.returncode == 0, out
    reference = tmp_path / "reference"
    assert _update(repo / "input", reference) == 0
    assert _records(snapshots) == _records(reference)
    assert _temps(snapshots) == []
