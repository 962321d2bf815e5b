"""Outputs are written beside their destination and moved into place only when complete."""

from __future__ import annotations

import pytest
from edgeft_exporters.staging import OutputExistsError, StagedDir, partial_path


def test_commit_replaces_old_output_only_at_the_end(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with StagedDir(final, overwrite=True) as work:
        (work / "new.txt").write_text("new")
        assert (final / "old.txt").exists()  # untouched while working
    assert (final / "old.txt").exists()  # left without commit: old output kept
    stage = StagedDir(final, overwrite=True)
    with stage as work:
        (work / "new.txt").write_text("new")
        stage.commit()
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert not partial_path(final).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.old")]


def test_failure_leaves_previous_output_and_no_partial(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "good.txt").write_text("good")
    with pytest.raises(RuntimeError):
        with StagedDir(final, overwrite=True) as work:
            (work / "half.txt").write_text("half")
            raise RuntimeError("killed midway")
    assert [p.name for p in final.iterdir()] == ["good.txt"]
    assert not partial_path(final).exists()


def test_existing_output_is_refused_without_overwrite(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    with pytest.raises(OutputExistsError, match="already exists; pass --overwrite"):
        with StagedDir(final):
            pass


def test_keep_partial_and_resume(tmp_path):
    final = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with StagedDir(final, keep_partial=True) as work:
            (work / "checkpoint").write_text("step 10")
            raise RuntimeError("interrupted")
    assert (partial_path(final) / "checkpoint").exists()
    with StagedDir(final, resume=True) as work:
        assert (work / "checkpoint").read_text() == "step 10"
    with StagedDir(final) as work:  # a fresh start clears stale partial work
        assert not (work / "checkpoint").exists()
