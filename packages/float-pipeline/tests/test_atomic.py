"""Complete-or-absent writes: the destination holds the old content, the complete new one, or nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from float_pipeline import atomic_path, write_text_atomic


def test_a_file_appears_only_when_the_block_succeeds(tmp_path: Path) -> None:
    final = tmp_path / "report.json"
    with atomic_path(final) as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".report.json.") and temp.suffix == ".json"
        temp.write_text("new")
        assert not final.exists()
    assert final.read_text() == "new" and sorted(tmp_path.iterdir()) == [final]
    with pytest.raises(RuntimeError, match="boom"), atomic_path(final) as temp:
        temp.write_text("half")
        raise RuntimeError("boom")
    assert final.read_text() == "new" and sorted(tmp_path.iterdir()) == [final]


def test_a_folder_replaces_the_old_one_whole(tmp_path: Path) -> None:
    final = tmp_path / "bundle"
    final.mkdir()
    (final / "stale.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_path(final, folder=True) as staging:
        (staging / "a.txt").write_text("half")
        raise RuntimeError("crash while writing")
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"] and (final / "stale.txt").is_file()
    with atomic_path(final, folder=True) as staging:
        (staging / "a.txt").write_text("complete")
    assert sorted(p.name for p in final.iterdir()) == ["a.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no retired or staging folder left


def test_text_files_keep_the_default_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "latest", "step-0000010\n")
    finally:
        os.umask(old)
    assert (tmp_path / "latest").read_text() == "step-0000010\n"
    assert (tmp_path / "latest").stat().st_mode & 0o777 == 0o644  # not tempfile's private 0o600
