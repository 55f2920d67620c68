"""FileManager: the established folders and methods, reproducible names, no path escapes."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from ai_content_pipeline.utils.file_manager import FileManager


def test_constructor_creates_the_established_folders(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path / "new" / "base"))
    base = tmp_path / "new" / "base"
    assert (fm.output_dir, fm.temp_dir, fm.input_dir) == (
        base / "output",
        base / "temp",
        base / "input",
    )
    assert isinstance(fm.output_dir, Path)
    assert fm.temp_files == []
    assert sorted(p.name for p in base.iterdir()) == ["input", "output", "temp"]
    assert all(p.is_dir() and not any(p.iterdir()) for p in base.iterdir())
    FileManager(str(base))  # existing folders are fine


def test_create_dirs_false_has_no_side_effects(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path), create_dirs=False)
    assert fm.output_dir == tmp_path / "output"
    assert list(tmp_path.iterdir()) == []


def test_base_dir_defaults_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fm = FileManager()
    assert fm.output_dir == tmp_path / "output"
    assert fm.output_dir.is_dir()


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
    assert list(fm.output_dir.iterdir()) == []


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
    info = fm.get_file_info(file_path=str(f))  # the established keyword
    assert info == {
        "exists": True,
        "size": 2048,
        "size_mb": 2048 / (1024 * 1024),
        "modified": 86400.0,  # st_mtime, as established
        "extension": ".MP4",  # the suffix as written, as established
        "name": "Clip.MP4",
        "stem": "Clip",
    }
    assert fm.validate_file_format(file_path=str(f), allowed_formats=[".mp4"]) is True

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


def test_organize_outputs_moves_each_output_into_chain_and_step_folders(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    a = tmp_path / "a.png"
    a.write_bytes(b"png")
    b = Path(fm.create_output_path("b.mp4", step_name="raw"))
    b.write_bytes(b"mp4")
    results = {
        "outputs": {
            "step_1_text_to_image": {"path": str(a), "url": None},
            "step_2_image_to_video": {"path": str(b)},
            "step_3_prompt_generation": {"path": None, "text": "words"},
            "step_4_text_to_speech": {"path": str(tmp_path / "gone.mp3")},
        }
    }
    assert fm.organize_outputs(results, chain_name="demo") is None
    outputs = results["outputs"]
    moved_a = fm.output_dir / "demo" / "step_1_text_to_image" / "a.png"
    moved_b = fm.output_dir / "demo" / "step_2_image_to_video" / "b.mp4"
    assert outputs["step_1_text_to_image"]["path"] == str(moved_a)
    assert outputs["step_2_image_to_video"]["path"] == str(moved_b)
    assert moved_a.read_bytes() == b"png" and moved_b.read_bytes() == b"mp4"
    assert not a.exists() and not b.exists()
    assert outputs["step_3_prompt_generation"]["path"] is None
    assert outputs["step_4_text_to_speech"]["path"] == str(tmp_path / "gone.mp3")


def test_organize_outputs_default_folder_and_refused_names(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    a = tmp_path / "a.png"
    a.write_bytes(b"png")
    results = {"outputs": {"s": {"path": str(a)}}}
    fm.organize_outputs(results)
    assert Path(results["outputs"]["s"]["path"]).parent == fm.output_dir / "pipeline_output" / "s"
    fm.organize_outputs({})  # nothing to move
    c = tmp_path / "c.png"
    c.write_bytes(b"c")
    for chain_name, step in (("../out", "s"), ("ok", "../../escape")):
        with pytest.raises(ValueError):
            fm.organize_outputs({"outputs": {step: {"path": str(c)}}}, chain_name=chain_name)
    assert c.exists()  # refused before anything moved


def test_storage_usage(tmp_path: Path) -> None:
    fm = FileManager(str(tmp_path))
    empty = fm.get_storage_usage()
    assert empty["total_mb"] == 0.0 and empty["total_bytes"] == 0
    assert empty["input_dir"] == {
        "path": str(fm.input_dir),
        "size_bytes": 0,
        "size_mb": 0.0,
        "files": 0,
    }

    (Path(fm.create_output_path("x.bin", step_name="s"))).write_bytes(b"1234")
    Path(fm.create_output_path("y.bin")).write_bytes(b"12")
    fm.create_temp_file()
    usage = fm.get_storage_usage()
    assert usage["output_dir"]["size_bytes"] == 6 and usage["output_dir"]["files"] == 2
    assert usage["output_dir"]["path"] == str(fm.output_dir)
    assert usage["temp_dir"] == {
        "path": str(fm.temp_dir),
        "size_bytes": 0,
        "size_mb": 0.0,
        "files": 1,
    }
    assert usage["total_bytes"] == 6
    assert usage["total_mb"] == 6 / (1024 * 1024)
    assert usage["total_files"] == 3
    missing = FileManager(str(tmp_path / "gone"), create_dirs=False).get_storage_usage()
    assert missing["output_dir"]["size_bytes"] == 0
