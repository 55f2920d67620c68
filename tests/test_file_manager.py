"""FileManager: no side effects on construction, reproducible names, no path escapes."""

from __future__ import annotations

import hashlib
import os
import threading
from datetime import datetime
from pathlib import Path

import pytest

from ai_content_pipeline.utils.file_manager import FileManager


def test_constructor_has_no_side_effects(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    assert fm.output_dir == tmp_path / "output"
    assert fm.temp_dir == tmp_path / "temp"
    assert fm.input_dir == tmp_path / "input"
    assert isinstance(fm.output_dir, Path)
    assert fm.temp_files == []
    assert list(tmp_path.iterdir()) == []


def test_base_dir_defaults_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fm = FileManager()
    assert fm.output_dir == tmp_path / "output"
    assert list(tmp_path.iterdir()) == []


# -- names ----------------------------------------------------------------------------------------


def test_unique_names_are_reproducible_across_instances(tmp_path: Path) -> None:
    def names(fm: FileManager) -> list[str]:
        return [
            fm.generate_unique_filename("image", "png"),
            fm.generate_unique_filename("video", ".mp4"),
            fm.generate_unique_filename("image", "png"),
        ]

    first = names(FileManager(str(tmp_path)))
    second = names(FileManager(str(tmp_path / "elsewhere")))
    assert first == second == ["image_0001.png", "video_0002.mp4", "image_0003.png"]


def test_unique_name_from_content_hash(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    digest = fm.hash_content(b"pixels")
    assert fm.generate_unique_filename("step1", "png", content_hash=digest) == (
        f"step1_{digest[:8]}.png"
    )
    # A hash-named file does not consume a counter value.
    assert fm.generate_unique_filename("step1", "png") == "step1_0001.png"


def test_unique_names_distinct_under_threads(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    out: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(50):
            name = fm.generate_unique_filename("f", "txt")
            with lock:
                out.append(name)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 400
    assert sorted(out)[-1] == "f_0400.txt"


def test_hash_content(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    expected = hashlib.sha256(b"hello").hexdigest()
    assert fm.hash_content(b"hello") == expected
    assert fm.hash_content("hello") == expected
    assert fm.hash_content(bytearray(b"hello")) == expected
    # A str is text, even when it happens to name an existing file.
    f = tmp_path / "data.bin"
    f.write_bytes(b"other")
    assert fm.hash_content(str(f)) == hashlib.sha256(str(f).encode()).hexdigest()
    with pytest.raises(TypeError):
        fm.hash_content(123)  # type: ignore[arg-type]


# -- output paths ---------------------------------------------------------------------------------


def test_create_output_path(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    path = fm.create_output_path("a.png")
    assert path == str(tmp_path / "output" / "a.png")
    assert (tmp_path / "output").is_dir()
    assert not Path(path).exists()

    nested = fm.create_output_path("b.mp4", step_name="step2")
    assert nested == str(tmp_path / "output" / "step2" / "b.mp4")
    assert (tmp_path / "output" / "step2").is_dir()


def test_create_output_path_without_dirs(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    path = fm.create_output_path("a.png", step_name="s", create_dirs=False)
    assert path == str(tmp_path / "output" / "s" / "a.png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("filename", "step_name"),
    [
        ("../evil.png", None),
        ("a/../../evil.png", None),
        ("/etc/passwd", None),
        ("", None),
        (".", None),
        ("ok.png", ".."),
        ("ok.png", "../outside"),
        ("ok.png", "/abs"),
        ("ok.png", ""),
    ],
)
def test_create_output_path_rejects_escapes(
    tmp_path: Path, filename: str, step_name: str | None
) -> None:
    fm = FileManager(str(tmp_path / "base"))
    with pytest.raises(ValueError):
        fm.create_output_path(filename, step_name=step_name)
    assert not (tmp_path / "evil.png").exists()
    assert not (tmp_path / "base" / "outside").exists()


def test_create_output_path_rejects_symlink_escape(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path / "base"))
    fm.output_dir.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (fm.output_dir / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError):
        fm.create_output_path("x.png", step_name="link")


# -- temp files and cleanup -----------------------------------------------------------------------


def test_temp_files_created_tracked_and_cleaned(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    a = fm.create_temp_file(suffix=".png")
    b = fm.create_temp_file(prefix="dl_")
    assert fm.temp_files == [a, b]
    for name in (a, b):
        assert Path(name).is_file()
        assert Path(name).parent == fm.temp_dir
    assert Path(a).name.startswith("pipeline_") and a.endswith(".png")
    assert Path(b).name.startswith("dl_")
    assert a != b

    Path(b).unlink()  # already gone: not counted, not an error
    assert fm.cleanup_temp_files() == 1
    assert not Path(a).exists()
    assert fm.temp_files == []
    assert fm.cleanup_temp_files() == 0


def test_temp_file_rejects_separators(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    with pytest.raises(ValueError):
        fm.create_temp_file(prefix="../")
    with pytest.raises(ValueError):
        fm.create_temp_file(suffix="/x")


def test_cleanup_keeps_undeletable_entries(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    stuck = tmp_path / "a_directory"
    stuck.mkdir()
    fm.temp_files.append(str(stuck))  # unlink() fails on a directory
    real = fm.create_temp_file()
    assert fm.cleanup_temp_files() == 1
    assert not Path(real).exists()
    assert fm.temp_files == [str(stuck)]


# -- copy / move ----------------------------------------------------------------------------------


def test_copy_and_move_create_parents(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    src = tmp_path / "src.txt"
    src.write_text("content")
    copied = fm.copy_file(str(src), str(tmp_path / "x" / "y" / "copy.txt"))
    assert Path(copied).read_text() == "content"
    assert src.exists()

    moved = fm.move_file(copied, str(tmp_path / "z" / "moved.txt"))
    assert moved == str(tmp_path / "z" / "moved.txt")
    assert Path(moved).read_text() == "content"
    assert not Path(copied).exists()

    with pytest.raises(FileNotFoundError):
        fm.copy_file(str(tmp_path / "missing"), str(tmp_path / "d"))
    with pytest.raises(FileNotFoundError):
        fm.move_file(str(tmp_path / "missing"), str(tmp_path / "d"))


def test_moving_a_temp_file_stops_tracking_it(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    temp = fm.create_temp_file(suffix=".png")
    final = fm.move_file(temp, fm.create_output_path("final.png"))
    assert fm.temp_files == []
    assert fm.cleanup_temp_files() == 0
    assert Path(final).exists()


# -- inspection -----------------------------------------------------------------------------------


def test_validate_file_format(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    assert fm.validate_file_format("a.PNG", [".png", ".jpg"]) is True
    assert fm.validate_file_format("a.png", ["png"]) is True
    assert fm.validate_file_format("a.gif", [".png", ".jpg"]) is False
    assert fm.validate_file_format("noext", [".png"]) is False


def test_get_file_info(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    f = tmp_path / "Clip.MP4"
    f.write_bytes(b"\0" * 2048)
    os.utime(f, (0, 86400))
    info = fm.get_file_info(str(f))
    assert info == {
        "exists": True,
        "size": 2048,
        "size_mb": 2048 / (1024 * 1024),
        "modified": "1970-01-02T00:00:00+00:00",
        "extension": ".mp4",
        "name": "Clip.MP4",
        "stem": "Clip",
    }
    datetime.fromisoformat(info["modified"])

    missing = fm.get_file_info(str(tmp_path / "nope.png"))
    assert missing == {
        "exists": False,
        "size": 0,
        "size_mb": 0.0,
        "modified": None,
        "extension": None,
        "name": None,
        "stem": None,
    }


def test_organize_outputs(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    a = tmp_path / "a.png"
    a.write_bytes(b"\0" * 1024 * 1024)
    b = tmp_path / "b.mp4"
    b.write_bytes(b"\0" * 512 * 1024)
    results = [
        {"success": True, "output_path": str(a)},
        {"success": True, "output_path": None, "output_text": "words"},
        {"success": True, "output_path": str(tmp_path / "gone.png")},
        {"success": True, "output_path": str(b)},
        {"success": True, "output_path": str(a)},  # duplicate counted once
        "not a dict",
    ]
    summary = fm.organize_outputs(results, chain_name="demo")
    assert summary == {"chain_name": "demo", "files": [str(a), str(b)], "total_size_mb": 1.5}
    assert a.exists() and b.exists()  # nothing moved
    assert fm.organize_outputs([]) == {"chain_name": None, "files": [], "total_size_mb": 0.0}


def test_storage_usage(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    empty = fm.get_storage_usage()
    assert empty == {"total_bytes": 0, "total_files": 0, "total_size_mb": 0.0}
    assert list(tmp_path.iterdir()) == []

    (Path(fm.create_output_path("x.bin", step_name="s"))).write_bytes(b"1234")
    Path(fm.create_output_path("y.bin")).write_bytes(b"12")
    fm.create_temp_file()
    usage = fm.get_storage_usage()
    assert "input" not in usage
    assert usage["output"]["bytes"] == 6 and usage["output"]["files"] == 2
    assert usage["output"]["path"] == str(fm.output_dir)
    assert usage["temp"] == {"path": str(fm.temp_dir), "bytes": 0, "files": 1, "size_mb": 0.0}
    assert usage["total_bytes"] == 6
    assert usage["total_files"] == 3
