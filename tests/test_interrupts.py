"""Killing train or export midway (real subprocesses, SIGKILL and SIGINT) loses nothing, and
training resumes from its last checkpoint."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def folder_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def start(*args) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "edgeft", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"process ended before the condition (rc {proc.returncode}): {err[-2000:]}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("timed out waiting")


def train_args(base, files, out, epochs=15):
    return [
        "train", "classifier", "--train", files["train"], "--eval", files["dev"], "--out", out, "--base", base,
        "--epochs", epochs, "--lr", 3e-3, "--max-length", 32, "--set", "early_stopping_patience=0",
        "--set", "logging_steps=1000", "--overwrite",
    ]


@pytest.fixture
def previous_run(tmp_path, tiny_run) -> Path:
    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    return out


def test_sigkill_during_training_keeps_the_previous_run_then_resume_finishes(tmp_path, tiny_base, sentiment_files, previous_run):
    before = folder_digest(previous_run)
    partial = tmp_path / ".run.partial"
    proc = start(*train_args(tiny_base, sentiment_files, previous_run))
    wait_for(lambda: any((partial / "checkpoints").glob("checkpoint-*/trainer_state.json")), proc)
    proc.kill()
    proc.wait()
    assert folder_digest(previous_run) == before  # the old run is untouched
    assert any((partial / "checkpoints").glob("checkpoint-*"))  # the work so far is kept for --resume

    proc = start(*train_args(tiny_base, sentiment_files, previous_run), "--resume")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert "resuming from" in err
    assert folder_digest(previous_run) != before and (previous_run / "metrics.json").is_file()
    assert not partial.exists()


def test_sigint_during_training_is_one_line_and_keeps_the_previous_run(tmp_path, tiny_base, sentiment_files, previous_run):
    before = folder_digest(previous_run)
    partial = tmp_path / ".run.partial"
    proc = start(*train_args(tiny_base, sentiment_files, previous_run))
    wait_for(lambda: any((partial / "checkpoints").glob("checkpoint-*/trainer_state.json")), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "error: interrupted" in err and "Traceback" not in err
    assert folder_digest(previous_run) == before


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, tiny_base, sentiment_files):
    proc = start(*train_args(tiny_base, sentiment_files, tmp_path / "fresh"), "--resume")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "--resume: no checkpoint" in err and "Traceback" not in err


def test_sigkill_during_export_keeps_the_previous_bundle(tmp_path, tiny_run, tiny_bundle):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    before = folder_digest(bundle)
    partial = tmp_path / ".bundle.partial"
    proc = start("export", tiny_run, "--int8", "--out", bundle, "--overwrite", "--max-drop", 100)
    wait_for(lambda: (partial / "model.onnx").is_file(), proc)
    proc.kill()
    proc.wait()
    assert folder_digest(bundle) == before
    proc = start("export", tiny_run, "--int8", "--out", bundle, "--overwrite", "--max-drop", 100)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert not partial.exists() and (bundle / "edgeft.json").is_file()
